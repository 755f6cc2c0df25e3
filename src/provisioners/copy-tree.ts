/**
 * Copying a workspace's directory on the control plane's host, for forks of local storage (shell,
 * docker with bind storage). `cp -a --reflink=auto` shares the data blocks on filesystems that can
 * (btrfs, XFS, bcachefs), so the copy is copy-on-write there, and a plain copy elsewhere. The
 * source may be in use: files are copied as they are at that moment, and a file that vanishes
 * while it is copied (a running process's temporary file) is left out rather than failing the fork.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AbortedError, ProvisionerError } from '../core/errors.ts';
import type { OpOptions } from './provisioner.ts';
import { removeTree } from './remove-tree.ts';

/** Options of a tree copy: where the copy is built (same filesystem as `to`), and paths of runtime state not to copy. */
export interface CopyTreeOptions extends OpOptions {
  /** Built here, then renamed to the target, so a copy cut short is never mistaken for a whole one. */
  tmp: string;
  /** Paths relative to the tree's root removed from the copy (process records, running markers). */
  drop?: string[];
}

/**
 * The lines of a copy's error output that matter: a file that vanished while it was copied (cp's
 * "No such file or directory", from GNU cp and BusyBox alike) is an acceptable loss, anything else is not.
 */
export function seriousCopyErrors(lines: string[]): string[] {
  return lines.filter((l) => !/No such file or directory$/.test(l));
}

/** Copies the tree `from` to `to` (replacing what is there); resolves once `to` holds the whole copy. */
export async function copyTree(from: string, to: string, o: CopyTreeOptions): Promise<void> {
  if (!fs.existsSync(from)) throw new ProvisionerError(`The source workspace's files (${from}) do not exist; it was never provisioned, or was deleted.`, { retryable: false });
  await removeTree(o.tmp);
  fs.mkdirSync(path.dirname(o.tmp), { recursive: true, mode: 0o700 });
  // Cancelled (the fork deleted meanwhile), nothing of the copy may stay behind: the fork's own storage is all a delete removes.
  const { code, errors } = await runCp(['-a', '--reflink=auto', '--', from, o.tmp], o.signal).catch(async (err: unknown) => {
    await removeTree(o.tmp);
    throw err;
  });
  // cp goes on after an error and exits 1; only files that vanished mid-copy are acceptable losses.
  const serious = seriousCopyErrors(errors);
  if (code !== 0 && (serious.length > 0 || !fs.existsSync(o.tmp))) {
    await removeTree(o.tmp);
    throw new ProvisionerError(`Copying the source workspace's files failed (cp exit code ${code}): ${serious[0] ?? errors[0] ?? 'no message'}`, { retryable: true });
  }
  if (errors.length) o.progress(`${errors.length} file(s) vanished from the source while they were copied and are not in the copy.`, 'info');
  for (const d of o.drop ?? []) await removeTree(path.join(o.tmp, d));
  await removeTree(to);
  fs.renameSync(o.tmp, to);
}

/** Runs cp, killed when `signal` aborts; resolves with its exit code and stderr lines (at most 100). */
function runCp(args: string[], signal: AbortSignal): Promise<{ code: number; errors: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn('cp', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 64_000) stderr += d.toString();
    });
    const onAbort = () => child.kill('SIGKILL');
    signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(new ProvisionerError(`Cannot run cp on the server: ${err.message}`, { retryable: false, cause: err }));
    });
    child.once('close', (code) => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) return reject(new AbortedError());
      resolve({ code: code ?? 128, errors: stderr.split('\n').filter(Boolean).slice(0, 100) });
    });
  });
}
