'use strict';
const { spawn } = require('node:child_process');

// Starts `sleep` in a session of its own (detached), so that killing the
// function's process group does not reach it, and answers its pid.
exports.spawn = async () => {
  const child = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
  child.unref();
  return { statusCode: 200, body: String(child.pid) };
};
