'use strict';

// The pre-traffic hook: CodeDeploy (or sluice) invokes it with
// {DeploymentId, LifecycleEventHookExecutionId} before any traffic moves.
// It calls the new version directly and reports the result.
//
// It speaks the AWS APIs over plain HTTP so the example needs no npm
// install; hook code using the AWS SDK for JavaScript (v2 or v3) or any
// other SDK runs unchanged too. On AWS, AWS_ENDPOINT_URL is unset and the
// regional endpoints are used.
const endpoint = (service) =>
  process.env.AWS_ENDPOINT_URL || `https://${service}.${process.env.AWS_REGION}.amazonaws.com`;

exports.preTraffic = async (event) => {
  let status = 'Succeeded';
  try {
    const fn = process.env.AWS_LAMBDA_FUNCTION_NAME.replace(/-preTraffic$/, '-api');
    const res = await fetch(`${endpoint('lambda')}/2015-03-31/functions/${fn}/invocations?Qualifier=${await targetVersion(event)}`, {
      method: 'POST',
      body: JSON.stringify({ requestContext: { http: { method: 'GET' } }, rawPath: '/orders' }),
    });
    const out = await res.json();
    if (res.headers.get('x-amz-function-error') || out.statusCode !== 200) {
      console.log('smoke test failed', JSON.stringify(out));
      status = 'Failed';
    }
  } catch (err) {
    console.log('smoke test could not run', err);
    status = 'Failed';
  }
  await codedeploy('PutLifecycleEventHookExecutionStatus', {
    deploymentId: event.DeploymentId,
    lifecycleEventHookExecutionId: event.LifecycleEventHookExecutionId,
    status,
  });
  return status;
};

// targetVersion reads the version being deployed from the deployment.
async function targetVersion(event) {
  const { deploymentInfo } = await codedeploy('GetDeployment', { deploymentId: event.DeploymentId });
  const appSpec = JSON.parse(deploymentInfo.revision.appSpecContent.content);
  const [resource] = Object.values(appSpec.Resources[0]);
  return resource.Properties.TargetVersion;
}

async function codedeploy(operation, params) {
  const res = await fetch(endpoint('codedeploy'), {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `CodeDeploy_20141006.${operation}`,
    },
    body: JSON.stringify(params),
  });
  const out = await res.json();
  if (!res.ok) throw new Error(`${operation}: ${out.__type}: ${out.message}`);
  return out;
}
