#!/usr/bin/env bash
# Regenerates input.json of the framework cases here by running the real
# framework on each case's serverless.yml, without plugins:
#   provisioned, snapstart   serverless@3.40.0
#   conditions               osls@4.3.1 (it puts a function's condition on
#                            its function, version and log group)
# NODE_MODULES must hold both (default: the ones .ci/run installs for
# integrations/serverless). No AWS access is needed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
node_modules=${NODE_MODULES:-$here/../../../integrations/serverless/testdata/frameworks/node_modules}
[ -f "$node_modules/serverless/bin/serverless.js" ] && [ -f "$node_modules/osls/bin/serverless.js" ] ||
	{ echo "no serverless and osls in $node_modules: run npm ci in integrations/serverless/testdata/frameworks, or set NODE_MODULES" >&2; exit 1; }

package() { # case framework
	local work
	work=$(mktemp -d)
	cp "$here/$1"/serverless.yml "$here/$1"/handler.* "$work/"
	(cd "$work" && SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x \
		node "$node_modules/$2/bin/serverless.js" package --stage dev --region us-east-1 >"$work.log" 2>&1) ||
		{ cat "$work.log" >&2; exit 1; }
	cp "$work/.serverless/cloudformation-template-update-stack.json" "$here/$1/input.json"
	rm -rf "$work" "$work.log"
}
package provisioned serverless
package snapstart serverless
package conditions osls
