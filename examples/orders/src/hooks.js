'use strict';

// The pre-traffic hook: CodeDeploy (or sluice) invokes it with
// {DeploymentId, LifecycleEventHookExecutionId} before any traffic moves.
// It calls the new version directly and reports the result.
//
// It speaks the AWS APIs over plain HTTP, signed with Signature Version 4
// (below), so the example needs no npm install; hook code using the AWS SDK
// for JavaScript (v2 or v3) or any other SDK runs unchanged too. On AWS,
// AWS_ENDPOINT_URL is unset and the regional endpoints are used.
const crypto = require('node:crypto');

const endpoint = (service) =>
  process.env.AWS_ENDPOINT_URL || `https://${service}.${process.env.AWS_REGION}.amazonaws.com`;

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();

// signedFetch is fetch with a SigV4 Authorization header made from the
// function's credentials (AWS_ACCESS_KEY_ID, …), as every AWS API requires.
function signedFetch(service, url, { method, headers = {}, body = '' }) {
  const u = new URL(url);
  const region = process.env.AWS_REGION;
  const amzDate = new Date().toISOString().replace(/[:-]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const all = { ...headers, host: u.host, 'x-amz-date': amzDate };
  if (process.env.AWS_SESSION_TOKEN) all['x-amz-security-token'] = process.env.AWS_SESSION_TOKEN;
  const names = Object.keys(all).map((k) => k.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(all).map(([k, v]) => [k.toLowerCase(), String(v).trim()]));
  const query = [...u.searchParams].map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).sort().join('&');
  const canonical = [method, u.pathname, query, names.map((n) => `${n}:${lower[n]}\n`).join(''), names.join(';'), sha256(body)].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let key = hmac(`AWS4${process.env.AWS_SECRET_ACCESS_KEY}`, day);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  const signature = crypto.createHmac('sha256', key).update(toSign).digest('hex');
  delete all.host; // fetch sets it
  all.authorization = `AWS4-HMAC-SHA256 Credential=${process.env.AWS_ACCESS_KEY_ID}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return fetch(url, { method, headers: all, body });
}

exports.preTraffic = async (event) => {
  let status = 'Succeeded';
  try {
    const fn = process.env.AWS_LAMBDA_FUNCTION_NAME.replace(/-preTraffic$/, '-api');
    const url = `${endpoint('lambda')}/2015-03-31/functions/${fn}/invocations?Qualifier=${await targetVersion(event)}`;
    const res = await signedFetch('lambda', url, {
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
  const res = await signedFetch('codedeploy', endpoint('codedeploy'), {
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
