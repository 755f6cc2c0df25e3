/**
 * The agent's `/v1` routes (see protocol.ts) on a fastify instance that the caller serves over
 * mutual TLS. Every request first passes the client-certificate check and the protocol check;
 * errors leave as the control plane's JSON error shape.
 */
import fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import os from 'node:os';
import { pipeline } from 'node:stream/promises';
import type { TLSSocket } from 'node:tls';
import websocket from '@fastify/websocket';
import Fastify from 'fastify';
import type { Logger } from 'pino';
import { AbortedError, BerthError, InputError, NotFoundError, UnauthorizedError, errorMessage } from '../core/errors.ts';
import { errorHandler } from '../server/errors.ts';
import { TerminalService, parseExecStart, type EarlyMessages } from '../server/terminals.ts';
import type { DockerProvisioner } from '../provisioners/docker/docker.ts';
import { PROTOCOL_HEADER, PROTOCOL_MAJOR, VERSION_HEADER, checkExecCwd, skewMessage, type AgentEvent, type AgentInfo, type PutWorkspace, type WaitLine } from './protocol.ts';
import { copyStream } from './copy.ts';
import { checkWorkspaceId, type AgentRoot } from './root.ts';
import type { AgentWorkspaces } from './workspaces.ts';

/** What the routes need. */
export interface AgentAppDeps {
  root: AgentRoot;
  workspaces: AgentWorkspaces;
  provisioner: DockerProvisioner;
  terminals: TerminalService;
  logger: Logger;
  version: string;
  labels: Record<string, string>;
  /** TLS options of the listener (key, cert, ca, requestCert, rejectUnauthorized). */
  https: { key: string; cert: string; ca: string };
  /** SHA-256 fingerprints (hex, upper case, colon-separated as node prints them) of the only client certificates accepted; empty = any the CA issued. */
  clients: () => string[];
}

type IdParams = { Params: { id: string } };

/** Builds the agent's HTTPS app (not yet listening); its type is inferred, an HTTPS fastify instance. */
export async function buildAgentApp(deps: AgentAppDeps) {
  const app = Fastify({
    // fastify's own per-request lines only at warn: every request is the control plane's.
    loggerInstance: deps.logger.child({}, { level: 'warn' }),
    bodyLimit: 16 * 1024 * 1024,
    // The certificate is checked in onRequest, not by the handshake: a refused client then reads why
    // (an alert from the handshake reaches it only as a reset connection). Every route passes that hook.
    https: { ...deps.https, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
  });
  app.setErrorHandler(errorHandler);
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
  // Terminal frames are a few bytes each: compressing them costs latency and saves nothing.
  await app.register(websocket, { options: { maxPayload: 1024 * 1024, perMessageDeflate: false } });

  app.addHook('onRequest', async (req, reply) => {
    const socket = req.raw.socket as TLSSocket;
    const peer = socket.getPeerCertificate?.();
    if (!peer?.fingerprint256) throw new UnauthorizedError("This agent requires a client certificate issued by its control plane's CA; none was presented.");
    if (!socket.authorized) {
      throw new UnauthorizedError(`This agent refuses the client certificate "${peer.subject?.CN ?? peer.fingerprint256}": ${certProblem(String(socket.authorizationError))}; it accepts only certificates its control plane's CA issued.`);
    }
    const pinned = deps.clients();
    if (pinned.length > 0 && !pinned.includes(peer.fingerprint256)) {
      throw new UnauthorizedError(`This agent does not accept the client certificate ${peer.fingerprint256}: it is not the one its enrollment pinned.`);
    }
    const theirs = Number(req.headers[PROTOCOL_HEADER] ?? PROTOCOL_MAJOR);
    const skew = skewMessage({ role: 'agent', version: deps.version, protocol: PROTOCOL_MAJOR }, { role: 'control plane', version: String(req.headers[VERSION_HEADER] ?? 'unknown'), protocol: theirs });
    void reply.header(PROTOCOL_HEADER, String(PROTOCOL_MAJOR)).header(VERSION_HEADER, deps.version);
    if (skew) throw new InputError(skew);
  });

  app.get('/v1/info', async (): Promise<AgentInfo> => {
    const st = await fs.promises.statfs(deps.root.dir);
    const ids = await deps.workspaces.ids();
    let running = 0;
    for (const id of ids) if ((await deps.provisioner.inspect(id).catch(() => undefined))?.state === 'running') running++;
    return {
      version: deps.version,
      protocol: PROTOCOL_MAJOR,
      labels: deps.labels,
      capacity: { cpus: os.availableParallelism(), memoryBytes: os.totalmem(), workspaces: ids.length, running },
      disk: { path: deps.root.dir, freeBytes: st.bavail * st.bsize, totalBytes: st.blocks * st.bsize },
    };
  });

  app.get('/v1/workspaces', async () => ({ workspaces: await Promise.all((await deps.workspaces.ids()).map((id) => deps.workspaces.report(id))) }));

  app.get<IdParams>('/v1/workspaces/:id', async (req) => deps.workspaces.report(checkWorkspaceId(req.params.id)));

  app.put<IdParams & { Body: PutWorkspace; Querystring: { wait?: string } }>('/v1/workspaces/:id', async (req, reply) => {
    const body = req.body as Partial<PutWorkspace> | undefined;
    const known = typeof body?.workspace === 'object' && body.workspace !== null;
    if (!body || (body.desired !== 'running' && body.desired !== 'stopped') || (!known && body.workspace !== undefined) || (!known && body.desired === 'running')) {
      throw new InputError('The body must be {"desired":"running"|"stopped","workspace":{…}}; only "stopped" may leave out the workspace.');
    }
    const rec = await deps.workspaces.put(checkWorkspaceId(req.params.id), body as PutWorkspace, req.query.wait === '1' && body.desired === 'running');
    if (req.query.wait !== '1') return reply.code(202).send({ generation: rec.generation });
    return waitStream(deps, req.params.id, rec.generation, reply.raw, () => void reply.hijack());
  });

  app.delete<IdParams & { Querystring: { wait?: string } }>('/v1/workspaces/:id', async (req, reply) => {
    const rec = deps.workspaces.delete(checkWorkspaceId(req.params.id));
    if (req.query.wait !== '1') return reply.code(202).send({ generation: rec.generation });
    return waitStream(deps, req.params.id, rec.generation, reply.raw, () => void reply.hijack());
  });

  app.post<IdParams>('/v1/workspaces/:id/copy', async (req, reply) => copyStream(deps.workspaces, deps.provisioner, req.params.id, req.body, reply.raw, () => void reply.hijack()));

  app.put<IdParams>('/v1/workspaces/:id/bundle', async (req, reply) => {
    const file = deps.workspaces.bundleFile(checkWorkspaceId(req.params.id));
    if (!(req.body instanceof Object) || typeof (req.body as NodeJS.ReadableStream).pipe !== 'function') throw new InputError('Send the bundle as application/octet-stream.');
    await pipeline(req.body as NodeJS.ReadableStream, fs.createWriteStream(`${file}.tmp`, { mode: 0o600 }));
    fs.renameSync(`${file}.tmp`, file);
    return reply.code(204).send();
  });

  app.get<IdParams>('/v1/workspaces/:id/exec', { websocket: true }, (socket, req) => {
    let started = false;
    const early: EarlyMessages = { queue: [], handedOver: false };
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (started && !early.handedOver) early.queue.push([data, isBinary]);
    });
    socket.once('message', (data: Buffer) => {
      started = true;
      void (async () => {
        const id = checkWorkspaceId(req.params.id);
        const raw = data.toString();
        const start = parseExecStart(raw);
        if (start.session) return deps.terminals.attach(socket, id, start.session, early);
        const ctx = deps.workspaces.context(id);
        const cwd = checkExecCwd((JSON.parse(raw) as { cwd?: unknown }).cwd, ctx.spec.mountPath);
        await deps.terminals.start(socket, deps.provisioner, ctx, { ...start, ...(cwd ? { cwd } : {}) }, early);
        // The control plane's exec() resolves on this (or on output), so that a refusal is its rejection.
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ type: 'started' }));
      })().catch((err: unknown) => TerminalService.reject(socket, err));
    });
  });

  app.get('/v1/events', { websocket: true }, (socket) => {
    const send = (e: AgentEvent) => {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(e));
    };
    deps.workspaces.events.on('event', send);
    socket.on('close', () => deps.workspaces.events.off('event', send));
  });

  app.all('/*', async (req) => {
    throw new NotFoundError(`No route ${req.method} ${req.url.split('?')[0]} on this agent (protocol v${PROTOCOL_MAJOR}).`);
  });
  return app;
}

