// Package serverless holds serverless-sluice, the npm package (index.js,
// schema.js) that runs `sluice package` inside the Serverless Framework in
// place of serverless-plugin-canary-deployments and
// serverless-plugin-aws-alerts. Its Go tests run it under the real
// serverless@3.40.0 and osls@4.3.1 from npm.
package serverless
