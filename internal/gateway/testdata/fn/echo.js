'use strict';
// The gateway tests' function: it answers with the event it got, unless a
// request header tells it to fail, to sleep, or what to return.
exports.handler = async (event) => {
  const h = {};
  for (const [k, v] of Object.entries(event.headers || {})) h[k.toLowerCase()] = v;
  if (h['x-fail']) throw new Error('asked to fail');
  if (h['x-sleep']) await new Promise((r) => setTimeout(r, Number(h['x-sleep'])));
  if (h['x-respond'] !== undefined) return JSON.parse(h['x-respond']);
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) };
};
