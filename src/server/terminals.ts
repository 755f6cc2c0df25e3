/**
 * Exec and terminal sessions over WebSocket (protocol in src/sdk/protocol.ts). Non-TTY execs live as
 * long as their connection. TTY sessions outlive a disconnect: the process keeps running, its
 * recent output is kept in a bounded buffer, and a client re-attaching by session id gets the
 * buffer replayed, then the live stream. Detached sessions end after an idle timeout.
 *
 * A detached session is read on a ration (DETACHED_BYTES_PER_SECOND): reading is paused, so
 * back-pressure reaches the runtime, whenever the ration of the current second is used up. A
 * process flooding a terminal nobody watches (`yes`) then costs the control plane next to nothing,
 * while a build's log still reaches the scrollback at the pace it is written. tmux-backed shells
 * (docker, kubernetes) keep running at full speed meanwhile, and tmux redraws the screen on
 * re-attach; a process on a bare terminal waits on its output until someone attaches again.
 */
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { BerthError, InputError, NotFoundError } from '../core/errors.ts';
import { assertExecStrings } from '../core/process-input.ts';
import type { ExecProcess, Provisioner, WorkspaceContext } from '../provisioners/provisioner.ts';
import type { ExecMetrics } from './metrics.ts';
import { CHANNEL_STDERR, CHANNEL_STDIN, CHANNEL_STDOUT, type ExecStart } from '../sdk/wire.ts';

/** Messages that arrived while the process was being started, replayed in order once it runs. */
export interface EarlyMessages {
  queue: [Buffer, boolean][];
  /** Set once the session handles messages itself. */
  handedOver: boolean;
}

interface Session {
  id: string;
  workspaceId: string;
  proc: ExecProcess;
  tty: boolean;
  chunks: Buffer[];
  bytes: number;
  /** Output bytes ever, so a client re-attaching knows which part of the replay it has seen. */
  total: number;
  clients: Set<WebSocket>;
  exit?: { code: number | null; signal?: string };
  idleTimer?: NodeJS.Timeout;
  /** Reading from the process is paused because a client is slow. */
  paused?: boolean;
  /** While detached: bytes read in the current second, when that second began, and the timer that resumes reading after a used-up ration. */
  ration: { used: number; since: number; held?: NodeJS.Timeout };
}

/** Bytes queued on a client socket above which the process's output is paused. */
const HIGH_WATER = 1024 * 1024;
/** Output a detached TTY session reads per second: a log's pace, not a flood's. */
const DETACHED_BYTES_PER_SECOND = 32 * 1024;

/** Options of the terminal service. */
export interface TerminalServiceOptions {
  logger: Logger;
  /** Bytes of output kept per TTY session for replay. */
  bufferBytes: number;
  /** How long a detached TTY session lives without clients. */
  idleMs: number;
  /** Counts sessions started (GET /metrics). */
  metrics?: ExecMetrics;
  /** Told of every chunk of output, for the workspace's "last output" (it throttles its own writes). */
  activity?: { output(workspaceId: string): void };
}

function frame(channel: number, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([channel]), data]);
}

function sendJson(ws: WebSocket, msg: unknown): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
}

/** Validates the first message of an exec connection. */
export function parseExecStart(raw: string): ExecStart {
  let msg: unknown;
  try {
    msg = JSON.parse(raw);
  } catch {
    throw new InputError('The first message must be a JSON object like {"cmd":["ls"],"tty":false}.');
  }
  const m = msg as Partial<ExecStart>;
  if (typeof m !== 'object' || m === null) throw new InputError('The first message must be a JSON object.');
  if (m.session !== undefined) {
    if (typeof m.session !== 'string' || !/^term_[a-f0-9]{24}$/.test(m.session)) throw new InputError('session must be a terminal session id (term_…).');
    return { cmd: [], tty: true, session: m.session };
  }
  if (!Array.isArray(m.cmd) || m.cmd.length > 4096 || !m.cmd.every((a) => typeof a === 'string')) {
    throw new InputError('cmd must be an array of strings (empty for the workspace shell).');
  }
  if (typeof m.tty !== 'boolean') throw new InputError('tty must be true or false.');
  for (const k of ['cols', 'rows'] as const) {
    const v = m[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > 1000)) throw new InputError(`${k} must be an integer between 1 and 1000.`);
  }
  if (m.env !== undefined) {
    if (typeof m.env !== 'object' || m.env === null) throw new InputError('env must be an object of strings.');
    for (const [k, v] of Object.entries(m.env)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || typeof v !== 'string') throw new InputError(`env "${k}" must be a valid variable name with a string value.`);
      if (k.startsWith('BERTH_')) throw new InputError(`env may not override ${k}.`);
    }
  }
  assertExecStrings({ cmd: m.cmd, ...(m.env ? { env: m.env } : {}) });
  return { cmd: m.cmd, tty: m.tty, ...(m.cols ? { cols: m.cols } : {}), ...(m.rows ? { rows: m.rows } : {}), ...(m.env ? { env: m.env } : {}) };
}

