/** `berth quota set|show` and `berth project provisioners set|show`: quotas and the provisioners a project may use. */
import { Command, InvalidArgumentError } from 'commander';
import { formatSize } from '../core/units.ts';
import type { ProjectProvisioners, Quota, QuotaInput } from '../sdk/policy.ts';
import { CliError, client } from './context.ts';
import { json, table } from './output.ts';

interface SubjectOpts {
  user?: string;
  project?: string;
  json?: boolean;
}

/** The quota's path for --user or --project, exactly one of them. */
function quotaPath(opts: SubjectOpts): string {
  if ((opts.user === undefined) === (opts.project === undefined)) throw new CliError('Name exactly one of --user NAME or --project NAME.');
  return opts.user !== undefined ? `/api/v1/users/${encodeURIComponent(opts.user)}/quota` : `/api/v1/projects/${encodeURIComponent(opts.project!)}/quota`;
}

function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('Not a whole number.');
  return Number(value);
}

function cpuCount(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new InvalidArgumentError('Not a number of CPUs such as 4 or 0.5.');
  return Number(value);
}

/** A quota as a table: each resource with its limit and what is in use. */
function describeQuota(q: Quota): string {
  const show = (v: number | null, f: (n: number) => string) => (v === null ? 'no limit' : f(v));
  const rows = [
    ['workspaces', show(q.limits.workspaces, String), String(q.used.workspaces)],
    ['cpus', show(q.limits.cpus, String), String(q.used.cpus)],
    ['memory', show(q.limits.memory, formatSize), formatSize(q.used.memory)],
    ['storage', show(q.limits.storage, formatSize), formatSize(q.used.storage)],
  ];
  return `Quota of ${q.scope} ${q.subject}:\n${table(['RESOURCE', 'LIMIT', 'USED'], rows)}`;
}

function describeProvisioners(r: ProjectProvisioners): string {
  return r.provisioners.length > 0 ? `Project ${r.project} may use: ${r.provisioners.join(', ')}.\n` : `Project ${r.project} may use any provisioner.\n`;
}

function withSubject(cmd: Command): Command {
  return cmd.option('--user <name>', 'The user').option('--project <name>', 'The project').option('--json', 'JSON output');
}

/** Adds the `quota` group and `project provisioners` (after the `project` group exists). */
export function addPolicyCommands(program: Command): void {
  const quota = program.command('quota').description('Show or set quotas of users and projects: workspaces, CPUs, memory, storage.');
  withSubject(quota.command('set'))
    .description(
      'Set the quota of a user or project (admin). It replaces the whole quota: a limit not given is lifted. Under a CPU, memory or storage limit each new workspace must set that resource in its spec (spec.resources.cpus, memory, disk).',
    )
    .option('--workspaces <n>', 'Most workspaces (running or stopped)', wholeNumber)
    .option('--cpu <n>', 'Most CPUs across workspaces', cpuCount)
    .option('--memory <size>', 'Most memory across workspaces, e.g. 8GiB')
    .option('--storage <size>', 'Most storage (spec.resources.disk) across workspaces, e.g. 50GiB')
    .action(async (opts: SubjectOpts & { workspaces?: number; cpu?: number; memory?: string; storage?: string }) => {
      const body: QuotaInput = {
        ...(opts.workspaces !== undefined ? { workspaces: opts.workspaces } : {}),
        ...(opts.cpu !== undefined ? { cpus: opts.cpu } : {}),
        ...(opts.memory !== undefined ? { memory: opts.memory } : {}),
        ...(opts.storage !== undefined ? { storage: opts.storage } : {}),
      };
      const q = await client().request<Quota>('PUT', quotaPath(opts), body);
      if (opts.json) return json(q);
      process.stdout.write(`${describeQuota(q)}\n`);
    });
  withSubject(quota.command('show'))
    .description('Show the quota of a user (yourself, or anyone for an admin) or a project, with what its workspaces use; with neither flag, your own.')
    .action(async (opts: SubjectOpts) => {
      const c = client();
      const subject = opts.user === undefined && opts.project === undefined ? { ...opts, user: (await c.me()).user.name } : opts;
      const q = await c.request<Quota>('GET', quotaPath(subject));
      if (opts.json) return json(q);
      process.stdout.write(`${describeQuota(q)}\n`);
    });

  const project = program.commands.find((c) => c.name() === 'project') ?? program.command('project');
  const provisioners = project.command('provisioners').description('Which provisioners a project may use.');
  provisioners
    .command('set <project> [names...]')
    .description('Restrict a project to these provisioners (admin); with no names, it may use any.')
    .option('--json', 'JSON output')
    .action(async (name: string, names: string[], opts: { json?: boolean }) => {
      const r = await client().request<ProjectProvisioners>('PUT', `/api/v1/projects/${encodeURIComponent(name)}/provisioners`, { provisioners: names });
      if (opts.json) return json(r);
      process.stdout.write(describeProvisioners(r));
    });
  provisioners
    .command('show <project>')
    .description('Show which provisioners a project may use.')
    .option('--json', 'JSON output')
    .action(async (name: string, opts: { json?: boolean }) => {
      const r = await client().request<ProjectProvisioners>('GET', `/api/v1/projects/${encodeURIComponent(name)}/provisioners`);
      if (opts.json) return json(r);
      process.stdout.write(describeProvisioners(r));
    });
}
