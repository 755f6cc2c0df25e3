/**
 * An ExecProcess whose process runs on an agent: the agent's exec WebSocket (the control plane's
 * own exec framing, src/sdk/protocol.ts) seen as streams. A heartbeat notices a dead link; a TTY
 * session then survives it: the terminal says the connection is lost, re-attaches to the agent's
 * session once the agent answers again, and shows what the process printed meanwhile (from the
 * agent's scrollback, without repeating what was already shown).
 */
import { PassThrough, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import { ProvisionerError, errorMessage, type ErrorCode } from '../../core/errors.ts';
import { CHANNEL_STDERR, CHANNEL_STDIN, CHANNEL_STDOUT } from '../../sdk/protocol.ts';
import type { AgentExecStart } from '../../agent/protocol.ts';
import type { ExecProcess } from '../provisioner.ts';

/** Heartbeat period, and how long without an answer means the link is dead. */
const PING_MS = 2_000;
const DEAD_MS = 6_000;
/** How long a TTY session keeps trying to re-attach after the link died. */
const REATTACH_FOR_MS = 10 * 60_000;
const REATTACH_EVERY_MS = 1_000;

/** What remoteExec needs to reach the agent. */
export interface RemoteExecOptions {
  /** Opens a new WebSocket to the agent's exec route. */
  open: () => WebSocket;
  /** A failure to reach the agent, in words. */
  describe: (err: unknown) => Error;
  signal?: AbortSignal;
}

type Exit = { code: number | null; signal?: string };

/** Starts the process on the agent; resolves once the agent says it runs, rejects with its refusal. `exited` never rejects. */
export function remoteExec(start: AgentExecStart, o: RemoteExecOptions): Promise<ExecProcess> {
  return new Promise((resolve, reject) => {
    const stdout = new PassThrough();
    const stderr = start.tty ? null : new PassThrough();
    let exit: Exit | undefined;
    let failure: Error | undefined;
    let settle!: (v: Exit) => void;
    const exited = new Promise<Exit>((res) => (settle = res));
    let ws: WebSocket;
    let started = false;
    let ended = false;
    /** The agent's TTY session, for re-attaching. */
    let session: string | undefined;
    /** Output bytes received, and how many of a re-attach's replay to skip (already shown). */
    let received = 0;
    let skip = 0;
    let lostAt = 0;

    const send = (data: Buffer | string, cb?: (err?: Error) => void) => {
      if (ws.readyState === ws.OPEN) ws.send(data, cb);
      else cb?.(new Error('closed'));
    };
    const control = (msg: object) => send(JSON.stringify(msg));
    const stdin = new Writable({
      // While the link is down, input is dropped, as a terminal drops keys typed into a dead line.
      write: (chunk: Buffer, _enc, cb) => send(Buffer.concat([Buffer.from([CHANNEL_STDIN]), chunk]), () => cb()),
      final: (cb) => {
        control({ type: 'eof' });
        cb();
      },
    });
    stdin.on('error', () => undefined);
    const proc: ExecProcess = {
      stdin,
      stdout,
      stderr,
      resize: (cols, rows) => control({ type: 'resize', cols, rows }),
      kill: (sig = 'SIGKILL') => control({ type: 'signal', signal: sig }),
      exited,
    };
    const begin = () => {
      if (started) return;
      started = true;
      resolve(proc);
    };
    const finish = (why?: Error) => {
      if (ended) return;
      ended = true;
      if (!exit && why) (stderr ?? stdout).write(`\r\nberth: ${why.message}\r\n`);
      stdout.end();
      stderr?.end();
      settle(exit ?? { code: null, signal: 'SIGHUP' });
    };

    const onMessage = (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        begin();
        let payload = data.subarray(1);
        if (skip > 0) {
          const n = Math.min(skip, payload.length);
          skip -= n;
          payload = payload.subarray(n);
        }
        if (data[0] === CHANNEL_STDOUT) received += payload.length;
        const target = data[0] === CHANNEL_STDOUT ? stdout : data[0] === CHANNEL_STDERR ? stderr : null;
        // A reader that pauses (a detached terminal) pauses the socket, so the agent holds the process instead of our memory growing.
        if (payload.length && target && !target.write(payload) && !ws.isPaused) {
          const socket = ws;
          socket.pause();
          target.once('drain', () => socket.resume());
        }
        return;
      }
      const msg = JSON.parse(data.toString()) as { type: string; code?: number | string | null; signal?: string; message?: string; id?: string; bytes?: number; total?: number };
      if (msg.type === 'session') {
        if (session && typeof msg.total === 'number' && typeof msg.bytes === 'number') {
          // The replay is the last `bytes` of `total`; what came before `received` was shown already.
          skip = Math.max(0, Math.min(msg.bytes, received - (msg.total - msg.bytes)));
          received = msg.total - msg.bytes + skip;
        }
        session = msg.id;
        begin();
      } else if (msg.type === 'started') begin();
      else if (msg.type === 'exit') {
        exit = { code: typeof msg.code === 'number' ? msg.code : null, ...(msg.signal ? { signal: msg.signal } : {}) };
        begin();
      } else if (msg.type === 'error') {
        failure = new ProvisionerError(msg.message ?? 'The agent could not start the process.', { code: typeof msg.code === 'string' ? (msg.code as ErrorCode) : 'exec_failed', retryable: false });
        if (!started) reject(failure);
      }
    };

    const connect = (first: boolean) => {
      ws = o.open();
      let alive = Date.now();
      const beat = setInterval(() => {
        // While we hold the socket (our reader is slow), its pongs wait unread: that is no sign of a dead link.
        if (ws.isPaused) alive = Date.now();
        if (Date.now() - alive > DEAD_MS) {
          failure ??= o.describe(new Error(`no answer for ${DEAD_MS / 1000} seconds`));
          ws.terminate();
        } else if (ws.readyState === ws.OPEN) ws.ping();
      }, PING_MS);
      beat.unref();
      ws.on('pong', () => (alive = Date.now()));
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        alive = Date.now();
        onMessage(data, isBinary);
      });
      ws.on('error', (err) => {
        failure ??= o.describe(err);
      });
      ws.once('open', () => {
        if (first) control({ ...start });
        else {
          control({ session });
          stdout.write(`\r\nberth: reconnected to the agent.\r\n`);
        }
      });
      ws.on('close', () => {
        clearInterval(beat);
        if (exit || ended) return finish();
        if (!started) return reject(failure ?? o.describe(new Error('the connection to the agent closed before the process started')));
        const why = failure ?? o.describe(new Error('the connection to the agent closed before the process ended'));
        failure = undefined;
        if (!session || o.signal?.aborted) return finish(why);
        // A TTY session lives on at the agent: say so, and re-attach once the agent answers.
        if (!lostAt) {
          lostAt = Date.now();
          stdout.write(`\r\nberth: ${why.message.replace(/ Its workspaces keep running there; Berth retries\.$/, '')}; the session keeps running there, reconnecting…\r\n`);
        }
        if (Date.now() - lostAt > REATTACH_FOR_MS) return finish(new Error(`gave up reconnecting to the agent after ${REATTACH_FOR_MS / 60_000} minutes (${errorMessage(why)})`));
        const t = setTimeout(() => connect(false), REATTACH_EVERY_MS);
        t.unref();
      });
      ws.once('open', () => (lostAt = 0));
    };
    connect(true);
    o.signal?.addEventListener('abort', () => ws.close(), { once: true });
  });
}