/** Streams a workspace's progress as NDJSON until `generation` is applied or fails. */
async function waitStream(deps: AgentAppDeps, id: string, generation: number, res: ServerResponse, hijack: () => void): Promise<void> {
  hijack();
  res.writeHead(200, { 'content-type': 'application/x-ndjson', [PROTOCOL_HEADER]: String(PROTOCOL_MAJOR), [VERSION_HEADER]: deps.version });
  const write = (l: WaitLine) => res.write(`${JSON.stringify(l)}\n`);
  const onEvent = (e: AgentEvent) => {
    if (e.id === id && e.type === 'progress') write({ type: 'progress', line: e.line, ...(e.kind ? { kind: e.kind } : {}) });
  };
  const gone = new AbortController();
  res.once('close', () => gone.abort(new AbortedError('The control plane went away.')));
  deps.workspaces.events.on('event', onEvent);
  try {
    await deps.workspaces.waitFor(id, generation, gone.signal);
    write({ type: 'done', report: await deps.workspaces.report(id) });
  } catch (err) {
    if (!gone.signal.aborted) {
      const retryable = !(err instanceof BerthError) || !('retryable' in err) || Boolean((err as { retryable?: boolean }).retryable);
      write({ type: 'error', error: { code: err instanceof BerthError ? err.code : 'provisioner_error', message: errorMessage(err), retryable } });
    }
  } finally {
    deps.workspaces.events.off('event', onEvent);
    res.end();
  }
}

/** Why TLS did not verify a client certificate, in words. */
function certProblem(code: string): string {
  if (/SELF_SIGNED/.test(code)) return 'it is self-signed';
  if (/ISSUER|VERIFY_LEAF/.test(code)) return 'it was issued by another CA';
  if (code === 'CERT_HAS_EXPIRED') return 'it has expired';
  if (code === 'CERT_NOT_YET_VALID') return 'it is not valid yet';
  return `it does not verify (${code})`;
}
