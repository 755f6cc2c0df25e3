/**
 * Git operations on a workspace's checkout for the UI and CLI, run inside the workspace through the
 * provisioner's exec (so they work the same on every runtime). Failures become domain errors with
 * git's own words: merge conflicts, rejected pushes and "nothing to commit" are conflicts (409).
 */
import { BerthError, ConflictError, InputError } from '../../core/errors.ts';
import { assertNoNul } from '../../core/process-input.ts';
import type { Provisioner, WorkspaceContext } from '../../provisioners/provisioner.ts';
import type { GitCommitResult, GitDiff, GitPaths, GitStatus, GitSyncOptions, GitSyncResult } from '../../sdk/wire.ts';
import { scrubTokens } from '../logger.ts';
import { parseStatus, splitDiff } from './porcelain.ts';
import { lastLines } from './run.ts';

/** Where a git command runs: a provisioner and the workspace's context. */
export interface GitTarget {
  provisioner: Provisioner;
  ctx: WorkspaceContext;
}

/** Output of a git command run in a workspace. */
interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
  truncated: boolean;
}

/** Options of the workspace git service. */
export interface WorkspaceGitOptions {
  /** Longest a network operation (pull, push) may take. */
  networkTimeoutMs?: number;
  /** Largest diff returned; beyond it the diff is cut and marked truncated. */
  maxDiffBytes?: number;
}

