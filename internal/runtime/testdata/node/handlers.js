'use strict';
// Handlers exercising the Node.js bootstrap, one export per behaviour.

exports.echo = async (event) => event;

exports.pid = async () => process.pid;

exports.context = async (event, context) => ({
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  invokedFunctionArn: context.invokedFunctionArn,
  memoryLimitInMB: context.memoryLimitInMB,
  awsRequestId: context.awsRequestId,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  remainingMs: context.getRemainingTimeInMillis(),
  callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
  clientContext: context.clientContext,
  identity: context.identity,
  traceId: process.env._X_AMZN_TRACE_ID,
});

exports.env = async () => ({ env: process.env, cwd: process.cwd() });

// Callback style: the result waits for the event loop to empty, so the
// timer's log line comes before END.
exports.callback = (event, context, callback) => {
  setTimeout(() => console.log('timer after callback'), 5);
  callback(null, { via: 'callback' });
};

// With callbackWaitsForEmptyEventLoop = false the result goes at once, even
// though an hour-long timer is pending.
let pending;
exports.callbackNoWait = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  clearTimeout(pending);
  pending = setTimeout(() => {}, 3600 * 1000);
  callback(null, 'did not wait');
};

exports.callbackError = (event, context, callback) => callback(new RangeError('out of range'));
exports.callbackString = (event, context, callback) => callback('plain failure');
exports.succeed = (event, context) => context.succeed({ legacy: 'succeed' });
exports.fail = (event, context) => context.fail(new Error('legacy fail'));
exports.done = (event, context) => context.done(null, 'legacy done');

// Neither a promise nor a callback: Lambda answers null when the loop empties.
exports.syncNoCallback = () => {};

exports.throws = async () => {
  throw new TypeError('bad input');
};

exports.throwsSync = () => {
  throw new Error('thrown synchronously');
};

exports.crash = async () => {
  process.exit(1);
};

exports.hang = () => new Promise(() => setInterval(() => {}, 1000));

exports.uncaught = () => {
  setImmediate(() => {
    throw new Error('async boom');
  });
  return new Promise(() => {});
};

exports.rejection = async () => {
  Promise.reject(new Error('nobody caught me'));
  return new Promise(() => {});
};

exports.tooBig = async () => 'x'.repeat(7 * 1024 * 1024);

exports.log = async () => {
  console.log('hello', { n: 1 });
  console.error('first line\nsecond line');
  console.warn('careful');
  process.stdout.write('no newline');
  return 'logged';
};

// Blocks until the test's barrier lets every concurrent invocation through.
exports.barrier = async (event) => {
  const res = await fetch(event.url);
  await res.text();
  return process.pid;
};

exports.nested = { deeper: { fn: async () => 'nested' } };
exports.notAFunction = 42;

// act does what the event says; tests that need several behaviours from
// one environment use it.
exports.act = async (event, context) => {
  switch (event.action) {
    case 'pid':
      return process.pid;
    case 'hang':
      return new Promise(() => setInterval(() => {}, 1000));
    case 'crash':
      process.exit(1);
      break;
    case 'exitAfterResponse':
      setImmediate(() => process.exit(0));
      return process.pid;
    case 'wait': {
      // Blocks until the test's gate answers.
      const res = await fetch(event.url);
      await res.text();
      return process.pid;
    }
    case 'log':
      console.log('hello', { n: 1 });
      console.error('first line\nsecond line');
      console.warn('careful');
      process.stdout.write('no newline');
      return 'logged';
    case 'late':
      // A background task that prints after the response, then says so.
      setTimeout(() => {
        console.log(`late line of ${context.awsRequestId}`);
        require('fs').writeFileSync(event.marker, 'printed');
      }, 20);
      return process.pid;
    case 'flood': {
      // Node queues what a full pipe does not take: wait for it to drain,
      // so everything is written before the response.
      const line = 'f'.repeat(1023) + '\n';
      for (let i = 0; i < event.kb; i++) {
        if (!process.stdout.write(line)) await new Promise((r) => process.stdout.once('drain', r));
      }
      return process.pid;
    }
    case 'longLine':
      process.stdout.write('x'.repeat(300 * 1024) + '\n');
      if (!process.stdout.write('after the long line\n')) await new Promise((r) => process.stdout.once('drain', r));
      return process.pid;
    case 'fail':
      throw new Error('failed on purpose');
    case 'env':
      return { env: process.env, cwd: process.cwd() };
    case 'ignoreSigterm':
      process.on('SIGTERM', () => console.log('SIGTERM ignored'));
      return process.pid;
    default:
      throw new Error(`unknown action ${event.action}`);
  }
};

// Allocates until the heap limit (memorySize) ends the process.
exports.hog = async () => {
  const keep = [];
  for (;;) keep.push(new Array(1 << 20).fill(keep.length));
};

// Returns at once and prints a moment later, then marks a file (MARK) so
// the test knows the line was printed.
exports.lateLog = async (event) => {
  setTimeout(() => {
    console.log('late line');
    require('node:fs').writeFileSync(process.env.MARK, '1');
  }, 20);
  return 'ok';
};
