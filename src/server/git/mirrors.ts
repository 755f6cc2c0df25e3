/**
 * One bare mirror per project in `<dataDir>/git/<project>.git`, fetched from the upstream on demand
 * (with a freshness window) and on `berth project sync`. Mirrors are host-local caches: losing one
 * costs a fresh fetch, nothing else. Fetches and pushes of one project are serialized by a per-project
 * lock; clones and fetches from the mirror read concurrently.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from 'pino';
import { AbortedError, BerthError, NotFoundError, errorMessage } from '../../core/errors.ts';
import { shellQuote } from '../../provisioners/git-setup.ts';
import { restrictedFailure, type OutboundGuard } from '../net/outbound.ts';
import { gitEnvWith, scrubSecrets, upstreamAuth, type ProjectCredentials, type UpstreamAuth } from './credentials.ts';
import { PRE_RECEIVE_HOOK } from './hook.ts';
import { KeyedMutex } from './lock.ts';
import { lastLines, runGit } from './run.ts';

/** Settings every mirror starts with (the origin URL is set separately, as it can change). */
const MIRROR_CONFIG = `[remote "origin"]
\tfetch = +refs/heads/*:refs/heads/*
\tfetch = +refs/tags/*:refs/tags/*
[uploadpack]
\tallowFilter = true
[http]
\treceivepack = true
\tgetanyfile = false
[core]
\tlogAllRefUpdates = false
`;

/** What the mirror manager needs to know about a project. */
export interface MirrorProject {
  name: string;
  /** Upstream URL or absolute path. */
  repo: string;
  credentials: ProjectCredentials | null;
  /** The owner's user id: upstreams of non-admins' projects are checked by the outbound guard. */
  ownerId?: string;
}

/** The outcome of a sync. */
export interface SyncResult {
  project: string;
  /** When the mirror last fetched from the upstream successfully. */
  fetchedAt: string;
  /** False when the mirror was fresh enough and no fetch was made. */
  fetched: boolean;
  durationMs: number;
  /** Number of branches and tags in the mirror. */
  refs: number;
  /** Number of refs the fetch created, moved or removed. */
  updated: number;
  /** The branch the mirror's HEAD names (the upstream's default branch). */
  head: string | null;
}

/** A fetch that concurrent callers share; it is cancelled only when every caller has stopped waiting. */
interface SharedFetch {
  result: Promise<SyncResult>;
  controller: AbortController;
  /** Callers still waiting; a caller without a signal is counted forever, so the fetch always finishes. */
  waiters: number;
}

/** Options of the mirror manager. */
export interface GitMirrorsOptions {
  /** Directory holding `<project>.git` mirrors. */
  root: string;
  /** A mirror fetched less than this long ago counts as fresh for on-demand syncs. */
  freshnessMs: number;
  logger: Logger;
  /** Checks and pins upstream addresses of projects whose owner is not an admin. */
  outbound?: { guard: OutboundGuard; isAdmin: (userId: string) => Promise<boolean> };
}

/** Creates, fetches and serves per-project bare mirrors. */
export class GitMirrors {
  /** Serializes fetches and pushes per project. */
  readonly lock = new KeyedMutex();
  readonly root: string;
  private readonly last = new Map<string, SyncResult>();
  private readonly inflight = new Map<string, SharedFetch>();
  /** Upstream URL last written into each mirror's config by this process (saves a git call per sync). */
  private readonly configuredUrl = new Map<string, string>();

  constructor(private readonly o: GitMirrorsOptions) {
    this.root = path.resolve(o.root);
    fs.mkdirSync(this.root, { recursive: true, mode: 0o700 });
    // Half-created mirrors and key files left by a killed process.
    fs.rmSync(this.tmpDir, { recursive: true, force: true });
  }

  /** Scratch directory for mirrors being created and short-lived key files. */
  get tmpDir(): string {
    return path.join(this.root, '.tmp');
  }

  /** Where the project's mirror lives. */
  path(project: string): string {
    return path.join(this.root, `${project}.git`);
  }

