'use strict';
// The Lambda API tests' function.
const fs = require('fs');

exports.handler = async (event) => {
  console.log('handling', JSON.stringify(event));
  if (event && event.fail) throw new TypeError('asked to fail');
  if (event && event.touch) fs.writeFileSync(event.touch, 'ran');
  return { got: event, version: process.env.AWS_LAMBDA_FUNCTION_VERSION };
};
