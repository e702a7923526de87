'use strict';

// Hooks for the end-to-end scenarios. Each reports what HOOK_RESULT says
// (Succeeded, Failed), or nothing at all for "silent", through CodeDeploy's
// API over plain HTTP.
exports.handler = async (event) => {
  const result = process.env.HOOK_RESULT;
  if (result === 'silent') return 'returned without reporting';
  const res = await fetch(process.env.AWS_ENDPOINT_URL, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus',
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
