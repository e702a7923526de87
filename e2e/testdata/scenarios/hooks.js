'use strict';

// Hooks for the end-to-end scenarios. Each reports what HOOK_RESULT says
// (Succeeded, Failed), or nothing at all for "silent", through CodeDeploy's
// API over plain HTTP. The Authorization header names the function's access
// key, which the engine checks; sluice does not verify signatures, so this
// fixture does not compute one (examples/orders/src/hooks.js does).
exports.handler = async (event) => {
  const result = process.env.HOOK_RESULT;
  if (result === 'silent') return 'returned without reporting';
  const res = await fetch(process.env.AWS_ENDPOINT_URL, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus',
      authorization: `AWS4-HMAC-SHA256 Credential=${process.env.AWS_ACCESS_KEY_ID}/20260101/${process.env.AWS_REGION}/codedeploy/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify({
      deploymentId: event.DeploymentId,
      lifecycleEventHookExecutionId: event.LifecycleEventHookExecutionId,
      status: result,
    }),
  });
  if (!res.ok) throw new Error(`report ${result}: ${res.status} ${await res.text()}`);
  return result;
};
