/**
 * A small stand-in for a git hosting service: `git http-backend` behind a loopback HTTP server that
 * demands HTTP basic credentials. Written independently of Berth's gateway so tests of the gateway
 * do not lean on the code under test. Serves every bare repository under `root` at `/<name>.git`.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running upstream server. */
export interface UpstreamServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Requests answered 401 because credentials were missing or wrong. */
  refused: number;
  /** Requests that carried the right credentials. */
  accepted: number;
  close(): Promise<void>;
}

/** Starts `git http-backend` for the repositories in `root`, requiring `username`/`password`. */
export async function startUpstream(root: string, username: string, password: string): Promise<UpstreamServer> {
  const expected = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  const state = { refused: 0, accepted: 0 };
  const server = http.createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      state.refused++;
      res.writeHead(401, { 'www-authenticate': 'Basic realm="upstream"', 'content-type': 'text/plain' });
      res.end('Authentication required.\n');
      return;
    }
    state.accepted++;
    const url = new URL(req.url ?? '/', 'http://x');
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      REMOTE_USER: username,
      REMOTE_ADDR: '127.0.0.1',
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'http.receivepack',
      GIT_CONFIG_VALUE_0: 'true',
    };
    if (req.headers['content-type']) env.CONTENT_TYPE = req.headers['content-type'];
    if (req.headers['content-length']) env.CONTENT_LENGTH = req.headers['content-length'];
    if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = String(req.headers['content-encoding']);
    if (req.headers['git-protocol']) env.HTTP_GIT_PROTOCOL = String(req.headers['git-protocol']);
    const cgi = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    req.pipe(cgi.stdin);
    cgi.stdin.on('error', () => undefined);
    let head: Buffer | null = Buffer.alloc(0);
    cgi.stdout.on('data', (d: Buffer) => {
      if (head === null) {
        if (!res.write(d)) {
          cgi.stdout.pause();
          res.once('drain', () => cgi.stdout.resume());
        }
        return;
      }
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = Number(v.split(' ')[0]);
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      const rest = head.subarray(end + 4);
      head = null;
      if (rest.length) res.write(rest);
    });
    cgi.stdout.on('end', () => res.end());
    res.on('close', () => {
      if (cgi.exitCode === null) cgi.kill('SIGKILL');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get refused() {
      return state.refused;
    },
    get accepted() {
      return state.accepted;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
