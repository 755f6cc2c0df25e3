/** Typed client of the Berth REST API and exec protocol; used by the CLI, tests and benchmarks. */
import os from 'node:os';
import type WebSocket from 'ws';
import { errorMessage } from '../core/errors.ts';
import type { GcReport, Orphan } from './admin.ts';
import type { EventPage } from './events.ts';
import { CHANNEL_STDERR, CHANNEL_STDIN, CHANNEL_STDOUT, EXEC_PROTOCOL, type ExecStart } from './protocol.ts';
import { TasksApi } from './tasks-api.ts';
import { streamLines, type StreamEnd } from './ndjson.ts';
import type {
  CreateProject,
  CreateProvisioner,
  CreateWorkspace,
  ForkWorkspace,
  ErrorBody,
  GitCommitResult,
  GitDiff,
  GitStatus,
  GitSyncOptions,
  GitSyncResult,
  Me,
  Member,
  NewToken,
  Project,
  ProjectSync,
  ProvisionerInfo,
  ProvisionerType,
  SpecPatch,
  Token,
  UpdateProject,
  UpdateProvisioner,
  User,
  Workspace,
  WorkspaceEvent,
} from './wire.ts';

/** A non-2xx answer from the API, carrying its error code and message. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The exit status a local shell would give for how an exec ended: its code, or 128 + the number of the signal that killed it. */
export function exitStatus(exit: { code: number | null; signal?: string }): number {
  if (exit.code !== null) return exit.code;
  const n = exit.signal === undefined ? undefined : /^\d+$/.test(exit.signal) ? Number(exit.signal) : os.constants.signals[exit.signal as NodeJS.Signals];
  return n ? 128 + n : 1;
}

/** Callbacks of an exec session. */
export interface ExecHandlers {
  stdout(data: Buffer): void;
  stderr?(data: Buffer): void;
  /** Called with the terminal session id (TTY only), to re-attach later. */
  session?(id: string): void;
}

/** A live exec connection. */
export interface ExecConnection {
  write(data: string | Buffer): void;
  /** Closes stdin of the remote process. */
  eof(): void;
  resize(cols: number, rows: number): void;
  signal(sig: 'SIGINT' | 'SIGTERM' | 'SIGKILL' | 'SIGHUP'): void;
  /** Drops the connection (a TTY session keeps running on the server). */
  detach(): void;
  /** Resolves with the exit code; rejects with ApiError when the server refuses, or when the connection drops. */
  readonly done: Promise<{ code: number | null; signal?: string }>;
}

/** The ApiError of a non-2xx answer, from its parsed body (the server's `{ error: { code, message } }`, or anything else). */
function apiError(status: number, body: unknown): ApiError {
  const e = (body as ErrorBody | undefined)?.error;
  return new ApiError(status, e?.code ?? 'error', e?.message ?? `HTTP ${status}`);
}

/** API client bound to one server URL and token. */
export class BerthClient {
  readonly url: string;
  constructor(url: string, private readonly token?: string) {
    this.url = url.replace(/\/+$/, '');
  }

  /** Task fan-out: runTask, getTask, listTasks, taskLogs, deleteTask, followTask (src/sdk/tasks.ts). */
  get tasks(): TasksApi {
    return new TasksApi(this);
  }

