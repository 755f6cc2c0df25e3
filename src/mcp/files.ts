/** Reading and writing a file of a workspace's checkout for MCP tools, by a command run inside the workspace. */
import { InputError } from '../core/errors.ts';
import type { BerthClient } from '../sdk/client.ts';
import { runBounded } from './exec.ts';

/** Largest file read_file returns: the rest is cut, with a notice. */
export const READ_LIMIT = 1024 * 1024;
/** How long a read or write may take. */
const FILE_TIMEOUT_MS = 60_000;

/**
 * Refuses the first step out of the checkout after the path's directory is resolved (symlinks
 * included), so a link to /etc is refused like ../../etc. $1 is the path; commands follow.
 */
const CONFINE = [
  'd=$(dirname -- "$1")',
  'top=$(pwd -P)',
  'real=$(cd -- "$d" 2>/dev/null && pwd -P) || { echo "No such directory in the workspace: $d" >&2; exit 66; }',
  'case "$real/" in "$top"/*) ;; *) echo "$1 is outside the workspace checkout." >&2; exit 65 ;; esac',
].join('\n');

/** A path relative to the checkout, refused when absolute or when it climbs out with `..`. */
export function checkoutPath(p: string): string {
  if (p.startsWith('/')) throw new InputError(`path "${p}" is absolute: give a path relative to the workspace's checkout.`);
  if (p.split('/').includes('..')) throw new InputError(`path "${p}" leaves the workspace's checkout with "..": give a path inside it.`);
  if (p.includes('\0')) throw new InputError('path contains a NUL character.');
  return p;
}

/** Why a file command failed, from what it printed. */
function failure(what: string, r: { stderr: Buffer; code: number | null; timedOut: boolean }): InputError {
  if (r.timedOut) return new InputError(`${what} did not finish within ${FILE_TIMEOUT_MS / 1000} s.`);
  const said = r.stderr.toString('utf8').trim();
  return new InputError(said || `${what} failed with exit code ${r.code}.`);
}

/** The file's bytes (at most READ_LIMIT) and its full size. */
export async function readFile(api: BerthClient, ref: string, path: string): Promise<{ data: Buffer; size: number }> {
  const p = checkoutPath(path);
  const r = await runBounded(api, ref, ['sh', '-c', `${CONFINE}\nexec cat -- "$1"`, 'sh', p], { timeoutMs: FILE_TIMEOUT_MS, maxBytes: READ_LIMIT });
  if (r.code !== 0) throw failure(`Reading ${p}`, r);
  return { data: r.stdout, size: r.stdoutBytes };
}

/** Writes (replaces) the file, creating its directories; resolves with the bytes written. */
export async function writeFile(api: BerthClient, ref: string, path: string, data: Buffer): Promise<number> {
  const p = checkoutPath(path);
  const script = `mkdir -p -- "$(dirname -- "$1")" || exit 1\n${CONFINE}\ncat > "$1"`;
  const r = await runBounded(api, ref, ['sh', '-c', script, 'sh', p], { stdin: data, timeoutMs: FILE_TIMEOUT_MS, maxBytes: 64 * 1024 });
  if (r.code !== 0) throw failure(`Writing ${p}`, r);
  return data.length;
}
