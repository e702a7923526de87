'use strict';

// serverless-sluice: one Serverless Framework plugin in place of
// serverless-plugin-canary-deployments and serverless-plugin-aws-alerts.
//
// It declares the keys those plugins read (so strict config validation
// passes), keeps sluice's local state directory out of the deployment
// packages, and, when packaging ends, passes the compiled CloudFormation
// template through `sluice package`. It does so just before the framework
// saves the template and serverless-state.json, so both files, and the
// template `serverless deploy` sends, are sluice's. The sluice binary is
// found through SLUICE_BIN, else on PATH. No runtime dependencies.

const childProcess = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const { functionProperties, customProperties } = require('./schema');

// The plugins this one replaces: with either still listed, every alarm and
// deployment group would be generated twice.
const REPLACED_PLUGINS = ['serverless-plugin-canary-deployments', 'serverless-plugin-aws-alerts'];

// Where `sluice serve`/`deploy` keep their state, beside serverless.yml.
const STATE_DIR_PATTERN = '!.sluice/**';

// Config files sluice reads itself, so its errors name their lines.
const READABLE_CONFIG = /\.(ya?ml|json)$/i;

// A warning line of sluice's: the position, then "warning:".
const WARNING = /^(.*?: )warning: /;

class ServerlessSluice {
  constructor(serverless, options, utils) {
    this.serverless = serverless;
    this.options = options || {};
    this.log = (utils && utils.log) || fallbackLog(serverless);
    this.ServerlessError = (serverless.classes && serverless.classes.Error) || Error;

    this.refuseReplacedPlugins();
    // A JavaScript or TypeScript config is handed to sluice as loaded; take
    // it now, before the framework adds its own keys while compiling.
    this.loadedConfig = READABLE_CONFIG.test(serverless.configurationFilename || '')
      ? null
      : JSON.stringify(serverless.configurationInput, null, 2);
    if (serverless.configSchemaHandler) {
      serverless.configSchemaHandler.defineFunctionProperties('aws', functionProperties);
      serverless.configSchemaHandler.defineCustomProperties(customProperties);
    }

    this.hooks = {
      'before:package:createDeploymentArtifacts': () => this.excludeStateDir(),
      'before:package:function:package': () => this.excludeStateDir(),
      'before:aws:package:finalize:saveServiceState': () => this.transformTemplate(),
    };
  }

  refuseReplacedPlugins() {
    const plugins = this.serverless.service.plugins;
    const listed = Array.isArray(plugins) ? plugins : (plugins && plugins.modules) || [];
    const both = listed.filter((name) => REPLACED_PLUGINS.includes(name));
    if (both.length > 0) {
      throw new this.ServerlessError(
        `serverless-sluice replaces ${both.join(' and ')}: remove ${
          both.length > 1 ? 'them' : 'it'
        } from plugins:, or every deployment group and alarm is generated twice`,
        'SLUICE_REPLACED_PLUGIN'
      );
    }
  }

  // excludeStateDir keeps .sluice/ (the local engine's database and logs)
  // out of every package. It goes last, so that no include pattern written
  // before it brings the directory back.
  excludeStateDir() {
    const service = this.serverless.service;
    service.package = service.package || {};
    appendPattern(service.package);
    for (const name of service.getAllFunctions()) {
      const fn = service.getFunction(name);
      if (fn.package && fn.package.patterns) appendPattern(fn.package);
    }
  }

  transformTemplate() {
    const provider = this.serverless.getProvider('aws');
    const serviceDir = this.serverless.serviceDir || this.serverless.config.servicePath;
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'serverless-sluice-'));
    try {
      const templatePath = path.join(tmp, 'cloudformation-template-update-stack.json');
      fs.writeFileSync(
        templatePath,
        JSON.stringify(this.serverless.service.provider.compiledCloudFormationTemplate, null, 2)
      );
      const args = [
        'package',
        '--config',
        this.configPath(serviceDir, tmp),
        '--stage',
        provider.getStage(),
        '--region',
        provider.getRegion(),
        '--template',
        templatePath,
      ];
      // ${param:…} values given on the command line (serverless package
      // --param key=value) resolve the same way in sluice.
      for (const param of [].concat(this.options.param || [])) args.push('--param', param);
      const stdout = this.runSluice(args, serviceDir);
      this.serverless.service.provider.compiledCloudFormationTemplate = JSON.parse(stdout);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  // configPath is serverless.yml (or .json) when the service has one, so
  // sluice's errors name its lines; a JavaScript or TypeScript config is
  // handed over as the framework loaded it.
  configPath(serviceDir, tmp) {
    const name = this.serverless.configurationFilename;
    if (name && READABLE_CONFIG.test(name)) return path.resolve(serviceDir, name);
    const loaded = path.join(tmp, 'serverless.json');
    fs.writeFileSync(loaded, this.loadedConfig);
    return loaded;
  }

  runSluice(args, cwd) {
    const bin = process.env.SLUICE_BIN || 'sluice';
    const res = childProcess.spawnSync(bin, args, {
      cwd,
      encoding: 'utf8',
      maxBuffer: 1 << 30,
      windowsHide: true,
    });
    if (res.error) {
      if (res.error.code === 'ENOENT') {
        throw new this.ServerlessError(
          `serverless-sluice cannot find the sluice binary (${bin}): install it ` +
            '(go install github.com/sluice-dev/sluice/cmd/sluice@latest) and put it on PATH, ' +
            'or set SLUICE_BIN to its path',
          'SLUICE_NOT_FOUND'
        );
      }
      throw new this.ServerlessError(
        `serverless-sluice could not run ${bin}: ${res.error.message}`,
        'SLUICE_FAILED'
      );
    }
    const messages = (res.stderr || '').split('\n').filter((line) => line.trim() !== '');
    if (res.status !== 0) {
      const why = res.signal ? `was killed by ${res.signal}` : `exited with status ${res.status}`;
      throw new this.ServerlessError(
        messages.length > 0
          ? messages.map((line) => line.replace(/^sluice: /, '')).join('\n')
          : `sluice package ${why} and said nothing`,
        'SLUICE_PACKAGE_FAILED'
      );
    }
    for (const line of messages) {
      // "<file>:<line>:<col>: warning: …" (the framework says "Warning:"
      // itself); anything else is sluice's summary of what it changed.
      if (WARNING.test(line)) this.log.warning(line.replace(WARNING, '$1'));
      else this.log.notice(line);
    }
    return res.stdout;
  }
}

function appendPattern(packageConfig) {
  const patterns = packageConfig.patterns || [];
  if (patterns[patterns.length - 1] !== STATE_DIR_PATTERN) {
    packageConfig.patterns = [...patterns, STATE_DIR_PATTERN];
  }
}

// Frameworks that pass no logger to plugins still have serverless.cli.log.
function fallbackLog(serverless) {
  const write = (msg) => serverless.cli.log(msg);
  return { warning: write, notice: write, info: write, verbose: () => {} };
}

module.exports = ServerlessSluice;
