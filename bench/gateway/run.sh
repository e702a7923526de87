#!/usr/bin/env bash
# bench/gateway: requests per second and latency of one Node.js handler
# behind (a) sluice serve, (b) serverless-offline 13 on serverless 3 and
# (c) a bare Node.js http server, with `wrk -t2 -c16 -d10s`, one after the
# other on this machine. See README.md.
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
root=$(cd ../.. && pwd)
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
SLUICE_PORT=${SLUICE_PORT:-3100}
OFFLINE_PORT=${OFFLINE_PORT:-3200}
BARE_PORT=${BARE_PORT:-3300}

if ! command -v wrk >/dev/null; then
  echo "installing wrk (apt-get)…" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
fi
if [ ! -x node_modules/.bin/serverless ]; then
  echo "installing serverless 3 and serverless-offline 13 (npm ci)…" >&2
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
mkdir -p results
echo "building sluice…" >&2
(cd "$root" && go build -o "$here/results/sluice" ./cmd/sluice)

pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# wait_for URL: until it answers 200 (60 s at most).
wait_for() {
  for _ in $(seq 600); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)" = 200 ]; then return 0; fi
    sleep 0.1
  done
  echo "gave up waiting for $1" >&2
  return 1
}

# measure NAME URL: warm up, then wrk; prints "NAME rps p50 p99" (latencies in ms).
measure() {
  local name=$1 url=$2
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$url" >/dev/null # warm: environments started, JIT warm
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url" >"results/$name.txt"
  awk -v name="$name" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx/ { errors = $NF }
    END { printf "%s %.0f %.2f %.2f %s\n", name, rps, p50, p99, (errors == "" ? 0 : errors) }
  ' "results/$name.txt"
}

rm -rf .sluice
echo "(a) sluice serve…" >&2
"$here/results/sluice" serve --port "$SLUICE_PORT" --api-port $((SLUICE_PORT + 1)) >results/sluice.log 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$SLUICE_PORT/dev/hello"
a=$(measure sluice "http://127.0.0.1:$SLUICE_PORT/dev/hello")
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

echo "(b) serverless-offline…" >&2
SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x \
  node_modules/.bin/serverless offline start --httpPort "$OFFLINE_PORT" --lambdaPort $((OFFLINE_PORT + 2)) \
  --websocketPort $((OFFLINE_PORT + 1)) --host 127.0.0.1 >results/offline.log 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$OFFLINE_PORT/dev/hello"
b=$(measure serverless-offline "http://127.0.0.1:$OFFLINE_PORT/dev/hello")
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

echo "(c) bare node…" >&2
node bare.js "$BARE_PORT" &
pids+=($!)
wait_for "http://127.0.0.1:$BARE_PORT/dev/hello"
c=$(measure bare-node "http://127.0.0.1:$BARE_PORT/dev/hello")
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

printf '\n%-20s %12s %10s %10s %8s\n' server "requests/s" "p50 ms" "p99 ms" non-2xx
for line in "$a" "$b" "$c"; do
  set -- $line
  printf '%-20s %12s %10s %10s %8s\n' "$1" "$2" "$3" "$4" "$5"
done
set -- $a; sluice_rps=$2
set -- $b; offline_rps=$2
set -- $c; bare_rps=$2
awk -v s="$sluice_rps" -v o="$offline_rps" -v b="$bare_rps" 'BEGIN {
  printf "\nsluice / serverless-offline = %.1fx (goal >= 10x)\n", s / o
  printf "sluice / bare node          = %.2fx (goal >= 0.5x)\n", s / b
}'
