/** `berth ws fork`: new workspaces starting from a copy of another's files, each on its own branch. */
import type { Command } from 'commander';
import type { BerthClient } from '../sdk/client.ts';
import type { Workspace } from '../sdk/wire.ts';
import { CliError, client } from './context.ts';
import { json, table } from './output.ts';

interface ForkOpts {
  count?: string;
  branch?: string;
  wait?: boolean;
  json?: boolean;
}

/** Polls until every fork is running; throws naming those that failed. */
async function waitRunning(c: BerthClient, forks: Workspace[]): Promise<Workspace[]> {
  let current = forks;
  const announced = new Set<string>();
  for (;;) {
    for (const w of current) {
      if (w.phase === 'running' && !announced.has(w.id)) {
        announced.add(w.id);
        process.stderr.write(`${w.name} is running on branch ${w.forkedFrom?.branch ?? '?'}.\n`);
      }
    }
    const failed = current.filter((w) => w.phase === 'failed');
    if (failed.length) throw new CliError(`Fork${failed.length > 1 ? 's' : ''} failed: ${failed.map((w) => `${w.name} (${w.message ?? 'see berth ws logs'})`).join('; ')}`);
    if (current.every((w) => w.phase === 'running')) return current;
    await new Promise((r) => setTimeout(r, 500));
    current = await Promise.all(current.map((w) => c.getWorkspace(w.id)));
  }
}

/** Registers `ws fork` on the `ws` command group. */
export function addWsForkCommand(ws: Command): void {
  ws.command('fork <source> <name>')
    .description(
      "Fork a workspace: a new one (owned by you, same project and spec) starting from a copy of the source's files, " +
        'uncommitted changes included, on its own branch (fork/NAME), with its own token, env and ports. The source keeps running.',
    )
    .option('--count <n>', 'How many forks (1-50); more than 1 names them NAME-1..NAME-N')
    .option('--branch <branch>', 'Branch to check out in the fork (default fork/NAME; with --count suffixed -1..-N)')
    .option('--wait', 'Wait until every fork is running')
    .option('--json', 'JSON output')
    .action(async (source: string, name: string, opts: ForkOpts) => {
      const count = opts.count === undefined ? undefined : Number(opts.count);
      if (count !== undefined && (!Number.isInteger(count) || count < 1 || count > 50)) throw new CliError(`--count "${opts.count}" is not a whole number from 1 to 50.`);
      const c = client();
      let forks = await c.forkWorkspace(source, { name, ...(count !== undefined ? { count } : {}), ...(opts.branch ? { branch: opts.branch } : {}) });
      if (!opts.json) process.stderr.write(`Forked ${source} into ${forks.map((w) => w.name).join(', ')}.\n`);
      if (opts.wait) forks = await waitRunning(c, forks);
      if (opts.json) json(forks);
      else process.stdout.write(`${table(['NAME', 'ID', 'BRANCH', 'PHASE'], forks.map((w) => [w.name, w.id, w.forkedFrom?.branch ?? '', w.phase]))}\n`);
    });
}