// Stable, parseable output whatever the user's configuration says.
const GIT = ['git', '-c', 'color.ui=false', '-c', 'core.quotePath=false', '-c', 'advice.statusHints=false'];
const ENV = { LC_ALL: 'C', LANGUAGE: 'C', GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0', GIT_PAGER: 'cat', GIT_EDITOR: 'true' };

/** status, diff, stage, unstage, discard, commit, pull and push inside a workspace. */
export class WorkspaceGit {
  private readonly networkTimeoutMs: number;
  private readonly maxDiffBytes: number;

  constructor(o: WorkspaceGitOptions = {}) {
    this.networkTimeoutMs = o.networkTimeoutMs ?? 300_000;
    this.maxDiffBytes = o.maxDiffBytes ?? 4 * 1024 * 1024;
  }

  /** Runs git in the checkout and collects its output. */
  private async git(t: GitTarget, args: string[], opts: { timeoutMs?: number; maxBytes?: number; env?: Record<string, string> } = {}): Promise<ExecResult> {
    const controller = new AbortController();
    const proc = await t.provisioner.exec(t.ctx, { cmd: [...GIT, ...args], tty: false, env: { ...ENV, ...opts.env }, signal: controller.signal });
    proc.stdin.end();
    const max = opts.maxBytes ?? 1024 * 1024;
    let truncated = false;
    const collect = (stream: NodeJS.ReadableStream | null) => {
      const chunks: Buffer[] = [];
      let len = 0;
      stream?.on('data', (d: Buffer | string) => {
        const b = typeof d === 'string' ? Buffer.from(d) : d;
        if (len + b.length > max) {
          if (len < max) chunks.push(b.subarray(0, max - len));
          truncated = true;
        } else chunks.push(b);
        len += b.length;
      });
      return () => Buffer.concat(chunks).toString('utf8');
    };
    const out = collect(proc.stdout);
    const err = collect(proc.stderr);
    const timer = setTimeout(() => {
      controller.abort();
      proc.kill('SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    try {
      const { code } = await proc.exited;
      if (controller.signal.aborted) throw new BerthError('git_timeout', `git ${args[0]} did not finish within ${Math.round((opts.timeoutMs ?? 60_000) / 1000)}s and was stopped.`);
      return { code: code ?? 128, stdout: out(), stderr: scrubTokens(err()), truncated };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Throws a useful error for a failed git command. */
  private fail(what: string, r: ExecResult): never {
    const text = lastLines(`${r.stderr}\n${r.stdout}`, 12);
    if (/not a git repository/i.test(text)) throw new ConflictError(`The workspace has no git checkout in its work directory, so it cannot ${what}.`);
    if (/pathspec .* did not match|did not match any file/i.test(text)) throw new InputError(`git could not ${what}: ${text}`);
    // A path that leads out of the checkout (through '..', an absolute path or a symbolic link) is the caller's mistake.
    if (/outside repository|beyond a symbolic link|pathspec/i.test(text)) {
      throw new InputError(`git could not ${what} because a path is outside the checkout or not a valid path in it; give paths relative to the repository root. git said: ${text}`);
    }
    throw new BerthError('git_failed', `git could not ${what}: ${text || `exit code ${r.code}`}`, { details: { exitCode: r.code } });
  }

  /** Branch, ahead/behind and per-file state. */
  async status(t: GitTarget): Promise<GitStatus> {
    const r = await this.git(t, ['status', '--porcelain=v2', '--branch', '-z', '--untracked-files=all'], { maxBytes: 16 * 1024 * 1024 });
    if (r.code !== 0) this.fail('read the status', r);
    return parseStatus(r.stdout);
  }

  /** Staged and unstaged changes per file, optionally for some paths only. */
  async diff(t: GitTarget, paths: string[] = []): Promise<GitDiff> {
    for (const p of paths) this.assertInside(p);
    const spec = paths.length ? ['--', ...paths] : [];
    const args = ['diff', '--no-ext-diff', '--no-textconv', '-M'];
    const [staged, unstaged] = await Promise.all([
      this.git(t, [...args, '--cached', ...spec], { maxBytes: this.maxDiffBytes }),
      this.git(t, [...args, ...spec], { maxBytes: this.maxDiffBytes }),
    ]);
    for (const r of [staged, unstaged]) if (r.code !== 0 && !/bad revision 'HEAD'|ambiguous argument 'HEAD'/.test(r.stderr)) this.fail('compute the diff', r);
    return { staged: splitDiff(staged.stdout), unstaged: splitDiff(unstaged.stdout), truncated: staged.truncated || unstaged.truncated };
  }

  /** `git add` of the paths (or of everything, with `all`). */
  async stage(t: GitTarget, sel: GitPaths): Promise<GitStatus> {
    const r = await this.git(t, ['add', '-A', '--', ...this.paths(sel)]);
    if (r.code !== 0) this.fail('stage the files', r);
    return this.status(t);
  }

  /** Takes the paths (or everything) out of the index again, keeping the work tree. */
  async unstage(t: GitTarget, sel: GitPaths): Promise<GitStatus> {
    const r = await this.git(t, ['reset', '-q', '--', ...this.paths(sel)]);
    // Before the first commit there is no HEAD to reset to; removing from the index is the same thing.
    if (r.code !== 0) {
      const rm = await this.git(t, ['rm', '-r', '-q', '--cached', '--ignore-unmatch', '--', ...this.paths(sel)]);
      if (rm.code !== 0) this.fail('unstage the files', r);
    }
    return this.status(t);
  }

  /** Throws away unstaged changes of the paths: tracked files return to their staged state, untracked ones are deleted. */
  async discard(t: GitTarget, sel: GitPaths): Promise<GitStatus> {
    const wanted = sel.all ? null : new Set(this.paths(sel));
    const before = await this.status(t);
    const pick = (f: GitStatus['files'][number]) => wanted === null || wanted.has(f.path) || [...wanted].some((w) => f.path.startsWith(`${w.replace(/\/$/, '')}/`));
    const untracked = before.files.filter((f) => f.worktree === 'untracked' && pick(f)).map((f) => f.path);
    const tracked = before.files.filter((f) => f.worktree !== 'untracked' && f.worktree !== 'unmodified' && f.worktree !== 'ignored' && pick(f)).map((f) => f.path);
    if (wanted && untracked.length + tracked.length === 0) throw new InputError(`None of ${[...wanted].join(', ')} has unstaged changes to discard.`);
    if (tracked.length) {
      const r = await this.git(t, ['checkout', '-q', '--', ...tracked]);
      if (r.code !== 0) this.fail('discard the changes', r);
    }
    if (untracked.length) {
      const r = await this.git(t, ['clean', '-f', '-q', '--', ...untracked]);
      if (r.code !== 0) this.fail('delete the untracked files', r);
    }
    return this.status(t);
  }

  /**
   * Commits what is staged (with `all`, every tracked change). The author is the workspace's owner
   * (`<name>@berth.local`) unless the checkout or the user's git configuration names someone.
   */
  async commit(t: GitTarget, input: { message: string; all?: boolean }): Promise<GitCommitResult> {
    if (!input.message.trim()) throw new InputError('The commit message must not be empty.');
    assertNoNul(input.message, 'message');
    const r = await this.git(t, ['commit', '-m', input.message, ...(input.all ? ['-a'] : [])], { env: await this.identity(t) });
    const output = `${r.stdout}${r.stderr}`;
    if (r.code !== 0) {
      if (/nothing to commit|no changes added to commit|nothing added to commit/i.test(output)) {
        throw new ConflictError(
          input.all ? 'There is nothing to commit: the checkout has no changes to tracked files.' : 'There is nothing to commit: no changes are staged. Stage files first, or commit with all: true (--all).',
          { details: { reason: 'nothing_to_commit' } },
        );
      }
      if (/unmerged files|unresolved conflict/i.test(output)) {
        throw new ConflictError('The checkout has unresolved merge conflicts; resolve and stage the conflicted files before committing.', { details: { reason: 'merge_conflict' } });
      }
      this.fail('commit', r);
    }
    const head = await this.git(t, ['rev-parse', 'HEAD']);
    const after = await this.status(t);
    return { commit: head.stdout.trim(), branch: after.branch, summary: r.stdout.split('\n')[0]!.trim() };
  }

  /** Author and committer for commits Berth makes: the workspace owner, unless git in the workspace names someone. */
  private async identity(t: GitTarget): Promise<Record<string, string>> {
    if ((await this.git(t, ['config', 'user.email'])).code === 0) return {};
    const name = t.ctx.owner.name;
    const email = `${name}@berth.local`;
    return { GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_COMMITTER_NAME: name, GIT_COMMITTER_EMAIL: email };
  }

  /** Pulls from the branch's upstream through the gateway (merge by default, rebase on request). */
  async pull(t: GitTarget, opts: GitSyncOptions = {}): Promise<GitSyncResult> {
    const r = await this.git(t, ['pull', '--no-edit', opts.rebase ? '--rebase' : '--no-rebase'], { timeoutMs: this.networkTimeoutMs, env: await this.identity(t) });
    const output = `${r.stdout}${r.stderr}`.trim();
    if (r.code !== 0) {
      const status = await this.status(t).catch(() => undefined);
      const conflicted = status?.files.filter((f) => f.conflicted).map((f) => f.path) ?? [];
      if (conflicted.length || /CONFLICT|Automatic merge failed|could not apply/i.test(output)) {
        throw new ConflictError(`The pull stopped on merge conflicts in ${conflicted.join(', ') || 'some files'}; resolve them, stage the files and commit (or run "git merge --abort" / "git rebase --abort" in the workspace).`, {
          details: { reason: 'merge_conflict', files: conflicted, output },
        });
      }
      if (/would be overwritten|Please commit your changes or stash them|cannot pull with rebase: You have unstaged changes/i.test(output)) {
        throw new ConflictError(`The pull would overwrite uncommitted changes; commit, stash or discard them first. git said:\n${lastLines(output, 12)}`, { details: { reason: 'local_changes', output } });
      }
      if (/There is no tracking information|no such ref was fetched/i.test(output)) {
        throw new ConflictError(`The current branch has no upstream branch to pull from. git said:\n${lastLines(output, 6)}`, { details: { reason: 'no_upstream', output } });
      }
      this.fail('pull', r);
    }
    return { output, status: await this.status(t) };
  }

  /** Pushes the current branch to origin (the gateway, which relays to the upstream), setting the upstream branch if there is none. */
  async push(t: GitTarget, opts: GitSyncOptions = {}): Promise<GitSyncResult> {
    const before = await this.status(t);
    if (!before.branch) throw new ConflictError('HEAD is detached; check out a branch before pushing.');
    const args = ['push', '--porcelain', ...(opts.force ? ['--force-with-lease'] : []), ...(before.upstream ? [] : ['--set-upstream']), 'origin', `HEAD:refs/heads/${before.branch}`];
    const r = await this.git(t, args, { timeoutMs: this.networkTimeoutMs });
    const output = `${r.stdout}${r.stderr}`.trim();
    if (r.code !== 0) {
      if (/^!\t|\[rejected\]|\[remote rejected\]|failed to push/m.test(output)) {
        throw new ConflictError(`The push was rejected; nothing was changed. git said:\n${lastLines(output, 30)}`, { details: { reason: 'push_rejected', output } });
      }
      this.fail('push', r);
    }
    return { output, status: await this.status(t) };
  }

  private paths(sel: GitPaths): string[] {
    if (sel.all) return ['.'];
    const paths = sel.paths ?? [];
    if (paths.length === 0) throw new InputError('Name the files (paths) or pass all: true.');
    for (const p of paths) this.assertInside(p);
    return paths;
  }

  /** Refuses paths that could name something outside the checkout before git sees them. */
  private assertInside(p: string): void {
    if (p.includes('\0')) throw new InputError('Paths must not contain NUL characters.');
    if (p.startsWith('/')) throw new InputError(`The path "${p}" is absolute; give paths relative to the repository root.`);
    if (p.split('/').includes('..')) throw new InputError(`The path "${p}" contains a ".." segment; give paths inside the checkout, relative to the repository root.`);
  }
}
