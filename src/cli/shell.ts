/** `berth ws shell` and `berth ws exec`: the local terminal or pipes bridged to a process in the workspace. */
import { exitStatus, type BerthClient } from '../sdk/client.ts';

const DETACH_PREFIX = 0x1d; // Ctrl-]

/** Runs `cmd` (empty: the workspace's shell) without a terminal, stdin to stdin until its end; resolves with the exit code to use. */
export async function runExec(c: BerthClient, ref: string, cmd: string[]): Promise<number> {
  const conn = c.exec(ref, { cmd, tty: false }, { stdout: (d) => process.stdout.write(d), stderr: (d) => process.stderr.write(d) });
  if (process.stdin.isTTY) conn.eof();
  else {
    process.stdin.on('data', (d: Buffer) => conn.write(d));
    process.stdin.on('end', () => conn.eof());
  }
  process.once('SIGINT', () => conn.signal('SIGINT'));
  try {
    // Killed by a signal is 128 + its number (Ctrl-C 130), as in a local shell.
    return exitStatus(await conn.done);
  } finally {
    // An open pipe on stdin would otherwise keep the process alive after an error.
    process.stdin.destroy();
  }
}

/** Attaches the local terminal to a remote session; resolves with the exit code to use. */
export async function openShell(c: BerthClient, ref: string, session?: string): Promise<number> {
  // Input from a file or pipe (`berth ws shell < script`), as with ssh: no terminal, and the end of the input ends the shell.
  if (!session && !process.stdin.isTTY) return runExec(c, ref, []);
  const stdin = process.stdin;
  const stdout = process.stdout;
  let sessionId = session;
  const conn = c.exec(
    ref,
    session ? { cmd: [], tty: true, session } : { cmd: [], tty: true, cols: stdout.columns ?? 80, rows: stdout.rows ?? 24 },
    { stdout: (d) => stdout.write(d), session: (id) => (sessionId = id) },
  );
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  let detached = false;
  let prefix = false;
  stdin.on('data', (d: Buffer) => {
    // Ctrl-] then "d" detaches, leaving the session running on the server. The two keys may
    // arrive in one chunk or in two, so this scans byte by byte.
    const out: number[] = [];
    for (const byte of d) {
      if (prefix) {
        prefix = false;
        if (byte === 0x64) {
          if (out.length) conn.write(Buffer.from(out));
          detached = true;
          conn.detach();
          return;
        }
        out.push(DETACH_PREFIX);
      }
      if (byte === DETACH_PREFIX) prefix = true;
      else out.push(byte);
    }
    if (out.length) conn.write(Buffer.from(out));
  });
  // Re-attached with input from a pipe: its end is a ^D to the session (see terminals.ts).
  if (!raw) stdin.once('end', () => conn.eof());
  stdin.resume();
  const onResize = () => conn.resize(stdout.columns ?? 80, stdout.rows ?? 24);
  stdout.on('resize', onResize);
  if (session) onResize();
  const restore = () => {
    if (raw) stdin.setRawMode(false);
    stdin.pause();
    stdout.off('resize', onResize);
  };
  try {
    const exit = await conn.done;
    restore();
    // A shell ended by a signal exits 128 + its number, as a local shell would.
    return exitStatus(exit);
  } catch (err) {
    restore();
    if (detached || (sessionId && (err as { code?: string }).code === 'disconnected')) {
      process.stderr.write(`\r\nDetached. The session keeps running; re-attach with: berth ws shell ${ref} --session ${sessionId}\n`);
      return 0;
    }
    throw err;
  }
}
