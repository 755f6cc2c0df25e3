/** `berth ws git NAME ACTION`: git operations on a workspace's checkout, run inside the workspace by the server. */
import type { Command } from 'commander';
import type { GitDiff, GitStatus } from '../sdk/wire.ts';
import { CliError, client } from './context.ts';
import { json } from './output.ts';

const LETTER: Record<string, string> = {
  unmodified: '.',
  modified: 'M',
  'type-changed': 'T',
  added: 'A',
  deleted: 'D',
  renamed: 'R',
  copied: 'C',
  unmerged: 'U',
  untracked: '?',
  ignored: '!',
};

/** `git status -sb`-like text. */
export function formatStatus(s: GitStatus): string {
  let head = s.detached ? `HEAD (detached at ${s.commit?.slice(0, 7) ?? '?'})` : (s.branch ?? '?');
  if (s.upstream) head += `...${s.upstream}`;
  const ab = [s.ahead ? `ahead ${s.ahead}` : '', s.behind ? `behind ${s.behind}` : ''].filter(Boolean).join(', ');
  const lines = [`## ${head}${ab ? ` [${ab}]` : ''}`];
  for (const f of s.files) {
    const xy = f.index === 'untracked' ? '??' : f.conflicted ? 'UU' : `${LETTER[f.index] ?? '?'}${LETTER[f.worktree] ?? '?'}`;
    lines.push(`${xy} ${f.origPath ? `${f.origPath} -> ` : ''}${f.path}`);
  }
  if (s.clean) lines.push('(nothing to commit, working tree clean)');
  return lines.join('\n');
}

function formatDiff(d: GitDiff): string {
  const out: string[] = [];
  for (const [title, files] of [['Staged changes', d.staged], ['Unstaged changes', d.unstaged]] as const) {
    if (files.length === 0) continue;
    out.push(`# ${title} (${files.length} file${files.length === 1 ? '' : 's'})`);
    for (const f of files) out.push(f.patch.trimEnd());
  }
  if (d.truncated) out.push('# (diff truncated: too large)');
  return out.length ? out.join('\n') : '(no changes)';
}

const ACTIONS = ['status', 'diff', 'stage', 'unstage', 'discard', 'commit', 'pull', 'push'] as const;

/** Adds `git` under the `ws` command. */
export function addGitCommand(ws: Command): void {
  ws.command('git <name> <action> [paths...]')
    .description(`Git in the workspace's checkout. Actions: ${ACTIONS.join(', ')}. Examples: berth ws git NAME status; berth ws git NAME commit -m MSG --all; berth ws git NAME push`)
    .option('-m, --message <message>', 'Commit message (commit)')
    .option('-a, --all', 'commit: include every tracked change; stage/unstage/discard: every file')
    .option('--rebase', 'pull: rebase instead of merge')
    .option('--force', 'push: force, with a lease on what was last fetched')
    .option('--json', 'JSON output')
    .action(async (name: string, action: string, paths: string[], opts: { message?: string; all?: boolean; rebase?: boolean; force?: boolean; json?: boolean }) => {
      if (!(ACTIONS as readonly string[]).includes(action)) throw new CliError(`Unknown git action "${action}"; use one of ${ACTIONS.join(', ')}.`);
      const c = client();
      const print = (value: unknown, text: string) => (opts.json ? json(value) : process.stdout.write(`${text}\n`));
      switch (action) {
        case 'status': {
          const s = await c.gitStatus(name);
          print(s, formatStatus(s));
          break;
        }
        case 'diff': {
          const d = await c.gitDiff(name, paths);
          print(d, formatDiff(d));
          break;
        }
        case 'stage':
        case 'unstage':
        case 'discard': {
          if (!opts.all && paths.length === 0) throw new CliError(`Name the files to ${action}, or pass --all.`);
          const s = await c.gitPaths(name, action, opts.all ? { all: true } : { paths });
          print(s, formatStatus(s));
          break;
        }
        case 'commit': {
          if (!opts.message) throw new CliError('Pass the commit message with -m MESSAGE.');
          const r = await c.gitCommit(name, opts.message, opts.all === true);
          print(r, r.summary || `Committed ${r.commit.slice(0, 7)}.`);
          break;
        }
        case 'pull':
        case 'push': {
          const r = await c.gitSync(name, action, action === 'pull' ? (opts.rebase ? { rebase: true } : {}) : opts.force ? { force: true } : {});
          print(r, `${r.output ? `${r.output}\n` : ''}${formatStatus(r.status).split('\n')[0]}`);
          break;
        }
      }
    });
}
