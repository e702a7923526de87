#!/usr/bin/env bash
# Regenerates the corpus goldens: packages every service in testdata/ with
# the real serverless@3.40.0 and osls@4.3.1, without the JS plugins
# (framework.<line>.json: what sluice reads) and with them
# (plugins.<line>.json, or plugins.<line>.err when they fail), then
# rewrites sluice's goldens. Slow: four framework runs per service, about
# 10 to 60 s each. Review the diff, then name every new difference between
# sluice and the plugins in the case's deviations.txt and in DEVIATIONS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
frameworks=integrations/serverless/testdata/frameworks
if [ ! -d "$frameworks/node_modules/osls" ]; then
  (cd "$frameworks" && npm ci --no-audit --no-fund --ignore-scripts)
fi
go test ./corpus -run '^TestCorpus$' -regen -update -timeout 3h -v "$@"
