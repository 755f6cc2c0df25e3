/** Running one headless command in a workspace through its provisioner, keeping the tail of its output. */
import type { Provisioner, WorkspaceContext } from '../../provisioners/provisioner.ts';

/** What a finished command left. */
export interface CommandResult {
  /** Exit code, or 128 + signal number style 137 when killed without one. */
  code: number;
  /** The last non-empty line written (stdout or stderr). */
  lastLine: string | null;
  /** The last `maxBytes` of combined output. */
  output: string;
}

/** Options of one command. */
export interface RunOptions {
  env?: Record<string, string>;
  /** Bytes of output kept (the tail). */
  maxBytes?: number;
  /** Called with each new last line, as output arrives. */
  onLine?: (line: string) => void;
  /** Called on every chunk of output with the tail kept so far (activity, live logs). */
  onOutput?: (tail: string) => void;
  /** Ends the command (SIGKILL) when it fires. */
  signal?: AbortSignal;
}

/** The last non-empty line of `text`, without terminal control sequences, at most 300 characters. */
export function lastLineOf(text: string): string | null {
  const lines = text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').split(/\r?\n|\r/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!.trim();
    if (l) return l.slice(0, 300);
  }
  return null;
}

/** Runs `cmd` in the workspace's checkout and waits for it; never throws for a non-zero exit. */
export async function runInWorkspace(provisioner: Provisioner, ctx: WorkspaceContext, cmd: string[], o: RunOptions = {}): Promise<CommandResult> {
  const max = o.maxBytes ?? 64 * 1024;
  const proc = await provisioner.exec(ctx, { cmd, tty: false, ...(o.env ? { env: o.env } : {}), ...(o.signal ? { signal: o.signal } : {}) });
  proc.stdin.end();
  let tail = '';
  let lastLine: string | null = null;
  const onData = (d: Buffer | string) => {
    const text = typeof d === 'string' ? d : d.toString('utf8');
    tail = (tail + text).slice(-max);
    const line = lastLineOf(text);
    if (line !== null && line !== lastLine) {
      lastLine = line;
      o.onLine?.(line);
    }
    o.onOutput?.(tail);
  };
  proc.stdout.on('data', onData);
  proc.stderr?.on('data', onData);
  const kill = () => proc.kill('SIGKILL');
  o.signal?.addEventListener('abort', kill, { once: true });
  const drained = Promise.all(
    [proc.stdout, proc.stderr].filter((s) => s !== null).map((s) => new Promise<void>((r) => (s.readableEnded ? r() : s.once('close', r).once('end', r)))),
  );
  try {
    const [exit] = await Promise.all([proc.exited, drained]);
    return { code: exit.code ?? 137, lastLine, output: tail };
  } finally {
    o.signal?.removeEventListener('abort', kill);
  }
}
