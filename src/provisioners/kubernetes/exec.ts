/**
 * Processes in a workspace pod through the Kubernetes exec API (a WebSocket to the apiserver):
 * stdin, separate stdout and stderr (or one TTY stream with resize), and the exit code from the
 * status channel. The API has no signals and no environment or working directory, so the command
 * runs under a small POSIX sh wrapper that records its pid (for `kill`), changes directory and
 * exports the extra environment first.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import { PassThrough, Writable } from 'node:stream';
import { Exec, type V1Status } from '@kubernetes/client-node';
// Not re-exported by the package index; needed to give the handler this exec's own streams.
import { WebSocketHandler } from '@kubernetes/client-node/dist/web-socket-handler.js';
import { ProvisionerError } from '../../core/errors.ts';
import { LineSplitter } from '../../core/lines.ts';
import type { ExecProcess } from '../provisioner.ts';
import type { KubeClient } from './client.ts';

/** Where exec wrappers record their pids: an emptyDir Berth mounts in every workspace pod. */
export const RUN_DIR = '/run/berth';

/** How long stdin waits after a resize (see `stdin` below). */
const RESIZE_SETTLE_MS = 150;

/**
 * `$0` pid file, `$1` working directory, then `NAME=value` words up to `--`, then argv. A missing
 * directory falls back to the mount path's parent rather than failing the command.
 */
const WRAPPER = 'echo $$ > "$0" 2>/dev/null; cd -- "$1" 2>/dev/null || cd /; shift; while [ "$#" -gt 0 ] && [ "$1" != -- ]; do export "$1"; shift; done; shift; exec "$@"';

/** How to run one process. */
export interface PodExecOptions {
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  cwd?: string;
  env?: Record<string, string>;
  cols?: number;
  rows?: number;
  signal?: AbortSignal;
}

/** The exit code in an exec status: Success is 0, NonZeroExitCode carries it as a cause; anything else is null. */
export function exitCodeOf(s: V1Status | undefined): number | null {
  if (!s) return null;
  if (s.status === 'Success') return 0;
  const cause = s.details?.causes?.find((c) => c.reason === 'ExitCode');
  return cause?.message !== undefined && /^\d+$/.test(cause.message) ? Number(cause.message) : null;
}

/** A TTY output stream the client library reads the terminal size from (it looks for rows, columns and 'resize'). */
class TtyStream extends PassThrough {
  rows: number;
  columns: number;
  constructor(cols: number, rows: number) {
    super();
    this.columns = cols;
    this.rows = rows;
  }
  resize(cols: number, rows: number): void {
    this.columns = cols;
    this.rows = rows;
    this.emit('resize');
  }
}

