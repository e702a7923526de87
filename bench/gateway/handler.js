'use strict';
// The handler all three servers run: the smallest useful Lambda proxy handler.
exports.hello = async () => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: '{"message":"hello"}',
});