/** Holds exec processes and TTY sessions. */
export class TerminalService {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly o: TerminalServiceOptions) {}

  /** Number of live sessions (for status and tests). */
  count(): number {
    return this.sessions.size;
  }

  /** Sessions whose process still runs; ended ones are kept a minute for a late re-attach (GET /metrics). */
  running(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (!s.exit) n++;
    return n;
  }

  /** Starts a process for a connected client. */
  async start(ws: WebSocket, provisioner: Provisioner, ctx: WorkspaceContext, start: ExecStart & { cwd?: string }, early: EarlyMessages = { queue: [], handedOver: false }): Promise<void> {
    this.o.metrics?.execStarted(start.tty);
    const proc = await provisioner.exec(ctx, {
      cmd: start.cmd,
      tty: start.tty,
      // Only the agent passes a cwd (checked against the workspace's mount); the public exec protocol has none.
      ...(start.cwd ? { cwd: start.cwd } : {}),
      ...(start.cols ? { cols: start.cols } : {}),
      ...(start.rows ? { rows: start.rows } : {}),
      ...(start.env ? { env: start.env } : {}),
    });
    const s: Session = {
      id: `term_${crypto.randomBytes(12).toString('hex')}`,
      workspaceId: ctx.id,
      proc,
      tty: start.tty,
      chunks: [],
      bytes: 0,
      total: 0,
      clients: new Set(),
      ration: { used: 0, since: 0 },
    };
    if (s.tty) this.sessions.set(s.id, s);
    const pump = (channel: number) => (data: Buffer | string) => {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      this.o.activity?.output(s.workspaceId);
      if (s.tty) this.remember(s, buf);
      if (s.tty && s.clients.size === 0) this.spend(s, buf.length);
      let congested = false;
      for (const c of s.clients) {
        if (c.readyState !== c.OPEN) continue;
        c.send(frame(channel, buf), () => this.relieve(s));
        if (c.bufferedAmount > HIGH_WATER) congested = true;
      }
      // A client that reads slower than the process writes must not grow the server's memory:
      // stop reading the process until the socket has drained.
      if (congested && !s.paused) {
        s.paused = true;
        this.flow(s);
      }
    };
    proc.stdout.on('data', pump(CHANNEL_STDOUT));
    proc.stderr?.on('data', pump(CHANNEL_STDERR));
    const drained = Promise.all(
      [proc.stdout, proc.stderr].filter((x) => x !== null).map((st) => new Promise<void>((r) => (st.readableEnded ? r() : st.once('close', r).once('end', r)))),
    );
    void Promise.all([proc.exited, drained]).then(([exit]) => {
      s.exit = exit;
      for (const c of s.clients) {
        sendJson(c, { type: 'exit', ...exit });
        c.close(1000, 'exited');
      }
      s.clients.clear();
      if (s.idleTimer) clearTimeout(s.idleTimer);
      clearTimeout(s.ration.held);
      // Keep an exited TTY session briefly so a client re-attaching learns how it ended.
      const t = setTimeout(() => this.sessions.delete(s.id), 60_000);
      t.unref();
    });
    if (s.tty) sendJson(ws, { type: 'session', id: s.id });
    this.attachClient(s, ws, early);
  }

  /** Re-attaches a client to a TTY session of the given workspace, replaying buffered output. */
  attach(ws: WebSocket, workspaceId: string, sessionId: string, early: EarlyMessages = { queue: [], handedOver: false }): void {
    const s = this.sessions.get(sessionId);
    if (!s || s.workspaceId !== workspaceId) throw new NotFoundError(`No terminal session "${sessionId}" in this workspace; it may have ended.`);
    // `bytes` (the replay that follows) and `total` let a client that saw part of it skip that part.
    sendJson(ws, { type: 'session', id: s.id, bytes: s.bytes, total: s.total });
    if (s.bytes > 0) ws.send(frame(CHANNEL_STDOUT, Buffer.concat(s.chunks)));
    if (s.exit) {
      sendJson(ws, { type: 'exit', ...s.exit });
      ws.close(1000, 'exited');
      return;
    }
    this.attachClient(s, ws, early);
  }

  private remember(s: Session, buf: Buffer): void {
    s.chunks.push(buf);
    s.bytes += buf.length;
    s.total += buf.length;
    while (s.bytes > this.o.bufferBytes && s.chunks.length > 0) {
      const over = s.bytes - this.o.bufferBytes;
      const head = s.chunks[0]!;
      if (head.length <= over) {
        s.chunks.shift();
        s.bytes -= head.length;
      } else {
        s.chunks[0] = head.subarray(over);
        s.bytes -= over;
      }
    }
  }

  /** Resumes reading a paused process once every client's socket has drained. */
  private relieve(s: Session): void {
    if (!s.paused) return;
    for (const c of s.clients) if (c.readyState === c.OPEN && c.bufferedAmount > HIGH_WATER / 2) return;
    s.paused = false;
    this.flow(s);
  }

  /** Counts output read while detached; once the second's ration is used up, stops reading until the next second. */
  private spend(s: Session, n: number): void {
    const now = Date.now();
    if (now - s.ration.since >= 1000) s.ration = { used: 0, since: now };
    s.ration.used += n;
    if (s.ration.used < DETACHED_BYTES_PER_SECOND || s.ration.held) return;
    s.ration.held = setTimeout(() => {
      s.ration = { used: 0, since: Date.now() };
      this.flow(s);
    }, s.ration.since + 1000 - now);
    s.ration.held.unref();
    this.flow(s);
  }

  /** Reads from the process unless a slow client or a used-up ration holds it. */
  private flow(s: Session): void {
    const hold = s.paused === true || s.ration.held !== undefined;
    for (const st of [s.proc.stdout, s.proc.stderr]) {
      if (!st) continue;
      if (hold) st.pause();
      else st.resume();
    }
  }

  private attachClient(s: Session, ws: WebSocket, early: EarlyMessages): void {
    if (s.idleTimer) clearTimeout(s.idleTimer);
    s.idleTimer = undefined;
    s.clients.add(ws);
    // Watched again: read at full speed.
    clearTimeout(s.ration.held);
    s.ration = { used: 0, since: 0 };
    this.flow(s);
    const onMessage = (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        if (data[0] === CHANNEL_STDIN) s.proc.stdin.write(data.subarray(1));
        return;
      }
      let msg: { type?: string; cols?: number; rows?: number; signal?: string };
      try {
        msg = JSON.parse(data.toString()) as typeof msg;
      } catch {
        sendJson(ws, { type: 'error', code: 'invalid_input', message: 'Control messages must be JSON.' });
        return;
      }
      if (msg.type === 'resize' && Number.isInteger(msg.cols) && Number.isInteger(msg.rows)) s.proc.resize(msg.cols!, msg.rows!);
      // A terminal has no end of input but the EOF character: ^D ends the shell once it reads it (after any input before it).
      else if (msg.type === 'eof') {
        if (s.tty) s.proc.stdin.write('\x04');
        else s.proc.stdin.end();
      }
      else if (msg.type === 'signal' && ['SIGINT', 'SIGTERM', 'SIGKILL', 'SIGHUP'].includes(msg.signal ?? '')) s.proc.kill(msg.signal as NodeJS.Signals);
    };
    for (const [data, isBinary] of early.queue.splice(0)) onMessage(data, isBinary);
    early.handedOver = true;
    ws.on('message', onMessage);
    const onClose = () => {
      s.clients.delete(ws);
      this.relieve(s);
      if (s.exit || s.clients.size > 0) return;
      if (!s.tty) {
        s.proc.kill('SIGKILL');
        return;
      }
      s.idleTimer = setTimeout(() => {
        this.o.logger.info({ session: s.id }, 'ending idle detached terminal session');
        s.proc.kill('SIGHUP');
      }, this.o.idleMs);
      s.idleTimer.unref();
    };
    // The client may have gone while the process was starting; then it never emits 'close' again.
    if (ws.readyState !== ws.OPEN) onClose();
    else ws.on('close', onClose);
  }

  /** Ends every session (server shutdown). */
  closeAll(): void {
    for (const s of this.sessions.values()) {
      for (const c of s.clients) c.close(1001, 'server shutting down');
      if (!s.exit) s.proc.kill('SIGHUP');
    }
  }

  /** Sends an error to a client and closes it. */
  static reject(ws: WebSocket, err: unknown): void {
    const e = err instanceof BerthError ? err : new BerthError('internal', 'Internal error.');
    sendJson(ws, { type: 'error', code: e.code, message: e.message });
    ws.close(1008, e.code);
  }
}
