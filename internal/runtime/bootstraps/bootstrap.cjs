'use strict';
// sluice's Node.js runtime: the AWS Lambda Runtime API loop for nodejs*
// functions. sluice writes this file to LAMBDA_RUNTIME_DIR and runs it with
// `node` in the function's code directory. It behaves like Lambda's own
// Node.js runtime: it loads `file.export` handlers from CommonJS or ES
// modules, supports async and callback handlers, passes a Lambda context, and
// prefixes console output with `timestamp\trequestId\tLEVEL\t`.
//
// It is on the hot path of every invocation, so it talks HTTP/1.1 to the
// Runtime API over one raw keep-alive socket and pipelines the POST of a
// result with the GET of the next event (one write, one round trip). The
// server is sluice, which always sends Content-Length, so a tiny response
// parser suffices.

const net = require('node:net');
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const { pathToFileURL } = require('node:url');

const env = process.env;
const API = env.AWS_LAMBDA_RUNTIME_API || '';
const BASE = '/2018-06-01/runtime/';
const TASK_ROOT = env.LAMBDA_TASK_ROOT || process.cwd();
const HANDLER = env._HANDLER || '';

let requestId; // undefined outside an invocation: Lambda prints "undefined" then too
let inFlight = null; // { id, settled } of the invocation in progress

// ---- console, as Lambda patches it --------------------------------------

function patchConsole() {
  const out = process.stdout;
  const logger = (level) => (...args) => {
    // Newlines become \r so a multi-line message stays one log event.
    const msg = util.format(...args).replace(/\n/g, '\r');
    out.write(`${new Date().toISOString()}\t${requestId}\t${level}\t${msg}\n`);
  };
  console.log = logger('INFO');
  console.info = logger('INFO');
  console.warn = logger('WARN');
  console.error = logger('ERROR');
  console.debug = logger('DEBUG');
  console.trace = logger('TRACE');
  console.fatal = logger('FATAL');
}

// ---- source paths (sluice) ----------------------------------------------
// A version runs from its snapshot (.sluice/code/trees/<sha>), so stack
// traces name files there. With SLUICE_SOURCE_DIR set, what the function
// prints and its error documents name the service's own files instead: the
// ones to open and edit.

const SOURCE_DIR = env.SLUICE_SOURCE_DIR || '';

function sourcePaths(s) {
  return SOURCE_DIR && typeof s === 'string' && s.includes(TASK_ROOT) ? s.split(TASK_ROOT).join(SOURCE_DIR) : s;
}

function mapOutputPaths() {
  if (!SOURCE_DIR || SOURCE_DIR === TASK_ROOT) return;
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write;
    stream.write = function (chunk, ...rest) {
      return write.call(this, sourcePaths(chunk), ...rest);
    };
  }
}

// ---- the AWS SDK (sluice) ------------------------------------------------
// Lambda's Node.js runtimes include the AWS SDK for JavaScript v3 in
// /var/runtime/node_modules, on NODE_PATH after the layers and before the
// function's own directory. sluice installs the @aws-sdk packages a
// function names into a cache (SLUICE_NODEJS_SDK_DIR) and puts it there.

function provideAwsSdk() {
  const dir = env.SLUICE_NODEJS_SDK_DIR;
  if (!dir) return;
  const paths = (env.NODE_PATH || '').split(path.delimiter).filter(Boolean);
  const at = paths.indexOf(TASK_ROOT);
  paths.splice(at < 0 ? paths.length : at, 0, dir);
  env.NODE_PATH = paths.join(path.delimiter);
  require('node:module')._initPaths();
}

// ---- the Runtime API client ---------------------------------------------

class Client {
  // endpoint is host:port, or the path of sluice's private Unix socket.
  constructor(endpoint) {
    this.waiters = []; // resolve functions, one per request sent, in order
    this.buf = null;
    this.head = null; // parsed head of the response being read
    if (endpoint.startsWith('/')) {
      this.hostport = 'localhost';
      this.sock = net.connect({ path: endpoint });
    } else {
      const i = endpoint.lastIndexOf(':');
      this.hostport = endpoint;
      this.sock = net.connect({ host: endpoint.slice(0, i), port: Number(endpoint.slice(i + 1)) });
      this.sock.setNoDelay(true);
    }
    this.sock.on('data', (chunk) => this.onData(chunk));
    this.sock.on('error', (err) => {
      process.stderr.write(`sluice runtime: Runtime API connection failed: ${err.message}\n`);
      process.exit(1);
    });
    // sluice closes the connection when it stops the environment.
    this.sock.on('close', () => process.exit(0));
  }

