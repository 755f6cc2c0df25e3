/**
 * An ExecProcess whose process runs on an agent: the agent's exec WebSocket (the control plane's
 * own exec framing, src/sdk/protocol.ts) seen as streams. Output is paused while the socket to the
 * agent is congested in the other direction, so a slow reader does not grow memory here.
 */
import { PassThrough, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import { ProvisionerError, type ErrorCode } from '../../core/errors.ts';
import { CHANNEL_STDERR, CHANNEL_STDIN, CHANNEL_STDOUT } from '../../sdk/protocol.ts';
import type { AgentExecStart } from '../../agent/protocol.ts';
import type { ExecProcess } from '../provisioner.ts';

/** Starts the process on the agent; resolves once the agent says it runs, rejects with its refusal. `exited` never rejects: a lost agent ends the process as SIGHUP, saying why. */
export function remoteExec(ws: WebSocket, start: AgentExecStart, describe: (err: unknown) => Error, signal?: AbortSignal): Promise<ExecProcess> {
  return new Promise((resolve, reject) => {
    const stdout = new PassThrough();
    const stderr = start.tty ? null : new PassThrough();
    let exit: { code: number | null; signal?: string } | undefined;
    let failure: Error | undefined;
    let settle!: (v: { code: number | null; signal?: string }) => void;
    const exited = new Promise<{ code: number | null; signal?: string }>((res) => (settle = res));
    const send = (data: Buffer | string, cb?: (err?: Error) => void) => {
      if (ws.readyState === ws.OPEN) ws.send(data, cb);
      else cb?.(new Error('closed'));
    };
    const control = (msg: object) => send(JSON.stringify(msg));
    const stdin = new Writable({
      write(chunk: Buffer, _enc, cb) {
        send(Buffer.concat([Buffer.from([CHANNEL_STDIN]), chunk]), () => cb());
      },
      final(cb) {
        control({ type: 'eof' });
        cb();
      },
    });
    stdin.on('error', () => undefined);
    let started = false;
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
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        begin();
        const target = data[0] === CHANNEL_STDOUT ? stdout : data[0] === CHANNEL_STDERR ? stderr : null;
        target?.write(data.subarray(1));
        return;
      }
      const msg = JSON.parse(data.toString()) as { type: string; code?: number | string | null; signal?: string; message?: string };
      if (msg.type === 'started' || msg.type === 'session') begin();
      else if (msg.type === 'exit') {
        exit = { code: typeof msg.code === 'number' ? msg.code : null, ...(msg.signal ? { signal: msg.signal } : {}) };
        begin();
      } else if (msg.type === 'error') {
        failure = new ProvisionerError(msg.message ?? 'The agent could not start the process.', { code: typeof msg.code === 'string' ? (msg.code as ErrorCode) : 'exec_failed', retryable: false });
        if (!started) reject(failure);
      }
    });
    ws.on('close', () => {
      if (!started) {
        reject(failure ?? describe(new Error('the connection to the agent closed before the process started')));
        return;
      }
      // A process whose agent went away ends like one killed by a hang-up, with the reason as its last output.
      if (!exit) (stderr ?? stdout).write(`\r\nberth: ${(failure ?? describe(new Error('the connection to the agent closed before the process ended'))).message}\r\n`);
      stdout.end();
      stderr?.end();
      settle(exit ?? { code: null, signal: 'SIGHUP' });
    });
    ws.on('error', (err) => {
      failure ??= describe(err);
    });
    ws.once('open', () => control({ ...start }));
    signal?.addEventListener('abort', () => ws.close(), { once: true });
  });
}
