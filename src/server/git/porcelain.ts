/** Parsers for git's machine-readable output: `status --porcelain=v2 --branch -z` and unified diffs. No I/O. */

/** State of one side (index or work tree) of a file, from a porcelain status letter. */
export type FileState = 'unmodified' | 'modified' | 'type-changed' | 'added' | 'deleted' | 'renamed' | 'copied' | 'unmerged' | 'untracked' | 'ignored';

const LETTER: Record<string, FileState> = { '.': 'unmodified', M: 'modified', T: 'type-changed', A: 'added', D: 'deleted', R: 'renamed', C: 'copied', U: 'unmerged' };

/** One entry of `git status`. */
export interface FileStatus {
  path: string;
  /** Source path of a rename or copy. */
  origPath?: string;
  /** Staged state (HEAD → index). */
  index: FileState;
  /** Unstaged state (index → work tree). */
  worktree: FileState;
  /** Whether the file has merge conflicts. */
  conflicted: boolean;
}

/** What `git status --porcelain=v2 --branch` says about a checkout. */
export interface StatusSummary {
  /** Current branch; null when detached. */
  branch: string | null;
  detached: boolean;
  /** HEAD commit; null before the first commit. */
  commit: string | null;
  /** Upstream branch, e.g. `origin/main`; null when none is set. */
  upstream: string | null;
  ahead: number;
  behind: number;
  clean: boolean;
  files: FileStatus[];
}

/** Parses `git status --porcelain=v2 --branch -z` output. */
export function parseStatus(out: string): StatusSummary {
  const s: StatusSummary = { branch: null, detached: false, commit: null, upstream: null, ahead: 0, behind: 0, clean: true, files: [] };
  const parts = out.split('\0');
  for (let i = 0; i < parts.length; i++) {
    const rec = parts[i]!;
    if (rec === '') continue;
    if (rec.startsWith('# ')) {
      const [, key, ...rest] = rec.split(' ');
      const value = rest.join(' ');
      if (key === 'branch.oid') s.commit = value === '(initial)' ? null : value;
      else if (key === 'branch.head') {
        s.detached = value === '(detached)';
        s.branch = s.detached ? null : value;
      } else if (key === 'branch.upstream') s.upstream = value;
      else if (key === 'branch.ab') {
        const m = /^\+(\d+) -(\d+)$/.exec(value);
        if (m) {
          s.ahead = Number(m[1]);
          s.behind = Number(m[2]);
        }
      }
      continue;
    }
    const kind = rec[0];
    if (kind === '1') {
      // 1 XY sub mH mI mW hH hI path
      const f = fields(rec, 8);
      s.files.push(entry(f.head[1]!, f.rest));
    } else if (kind === '2') {
      // 2 XY sub mH mI mW hH hI Xscore path, then origPath as the next NUL-separated record
      const f = fields(rec, 9);
      s.files.push({ ...entry(f.head[1]!, f.rest), origPath: parts[++i] ?? '' });
    } else if (kind === 'u') {
      // u XY sub m1 m2 m3 mW h1 h2 h3 path
      const f = fields(rec, 10);
      s.files.push({ path: f.rest, index: 'unmerged', worktree: 'unmerged', conflicted: true });
    } else if (kind === '?') {
      s.files.push({ path: rec.slice(2), index: 'untracked', worktree: 'untracked', conflicted: false });
    } else if (kind === '!') {
      s.files.push({ path: rec.slice(2), index: 'ignored', worktree: 'ignored', conflicted: false });
    }
  }
  s.clean = s.files.every((f) => f.index === 'ignored');
  return s;
}

function fields(rec: string, n: number): { head: string[]; rest: string } {
  const head: string[] = [];
  let pos = 0;
  for (let k = 0; k < n; k++) {
    const sp = rec.indexOf(' ', pos);
    head.push(rec.slice(pos, sp));
    pos = sp + 1;
  }
  return { head, rest: rec.slice(pos) };
}

function entry(xy: string, path: string): FileStatus {
  return { path, index: LETTER[xy[0]!] ?? 'modified', worktree: LETTER[xy[1]!] ?? 'modified', conflicted: false };
}

/** How a file changed in a diff. */
export type ChangeKind = 'added' | 'deleted' | 'modified' | 'renamed' | 'copied' | 'mode-changed';

