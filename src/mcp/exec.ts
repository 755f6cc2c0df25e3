/** A command run to its end in a workspace for an MCP tool: output bounded, a timeout, stdin from a buffer. */
import type { BerthClient } from '../sdk/client.ts';

/** How a bounded run ended and what it printed (each stream cut at the bound). */
export interface BoundedRun {
  code: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: Buffer;
  /** Bytes each stream printed in all, so a cut can say how much was left out. */
  stdoutBytes: number;
  stderrBytes: number;
  timedOut: boolean;
}

/** Options of a bounded run. */
export interface BoundedRunOptions {
  stdin?: Buffer;
  timeoutMs: number;
  maxBytes: number;
  /** Aborted when the MCP client cancels the call: the process is killed as on a timeout. */
  signal?: AbortSignal;
}

/** Largest stdin frame: the exec WebSocket refuses messages over 1 MiB. */
const STDIN_FRAME = 256 * 1024;
/** How long a killed command may take to report its end before the connection is dropped. */
const KILL_GRACE_MS = 5_000;

/** Keeps the first `max` bytes of a stream and counts the rest. */
class Capped {
  private readonly parts: Buffer[] = [];
  kept = 0;
  total = 0;
  constructor(private readonly max: number) {}
  push = (d: Buffer): void => {
    this.total += d.length;
    const room = this.max - this.kept;
    if (room <= 0) return;
    const part = d.length > room ? d.subarray(0, room) : d;
    this.parts.push(Buffer.from(part));
    this.kept += part.length;
  };
  get data(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Runs `cmd` (argv) in the workspace without a terminal; kills it (SIGKILL) at the timeout or on abort. */
export async function runBounded(api: BerthClient, ref: string, cmd: string[], opts: BoundedRunOptions): Promise<BoundedRun> {
  const out = new Capped(opts.maxBytes);
  const err = new Capped(opts.maxBytes);
  const conn = api.exec(ref, { cmd, tty: false }, { stdout: out.push, stderr: err.push });
  const stdin = opts.stdin ?? Buffer.alloc(0);
  for (let i = 0; i < stdin.length; i += STDIN_FRAME) conn.write(stdin.subarray(i, i + STDIN_FRAME));
  conn.eof();
  let timedOut = false;
  let grace: NodeJS.Timeout | undefined;
  const kill = () => {
    conn.signal('SIGKILL');
    // A runtime that never reports the end must not hold the tool call forever.
    grace ??= setTimeout(() => conn.detach(), KILL_GRACE_MS);
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, opts.timeoutMs);
  opts.signal?.addEventListener('abort', kill, { once: true });
  try {
    const exit = await conn.done;
    return { code: exit.code, signal: exit.signal ?? null, stdout: out.data, stderr: err.data, stdoutBytes: out.total, stderrBytes: err.total, timedOut };
  } catch (e) {
    if (!timedOut) throw e;
    // Dropped after the kill: what was printed until then is still the answer.
    return { code: null, signal: 'SIGKILL', stdout: out.data, stderr: err.data, stdoutBytes: out.total, stderrBytes: err.total, timedOut };
  } finally {
    clearTimeout(timer);
    clearTimeout(grace);
    opts.signal?.removeEventListener('abort', kill);
  }
}

/** One stream as text for the model, with a notice when it was cut. */
function streamText(name: string, data: Buffer, total: number): string {
  const notice = total > data.length ? `\n[${name} truncated: ${total} bytes printed, the first ${data.length} shown]` : '';
  return `${data.toString('utf8')}${notice}`;
}

/** A bounded run as text: how it ended, then stdout and stderr. */
export function describeRun(r: BoundedRun, timeoutMs: number): string {
  const end = r.timedOut
    ? `timed out after ${timeoutMs / 1000} s and was killed`
    : r.code !== null
      ? `exit code ${r.code}`
      : `killed by ${r.signal ?? 'a signal'}`;
  const parts = [end];
  if (r.stdoutBytes > 0) parts.push(`--- stdout ---\n${streamText('stdout', r.stdout, r.stdoutBytes)}`);
  if (r.stderrBytes > 0) parts.push(`--- stderr ---\n${streamText('stderr', r.stderr, r.stderrBytes)}`);
  return parts.join('\n');
}