  /** Whether the mirror has been created. */
  exists(project: string): boolean {
    return fs.existsSync(path.join(this.path(project), 'HEAD'));
  }

  /**
   * Access to the project's upstream for one git process tree; call `cleanup` afterwards. For a
   * non-admin's project the upstream's address is checked first (ForbiddenError) and git pinned to it;
   * `restricted` then says git's own messages must not be shown.
   */
  async auth(p: MirrorProject): Promise<UpstreamAuth & { restricted: boolean }> {
    const o = this.o.outbound;
    const route = o && p.ownerId !== undefined && !(await o.isAdmin(p.ownerId)) ? await o.guard.check(p.repo) : null;
    const auth = upstreamAuth(p.credentials, this.tmpDir, path.join(this.root, 'known_hosts'));
    if (!route) return { ...auth, restricted: false };
    const env = { ...auth.env };
    if (route.sshOptions.length) env.GIT_SSH_COMMAND = [env.GIT_SSH_COMMAND ?? 'ssh', ...route.sshOptions.map(shellQuote)].join(' ');
    return { config: [...auth.config, ...route.config], env, cleanup: () => auth.cleanup(), restricted: true };
  }

  /**
   * Fetches the upstream into the mirror, creating it first if needed. With `maxAgeMs`, a mirror
   * fetched within that window is returned as it is. Concurrent callers share one fetch; a caller's
   * `signal` only stops that caller waiting (AbortedError), and the fetch is cancelled once no caller waits.
   */
  async sync(p: MirrorProject, opts: { maxAgeMs?: number; signal?: AbortSignal } = {}): Promise<SyncResult> {
    const last = this.last.get(p.name);
    if (opts.maxAgeMs !== undefined && last && Date.now() - Date.parse(last.fetchedAt) < opts.maxAgeMs && this.exists(p.name)) {
      return { ...last, fetched: false, durationMs: 0 };
    }
    if (opts.signal?.aborted) throw new AbortedError(`Stopped waiting for the fetch of project "${p.name}".`);
    let shared = this.inflight.get(p.name);
    if (!shared) {
      const controller = new AbortController();
      const result = this.lock.run(p.name, () => this.fetch(p, controller.signal)).finally(() => {
        if (this.inflight.get(p.name)?.controller === controller) this.inflight.delete(p.name);
      });
      // Every caller may have stopped waiting by the time it fails; that is not an unhandled rejection.
      result.catch(() => undefined);
      shared = { result, controller, waiters: 0 };
      this.inflight.set(p.name, shared);
    }
    return this.await(p.name, shared, opts.signal);
  }

  /** Waits for a shared fetch until it settles or `signal` fires; the last caller to leave cancels it. */
  private await(project: string, shared: SharedFetch, signal?: AbortSignal): Promise<SyncResult> {
    shared.waiters++;
    if (!signal) return shared.result;
    return new Promise<SyncResult>((resolve, reject) => {
      const leave = () => {
        shared.waiters--;
        reject(new AbortedError(`Stopped waiting for the fetch of project "${project}".`));
        if (shared.waiters === 0) {
          // Later callers start a fetch of their own rather than join one being cancelled.
          if (this.inflight.get(project) === shared) this.inflight.delete(project);
          shared.controller.abort();
        }
      };
      signal.addEventListener('abort', leave, { once: true });
      shared.result.then(
        (r) => {
          signal.removeEventListener('abort', leave);
          resolve(r);
        },
        (err: Error) => {
          signal.removeEventListener('abort', leave);
          reject(err);
        },
      );
    });
  }

  /**
   * Makes the mirror fresh enough to serve: syncs within the freshness window (`force`: fetches
   * regardless); if the upstream is unreachable but the mirror exists, serves it as it is (and logs
   * why) and returns null.
   */
  async prepare(p: MirrorProject, signal?: AbortSignal, opts: { force?: boolean } = {}): Promise<SyncResult | null> {
    try {
      return await this.sync(p, { ...(opts.force ? {} : { maxAgeMs: this.o.freshnessMs }), ...(signal ? { signal } : {}) });
    } catch (err) {
      if (!this.exists(p.name) || err instanceof AbortedError) throw err;
      this.o.logger.warn({ project: p.name, reason: errorMessage(err) }, 'upstream fetch failed; serving the mirror as it is');
      return null;
    }
  }

