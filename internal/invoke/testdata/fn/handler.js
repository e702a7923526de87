'use strict';
// Test handlers for the invoke package; the event says what to do.
const fs = require('fs');

exports.handler = async (event) => {
  switch (event.action) {
    case 'fail':
      throw new Error('asked to fail');
    case 'env':
      return {
        endpoint: process.env.AWS_ENDPOINT_URL,
        key: process.env.AWS_ACCESS_KEY_ID,
        secret: process.env.AWS_SECRET_ACCESS_KEY,
        token: process.env.AWS_SESSION_TOKEN,
        region: process.env.AWS_REGION,
        custom: process.env.CUSTOM,
      };
    case 'block':
      // Runs until the test creates the file: a controllable in-flight invocation.
      while (!fs.existsSync(event.until)) await new Promise((r) => setTimeout(r, 5));
      return 'released';
    case 'count':
      // Fails until it has been called event.failures times (state kept in a file).
      {
        const n = fs.existsSync(event.file) ? Number(fs.readFileSync(event.file, 'utf8')) : 0;
        fs.writeFileSync(event.file, String(n + 1));
        if (n < event.failures) throw new Error(`attempt ${n + 1} fails`);
        return { attempt: n + 1 };
      }
  }
  return { version: process.env.AWS_LAMBDA_FUNCTION_VERSION, echo: event };
};
