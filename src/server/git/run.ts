/** Running git on the control plane's host with a bounded capture of its output. */
import { spawn } from 'node:child_process';

/** What a finished git process left. */
export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `git args…` and collects output (each stream capped at `maxBytes`); never throws for a non-zero exit. */
export function runGit(args: string[], opts: { cwd?: string; env: Record<string, string>; signal?: AbortSignal; maxBytes?: number; stdin?: string }): Promise<GitResult> {
  const max = opts.maxBytes ?? 1024 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'], ...(opts.signal ? { signal: opts.signal } : {}) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout.on('data', (d: Buffer) => {
      if (outLen < max) out.push(d);
      outLen += d.length;
    });
    child.stderr.on('data', (d: Buffer) => {
      if (errLen < max) err.push(d);
      errLen += d.length;
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.stdin ?? '');
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
}

/** The last `n` non-empty lines of git's output, for error messages. */
export function lastLines(text: string, n = 6): string {
  return text
    .split(/\r?\n|\r/)
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0)
    .slice(-n)
    .join('\n');
}
