/**
 * The GET-throughput baseline: a bare node:http server answering every request with the JSON in
 * BENCH_BARE_BODY, no auth, no database. It runs as a process of its own, as Berth's server does,
 * so the load generator's work never lands on the baseline's event loop. Prints its port.
 */
import http from 'node:http';

const body = process.env.BENCH_BARE_BODY ?? '{}';
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${(server.address() as { port: number }).port}\n`));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
