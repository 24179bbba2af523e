// The floor for any HTTP hop, for bench/compare.mjs: a minimal reverse proxy on node:http that
// streams each request to the target and the answer back (`pipe` both ways, keep-alive to the
// target, no parsing, no buffering of bodies). Not a product: no header hygiene, no timeouts.
//
//   node bench/compare/min-proxy.mjs --target http://127.0.0.1:PORT
//
// Once listening it writes one JSON line `{"minProxy":{"url":…}}`; exits on SIGTERM/SIGINT or when
// stdin ends.
import { Agent, createServer, request } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { target: { type: 'string' } } });
if (!values.target) throw new Error('--target <url> is required');
const target = new URL(values.target);
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

const server = createServer((req, res) => {
  const upstream = request(
    { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host }, agent },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
    res.end('{"error":{"message":"upstream failed","type":"server_error"}}');
  });
  req.pipe(upstream);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ minProxy: { url: `http://127.0.0.1:${server.address().port}` } })}\n`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
