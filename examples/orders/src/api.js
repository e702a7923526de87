'use strict';

// The orders API: one handler behind HTTP API (payload 2.0) and REST API
// (payload 1.0) routes.
const VERSION_NOTE = 'first release';

exports.handler = async (event) => {
  const method = event.requestContext?.http?.method ?? event.httpMethod;
  const id = event.pathParameters?.id;
  if (method === 'POST') {
    const order = JSON.parse(event.body || '{}');
    return respond(201, { id: `o-${Date.now()}`, ...order });
  }
  if (id) {
    return respond(200, { id, status: 'shipped' });
  }
  return respond(200, { orders: [{ id: 'o-1', status: 'shipped' }], note: VERSION_NOTE });
};

function respond(statusCode, body) {
  return {
    statusCode,
    headers: { 'content-type': 'application/json' },
    // The version that answered: handy when traffic is split between two.
    body: JSON.stringify({ ...body, version: process.env.AWS_LAMBDA_FUNCTION_VERSION }),
  };
}
