/**
 * The control plane's client of one agent: HTTPS and WebSocket over mutual TLS, trusting only the
 * server certificate that enrollment pinned (its SHA-256 fingerprint) under the control plane's CA.
 * Network and TLS failures become one sentence saying the agent is unreachable, never "absent".
 */
import https from 'node:https';
import type { PeerCertificate } from 'node:tls';
import { WebSocket } from 'ws';
import { BerthError, ConflictError, InputError, NotFoundError, ProvisionerError, UnauthorizedError, UnreachableError, errorMessage, type ErrorCode } from '../../core/errors.ts';
import { PROTOCOL_HEADER, PROTOCOL_MAJOR, VERSION_HEADER, skewMessage, type WaitLine, type WorkspaceReport } from '../../agent/protocol.ts';
import type { AgentTlsMaterial } from './directory.ts';
import type { ProgressSink } from '../provisioner.ts';

/** What the control plane holds to talk to one agent (the registry's TLS material). */
export type AgentTls = AgentTlsMaterial;

/** Normalises a fingerprint to upper-case hex without separators. */
export function normalizeFingerprint(f: string): string {
  return f.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
}

/** A client of one agent's `/v1` protocol. */
export class AgentClient {
  private readonly agent: https.Agent;

  constructor(
    readonly name: string,
    readonly url: string,
    private readonly tls: AgentTls,
    private readonly version: string,
  ) {
    this.agent = new https.Agent({ keepAlive: true, key: tls.key, cert: tls.cert, ca: tls.ca, checkServerIdentity: (_host, cert) => this.checkPin(cert), maxCachedSessions: 16 });
  }

  /** The certificate must be the one enrollment pinned; the host name is not what is trusted. */
  private checkPin(cert: PeerCertificate): Error | undefined {
    if (normalizeFingerprint(cert.fingerprint256 ?? '') === normalizeFingerprint(this.tls.fingerprint)) return undefined;
    return new Error(`its certificate (${cert.fingerprint256}) is not the one enrolled for agent "${this.name}" (${this.tls.fingerprint})`);
  }

  private headers(): Record<string, string> {
    return { [PROTOCOL_HEADER]: String(PROTOCOL_MAJOR), [VERSION_HEADER]: this.version };
  }

  /** The sentence for a failure to reach the agent at all. */
  unreachable(err: unknown): ProvisionerError {
    return new UnreachableError(`The agent "${this.name}" at ${this.url} is unreachable: ${describeNetError(err)}. Its workspaces keep running there; Berth retries.`, { cause: err });
  }