  onData(chunk) {
    this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.head === null) {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = this.buf.toString('latin1', 0, end).split('\r\n');
        const headers = {};
        for (let k = 1; k < lines.length; k++) {
          const c = lines[k].indexOf(':');
          headers[lines[k].slice(0, c).toLowerCase()] = lines[k].slice(c + 1).trim();
        }
        this.head = { status: Number(lines[0].slice(9, 12)), headers, length: Number(headers['content-length'] || 0) };
        this.buf = this.buf.subarray(end + 4);
      }
      if (this.buf.length < this.head.length) return;
      const res = this.head;
      res.body = this.buf.subarray(0, res.length);
      this.head = null;
      this.buf = this.buf.length === res.length ? null : this.buf.subarray(res.length);
      this.waiters.shift()(res);
      if (this.buf === null) return;
    }
  }

  expect() {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  postHead(pathname, headers, body) {
    let head = `POST ${BASE}${pathname} HTTP/1.1\r\nHost: ${this.hostport}\r\nContent-Type: application/json\r\n`;
    for (const k in headers) head += `${k}: ${headers[k]}\r\n`;
    return `${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  }

  nextRequest() {
    return `GET ${BASE}invocation/next HTTP/1.1\r\nHost: ${this.hostport}\r\n\r\n`;
  }

  async next() {
    const res = this.expect();
    this.sock.write(this.nextRequest());
    return toInvocation(await res);
  }

  // send posts a result and, in the same write, asks for the next event.
  async send(result) {
    this.sock.ref();
    const posted = this.expect();
    const next = this.expect();
    this.sock.cork();
    this.sock.write(this.postHead(result.path, result.headers, result.body));
    this.sock.write(result.body);
    this.sock.write(this.nextRequest());
    this.sock.uncork();
    const p = await posted;
    if (p.status !== 202) {
      process.stderr.write(`sluice runtime: posting ${result.path} got ${p.status}: ${p.body}\n`);
    }
    return toInvocation(await next);
  }

  async postOnly(pathname, headers, body) {
    this.sock.ref();
    const posted = this.expect();
    this.sock.write(this.postHead(pathname, headers, body) + body);
    return posted;
  }
}

function toInvocation(res) {
  if (res.status !== 200) {
    process.stderr.write(`sluice runtime: GET next got ${res.status}: ${res.body}\n`);
    process.exit(1);
  }
  const h = res.headers;
  return {
    id: h['lambda-runtime-aws-request-id'],
    deadline: Number(h['lambda-runtime-deadline-ms']),
    arn: h['lambda-runtime-invoked-function-arn'],
    trace: h['lambda-runtime-trace-id'],
    clientContext: h['lambda-runtime-client-context'],
    identity: h['lambda-runtime-cognito-identity'],
    body: res.body.toString('utf8'),
  };
}

// ---- errors ---------------------------------------------------------------

class RuntimeFault extends Error {
  constructor(errorType, message, cause) {
    super(message);
    this.name = errorType;
    if (cause && cause.stack) this.stack = `${errorType}: ${message}\n${String(cause.stack).split('\n').slice(1).join('\n')}`;
  }
}

// errorDocument is the body Lambda's Node.js runtime returns for an error.
function errorDocument(err) {
  if (err instanceof Error) {
    return {
      errorType: err.name || 'Error',
      errorMessage: sourcePaths(err.message),
      trace: sourcePaths(String(err.stack || '')).split('\n'),
    };
  }
  return { errorType: typeof err, errorMessage: sourcePaths(String(err)), trace: [] };
}

function errorResult(id, err, label) {
  const doc = errorDocument(err);
  const body = JSON.stringify(doc);
  console.error(label, `\t${body}`);
  return { path: `invocation/${id}/error`, headers: { 'Lambda-Runtime-Function-Error-Type': doc.errorType }, body };
}

// ---- loading the handler ------------------------------------------------

function hasTypeModule(file) {
  // The nearest package.json up to the task root decides how a .js file loads.
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    try {
      return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).type === 'module';
    } catch (_) {
      // no (readable) package.json here
    }
    if (dir === TASK_ROOT || dir === path.dirname(dir)) return false;
  }
}

async function loadModule(base, moduleName) {
  // The order Lambda's Node.js runtime tries: extensionless, .js (CommonJS
  // unless package.json says "type": "module"), .mjs, .cjs, then Node's own
  // resolution (a directory, a package).
  if (fs.existsSync(base) && fs.statSync(base).isFile()) return require(base);
  if (fs.existsSync(base + '.js')) {
    return hasTypeModule(base + '.js') ? import(pathToFileURL(base + '.js').href) : require(base + '.js');
  }
  if (fs.existsSync(base + '.mjs')) return import(pathToFileURL(base + '.mjs').href);
  if (fs.existsSync(base + '.cjs')) return require(base + '.cjs');
  let resolved;
  try {
    resolved = require.resolve(base);
  } catch (_) {
    throw new RuntimeFault('Runtime.ImportModuleError', `Error: Cannot find module '${moduleName}'\nRequire stack:\n- ${__filename}`);
  }
  return require(resolved);
}

// The AWS SDK for JavaScript v2 predates AWS_ENDPOINT_URL, which every
// current SDK honours. So that v2 code written for Lambda reaches the local
// endpoint unchanged, point the SDK's global configuration at it the first
// time the code loads aws-sdk (code that sets its own endpoint still wins).
function redirectAwsSdkV2() {
  const endpoint = env.AWS_ENDPOINT_URL;
  if (!endpoint) return;
  const Module = require('node:module');
  const load = Module._load;
  let done = false;
  Module._load = function (request, parent, isMain) {
    const exported = load.apply(this, arguments);
    if (!done && (request === 'aws-sdk' || request.startsWith('aws-sdk/'))) {
      try {
        const core = load.call(this, 'aws-sdk/lib/core', parent, false);
        if (core && core.config && typeof core.config.update === 'function') {
          done = true;
          if (!core.config.endpoint) core.config.update({ endpoint });
        }
      } catch (_) {
        // Not the v2 SDK's layout: leave it alone.
      }
    }
    return exported;
  };
}

async function loadHandler() {
  redirectAwsSdkV2();
  const slash = HANDLER.lastIndexOf('/');
  const dir = HANDLER.slice(0, slash + 1);
  const rest = HANDLER.slice(slash + 1);
  const dot = rest.indexOf('.');
  if (dot <= 0 || dot === rest.length - 1) throw new RuntimeFault('Runtime.MalformedHandlerName', 'Bad handler');
  if (HANDLER.includes('..')) {
    throw new RuntimeFault('Runtime.MalformedHandlerName', "'../' Not allowed in handler name. Relative paths are not allowed.");
  }
  const moduleName = rest.slice(0, dot);
  let mod;
  try {
    mod = await loadModule(path.resolve(TASK_ROOT, dir, moduleName), moduleName);
  } catch (err) {
    if (err instanceof RuntimeFault) throw err;
    if (err instanceof SyntaxError) throw new RuntimeFault('Runtime.UserCodeSyntaxError', `${err.name}: ${err.message}`, err);
    if (err && (err.code === 'MODULE_NOT_FOUND' || err.code === 'ERR_MODULE_NOT_FOUND')) {
      throw new RuntimeFault('Runtime.ImportModuleError', `Error: ${err.message}`, err);
    }
    throw err;
  }
  let fn = mod;
  for (const part of rest.slice(dot + 1).split('.')) fn = fn == null ? undefined : fn[part];
  if (fn === undefined && mod && mod.default) {
    // A CommonJS module imported as ESM keeps its exports on default.
    fn = mod.default;
    for (const part of rest.slice(dot + 1).split('.')) fn = fn == null ? undefined : fn[part];
  }
  if (fn === undefined) throw new RuntimeFault('Runtime.HandlerNotFound', `${HANDLER} is undefined or not exported`);
  if (typeof fn !== 'function') throw new RuntimeFault('Runtime.HandlerNotFound', `${HANDLER} is not a function`);
  return fn;
}

// ---- invoking it --------------------------------------------------------

let onEmptyEventLoop = null;
process.on('beforeExit', () => {
  const f = onEmptyEventLoop;
  onEmptyEventLoop = null;
  if (f) f();
});

function parseJSON(s) {
  try {
    return s ? JSON.parse(s) : undefined;
  } catch (_) {
    return undefined;
  }
}

function run(client, handler, inv) {
  requestId = inv.id;
  if (inv.trace) env._X_AMZN_TRACE_ID = inv.trace;
  else delete env._X_AMZN_TRACE_ID;
  const state = { id: inv.id, settled: false };
  inFlight = state;
  return new Promise((resolve) => {
    const settle = (err, result) => {
      if (state.settled) return;
      state.settled = true;
      inFlight = null;
      onEmptyEventLoop = null;
      if (err !== null && err !== undefined) {
        resolve(errorResult(inv.id, err, 'Invoke Error'));
        return;
      }
      let body;
      try {
        body = JSON.stringify(result === undefined ? null : result);
      } catch (e) {
        resolve(errorResult(inv.id, new RuntimeFault('Runtime.SerializationError', e.message), 'Invoke Error'));
        return;
      }
      resolve({ path: `invocation/${inv.id}/response`, headers: {}, body });
    };
    const context = {
      callbackWaitsForEmptyEventLoop: true,
      functionName: env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
      invokedFunctionArn: inv.arn,
      memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      awsRequestId: inv.id,
      logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
      identity: parseJSON(inv.identity),
      clientContext: parseJSON(inv.clientContext),
      getRemainingTimeInMillis: () => Math.max(inv.deadline - Date.now(), 0),
    };
    // A callback result waits, by default, until the handler's event loop
    // work is done, as on Lambda; the socket is unref'd meanwhile so that
    // 'beforeExit' can tell.
    const callback = (err, result) => {
      if (context.callbackWaitsForEmptyEventLoop) onEmptyEventLoop = () => settle(err, result);
      else settle(err, result);
    };
    context.done = callback;
    context.succeed = (result) => callback(null, result);
    context.fail = (err) => callback(err === undefined || err === null ? 'handled' : err);

    let event;
    try {
      event = JSON.parse(inv.body);
    } catch (e) {
      settle(new RuntimeFault('Runtime.UnmarshalError', `Unable to parse the event as JSON: ${e.message}`));
      return;
    }
    // A handler that neither returns a promise nor calls back answers null
    // once its event loop is empty.
    onEmptyEventLoop = () => settle(null, null);
    client.sock.unref();
    let ret;
    try {
      ret = handler(event, context, callback);
    } catch (e) {
      settle(e);
      return;
    }
    if (ret && typeof ret.then === 'function') {
      // async handlers answer when their promise settles, event loop or not
      onEmptyEventLoop = null;
      client.sock.ref();
      ret.then((r) => settle(null, r), (e) => settle(e === undefined ? new Error('undefined') : e));
    }
  });
}

// An uncaught error ends the invocation in progress and the process, as on Lambda.
function fatal(client, label, err) {
  const state = inFlight;
  const doc = JSON.stringify(errorDocument(err));
  console.error(label, `\t${doc}`);
  if (state && !state.settled) {
    state.settled = true;
    const type = errorDocument(err).errorType;
    client.postOnly(`invocation/${state.id}/error`, { 'Lambda-Runtime-Function-Error-Type': type }, doc)
      .then(() => process.exit(129), () => process.exit(129));
    return;
  }
  process.exit(129);
}

// ---- fault injection (sluice rehearse) -----------------------------------

// SLUICE_FAULT makes a copy of a version misbehave without a change to its
// code, so `sluice rehearse` can check that the deployment's alarms catch it:
// "error" fails every invocation, "error:0.1" that share of them,
// "latency:800" holds each invocation 800 ms before the handler runs (real
// time, so Lambda's Duration includes it), "none" or unset changes nothing.
function withFault(handler, spec) {
  if (!spec || spec === 'none') return handler;
  const [kind, arg] = spec.split(':');
  const n = Number(arg);
  if (kind === 'error' && (arg === undefined || (n >= 0 && n <= 1))) {
    const share = arg === undefined ? 1 : n;
    // Spread evenly, not drawn at random: invocation k fails when k·share
    // crosses a half, so "error:0.1" fails the 5th, 15th, … of each
    // environment and a rehearsal's share never comes out as none.
    let calls = 0;
    return (event, context, callback) => {
      calls++;
      if (Math.floor(calls * share + 0.5) > Math.floor((calls - 1) * share + 0.5)) throw new Error(`injected by sluice rehearse (SLUICE_FAULT=${spec})`);
      return handler(event, context, callback);
    };
  }
  if (kind === 'latency' && n > 0) {
    const pause = new Int32Array(new SharedArrayBuffer(4));
    return (event, context, callback) => {
      // Blocks this environment, which serves one invocation at a time,
      // and works for async and callback handlers alike.
      Atomics.wait(pause, 0, 0, n);
      return handler(event, context, callback);
    };
  }
  throw new RuntimeFault('Runtime.InvalidFault', `SLUICE_FAULT=${spec}: use error, error:<share 0-1>, latency:<ms> or none`);
}

async function main() {
  mapOutputPaths();
  provideAwsSdk();
  patchConsole();
  const client = new Client(API);
  process.on('uncaughtException', (err) => fatal(client, 'Uncaught Exception', err));
  process.on('unhandledRejection', (reason) => {
    const err = new RuntimeFault('Runtime.UnhandledPromiseRejection',
      reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason), reason);
    fatal(client, 'Unhandled Promise Rejection', err);
  });

  let handler;
  try {
    handler = withFault(await loadHandler(), env.SLUICE_FAULT);
  } catch (err) {
    const fault = err instanceof RuntimeFault ? err : new RuntimeFault(err && err.name ? err.name : 'Runtime.Unknown', err && err.message ? err.message : String(err), err);
    const doc = errorDocument(fault);
    const body = JSON.stringify(doc);
    console.error('Uncaught Exception', `\t${body}`);
    await client.postOnly('init/error', { 'Lambda-Runtime-Function-Error-Type': doc.errorType }, body);
    process.exit(1);
  }

  let inv = await client.next();
  for (;;) {
    // requestId stays set: output printed after the response still belongs
    // to this invocation, as on Lambda.
    const result = await run(client, handler, inv);
    inv = await client.send(result);
  }
}

main();
