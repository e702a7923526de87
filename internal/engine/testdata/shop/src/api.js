'use strict';
const RELEASE = 'one';

exports.handler = async (event) => {
  const q = event.queryStringParameters || {};
  if (q.fail) throw new Error('asked to fail');
  if (q.sleep) await new Promise((r) => setTimeout(r, Number(q.sleep)));
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      release: RELEASE,
      version: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      greeting: process.env.GREETING,
      name: (event.pathParameters || {}).name,
    }),
  };
};
