/** The changes page's calls to the workspace git API (src/server/routes/git.ts), and the words for file states. */
import type { GitCommitResult, GitDiff, GitStatus, GitSyncResult } from '../../../src/sdk/wire.ts';
import { get, post } from '../api.ts';

/** One file of a status. */
export type GitFileStatus = GitStatus['files'][number];
/** One file's diff. */
export type GitFileDiff = GitDiff['staged'][number];

const base = (ws: string) => `/workspaces/${encodeURIComponent(ws)}/git`;

/** Typed git calls for one workspace. */
export const gitApi = {
  status: (ws: string) => get<GitStatus>(`${base(ws)}/status`),
  diff: (ws: string) => get<GitDiff>(`${base(ws)}/diff`),
  stage: (ws: string, paths: string[]) => post<GitStatus>(`${base(ws)}/stage`, { paths }),
  unstage: (ws: string, paths: string[]) => post<GitStatus>(`${base(ws)}/unstage`, { paths }),
  stageAll: (ws: string) => post<GitStatus>(`${base(ws)}/stage`, { all: true }),
  unstageAll: (ws: string) => post<GitStatus>(`${base(ws)}/unstage`, { all: true }),
  discard: (ws: string, paths: string[]) => post<GitStatus>(`${base(ws)}/discard`, { paths }),
  commit: (ws: string, message: string) => post<GitCommitResult>(`${base(ws)}/commit`, { message }),
  pull: (ws: string) => post<GitSyncResult>(`${base(ws)}/pull`, {}),
  push: (ws: string) => post<GitSyncResult>(`${base(ws)}/push`, {}),
};

/** True when the file has changes in the work tree (stage or discard apply). */
export function hasUnstaged(f: GitFileStatus): boolean {
  return f.worktree !== 'unmodified' && f.worktree !== 'ignored';
}

/** True when the file has staged changes (unstage applies); an untracked file has none. */
export function hasStaged(f: GitFileStatus): boolean {
  return f.index !== 'unmodified' && f.index !== 'untracked' && f.index !== 'ignored';
}

/** How the file's state reads in the list: staged part, then unstaged part. */
export function describeFile(f: GitFileStatus): string {
  if (f.conflicted) return 'conflicted';
  if (f.worktree === 'untracked') return 'untracked';
  const parts: string[] = [];
  if (hasStaged(f)) parts.push(`${f.index} (staged)`);
  if (hasUnstaged(f)) parts.push(`${f.worktree}${hasStaged(f) ? ' (unstaged)' : ''}`);
  return parts.join(', ') || 'unmodified';
}

/** "3 ahead, 1 behind origin/main", or why there is no such comparison. */
export function describeSync(s: GitStatus): string {
  if (!s.upstream) return 'no upstream branch yet (a push sets it)';
  if (s.ahead === 0 && s.behind === 0) return `up to date with ${s.upstream}`;
  const parts = [s.ahead ? `${s.ahead} ahead` : '', s.behind ? `${s.behind} behind` : ''].filter(Boolean);
  return `${parts.join(', ')} ${s.upstream}`;
}
