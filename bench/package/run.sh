#!/usr/bin/env bash
# Times `sluice package` as a whole process (start-up, reading the service
# and the template, validation, the transform, writing) against the
# JavaScript plugins it replaces on the same 200-function service, in one
# run, and prints the ratio. Needs go, node (npm) and hyperfine: it installs
# the plugins here (npm ci) and hyperfine with apt-get when it can (root).
#
#   bench/package/run.sh            RUNS=50 ITERATIONS=20 bench/package/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
iterations=${ITERATIONS:-10} # JavaScript transforms (each takes seconds)
runs=${RUNS:-30}             # sluice processes

cd "$here"
if ! command -v hyperfine >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "installing hyperfine (apt-get) …" >&2
		apt-get install -y -qq hyperfine >/dev/null || { apt-get update -qq >/dev/null && apt-get install -y -qq hyperfine >/dev/null; }
	else
		echo "run.sh needs hyperfine (Debian: apt-get install hyperfine; or cargo install hyperfine)" >&2
		exit 1
	fi
fi
if [ ! -d node_modules ]; then
	echo "installing the plugins (npm ci) …" >&2
	npm ci --no-audit --no-fund --loglevel=error >&2
fi
out="$here/out"
(cd "$root" && go run ./bench/package/gen -n 200 -o "$out")
(cd "$root" && go build -o "$out/sluice" ./cmd/sluice)

# sluice: the whole process, as a user runs it, median of $runs.
hyperfine -N --warmup 3 --runs "$runs" --export-json "$out/hyperfine.json" \
	"$out/sluice package --config $out/service.json --template $out/template.json --out $out/sluice.json" >/dev/null 2>&1
read -r sluice_ms user_ms sys_ms < <(node -e '
	const r = require(process.argv[1]).results[0]
	const t = [...r.times].sort((a, b) => a - b)
	console.log((t[t.length >> 1] * 1e3).toFixed(1), (r.user * 1e3).toFixed(1), (r.system * 1e3).toFixed(1))
' "$out/hyperfine.json")

# The plugins: only their two hooks are timed, not the framework's start-up
# nor reading the files (so the comparison favours them).
js() { node plugin.js --service "$out/service.json" --template "$out/template.json" --iterations "$iterations" "$@"; }
both=$(js)
canary=$(js --canary-only)
ms() { sed -E 's/^[^:]*: ([0-9.]+) ms.*/\1/' <<<"$1"; }

echo "input:  200 functions, every one gradual with http, sns, sqs, kinesis, s3 and schedule events and an alarm"
echo "sluice: ${sluice_ms} ms per whole \`sluice package\` process (median of $runs; CPU: ${user_ms} ms user, ${sys_ms} ms system; load average $(cut -d' ' -f1 /proc/loadavg))"
echo "js:     $both"
echo "js:     $canary"
awk -v s="$sluice_ms" -v b="$(ms "$both")" -v c="$(ms "$canary")" 'BEGIN {
	printf "sluice package (whole process) is %.0f× faster than both plugins'"'"' transform, %.0f× faster than the canary plugin'"'"'s alone (goal: under 48 ms, ≥ 100×)\n", b/s, c/s }'
