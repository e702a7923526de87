#!/usr/bin/env bash
# Times sluice's template transform (BenchmarkTransform200) and the
# JavaScript plugins it replaces on the same 200-function service, and
# prints the ratio. Needs go and node (npm); installs the plugins here.
#
#   bench/package/run.sh            ITERATIONS=20 bench/package/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
iterations=${ITERATIONS:-10}

cd "$here"
if [ ! -d node_modules ]; then
	echo "installing the plugins (npm ci) …" >&2
	npm ci --no-audit --no-fund --loglevel=error >&2
fi
(cd "$root" && go run ./bench/package/gen -n 200 -o "$here/out")

# Go: the median of 5 runs of 50 transforms each.
go_ns=$(cd "$root" && go test ./internal/awscfn -run '^$' -bench '^BenchmarkTransform200$' -benchtime 50x -count 5 |
	awk '/^BenchmarkTransform200/ {print $3}' | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
go_ms=$(awk -v ns="$go_ns" 'BEGIN {printf "%.2f", ns/1e6}')

js() { node plugin.js --service out/service.json --template out/template.json --iterations "$iterations" "$@"; }
both=$(js)
canary=$(js --canary-only)
ms() { sed -E 's/^[^:]*: ([0-9.]+) ms.*/\1/' <<<"$1"; }

echo "input:  200 functions, every one gradual with http, sns, sqs, kinesis, s3 and schedule events and an alarm"
echo "sluice: ${go_ms} ms per transform (aws-alerts + canary; median of 5 × 50)"
echo "js:     $both"
echo "js:     $canary"
awk -v g="$go_ms" -v b="$(ms "$both")" -v c="$(ms "$canary")" 'BEGIN {
	printf "sluice is %.0f× faster than both plugins, %.0f× faster than the canary plugin alone (goal: ≥ 100×)\n", b/g, c/g }'
