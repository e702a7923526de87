#!/usr/bin/env bash
# Regenerates input.json and expected.json of every case here (or of the
# cases named as arguments) by running the real Serverless Framework v3:
#   input.json    = `serverless package` without any plugin
#   expected.json = `serverless package` with serverless-plugin-aws-alerts
# Each case's serverless.yml lists no plugins (sluice reads it as it is); the
# plugin is appended for the second run.
#
# NODE_MODULES must hold serverless@3 and serverless-plugin-aws-alerts@1.7.5
# (default: /work/scratch/sls/node_modules). No AWS access is needed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
node_modules=${NODE_MODULES:-/work/scratch/sls/node_modules}
[ -x "$node_modules/.bin/serverless" ] || { echo "no serverless in $node_modules; set NODE_MODULES" >&2; exit 1; }

cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
	for d in "$here"/*/; do cases+=("$(basename "$d")"); done
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# package DIR OUT: runs the framework in DIR and writes its template to OUT,
# with the artifact's timestamped S3 key made constant so that reruns and
# the two runs of a case agree. (The log goes outside DIR: everything in DIR
# is zipped, and the zip's hash names the Lambda version resource.)
package() {
	(cd "$1" && SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x \
		"$node_modules/.bin/serverless" package --stage dev --region us-east-1 >"$1.log" 2>&1) ||
		{ cat "$1.log" >&2; return 1; }
	node -e '
		const fs = require("fs");
		const t = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
		// The artifact key and the API Gateway deployment ID hold the time.
		const fixString = (s) => s
			.replace(/^(serverless\/.+\/)\d+-[^/]+\//, "$10000000000000-1970-01-01T00:00:00.000Z/")
			.replace(/^ApiGatewayDeployment\d+$/, "ApiGatewayDeployment0000000000000");
		const fix = (v) => {
			if (typeof v === "string") return fixString(v);
			if (Array.isArray(v)) return v.map(fix);
			if (v && typeof v === "object") {
				return Object.fromEntries(Object.entries(v).map(([k, x]) => [fixString(k), fix(x)]));
			}
			return v;
		};
		fs.writeFileSync(process.argv[2], JSON.stringify(fix(t), null, 2) + "\n");
	' "$1/.serverless/cloudformation-template-update-stack.json" "$2"
}

for c in "${cases[@]}"; do
	src="$here/$c"
	[ -f "$src/serverless.yml" ] || { echo "$c: no serverless.yml" >&2; exit 1; }
	echo "== $c" >&2
	for run in input expected; do
		dir="$work/$c-$run"
		mkdir -p "$dir"
		cp "$src/serverless.yml" "$src/handler.js" "$dir/"
		ln -s "$node_modules" "$dir/node_modules"
		if [ "$run" = expected ]; then
			printf '\nplugins:\n  - serverless-plugin-aws-alerts\n' >>"$dir/serverless.yml"
		fi
		package "$dir" "$src/$run.json"
	done
done
