'use strict';
exports.handler = async () => ({ statusCode: 200, body: `version ${process.env.AWS_LAMBDA_FUNCTION_VERSION}` });
