/** `berth task run|list|show|logs|rm`: one command fanned out to N workspaces, with a live table of the runs. */
import fs from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import type { SpecInput } from '../core/spec.ts';
import type { Cleanup, RunTask, Task, TaskRun } from '../sdk/tasks.ts';
import { CliError, client } from './context.ts';
import { json, table } from './output.ts';

function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('Not a whole number.');
  return Number(value);
}

/** The spec of every run's workspace: a JSON file, with --image on top. */
function specOf(file: string | undefined, image: string | undefined): SpecInput | undefined {
  let spec: SpecInput | undefined;
  if (file) {
    try {
      spec = JSON.parse(fs.readFileSync(file, 'utf8')) as SpecInput;
    } catch (err) {
      throw new CliError(`Cannot read the spec file ${file} as JSON: ${(err as Error).message}`);
    }
  }
  return image ? { ...spec, image } : spec;
}

const KEEP: Record<string, Cleanup> = { failed: 'keep-failed', all: 'keep-all', none: 'delete-all' };

/** The one-line state of a run: its phase, or its step while it runs. */
function state(r: TaskRun): string {
  if (r.phase === 'running') return r.step;
  if (r.phase === 'failed' && r.exitCode !== null && r.exitCode !== 0) return `failed (exit ${r.exitCode})`;
  return r.phase;
}

/** Why a run did not succeed, unless that only repeats its exit code (shown already). */
function reason(r: TaskRun): string | null {
  return r.phase !== 'succeeded' && r.message && !/^The command exited with code/.test(r.message) ? r.message : null;
}

function seconds(ms: number | null): string {
  return ms === null ? '' : `${(ms / 1000).toFixed(1)}s`;
}

/** The runs as a table: index, workspace, state, duration, last line. */
export function runTable(runs: TaskRun[], width = 200): string {
  const rows = runs.map((r) => [String(r.index), r.workspace, state(r), seconds(r.durationMs), (reason(r) ?? r.lastLine ?? '').slice(0, Math.max(20, width - 70))]);
  return table(['#', 'WORKSPACE', 'STATE', 'TIME', 'LAST LINE'], rows);
}

/** The end of a task in a few lines: successes, each failure with its reason, the branches. */
export function summary(t: Task): string {
  const s = t.summary;
  const lines = [`Task ${t.id}: ${s.succeeded} succeeded, ${s.failed} failed${s.interrupted ? `, ${s.interrupted} interrupted` : ''}${s.pending ? `, ${s.pending} not finished` : ''} (of ${t.count}).`];
  for (const r of t.runs.filter((x) => x.phase !== 'succeeded' && x.phase !== 'queued' && x.phase !== 'running')) {
    lines.push(`  run ${r.index} (${r.workspace}) ${r.phase}${r.exitCode !== null ? ` with exit code ${r.exitCode}` : ''}${reason(r) ? `: ${reason(r)}` : ''}`);
  }
  const pushed = t.runs.filter((r) => r.pushed && r.branch);
  if (pushed.length) lines.push(`Branches pushed: ${pushed.length}${pushed.length <= 3 ? ` (${pushed.map((r) => r.branch).join(', ')})` : ` (${pushed[0]!.branch} … ${pushed[pushed.length - 1]!.branch})`}.`);
  const kept = t.runs.filter((r) => r.workspaceId && !(t.cleanup === 'delete-all' || (t.cleanup === 'keep-failed' && r.phase === 'succeeded')));
  if (kept.length) lines.push(`Workspaces kept: ${kept.map((r) => r.workspace).join(', ')}.`);
  return lines.join('\n');
}

/**
 * Shows runs as they change. On a terminal the table is redrawn in place (at most 5 times a
 * second); elsewhere each change of a run's state is one appended line.
 */