  /** Whether the mirror has a branch or tag named `ref` (read from the ref files first; git only when they do not say). */
  async hasRef(project: string, ref: string): Promise<boolean> {
    const dir = this.path(project);
    const candidates = [`refs/heads/${ref}`, `refs/tags/${ref}`];
    const packed = packedRefs(dir);
    for (const c of candidates) {
      if (packed.has(c)) return true;
      try {
        if (fs.statSync(path.join(dir, c)).isFile()) return true;
      } catch {
        /* not a loose ref */
      }
    }
    for (const c of candidates) {
      if ((await runGit(['rev-parse', '--verify', '--quiet', `${c}^{commit}`], { cwd: dir, env: gitEnvWith([]) })).code === 0) return true;
    }
    return false;
  }

  /**
   * The commit a clone of `ref` (a branch before a tag; default the mirror's HEAD) checks out, or
   * undefined when there is none. A branch is read from the ref files (the warm pool asks every few
   * seconds); git is asked only for a tag, which may need peeling to its commit.
   */
  async commitOf(project: string, ref: string | undefined): Promise<string | undefined> {
    const dir = this.path(project);
    const branch = ref ? `refs/heads/${ref}` : headBranch(dir);
    const fromFiles = branch && (looseRef(dir, branch) ?? packedRefs(dir).get(branch));
    if (fromFiles) return fromFiles;
    for (const c of ref ? [`refs/heads/${ref}`, `refs/tags/${ref}`] : ['HEAD']) {
      const r = await runGit(['rev-parse', '--verify', '--quiet', `${c}^{commit}`], { cwd: dir, env: gitEnvWith([]) });
      if (r.code === 0) return r.stdout.trim();
    }
    return undefined;
  }

