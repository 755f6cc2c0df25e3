/**
 * A loopback HTTP proxy that adds an Authorization header to every request, for MCP clients that
 * cannot send one (the conformance CLI). Everything else, Host and Origin included, passes as sent.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running proxy: its URL and a way to stop it. */
export interface AuthProxy {
  url: string;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 in front of `target` that sends `authorization` with each request. */
export async function startAuthProxy(target: string, authorization: string): Promise<AuthProxy> {
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, authorization } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