class LiveTable {
  private readonly runs = new Map<number, TaskRun>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly tty: boolean;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    this.tty = out.isTTY === true;
  }

  task(t: Task): void {
    for (const r of t.runs) this.run(r);
  }

  run(r: TaskRun): void {
    const before = this.runs.get(r.index);
    this.runs.set(r.index, r);
    if (!this.tty) {
      if (!before || state(before) !== state(r)) this.out.write(`run ${r.index} ${r.workspace}: ${state(r)}${r.phase === 'queued' ? '' : r.lastLine ? ` | ${r.lastLine}` : ''}\n`);
      return;
    }
    this.timer ??= setTimeout(() => this.draw(), 200);
  }

  /** Draws the last state now and stops redrawing. */
  close(): void {
    clearTimeout(this.timer);
    if (this.tty) this.draw();
  }

  private draw(): void {
    this.timer = undefined;
    const runs = [...this.runs.values()].sort((a, b) => a.index - b.index);
    const height = Math.max(5, (this.out.rows ?? 40) - 4);
    // More runs than lines: the ones in flight and the failures, with a count of the rest.
    const shown = runs.length <= height ? runs : runs.filter((r) => r.phase === 'running' || r.phase === 'failed').slice(0, height - 1);
    let text = runTable(shown, this.out.columns ?? 120);
    if (shown.length < runs.length) text += `\n… ${runs.filter((r) => r.phase === 'succeeded').length} succeeded, ${runs.filter((r) => r.phase === 'queued').length} queued`;
    const lines = text.split('\n').map((l) => l.slice(0, (this.out.columns ?? 120) - 1));
    if (this.drawn) this.out.write(`\x1b[${this.drawn}A`);
    this.out.write(`${lines.map((l) => `\r\x1b[K${l}`).join('\n')}\n\x1b[J`);
    this.drawn = lines.length;
  }
}

/** Follows a task to its end, showing the live table; resolves with the finished task. */
async function watch(id: string): Promise<Task> {
  const c = client();
  const live = new LiveTable();
  let last: Task | undefined;
  await c.tasks.followTask(id, (e) => {
    if (e.kind === 'run') live.run(e.run);
    else {
      live.task(e.task);
      last = e.task;
      return e.task.state !== 'running';
    }
  });
  live.close();
  // A stream that broke off before the end: ask for the task as it is now.
  return last?.state === 'running' || !last ? c.tasks.getTask(id) : last;
}