  /** The mirror's branches, its HEAD branch (the upstream's default) first, the rest sorted. */
  async branches(project: string): Promise<string[]> {
    const dir = this.path(project);
    const r = await runGit(['for-each-ref', '--format=%(refname:lstrip=2)', 'refs/heads/'], { cwd: dir, env: gitEnvWith([]) });
    const all = r.stdout.split('\n').filter(Boolean).sort();
    const head = headBranch(dir)?.replace(/^refs\/heads\//, '');
    return head && all.includes(head) ? [head, ...all.filter((b) => b !== head)] : all;
  }

  /** Removes a deleted project's mirror from disk. */
  async remove(project: string): Promise<void> {
    this.last.delete(project);
    await fs.promises.rm(this.path(project), { recursive: true, force: true });
  }

  /** Forgets the freshness of a mirror, so the next on-demand sync fetches (after a push moved the upstream, say). */
  invalidate(project: string): void {
    this.last.delete(project);
  }

  private async fetch(p: MirrorProject, signal?: AbortSignal): Promise<SyncResult> {
    const t0 = Date.now();
    const dir = this.path(p.name);
    const fresh = !this.exists(p.name);
    const target = fresh ? path.join(this.tmpDir, `${p.name}-${crypto.randomBytes(6).toString('hex')}.git`) : dir;
    const plainEnv = gitEnvWith([]);
    const git = async (args: string[], env = plainEnv) => runGit(args, { cwd: target, env, ...(signal ? { signal } : {}) });
    const must = async (args: string[]) => {
      const r = await git(args);
      if (r.code !== 0) throw new BerthError('mirror_failed', `Preparing the mirror of project "${p.name}" failed (git ${args[0]}): ${lastLines(r.stderr)}`);
      return r;
    };
    try {
      if (fresh) {
        fs.mkdirSync(this.tmpDir, { recursive: true, mode: 0o700 });
        const r = await runGit(['init', '--bare', '--quiet', target], { env: plainEnv, ...(signal ? { signal } : {}) });
        if (r.code !== 0) throw new BerthError('mirror_failed', `Creating the mirror of project "${p.name}" failed: ${lastLines(r.stderr)}`);
        // Fixed settings of a fresh mirror, appended in one write rather than one `git config` process each.
        fs.appendFileSync(path.join(target, 'config'), MIRROR_CONFIG);
        for (const f of fs.readdirSync(path.join(target, 'hooks'))) if (f.endsWith('.sample')) fs.rmSync(path.join(target, 'hooks', f));
      }
      if (fresh || this.configuredUrl.get(p.name) !== p.repo) {
        await must(['config', 'remote.origin.url', p.repo]);
        this.configuredUrl.set(p.name, p.repo);
      }
      this.installHook(target);
      const before = fresh ? '' : (await git(['for-each-ref', '--format=%(objectname) %(refname)'])).stdout;
      const auth = await this.auth(p);
      let r;
      try {
        r = await git(['fetch', '--prune', '--quiet', '--no-write-fetch-head', 'origin'], gitEnvWith(auth.config, auth.env));
        if (r.code === 0) await this.fixHead(target, auth, git);
      } finally {
        auth.cleanup();
      }
      if (r.code !== 0) {
        const why = auth.restricted ? restrictedFailure(r.stderr) : scrubSecrets(lastLines(r.stderr), p.credentials) || `git exited with code ${r.code}`;
        throw new BerthError('upstream_failed', `Fetching project "${p.name}" from its upstream ${p.repo} failed: ${why}`);
      }
      const after = (await git(['for-each-ref', '--format=%(objectname) %(refname)'])).stdout;
      const head = headBranch(target)?.replace(/^refs\/heads\//, '') ?? null;
      if (fresh) {
        // A clone-friendly pack with a bitmap; later fetches add packs that `gc --auto` folds in.
        await git(['repack', '-a', '-d', '-b', '-q']);
        fs.renameSync(target, dir);
      }
      const result: SyncResult = {
        project: p.name,
        fetchedAt: new Date().toISOString(),
        fetched: true,
        durationMs: Date.now() - t0,
        refs: after.split('\n').filter(Boolean).length,
        updated: diffCount(before, after),
        head,
      };
      this.last.set(p.name, result);
      this.o.logger.info({ project: p.name, ms: result.durationMs, refs: result.refs, updated: result.updated }, 'mirror synced');
      return result;
    } catch (err) {
      if (fresh) await fs.promises.rm(target, { recursive: true, force: true });
      throw err;
    }
  }

  /** Points the mirror's HEAD at the upstream's default branch when it names no existing branch. */
  private async fixHead(dir: string, auth: UpstreamAuth, git: (args: string[], env?: Record<string, string>) => Promise<{ code: number; stdout: string }>): Promise<void> {
    const head = headBranch(dir);
    // A loose or packed ref file for HEAD's branch means it exists; only otherwise ask git and the upstream.
    if (head && (fs.existsSync(path.join(dir, head)) || packedRefs(dir).has(head))) return;
    if (head && (await git(['rev-parse', '--verify', '--quiet', head])).code === 0) return;
    const ls = await git(['ls-remote', '--symref', 'origin', 'HEAD'], gitEnvWith(auth.config, auth.env));
    let target = /^ref: (refs\/heads\/\S+)\tHEAD$/m.exec(ls.stdout)?.[1];
    if (!target) {
      const branches = (await git(['for-each-ref', '--format=%(refname)', 'refs/heads/'])).stdout.split('\n').filter(Boolean);
      target = ['refs/heads/main', 'refs/heads/master'].find((b) => branches.includes(b)) ?? branches[0];
    }
    if (target) await git(['symbolic-ref', 'HEAD', target]);
  }

  private installHook(dir: string): void {
    const hook = path.join(dir, 'hooks', 'pre-receive');
    let current: string | undefined;
    try {
      current = fs.readFileSync(hook, 'utf8');
    } catch {
      /* absent */
    }
    if (current !== PRE_RECEIVE_HOOK) {
      fs.mkdirSync(path.dirname(hook), { recursive: true });
      fs.writeFileSync(`${hook}.tmp`, PRE_RECEIVE_HOOK, { mode: 0o755 });
      fs.renameSync(`${hook}.tmp`, hook);
    }
    fs.chmodSync(hook, 0o755);
  }

  /**
   * Streams a `git bundle` of `ref` (a branch or tag; default: HEAD and its branch) from the mirror.
   * The mirror is synced first within the freshness window.
   */
  async bundle(p: MirrorProject, ref: string | undefined, signal?: AbortSignal): Promise<Readable> {
    await this.prepare(p, signal);
    const dir = this.path(p.name);
    const env = gitEnvWith([]);
    const refs: string[] = [];
    if (ref) {
      for (const candidate of [ref, `refs/heads/${ref}`, `refs/tags/${ref}`]) {
        if (candidate.startsWith('refs/') && (await runGit(['rev-parse', '--verify', '--quiet', candidate], { cwd: dir, env })).code === 0) {
          refs.push(candidate);
          break;
        }
      }
      if (refs.length === 0) throw new NotFoundError(`Project "${p.name}" has no branch or tag "${ref}".`);
    } else {
      const head = (await runGit(['symbolic-ref', '--quiet', 'HEAD'], { cwd: dir, env })).stdout.trim();
      if (!head || (await runGit(['rev-parse', '--verify', '--quiet', head], { cwd: dir, env })).code !== 0) {
        throw new NotFoundError(`Project "${p.name}" has no commits to bundle yet.`);
      }
      refs.push('HEAD', head);
    }
    const child = spawn('git', ['bundle', 'create', '--quiet', '-', ...refs], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = new PassThrough();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-8192);
    });
    child.stdout.pipe(out, { end: false });
    child.once('error', (err) => out.destroy(err));
    // The stream ends only once git succeeded, so a failure is never mistaken for a short bundle.
    child.once('close', (code) => {
      if (code === 0) out.end();
      else out.destroy(new BerthError('bundle_failed', `git bundle failed for project "${p.name}": ${lastLines(stderr)}`));
    });
    const kill = () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    };
    out.once('close', kill);
    signal?.addEventListener('abort', kill, { once: true });
    return out;
  }
}