  /** Sends a request; resolves with the response for the caller to read. */
  private send(method: string, path: string, o: { body?: unknown; stream?: NodeJS.ReadableStream; signal?: AbortSignal; timeoutMs?: number } = {}): Promise<import('node:http').IncomingMessage> {
    return new Promise((resolve, reject) => {
      const json = o.body === undefined ? undefined : JSON.stringify(o.body);
      const req = https.request(new URL(path, this.url), {
        method,
        agent: this.agent,
        headers: {
          ...this.headers(),
          ...(json !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) } : {}),
          ...(o.stream ? { 'content-type': 'application/octet-stream' } : {}),
        },
        ...(o.signal ? { signal: o.signal } : {}),
        timeout: o.timeoutMs ?? 15_000,
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${Math.round((o.timeoutMs ?? 15_000) / 1000)} seconds`)));
      req.on('error', (err) => reject(o.signal?.aborted ? err : this.unreachable(err)));
      req.on('response', resolve);
      if (o.stream) o.stream.pipe(req);
      else req.end(json);
    });
  }

  /** A JSON request; a non-2xx answer becomes the matching domain error. */
  async json<T>(method: string, path: string, o: { body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
    const res = await this.send(method, path, o);
    const text = await readAll(res);
    if ((res.statusCode ?? 500) >= 300) throw this.answerError(res.statusCode ?? 500, text, res.headers);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Streams a bundle of the checkout to the agent. */
  async upload(path: string, stream: NodeJS.ReadableStream, signal: AbortSignal): Promise<void> {
    const res = await this.send('PUT', path, { stream, signal, timeoutMs: 300_000 });
    const text = await readAll(res);
    if ((res.statusCode ?? 500) >= 300) throw this.answerError(res.statusCode ?? 500, text, res.headers);
  }

  /** A `?wait=1` request: progress lines go to `progress`, the final report is returned. */
  async wait(method: string, path: string, o: { body?: unknown; signal: AbortSignal; progress: ProgressSink }): Promise<WorkspaceReport> {
    const res = await this.send(method, `${path}?wait=1`, { ...o, timeoutMs: 0 });
    if ((res.statusCode ?? 500) >= 300) throw this.answerError(res.statusCode ?? 500, await readAll(res), res.headers);
    let rest = '';
    let result: WorkspaceReport | undefined;
    try {
      for await (const chunk of res) {
        rest += (chunk as Buffer).toString();
        let nl: number;
        while ((nl = rest.indexOf('\n')) >= 0) {
          const line = JSON.parse(rest.slice(0, nl)) as WaitLine;
          rest = rest.slice(nl + 1);
          if (line.type === 'progress') o.progress(line.line, line.kind);
          else if (line.type === 'done') result = line.report;
          else throw new ProvisionerError(line.error.message, { code: line.error.code as ErrorCode, retryable: line.error.retryable });
        }
      }
    } catch (err) {
      if (err instanceof BerthError || o.signal.aborted) throw err;
      throw this.unreachable(err);
    }
    if (!result) throw this.unreachable(new Error('the connection ended before the agent reported the result'));
    return result;
  }

  /** Opens a WebSocket to the agent. */
  websocket(path: string, protocol?: string): WebSocket {
    const u = new URL(path, this.url);
    u.protocol = 'wss:';
    return new WebSocket(u, protocol ? [protocol] : [], {
      key: this.tls.key,
      cert: this.tls.cert,
      ca: this.tls.ca,
      // ws hands this to tls.connect, which wants an Error or undefined (its typing says boolean).
      checkServerIdentity: ((_host: string, cert: PeerCertificate) => this.checkPin(cert)) as unknown as () => boolean,
      headers: this.headers(),
      handshakeTimeout: 15_000,
      perMessageDeflate: false,
    });
  }

  private answerError(status: number, text: string, headers: import('node:http').IncomingHttpHeaders): BerthError {
    let message = text.slice(0, 500) || `HTTP ${status}`;
    let code: string | undefined;
    try {
      const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
      if (e?.message) message = e.message;
      code = e?.code;
    } catch {
      // Not the agent's JSON error shape: a proxy or something else answers on that port.
    }
    const theirs = Number(headers[PROTOCOL_HEADER] ?? PROTOCOL_MAJOR);
    const skew = skewMessage({ role: 'control plane', version: this.version, protocol: PROTOCOL_MAJOR }, { role: `agent "${this.name}"`, version: String(headers[VERSION_HEADER] ?? 'unknown'), protocol: theirs });
    if (skew) return new ProvisionerError(skew, { retryable: false });
    const said = `The agent "${this.name}" refused: ${message}`;
    if (status === 400) return new InputError(said);
    if (status === 401 || status === 403) return new UnauthorizedError(said);
    if (status === 404) return new NotFoundError(said);
    if (status === 409) return new ConflictError(said);
    return new ProvisionerError(said, { ...(code ? { code: code as ErrorCode } : {}), retryable: status >= 500 });
  }

  /** Closes idle connections. */
  close(): void {
    this.agent.destroy();
  }
}

async function readAll(res: NodeJS.ReadableStream): Promise<string> {
  let s = '';
  for await (const c of res) s += (c as Buffer).toString();
  return s;
}

/** A network or TLS error in words. */
export function describeNetError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { reason?: string };
  switch (e?.code) {
    case 'ECONNREFUSED':
      return 'nothing listens on its control port (connection refused)';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to its host';
    case 'ETIMEDOUT':
      return 'the connection timed out';
    case 'ECONNRESET':
      return 'the connection was reset (a refused client certificate ends the handshake this way)';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `its certificate is not the enrolled one: ${e.reason ?? e.message}`;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return "its certificate was not issued by this control plane's CA";
    default:
      return errorMessage(err);
  }
}
