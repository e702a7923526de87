'use strict';

// The tutorial's pre- and post-traffic hooks: they report Succeeded through
// CodeDeploy's PutLifecycleEventHookExecutionStatus, over plain HTTP to the
// endpoint sluice gives its functions (sluice checks the access key, not
// the signature).
async function report(event) {
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
      status: 'Succeeded',
    }),
  });
  if (!res.ok) throw new Error(`report: ${res.status} ${await res.text()}`);
}

exports.pre = report;
exports.post = report;
