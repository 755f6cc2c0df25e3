/**
 * Runs `git http-backend` as a CGI program: the request body is piped to its stdin, its CGI headers
 * are parsed, and the rest of its stdout is handed back as a stream. Nothing is buffered beyond
 * the header block, so packs of any size flow through with back-pressure.
 */
import { spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';

/** The parts of an HTTP request http-backend looks at. */
export interface CgiRequest {
  method: string;
  /** `/<project>.git/info/refs`, `/<project>.git/git-upload-pack`, … */
  pathInfo: string;
  query: string;
  contentType?: string;
  contentLength?: string;
  contentEncoding?: string;
  /** The `Git-Protocol` request header (protocol v2 negotiation). */
  gitProtocol?: string;
  remoteUser: string;
  remoteAddr: string;
  body?: Readable;
}

/** http-backend's answer. */
export interface CgiResponse {
  status: number;
  headers: Record<string, string>;
  body: Readable;
  /** Resolves with the exit code once the process ended. */
  exited: Promise<number>;
  /** Ends the process (client went away). */
  kill(): void;
}

const MAX_HEADER = 64 * 1024;

/** Starts `git http-backend` for one request; resolves once its headers arrived. */
export function runHttpBackend(req: CgiRequest, opts: { projectRoot: string; env: Record<string, string>; onStderr?: (text: string) => void }): Promise<CgiResponse> {
  const env: Record<string, string> = {
    ...opts.env,
    GIT_PROJECT_ROOT: opts.projectRoot,
    GIT_HTTP_EXPORT_ALL: '1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    REQUEST_METHOD: req.method,
    PATH_INFO: req.pathInfo,
    QUERY_STRING: req.query,
    REMOTE_USER: req.remoteUser,
    REMOTE_ADDR: req.remoteAddr,
  };
  if (req.contentType) env.CONTENT_TYPE = req.contentType;
  // Without CONTENT_LENGTH http-backend reads the (chunked) body until EOF.
  if (req.contentLength) env.CONTENT_LENGTH = req.contentLength;
  if (req.contentEncoding) env.HTTP_CONTENT_ENCODING = req.contentEncoding;
  if (req.gitProtocol) env.HTTP_GIT_PROTOCOL = req.gitProtocol;

  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number>((resolve) => child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  child.stdin.on('error', () => undefined);
  if (req.body) req.body.pipe(child.stdin);
  else child.stdin.end();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-16384);
  });
  void exited.then(() => {
    if (stderr.trim()) opts.onStderr?.(stderr.trim());
  });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };

  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    let body: PassThrough | undefined;
    child.once('error', (err) => reject(err));
    child.stdout.on('data', (d: Buffer) => {
      if (body) {
        if (!body.write(d)) {
          child.stdout.pause();
          body.once('drain', () => child.stdout.resume());
        }
        return;
      }
      head = Buffer.concat([head, d]);
      const crlf = head.indexOf('\r\n\r\n');
      const lf = head.indexOf('\n\n');
      const end = crlf !== -1 && (lf === -1 || crlf < lf) ? crlf + 4 : lf !== -1 ? lf + 2 : -1;
      if (end === -1) {
        if (head.length > MAX_HEADER) {
          kill();
          reject(new Error('git http-backend sent an oversized header block.'));
        }
        return;
      }
      const { status, headers } = parseCgiHeaders(head.subarray(0, end).toString('latin1'));
      body = new PassThrough();
      body.once('close', () => {
        if (!child.stdout.readableEnded) kill();
      });
      const rest = head.subarray(end);
      if (rest.length) body.write(rest);
      resolve({ status, headers, body, exited, kill });
    });
    child.stdout.once('end', () => {
      if (body) body.end();
      else
        void exited.then((code) => reject(new Error(`git http-backend exited with code ${code} before answering${stderr ? `: ${stderr.trim().split('\n').pop()}` : ''}.`)));
    });
  });
}

/** Parses a CGI header block: `Status: 404 Not Found` plus ordinary headers. */
export function parseCgiHeaders(block: string): { status: number; headers: Record<string, string> } {
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of block.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim();
    const value = line.slice(i + 1).trim();
    if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]) || 500;
    else headers[name.toLowerCase()] = value;
  }
  return { status, headers };
}

/** A request body cut short once it passed a size limit. */
export interface LimitedBody {
  /** What http-backend reads: the body, ended early when it grew past the limit. */
  body: Readable;
  /** Settles once the client's body ended, was cut off or the client went away. */
  done: Promise<void>;
  /** Whether the body grew past the limit. */
  readonly exceeded: boolean;
}

/**
 * Passes `source` on until `limit` bytes; past it, ends the body (so http-backend stops at a short,
 * failing pack rather than waiting) and drains the rest unread, so the client is never left blocked
 * in its upload and reads the 413 answer.
 */
export function limitBody(source: Readable, limit: number): LimitedBody {
  const body = new PassThrough();
  let seen = 0;
  let exceeded = false;
  const done = new Promise<void>((resolve) => {
    source.on('data', (d: Buffer) => {
      if (exceeded) return;
      seen += d.length;
      if (seen > limit) {
        exceeded = true;
        body.end();
        source.resume();
        resolve();
      } else if (!body.write(d)) {
        source.pause();
        body.once('drain', () => source.resume());
      }
    });
    source.once('end', () => {
      body.end();
      resolve();
    });
    source.once('close', () => {
      if (!body.writableEnded) body.end();
      resolve();
    });
  });
  return {
    body,
    done,
    get exceeded() {
      return exceeded;
    },
  };
}
