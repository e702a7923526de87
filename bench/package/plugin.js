#!/usr/bin/env node
// Runs serverless-plugin-aws-alerts (package:compileEvents) and then
// serverless-plugin-canary-deployments
// (after:aws:package:finalize:mergeCustomProviderResources) on a compiled
// template, the way the plugins' own tests drive them: a Serverless object
// holding the service, the AWS provider for naming, the hooks called
// directly. Prints the time per transform.
//
//   node plugin.js --service out/service.json --template out/template.json [--iterations 20]
//                  [--canary-only] [--write result.json]
//
// --service also reads a .serverless/serverless-state.json (json-cycle).
'use strict'
const fs = require('fs')
const jc = require('json-cycle')
const Serverless = require('serverless/lib/serverless')
const AwsProvider = require('serverless/lib/plugins/aws/provider')
const Canary = require('serverless-plugin-canary-deployments')
const Alerts = require('serverless-plugin-aws-alerts')

function args () {
  const a = { iterations: 20, canaryOnly: false }
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    switch (argv[i]) {
      case '--service': a.service = argv[++i]; break
      case '--template': a.template = argv[++i]; break
      case '--iterations': a.iterations = Number(argv[++i]); break
      case '--write': a.write = argv[++i]; break
      case '--canary-only': a.canaryOnly = true; break
      default: throw new Error(`unknown argument ${argv[i]}`)
    }
  }
  if (!a.service || !a.template) throw new Error('usage: plugin.js --service service.json --template template.json')
  return a
}

function loadService (path) {
  const v = jc.parse(fs.readFileSync(path, 'utf8'))
  return v.service && v.package ? v.service : v // a serverless-state.json, or the service itself
}

// transform runs the plugins once on a fresh copy of the template and
// returns the result and the milliseconds the plugins took.
function transform (service, template, canaryOnly) {
  const stage = (service.provider && service.provider.stage) || 'dev'
  const options = { stage, region: 'us-east-1' }
  const serverless = new Serverless({ commands: [], options: {} })
  Object.assign(serverless.service, structuredClone(service))
  serverless.service.provider.compiledCloudFormationTemplate = structuredClone(template)
  serverless.setProvider('aws', new AwsProvider(serverless, options))
  serverless.cli = { log () {} }
  const alerts = canaryOnly ? null : new Alerts(serverless, options)
  const canary = new Canary(serverless, options)
  const start = process.hrtime.bigint()
  if (alerts) alerts.compile()
  canary.addCanaryDeploymentResources()
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  return { result: serverless.service.provider.compiledCloudFormationTemplate, ms }
}

const a = args()
const service = loadService(a.service)
const template = JSON.parse(fs.readFileSync(a.template, 'utf8'))
transform(service, template, a.canaryOnly) // warm up the JIT
const times = []
let result
for (let i = 0; i < a.iterations; i++) {
  const r = transform(service, template, a.canaryOnly)
  times.push(r.ms)
  result = r.result
}
times.sort((x, y) => x - y)
const median = times[Math.floor(times.length / 2)]
const plugins = a.canaryOnly ? 'canary-deployments' : 'aws-alerts + canary-deployments'
console.log(`${plugins}: ${median.toFixed(2)} ms per transform (median of ${a.iterations}, min ${times[0].toFixed(2)} ms), ${Object.keys(result.Resources).length} resources`)
if (a.write) fs.writeFileSync(a.write, JSON.stringify(result, null, 2) + '\n')
