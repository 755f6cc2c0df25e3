/**
 * Getting the repository into a workspace: the checkout is made on the control plane's host, where
 * the project's mirror (or the git gateway, or a bundle of it) is always at hand, and then moved into the bind directory
 * (local engine) or streamed into the workspace volume (remote engine). The engine never needs to
 * reach the control plane for the clone, and the image needs no git.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AbortedError, ProvisionerError } from '../../core/errors.ts';
import { progressFilter } from '../../core/lines.ts';
import { checkoutConfigPairs, gitConfigEnv, gitConfigPairs, rewriteGitEnv } from '../git-setup.ts';
import type { ProgressSink, WorkspaceContext } from '../provisioner.ts';
import { removeTree } from '../remove-tree.ts';

/** Runs git on the host; resolves with the exit code, streaming its output as progress. */
function git(args: string[], opts: { cwd?: string; env: NodeJS.ProcessEnv; progress?: ProgressSink; signal?: AbortSignal }): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = progressFilter((line, kind) => opts.progress?.(line, kind));
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => out.push(d));
    const onAbort = () => child.kill('SIGKILL');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => {
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new ProvisionerError(`Cannot run git on the server: ${err.message}`, { retryable: false, cause: err }));
    });
    child.once('close', (code) => {
      opts.signal?.removeEventListener('abort', onAbort);
      out.flush();
      if (opts.signal?.aborted) reject(new AbortedError());
      else resolve(code ?? 128);
    });
  });
}

/** Options of a host-side clone. */
export interface CloneOptions {
  progress: ProgressSink;
  signal: AbortSignal;
  /** The server URL as the host sees it and as the workspace sees it; remote and credential settings are rewritten from one to the other. */
  serverUrl?: { host: string; workspace: string };
}

/**
 * Clones the workspace's project into `dest` (which must not exist) on this host: from the
 * project's local mirror when the gateway offers it, else from a bundle, else from its clone URL.
 * Afterwards `origin` and the gateway credential settings point at the URL the workspace itself uses.
 */
export async function cloneOnHost(ws: WorkspaceContext, dest: string, o: CloneOptions): Promise<void> {
  const project = ws.project;
  // The gateway's credential helper reads the workspace token from the environment.
  const token = ws.env.BERTH_WORKSPACE_TOKEN ? { BERTH_WORKSPACE_TOKEN: ws.env.BERTH_WORKSPACE_TOKEN } : {};
  const env = { ...process.env, ...project.gitEnv, ...token, GIT_TERMINAL_PROMPT: '0' };
  const branch = ws.ref ? ['--branch', ws.ref] : [];
  await removeTree(dest);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  let source = project.cloneUrl;
  let bundleFile: string | undefined;
  let mirror: string | undefined;
  try {
    if (project.localMirror) {
      // The mirror is on this host's disk: the fastest source (copied, never hard-linked).
      source = mirror = await project.localMirror(o.signal);
    } else if (project.bundle) {
      bundleFile = `${dest}.bundle`;
      o.progress(`Fetching a bundle of ${project.name}`, 'info');
      await pipeline(await project.bundle(o.signal), fs.createWriteStream(bundleFile, { mode: 0o600 }), { signal: o.signal });
      source = bundleFile;
    }
    if (!source) throw new ProvisionerError(`Project "${project.name}" has no clone URL.`, { retryable: false, code: 'clone_failed' });
    let origin = project.cloneUrl;
    let gitEnv = project.gitEnv;
    const s = o.serverUrl;
    if (s && s.host !== s.workspace) {
      if (origin.startsWith(s.host)) origin = s.workspace + origin.slice(s.host.length);
      gitEnv = rewriteGitEnv(gitEnv, new URL(s.host).origin, new URL(s.workspace).origin);
    }
    // The credential settings go into the new checkout's config as clone writes it (one process
    // instead of a `git config` each); a fresh repository has nothing to clear first.
    const config = checkoutConfigPairs(gitEnv).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
    o.progress(`Cloning ${project.name}${ws.ref ? ` (${ws.ref})` : ''} into work/`, 'info');
    // From the mirror, the clone names the workspace's origin and a url.<mirror>.insteadOf for this
    // one process sends git to the mirror: origin is right from the start, with no `set-url` after.
    const viaMirror = mirror !== undefined && !!origin && origin !== mirror;
    const cloneEnv = viaMirror ? { ...env, ...gitConfigEnv([...gitConfigPairs(project.gitEnv), [`url.${mirror}.insteadOf`, origin]]) } : env;
    // --no-hardlinks: the checkout is chowned to the workspace user, which must never reach a local upstream's objects.
    const code = await git(['clone', '--progress', '--no-hardlinks', ...config, ...branch, '--', viaMirror ? origin : source, dest], { env: cloneEnv, progress: o.progress, signal: o.signal });
    if (code !== 0) {
      throw new ProvisionerError(`git clone of project "${project.name}"${ws.ref ? ` at ${ws.ref}` : ''} failed with exit code ${code}; see the workspace log for git's message.`, {
        code: 'clone_failed',
        retryable: true,
      });
    }
    if (origin && origin !== source && !viaMirror) {
      const c = await git(['remote', 'set-url', 'origin', origin], { cwd: dest, env });
      if (c !== 0) throw new ProvisionerError(`git remote set-url failed in the new checkout (exit code ${c}).`, { code: 'clone_failed' });
    }
  } catch (err) {
    await removeTree(dest);
    throw err;
  } finally {
    if (bundleFile) fs.rmSync(bundleFile, { force: true });
  }
}

/**
 * Changes the owner of a tree (not following symlinks); used when the server runs as root. One
 * `chown -R -h` process does a checkout of thousands of files in a fraction of the time a walk from
 * here takes; the walk is kept for a host without chown.
 */
export async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  const code = await new Promise<number | 'missing'>((resolve) => {
    const child = spawn('chown', ['-R', '-h', `${uid}:${gid}`, dir], { stdio: 'ignore' });
    child.once('error', () => resolve('missing'));
    child.once('close', (c) => resolve(c ?? 1));
  });
  if (code === 0) return;
  if (code !== 'missing') throw new ProvisionerError(`Giving the new checkout to the workspace user failed (chown exit code ${code}).`, { code: 'clone_failed' });
  await walkChown(dir, uid, gid);
}

async function walkChown(dir: string, uid: number, gid: number): Promise<void> {
  await fs.promises.lchown(dir, uid, gid);
  const entries = await fs.promises.readdir(dir, { withFileTypes: true });
  await Promise.all(
    entries.map(async (e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walkChown(p, uid, gid);
      else await fs.promises.lchown(p, uid, gid);
    }),
  );
}