/** The diff of one file. */
export interface FileDiff {
  path: string;
  /** Path before a rename or copy. */
  oldPath?: string;
  change: ChangeKind;
  binary: boolean;
  additions: number;
  deletions: number;
  /** The unified diff of this file, headers included. */
  patch: string;
}

/** Undoes git's C-style quoting of a path ("a\\tb" with quotes), leaving unquoted paths alone. */
export function unquotePath(p: string): string {
  if (!(p.startsWith('"') && p.endsWith('"') && p.length >= 2)) return p;
  const body = p.slice(1, -1);
  const bytes: number[] = [];
  const simple: Record<string, number> = { n: 10, t: 9, r: 13, '"': 34, '\\': 92, a: 7, b: 8, f: 12, v: 11 };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const n = body[i + 1] ?? '';
    if (/[0-7]/.test(n)) {
      bytes.push(parseInt(body.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      bytes.push(simple[n] ?? n.charCodeAt(0));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function stripPrefix(p: string, prefix: 'a/' | 'b/'): string {
  const u = unquotePath(p.replace(/\t$/, ''));
  return u.startsWith(prefix) ? u.slice(2) : u;
}

/** Splits `git diff` output (no colour, default prefixes) into one entry per file. */
export function splitDiff(out: string): FileDiff[] {
  const files: FileDiff[] = [];
  const lines = out.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let cur: (Omit<FileDiff, 'patch'> & { lines: string[]; inHunk: boolean }) | undefined;
  const finish = () => {
    if (!cur) return;
    const { lines: ls, inHunk, ...rest } = cur;
    void inHunk;
    files.push({ ...rest, patch: `${ls.join('\n')}\n` });
    cur = undefined;
  };
  for (const line of lines) {
    if (line.startsWith('diff --git ')) {
      finish();
      const header = line.slice('diff --git '.length);
      cur = { path: headerPath(header), change: 'modified', binary: false, additions: 0, deletions: 0, lines: [line], inHunk: false };
      continue;
    }
    if (!cur) continue;
    cur.lines.push(line);
    if (cur.inHunk) {
      if (line.startsWith('+')) cur.additions++;
      else if (line.startsWith('-')) cur.deletions++;
      continue;
    }
    if (line.startsWith('@@')) cur.inHunk = true;
    else if (line.startsWith('new file mode')) cur.change = 'added';
    else if (line.startsWith('deleted file mode')) cur.change = 'deleted';
    else if (line.startsWith('rename from ')) {
      cur.change = 'renamed';
      cur.oldPath = unquotePath(line.slice('rename from '.length));
    } else if (line.startsWith('rename to ')) cur.path = unquotePath(line.slice('rename to '.length));
    else if (line.startsWith('copy from ')) {
      cur.change = 'copied';
      cur.oldPath = unquotePath(line.slice('copy from '.length));
    } else if (line.startsWith('copy to ')) cur.path = unquotePath(line.slice('copy to '.length));
    else if (line.startsWith('old mode ') && cur.change === 'modified') cur.change = 'mode-changed';
    else if (line.startsWith('new mode ')) {
      /* covered by "old mode" */
    } else if (line.startsWith('--- ') && line !== '--- /dev/null') {
      if (cur.change === 'mode-changed') cur.change = 'modified';
      if (!cur.oldPath && cur.change !== 'renamed' && cur.change !== 'copied') cur.path = stripPrefix(line.slice(4), 'a/');
    } else if (line.startsWith('+++ ') && line !== '+++ /dev/null') {
      if (cur.change === 'mode-changed') cur.change = 'modified';
      cur.path = stripPrefix(line.slice(4), 'b/');
    } else if (line.startsWith('Binary files ') || line === 'GIT binary patch') cur.binary = true;
  }
  finish();
  return files;
}

/** The path in a `diff --git a/P b/P` header when both sides are the same (the usual case). */
function headerPath(header: string): string {
  if (header.startsWith('"')) {
    const end = header.indexOf('" ', 1);
    return stripPrefix(header.slice(0, end + 1), 'a/');
  }
  if ((header.length - 5) % 2 === 0) {
    const len = (header.length - 5) / 2;
    const p = header.slice(2, 2 + len);
    if (header.slice(2 + len) === ` b/${p}`) return p;
  }
  const i = header.indexOf(' b/');
  return i > 0 ? header.slice(2, i) : header;
}
