'use strict';
// The ceiling: a bare Node.js http server calling the same handler in
// process (no gateway, no Lambda runtime API), answering what it returns.
const http = require('http');
const { hello } = require('./handler');

const port = Number(process.argv[2] || 3003);
http
  .createServer(async (req, res) => {
    const out = await hello({ httpMethod: req.method, path: req.url, headers: req.headers, body: null });
    res.writeHead(out.statusCode, out.headers);
    res.end(out.body);
  })
  .listen(port, '127.0.0.1');
