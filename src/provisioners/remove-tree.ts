/**
 * Deletes a directory tree without stalling the server. `fs.rmSync` blocks the event loop for the
 * whole delete, and `fs.promises.rm` starts an operation for every entry of a directory at once:
 * on a checkout with 200,000 files it fills libuv's thread pool and handles completions in batches
 * that blocked the loop for seconds (see bench/delete-latency.ts). Here at most `concurrency`
 * operations are in flight, so API calls and terminals keep their turn.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Removes `root` and everything below it (not following symlinks); a missing `root` is no error. */
export async function removeTree(root: string, concurrency = 16): Promise<void> {
  const st = await fs.promises.lstat(root).catch(ignoreMissing);
  if (!st) return;
  if (!st.isDirectory()) return void (await fs.promises.unlink(root).catch(ignoreMissing));
  // Walk depth first, unlinking files on the way; directories are removed afterwards, deepest first.
  const dirs: string[] = [];
  const pending = [root];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    const entries = await fs.promises.readdir(dir, { withFileTypes: true }).catch(ignoreMissing);
    if (!entries) continue;
    dirs.push(dir);
    const files: string[] = [];
    for (const e of entries) (e.isDirectory() ? pending : files).push(path.join(dir, e.name));
    let next = 0;
    const worker = async () => {
      while (next < files.length) await fs.promises.unlink(files[next++]!).catch(ignoreMissing);
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
  }
  for (let i = dirs.length - 1; i >= 0; i--) await fs.promises.rmdir(dirs[i]!).catch(ignoreMissing);
}

/** Swallows ENOENT (something else removed it first), rethrows anything else. */
function ignoreMissing(err: NodeJS.ErrnoException): undefined {
  if (err.code === 'ENOENT') return undefined;
  throw err;
}