/** Starts a process in `container` of `pod`. A pod that is gone or not running is a `not_running` error. */
export async function podExec(kube: KubeClient, pod: string, container: string, o: PodExecOptions): Promise<ExecProcess> {
  const pidfile = `${RUN_DIR}/exec-${crypto.randomBytes(6).toString('hex')}`;
  const env = Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${v}`);
  // The terminal has its size before the command starts: the resize message comes too late for a process that asks at once.
  const ttySize = o.tty && o.cols && o.rows ? `stty rows ${Math.trunc(o.rows)} cols ${Math.trunc(o.cols)} 2>/dev/null; ` : '';
  const argv = ['/bin/sh', '-c', ttySize + WRAPPER, pidfile, o.cwd ?? '/', ...env, '--', ...o.cmd];
  const out = o.tty ? new TtyStream(Math.max(1, o.cols ?? 80), Math.max(1, o.rows ?? 24)) : new PassThrough();
  const err = o.tty ? null : new PassThrough();
  const input = o.stdin ? new PassThrough() : null;
  let status: V1Status | undefined;
  const handler = new WebSocketHandler(kube.kc, undefined, { stdin: input ?? new PassThrough(), stdout: out, stderr: err ?? new PassThrough() });
  let socket: Awaited<ReturnType<Exec['exec']>>;
  try {
    socket = await new Exec(kube.kc, handler).exec(kube.namespace, pod, container, argv, out, err, input, o.tty, (s) => (status = s));
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e);
    if (/404|not found|not running|400|container not found/i.test(text)) {
      throw new ProvisionerError(`The workspace pod ${pod} is not running; start the workspace first.`, { retryable: false, code: 'not_running', cause: e });
    }
    throw new ProvisionerError(`Kubernetes refused to start a process in pod ${pod}: ${text}`, { retryable: false, code: 'exec_failed', cause: e });
  }
  let sent: NodeJS.Signals | undefined;
  const kill = (sig: NodeJS.Signals = 'SIGTERM') => {
    sent = sig;
    const name = sig.replace(/^SIG/, '');
    // Best effort: the process may be gone, or the pid file not written yet when called at once.
    void runInPod(kube, pod, container, ['/bin/sh', '-c', 'p=$(cat "$0" 2>/dev/null) || exit 0; kill -s "$1" -- "-$p" 2>/dev/null || kill -s "$1" "$p"', pidfile, name]).catch(() => undefined);
  };
  if (o.signal) {
    if (o.signal.aborted) kill('SIGKILL');
    else o.signal.addEventListener('abort', () => kill('SIGKILL'), { once: true });
  }
  const exited = new Promise<{ code: number | null; signal?: string }>((resolve) => {
    socket.once('close', () => {
      out.end();
      err?.end();
      const code = exitCodeOf(status);
      // Best effort: the pid file lives on an emptyDir that goes with the pod anyway.
      void runInPod(kube, pod, container, ['rm', '-f', pidfile]).catch(() => undefined);
      // A 128+n exit after we sent signal n is that signal, named as a local shell reports it.
      if (sent && code !== null && code === 128 + os.constants.signals[sent]) resolve({ code: null, signal: sent });
      else resolve({ code });
    });
  });
  let resizedAt = 0;
  const stdin = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const send = () => {
        if (input && !input.destroyed) input.write(chunk, () => cb());
        else cb();
      };
      // The kubelet applies resizes on their own goroutine, unordered with stdin: keystrokes right
      // after a resize wait briefly so the program they wake sees the new size.
      const wait = resizedAt + RESIZE_SETTLE_MS - Date.now();
      if (wait > 0) setTimeout(send, wait);
      else send();
    },
    final(cb) {
      // The v5 channel protocol closes only stdin; output keeps arriving.
      input?.end();
      cb();
    },
  });
  stdin.on('error', () => undefined);
  return {
    stdin,
    stdout: out,
    stderr: err,
    resize: (cols, rows) => {
      if (!(out instanceof TtyStream)) return;
      resizedAt = Date.now();
      out.resize(Math.max(1, cols), Math.max(1, rows));
    },
    kill,
    exited,
  };
}

/** Runs a command to its end without stdin, streaming output lines; resolves with the exit code. */
export async function runInPod(kube: KubeClient, pod: string, container: string, cmd: string[], o: { onLine?: (line: string, stream: 'stdout' | 'stderr') => void; signal?: AbortSignal; cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; signal?: string }> {
  const proc = await podExec(kube, pod, container, { cmd, tty: false, stdin: false, ...(o.cwd ? { cwd: o.cwd } : {}), ...(o.env ? { env: o.env } : {}), ...(o.signal ? { signal: o.signal } : {}) });
  const out = new LineSplitter((l) => o.onLine?.(l, 'stdout'));
  const errs = new LineSplitter((l) => o.onLine?.(l, 'stderr'));
  proc.stdout.on('data', (d: Buffer) => out.push(d));
  proc.stderr?.on('data', (d: Buffer) => errs.push(d));
  const res = await proc.exited;
  out.flush();
  errs.flush();
  return res;
}