/** Adds the `task` command group. */
export function addTaskCommands(program: Command): void {
  const task = program
    .command('task')
    .description('Run one command in N workspaces at once (agents, tests, scripts) and collect each result as a branch.')
    .addHelpText(
      'after',
      '\nEach run gets BERTH_TASK_ID and BERTH_TASK_INDEX (0 to N-1), runs in its checkout on branch task/<id>/<index>,\n' +
        'and what it leaves uncommitted is committed and pushed to that branch through the gateway.\n' +
        'Example: berth task run --project app --count 20 -- sh -c \'echo $BERTH_TASK_INDEX > out.txt\'',
    );

  task
    .command('run')
    .description('Create N workspaces (or fork one N times), run the command in each, push a branch per run, clean up by policy. Exits non-zero if any run failed.')
    .requiredOption('--project <name>', 'The project')
    .option('--ref <branch>', 'Branch to check out (default: the project\'s)')
    .option('--from <workspace>', 'Fork this workspace for every run instead of cloning the project')
    .requiredOption('--count <n>', 'How many runs (1 to 200)', wholeNumber)
    .option('--provisioner <name>', 'Where the workspaces run')
    .option('--concurrency <n>', 'Runs in flight at once; the rest wait in a queue (default 4)', wholeNumber)
    .option('--spec <file>', 'Spec of every workspace, as a JSON file (as for ws create)')
    .option('--image <image>', 'Container image of every workspace')
    .option('--keep <what>', 'Workspaces to keep afterwards: failed, all or none', 'failed')
    .option('--detach', 'Print the task id and return; follow it with berth task show ID --follow')
    .option('--json', 'Print the finished task as JSON')
    .argument('<cmd...>', 'The command, after --')
    .action(async (cmd: string[], opts: { project: string; ref?: string; from?: string; count: number; provisioner?: string; concurrency?: number; spec?: string; image?: string; keep: string; detach?: boolean; json?: boolean }) => {
      const cleanup = KEEP[opts.keep];
      if (!cleanup) throw new CliError('--keep must be failed, all or none.');
      const spec = specOf(opts.spec, opts.image);
      const input: RunTask = {
        ...(spec ? { spec } : {}),
        project: opts.project,
        count: opts.count,
        cmd,
        cleanup,
        ...(opts.ref ? { ref: opts.ref } : {}),
        ...(opts.from ? { from: opts.from } : {}),
        ...(opts.provisioner ? { provisioner: opts.provisioner } : {}),
        ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
      };
      const started = await client().tasks.runTask(input);
      if (opts.detach) {
        process.stdout.write(`${started.id}\n`);
        return;
      }
      process.stderr.write(`Task ${started.id}: ${started.count} runs, ${started.concurrency} at a time. Ctrl-C stops watching; the task keeps running.\n`);
      const done = await watch(started.id);
      if (opts.json) json(done);
      else process.stdout.write(`${summary(done)}\n`);
      if (done.summary.succeeded !== done.count) process.exitCode = 1;
    });

  task
    .command('list')
    .description('List tasks: yours and those of projects you can read.')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }) => {
      const list = await client().tasks.listTasks();
      if (opts.json) return json(list);
      const rows = list.map((t) => [t.id, t.project, t.state, `${t.summary.succeeded}/${t.count}`, String(t.summary.failed), t.createdAt, t.cmd.join(' ').slice(0, 50)]);
      process.stdout.write(`${table(['ID', 'PROJECT', 'STATE', 'OK', 'FAILED', 'CREATED', 'COMMAND'], rows)}\n`);
    });

  task
    .command('show <id>')
    .description('Show a task and each run: workspace, state, exit code, duration, branch, diff stat, last line.')
    .option('--follow', 'Keep the table live until the task ends')
    .option('--json', 'JSON output')
    .action(async (id: string, opts: { follow?: boolean; json?: boolean }) => {
      const t = opts.follow ? await watch(id) : await client().tasks.getTask(id);
      if (opts.json) return json(t);
      const head = [`Task:     ${t.id} (${t.state})`, `Project:  ${t.project}${t.ref ? ` (${t.ref})` : ''}${t.from ? ` forked from ${t.from}` : ''}`, `Command:  ${t.cmd.join(' ')}`, `Runs:     ${t.count}, ${t.concurrency} at a time, cleanup ${t.cleanup}`];
      if (t.message) head.push(`Message:  ${t.message}`);
      const rows = t.runs.map((r) => [String(r.index), r.workspace, state(r), r.exitCode === null ? '' : String(r.exitCode), seconds(r.durationMs), r.pushed ? (r.branch ?? '') : '', (r.diffStat ?? '').split('\n').pop()!.trim(), reason(r) ?? r.lastLine ?? '']);
      process.stdout.write(`${head.join('\n')}\n\n${table(['#', 'WORKSPACE', 'STATE', 'EXIT', 'TIME', 'BRANCH', 'DIFF', 'LAST LINE'], rows)}\n`);
    });

  task
    .command('logs <id>')
    .description('Print the kept output (the last 64 KiB) of each run, or of one with --index.')
    .option('--index <i>', 'Only this run', wholeNumber)
    .action(async (id: string, opts: { index?: number }) => {
      const logs = await client().tasks.taskLogs(id, opts.index);
      for (const l of logs) process.stdout.write(opts.index !== undefined ? l.log : `==> run ${l.index} (${l.workspace})\n${l.log}${l.log.endsWith('\n') || !l.log ? '' : '\n'}`);
    });

  task
    .command('rm <id>')
    .description('Stop a task, delete the workspaces it kept, and forget it.')
    .action(async (id: string) => {
      const t = await client().tasks.deleteTask(id);
      process.stderr.write(`Task ${t.id} deleted with its workspaces.\n`);
    });
}
