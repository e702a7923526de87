// Package corpus pins `sluice package` on real-world services: the
// serverless.yml of public services that use serverless-plugin-canary-deployments
// and serverless-plugin-aws-alerts (testdata/<name>/, each with its
// PROVENANCE.yml), packaged by the real serverless@3.40.0 and osls@4.3.1
// without and with those plugins (goldens made by regen.sh). The tests
// compare sluice's output with its goldens and with the plugins' output;
// every difference is a deviation named in the case's deviations.txt and
// explained in DEVIATIONS.md. Two cases are also packaged live, to check
// that the framework goldens are current and that the serverless-sluice
// plugin produces sluice's golden on real services.
package corpus