/** The branch a bare repository's HEAD names, read from the file (no git process). */
function headBranch(dir: string): string | undefined {
  try {
    return /^ref: (refs\/\S+)/.exec(fs.readFileSync(path.join(dir, 'HEAD'), 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** The object ids of the refs in `packed-refs`, by ref name. */
function packedRefs(dir: string): Map<string, string> {
  try {
    return new Map(
      fs
        .readFileSync(path.join(dir, 'packed-refs'), 'utf8')
        .split('\n')
        .filter((l) => /^[0-9a-f]{40,64} /.test(l))
        .map((l) => [l.slice(l.indexOf(' ') + 1), l.slice(0, l.indexOf(' '))] as const),
    );
  } catch {
    return new Map();
  }
}

/** The object id a loose ref file holds, or undefined (no such file, or a symbolic ref). */
function looseRef(dir: string, name: string): string | undefined {
  try {
    const id = fs.readFileSync(path.join(dir, name), 'utf8').trim();
    return /^[0-9a-f]{40,64}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

function diffCount(before: string, after: string): number {
  const a = new Set(before.split('\n').filter(Boolean));
  const b = new Set(after.split('\n').filter(Boolean));
  let n = 0;
  const names = (s: Set<string>) => new Map([...s].map((l) => [l.slice(l.indexOf(' ') + 1), l]));
  const an = names(a);
  const bn = names(b);
  for (const [name, line] of bn) if (an.get(name) !== line) n++;
  for (const name of an.keys()) if (!bn.has(name)) n++;
  return n;
}