  /** Sends a request and parses the JSON answer; throws ApiError on non-2xx. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: { status: number; text: string };
    try {
      res = await this.send(method, path, headers, body === undefined ? undefined : JSON.stringify(body));
    } catch (err) {
      throw new ApiError(0, 'unreachable', `Cannot reach the Berth server at ${this.url}: ${errorMessage(err)}`);
    }
    if (res.status === 204) return undefined as T;
    const text = res.text;
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new ApiError(res.status, 'bad_response', `The server answered ${res.status} with a body that is not JSON.`);
    }
    if (res.status < 200 || res.status > 299) throw apiError(res.status, json);
    return json as T;
  }

  /** Carries one request to the server; a subclass may carry it another way (the server's own MCP endpoint answers in-process). */
  protected send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
    return send(new URL(`${this.url}${path}`), method, headers, body);
  }

  me() {
    return this.request<Me>('GET', '/api/v1/me');
  }
  health() {
    return this.request<{ status: string }>('GET', '/healthz');
  }
  createToken(name: string, ttl?: string) {
    return this.request<NewToken>('POST', '/api/v1/tokens', { name, ...(ttl ? { ttl } : {}) });
  }
  listTokens() {
    return this.request<Token[]>('GET', '/api/v1/tokens');
  }
  revokeToken(id: string) {
    return this.request<void>('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`);
  }
  createUser(name: string, role: 'admin' | 'user' = 'user') {
    return this.request<{ user: User; token: string }>('POST', '/api/v1/users', { name, role });
  }
  listUsers() {
    return this.request<User[]>('GET', '/api/v1/users');
  }
  /** Removes a user and revokes their tokens (admin); refused while they own workspaces or are a project's only owner. */
  deleteUser(name: string) {
    return this.request<void>('DELETE', `/api/v1/users/${encodeURIComponent(name)}`);
  }
  listMembers(project: string) {
    return this.request<Member[]>('GET', `/api/v1/projects/${encodeURIComponent(project)}/members`);
  }
  /** Adds a member to a project or changes their role. */
  setMember(project: string, user: string, role: Member['role']) {
    return this.request<Member>('PUT', `/api/v1/projects/${encodeURIComponent(project)}/members/${encodeURIComponent(user)}`, { role });
  }
  removeMember(project: string, user: string) {
    return this.request<void>('DELETE', `/api/v1/projects/${encodeURIComponent(project)}/members/${encodeURIComponent(user)}`);
  }
  createProject(p: CreateProject) {
    return this.request<Project>('POST', '/api/v1/projects', p);
  }
  listProjects() {
    return this.request<Project[]>('GET', '/api/v1/projects');
  }
  getProject(name: string) {
    return this.request<Project>('GET', `/api/v1/projects/${encodeURIComponent(name)}`);
  }
  /** Changes a project's URL, default branch or credentials (`credentials: null` removes them). */
  updateProject(name: string, patch: UpdateProject) {
    return this.request<Project>('PATCH', `/api/v1/projects/${encodeURIComponent(name)}`, patch);
  }
  /** Fetches the project's upstream into its mirror now. */
  syncProject(name: string) {
    return this.request<ProjectSync>('POST', `/api/v1/projects/${encodeURIComponent(name)}/sync`);
  }
  /** `git status` of a workspace's checkout. */
  gitStatus(ref: string) {
    return this.request<GitStatus>('GET', `/api/v1/workspaces/${encodeURIComponent(ref)}/git/status`);
  }
  /** Staged and unstaged changes per file, optionally for some paths only. */
  gitDiff(ref: string, paths: string[] = []) {
    const q = paths.map((p) => `path=${encodeURIComponent(p)}`).join('&');
    return this.request<GitDiff>('GET', `/api/v1/workspaces/${encodeURIComponent(ref)}/git/diff${q ? `?${q}` : ''}`);
  }
  /** Stages, unstages or discards the paths (or everything with `all`). */
  gitPaths(ref: string, verb: 'stage' | 'unstage' | 'discard', sel: { paths?: string[]; all?: boolean }) {
    return this.request<GitStatus>('POST', `/api/v1/workspaces/${encodeURIComponent(ref)}/git/${verb}`, sel);
  }
  /** Commits in the workspace; the author is the workspace owner unless git is configured there. */
  gitCommit(ref: string, message: string, all = false) {
    return this.request<GitCommitResult>('POST', `/api/v1/workspaces/${encodeURIComponent(ref)}/git/commit`, { message, ...(all ? { all } : {}) });
  }
  /** Pulls or pushes through the git gateway. */
  gitSync(ref: string, verb: 'pull' | 'push', opts: GitSyncOptions = {}) {
    return this.request<GitSyncResult>('POST', `/api/v1/workspaces/${encodeURIComponent(ref)}/git/${verb}`, opts);
  }
  /** Streams a git bundle of the workspace's project (`gitRef`, else the workspace's ref, else the default branch). */
  async bundle(ref: string, gitRef?: string): Promise<ReadableStream<Uint8Array>> {
    const res = await fetch(`${this.url}/api/v1/workspaces/${encodeURIComponent(ref)}/bundle${gitRef ? `?ref=${encodeURIComponent(gitRef)}` : ''}`, {
      headers: this.token ? { authorization: `Bearer ${this.token}` } : {},
    });
    if (!res.ok || !res.body) {
      const e = ((await res.json().catch(() => undefined)) as ErrorBody | undefined)?.error;
      throw new ApiError(res.status, e?.code ?? 'error', e?.message ?? `HTTP ${res.status}`);
    }
    return res.body;
  }
  listProvisioners() {
    return this.request<ProvisionerInfo[]>('GET', '/api/v1/provisioners');
  }
  createProvisioner(p: CreateProvisioner) {
    return this.request<ProvisionerInfo>('POST', '/api/v1/provisioners', p);
  }
  /** The provisioner types the server has, with their options schema and capabilities. */
  listProvisionerTypes() {
    return this.request<ProvisionerType[]>('GET', '/api/v1/provisioner-types');
  }
  updateProvisioner(name: string, u: UpdateProvisioner) {
    return this.request<ProvisionerInfo>('PATCH', `/api/v1/provisioners/${encodeURIComponent(name)}`, u);
  }
  deleteProvisioner(name: string) {
    return this.request<void>('DELETE', `/api/v1/provisioners/${encodeURIComponent(name)}`);
  }
  deleteProject(name: string) {
    return this.request<void>('DELETE', `/api/v1/projects/${encodeURIComponent(name)}`);
  }
  createWorkspace(w: CreateWorkspace) {
    return this.request<Workspace>('POST', '/api/v1/workspaces', w);
  }
  listWorkspaces(all = false) {
    return this.request<Workspace[]>('GET', `/api/v1/workspaces${all ? '?all=true' : ''}`);
  }
  getWorkspace(ref: string) {
    return this.request<Workspace>('GET', `/api/v1/workspaces/${encodeURIComponent(ref)}`);
  }
  /** Changes a workspace's spec; a running one is provisioned again on the same storage. */
  updateWorkspace(ref: string, patch: SpecPatch) {
    return this.request<Workspace>('PATCH', `/api/v1/workspaces/${encodeURIComponent(ref)}`, patch);
  }
  /** Forks a workspace: `count` new ones (NAME-1..NAME-N when more than 1) starting from a copy of its files, each on its own branch. */
  forkWorkspace(ref: string, f: ForkWorkspace) {
    return this.request<Workspace[]>('POST', `/api/v1/workspaces/${encodeURIComponent(ref)}/fork`, f);
  }
  startWorkspace(ref: string) {
    return this.request<Workspace>('POST', `/api/v1/workspaces/${encodeURIComponent(ref)}/start`);
  }
  stopWorkspace(ref: string) {
    return this.request<Workspace>('POST', `/api/v1/workspaces/${encodeURIComponent(ref)}/stop`);
  }
  deleteWorkspace(ref: string) {
    return this.request<Workspace>('DELETE', `/api/v1/workspaces/${encodeURIComponent(ref)}`);
  }
  events(ref: string, after = 0) {
    return this.request<WorkspaceEvent[]>('GET', `/api/v1/workspaces/${encodeURIComponent(ref)}/events?after=${after}`);
  }
  /** One page of events: the newest `limit`, or those after/before an id; with cursors and what retention removed. */
  eventPage(ref: string, q: { after?: number; before?: number; limit: number }) {
    const qs = new URLSearchParams({ limit: String(q.limit), ...(q.after !== undefined ? { after: String(q.after) } : {}), ...(q.before !== undefined ? { before: String(q.before) } : {}) });
    return this.request<EventPage>('GET', `/api/v1/workspaces/${encodeURIComponent(ref)}/events?${qs}`);
  }
  lastEvent(ref: string) {
    return this.request<WorkspaceEvent[]>('GET', `/api/v1/workspaces/${encodeURIComponent(ref)}/events?tail=1`).then((e) => e[0]);
  }

  /**
   * Streams events as they happen until `onEvent` returns true, the workspace is deleted, or `signal`
   * fires. Resolves with the last event seen.
   */
  async followEvents(ref: string, onEvent: (e: WorkspaceEvent) => boolean | void, opts: { after?: number; signal?: AbortSignal } = {}): Promise<WorkspaceEvent | undefined> {
    let last: WorkspaceEvent | undefined;
    const url = new URL(`${this.url}/api/v1/workspaces/${encodeURIComponent(ref)}/events?follow=true&after=${opts.after ?? 0}`);
    const onLine = (e: unknown) => onEvent((last = e as WorkspaceEvent));
    await this.follow(url, onLine, opts.signal);
    return last;
  }

  /** Follows an NDJSON stream of the server (see ndjson.ts); a non-2xx answer becomes ApiError. */
  async follow(url: URL, onLine: (value: unknown) => boolean | void, signal?: AbortSignal): Promise<void> {
    let end: StreamEnd;
    try {
      end = await streamLines(url, this.token ? { authorization: `Bearer ${this.token}` } : {}, onLine, signal);
    } catch (err) {
      if (err instanceof SyntaxError) throw err;
      throw new ApiError(0, 'unreachable', `Cannot reach the Berth server at ${this.url}: ${errorMessage(err)}`);
    }
    if (end.errorBody !== undefined) {
      let body: unknown;
      try {
        body = JSON.parse(end.errorBody);
      } catch {
        body = undefined;
      }
      throw apiError(end.status, body);
    }
  }

  /** Quarantined orphans (admin). */
  orphans() {
    return this.request<Orphan[]>('GET', '/api/v1/admin/orphans');
  }
  /** Removes quarantined orphans, or with `dryRun` lists what would go (admin). */
  gc(dryRun: boolean) {
    return this.request<GcReport>('POST', '/api/v1/admin/gc', { dryRun });
  }

  /** Streams a consistent copy of the server's database into `file` (admin); resolves with its size in bytes. */
  async backup(file: string): Promise<number> {
    let res: Response;
    try {
      res = await fetch(`${this.url}/api/v1/admin/backup`, { method: 'POST', headers: this.token ? { authorization: `Bearer ${this.token}` } : {} });
    } catch (err) {
      throw new ApiError(0, 'unreachable', `Cannot reach the Berth server at ${this.url}: ${errorMessage(err)}`);
    }
    if (!res.ok || !res.body) {
      const e = ((await res.json().catch(() => undefined)) as ErrorBody | undefined)?.error;
      throw new ApiError(res.status, e?.code ?? 'error', e?.message ?? `HTTP ${res.status}`);
    }
    return saveStream(res.body, file);
  }

  /** Opens an exec/terminal session (protocol in protocol.ts). */
  exec(ref: string, start: ExecStart, handlers: ExecHandlers): ExecConnection {
    const wsUrl = `${this.url.replace(/^http/, 'ws')}/api/v1/workspaces/${encodeURIComponent(ref)}/exec`;
    // Frames sent before the socket is open (or before `ws` is loaded) wait here, in order.
    const pending: (Buffer | string)[] = [];
    let ws: WebSocket | undefined;
    let detached = false;
    let exit: { code: number | null; signal?: string } | undefined;
    let error: ApiError | undefined;
    const send = (data: Buffer | string) => {
      if (!ws || ws.readyState === ws.CONNECTING) pending.push(data);
      else if (ws.readyState === ws.OPEN) ws.send(data);
    };
    // `ws` is loaded on first use: only commands that open a connection pay for it at start-up.
    const done = loadWebSocket().then(
      (WebSocketClass) =>
        new Promise<{ code: number | null; signal?: string }>((resolve, reject) => {
          const socket = new WebSocketClass(wsUrl, [EXEC_PROTOCOL], { headers: this.token ? { authorization: `Bearer ${this.token}` } : {} });
          ws = socket;
          socket.on('open', () => {
            socket.send(JSON.stringify(start));
            for (const p of pending) socket.send(p);
            pending.length = 0;
          });
          socket.on('unexpected-response', (_req, res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => {
              let e: ErrorBody['error'] | undefined;
              try {
                e = (JSON.parse(body) as ErrorBody).error;
              } catch {
                /* not JSON */
              }
              reject(new ApiError(res.statusCode ?? 0, e?.code ?? 'error', e?.message ?? `HTTP ${res.statusCode}`));
            });
          });
          socket.on('message', (data: Buffer, isBinary: boolean) => {
            if (isBinary) {
              if (data[0] === CHANNEL_STDOUT) handlers.stdout(data.subarray(1));
              else if (data[0] === CHANNEL_STDERR) (handlers.stderr ?? handlers.stdout)(data.subarray(1));
              return;
            }
            const msg = JSON.parse(data.toString()) as { type: string; id?: string; code?: number | string | null; signal?: string; message?: string };
            if (msg.type === 'session' && msg.id) handlers.session?.(msg.id);
            else if (msg.type === 'exit') exit = { code: msg.code as number | null, ...(msg.signal ? { signal: msg.signal } : {}) };
            else if (msg.type === 'error') error = new ApiError(0, String(msg.code), msg.message ?? 'exec failed');
          });
          socket.on('error', (err) => {
            if (!error) error = new ApiError(0, 'unreachable', `Exec connection failed: ${err.message}`);
          });
          socket.on('close', () => {
            if (exit) resolve(exit);
            else reject(error ?? new ApiError(0, 'disconnected', 'The exec connection closed before the command finished.'));
          });
          if (detached) socket.close(1000, 'detach');
        }),
    );
    return {
      write: (d) => send(Buffer.concat([Buffer.from([CHANNEL_STDIN]), Buffer.isBuffer(d) ? d : Buffer.from(d)])),
      eof: () => send(JSON.stringify({ type: 'eof' })),
      resize: (cols, rows) => send(JSON.stringify({ type: 'resize', cols, rows })),
      signal: (sig) => send(JSON.stringify({ type: 'signal', signal: sig })),
      detach: () => {
        detached = true;
        ws?.close(1000, 'detach');
      },
      done,
    };
  }

  /** Runs a command to completion and collects its output. */
  async run(ref: string, cmd: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const c = this.exec(ref, { cmd, tty: false }, { stdout: (d) => out.push(d), stderr: (d) => err.push(d) });
    if (stdin !== undefined) c.write(stdin);
    c.eof();
    const { code } = await c.done;
    return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
  }
}

/**
 * One HTTP request with a buffered answer, over node:http(s) rather than `fetch`: a command that
 * makes one request would spend about as long loading undici (behind `fetch`) as running. The
 * modules come from `process.getBuiltinModule`, since importing `node:http` as an ES module reads
 * its lazy `WebSocket` export, which loads undici all the same.
 */
function send(url: URL, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
  const mod = process.getBuiltinModule(url.protocol === 'https:' ? 'node:https' : 'node:http');
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

let wsModule: Promise<typeof WebSocket> | undefined;
/** The `ws` WebSocket class, imported once on first use. */
/** Writes a response body to `file` by way of a temporary file beside it, so a broken transfer never leaves a truncated copy. */
async function saveStream(body: ReadableStream<Uint8Array>, file: string): Promise<number> {
  const [fs, { Readable }, { pipeline }] = await Promise.all([import('node:fs'), import('node:stream'), import('node:stream/promises')]);
  const tmp = `${file}.partial-${process.pid}`;
  try {
    await pipeline(Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>), fs.createWriteStream(tmp, { mode: 0o600 }));
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  return fs.statSync(file).size;
}

function loadWebSocket(): Promise<typeof WebSocket> {
  wsModule ??= import('ws').then((m) => m.default);
  return wsModule;
}
