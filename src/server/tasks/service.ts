/**
 * Tasks: one command fanned out to N workspaces. A task and its runs are stored before anything
 * starts; runs go through a queue of `concurrency` workers, so 200 runs never start at once. A
 * restarted control plane does not resume runs (their processes died with it): it marks what was
 * unfinished as interrupted, with a sentence saying where it stopped.
 */
import { assertExecStrings, assertSpecProcessStrings } from '../../core/process-input.ts';
import { EventEmitter } from 'node:events';
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { ForbiddenError, InputError, NotFoundError } from '../../core/errors.ts';
import { normalizeSpec } from '../../core/spec.ts';
import type { RunTask, Task, TaskEvent, TaskLog, TaskRun } from '../../sdk/tasks.ts';
import type { ProjectRow, UserRow } from '../../store/store.ts';
import type { Principal } from '../auth.ts';
import type { ProjectService } from '../projects.ts';
import { executeRun, type RunDeps } from './run.ts';
import { Slots } from './slots.ts';
import type { TaskRow, TaskRunPatch, TaskRunRow, TaskStore } from './store.ts';

/** Runs in flight per task unless the request says otherwise. */
export const DEFAULT_CONCURRENCY = 4;

/** Options of the task service. */
export interface TaskServiceOptions extends RunDeps {
  tasks: TaskStore;
  projects: ProjectService;
  logger: Logger;
  /** Runs in flight across all tasks; a task's own concurrency applies within it (default 16). */
  maxRuns?: number;
}

/** A task being run by this process. */
interface Live {
  row: TaskRow;
  runs: TaskRunRow[];
  abort: AbortController;
  bus: EventEmitter;
  done: Promise<void>;
}

/** The principal a task acts as in the background: its owner. */
function ownerPrincipal(user: UserRow): Principal {
  return { user, tokenId: 'task', kind: 'user', workspaceId: null };
}

/** Task use cases; authorization is checked here, HTTP is not known here. */
export class TaskService {
  private readonly live = new Map<string, Live>();
  private readonly names = new Map<string, string>();
  /** Shared by every task, so two large tasks together still start no more than `maxRuns` runs. */
  private readonly slots: Slots;

  constructor(private readonly o: TaskServiceOptions) {
    this.slots = new Slots(o.maxRuns ?? 16);
  }

  /** Marks the runs a previous process left unfinished as interrupted; never waits on a workspace. Forgets the activity of deleted workspaces. */
  async recover(): Promise<void> {
    await this.o.tasks.pruneActivity();
    for (const task of await this.o.tasks.list({ state: 'running' }, 10_000)) {
      let interrupted = 0;
      for (const r of await this.o.tasks.runs(task.id)) {
        if (r.phase !== 'queued' && r.phase !== 'running') continue;
        interrupted++;
        const message =
          r.phase === 'queued'
            ? 'The control plane restarted before this run started.'
            : `The control plane restarted while this run was ${r.step}; its workspace ${r.workspace_name} was kept as it was.`;
        await this.o.tasks.updateRun(task.id, r.idx, { phase: 'interrupted', step: 'done', message, finished_at: new Date().toISOString() });
      }
      await this.o.tasks.update(task.id, {
        state: 'interrupted',
        finished_at: new Date().toISOString(),
        message: `The control plane restarted while the task ran; ${interrupted} run(s) were interrupted. Start a new task for them.`,
      });
    }
  }

  /** Stores a task and starts its runs in the background. */
  async create(p: Principal, input: RunTask): Promise<Task> {
    if (p.kind !== 'user') throw new ForbiddenError('A workspace token cannot run tasks; use a user token.');
    if (input.ref !== undefined && input.from !== undefined) throw new InputError('Give either ref (a branch of the project) or from (a workspace to fork), not both.');
    const project = await this.o.projects.find(p, input.project, 'createWorkspace');
    if (input.from !== undefined) {
      if (!this.o.fork) throw new InputError('This server cannot fork workspaces; run the task with --ref instead of --from.');
      const source = await this.o.workspaces.resolve(p, input.from);
      if (source.project_id !== project.id) throw new InputError(`Workspace "${input.from}" is not of project ${project.name}; name its own project with --project.`);
    }
    if (input.provisioner !== undefined && !this.o.registry.has(input.provisioner)) {
      throw new InputError(`No provisioner named "${input.provisioner}". Available: ${this.o.registry.names().join(', ') || 'none'}. See: berth provisioner list`);
    }
    const provisioner = input.provisioner ?? this.o.registry.defaultName();
    if (!input.from && p.user.role !== 'admin' && this.o.registry.has(provisioner) && this.o.registry.get(provisioner).capabilities.runsOnHost) {
      throw new ForbiddenError(`The "${provisioner}" provisioner runs workspaces as the server's own user, so only admins may use it; choose another with --provisioner (berth provisioner list).`);
    }
    assertExecStrings({ cmd: input.cmd });
    if (input.spec) assertSpecProcessStrings(input.spec);
    normalizeSpec(input.spec);
    if (input.ref) await this.o.projects.assertRef(project, input.ref);
    const id = `tk-${crypto.randomBytes(5).toString('hex')}`;
    const row: TaskRow = {
      id,
      owner_id: p.user.id,
      project_id: project.id,
      provisioner: input.provisioner ?? null,
      ref: input.ref ?? null,
      from_ws: input.from ?? null,
      count: input.count,
      concurrency: input.concurrency ?? DEFAULT_CONCURRENCY,
      cleanup: input.cleanup ?? 'keep-failed',
      cmd_json: JSON.stringify(input.cmd),
      spec_json: input.spec ? JSON.stringify(input.spec) : null,
      state: 'running',
      message: null,
      created_at: new Date().toISOString(),
      finished_at: null,
    };
    const runs: TaskRunRow[] = Array.from({ length: input.count }, (_, i) => ({
      task_id: id,
      idx: i,
      workspace_id: null,
      workspace_name: `${id}-${i}`,
      phase: 'queued',
      step: 'queued',
      exit_code: null,
      started_at: null,
      finished_at: null,
      duration_ms: null,
      start_commit: null,
      diff_stat: null,
      branch: null,
      pushed: 0,
      last_line: null,
      message: null,
      log: '',
    }));
    await this.o.tasks.create(row, runs);
    this.names.set(project.id, project.name);
    this.start(row, runs, p.user);
    return this.toWire(row, runs);
  }

  /** Tasks the caller may see: their own, and those of projects they can read; admins see all. */
  async list(p: Principal): Promise<Task[]> {
    const rows = await this.o.tasks.list();
    const out: Task[] = [];
    for (const row of rows) if (await this.visible(p, row)) out.push(await this.toWire(row, await this.runsOf(row)));
    return out;
  }

  async get(p: Principal, id: string): Promise<Task> {
    const row = await this.find(p, id);
    return this.toWire(row, await this.runsOf(row));
  }

  async logs(p: Principal, id: string, index?: number): Promise<TaskLog[]> {
    const row = await this.find(p, id);
    const live = this.live.get(row.id);
    const rows = await this.o.tasks.logs(row.id, index);
    // A live run's output is in memory until its command ends.
    return rows.map((r) => ({ index: r.idx, workspace: r.workspace_name, log: live?.runs[r.idx]?.log || r.log }));
  }

  /** Stops what still runs, deletes the remaining workspaces and forgets the task. */
  async delete(p: Principal, id: string): Promise<Task> {
    const row = await this.find(p, id);
    if (p.kind !== 'user' || (row.owner_id !== p.user.id && p.user.role !== 'admin')) throw new ForbiddenError(`Only the owner of task ${id} or an admin may delete it.`);
    const live = this.live.get(row.id);
    if (live) {
      live.abort.abort();
      await live.done;
    }
    const runs = await this.o.tasks.runs(row.id);
    const owner = await this.o.store.getUser(row.owner_id);
    for (const r of runs) {
      if (!r.workspace_id || !owner || !(await this.o.workspaces.exists(r.workspace_id))) continue;
      await this.o.workspaces.setDesired(ownerPrincipal(owner), r.workspace_id, 'deleted').catch(() => undefined);
    }
    const wire = await this.toWire((await this.o.tasks.get(row.id)) ?? row, runs);
    await this.o.tasks.delete(row.id);
    return wire;
  }

  /**
   * Streams the task: the whole task first, each changed run, the finished task last. Returns an
   * unsubscribe function; `end` is called after the last event (at once for a task that is over).
   */
  async follow(p: Principal, id: string, send: (e: TaskEvent) => void, end: () => void): Promise<() => void> {
    const row = await this.find(p, id);
    const live = this.live.get(row.id);
    if (!live) {
      send({ kind: 'task', task: await this.toWire(row, await this.runsOf(row)) });
      end();
      return () => undefined;
    }
    // Subscribed before the first event is built, so the task's end cannot slip in between; what
    // arrives meanwhile follows the first event.
    const early: TaskEvent[] = [];
    let started = false;
    const onEvent = (e: TaskEvent) => {
      if (!started) return void early.push(e);
      send(e);
      if (e.kind === 'task') end();
    };
    live.bus.on('event', onEvent);
    send({ kind: 'task', task: await this.toWire(live.row, live.runs) });
    started = true;
    early.splice(0).forEach(onEvent);
    return () => live.bus.off('event', onEvent);
  }

  /** Waits for every task this process runs (tests, shutdown after abort). */
  async shutdown(): Promise<void> {
    for (const l of this.live.values()) l.abort.abort();
    await Promise.all([...this.live.values()].map((l) => l.done));
  }

  private start(row: TaskRow, runs: TaskRunRow[], owner: UserRow): void {
    const live: Live = { row, runs, abort: new AbortController(), bus: new EventEmitter(), done: Promise.resolve() };
    live.bus.setMaxListeners(0);
    this.live.set(row.id, live);
    let next = 0;
    const worker = async () => {
      while (next < runs.length && !live.abort.signal.aborted) {
        await this.slots.acquire();
        try {
          // Another worker may have taken the last run, or the task was deleted, while this one waited.
          const run = live.abort.signal.aborted ? undefined : runs[next++];
          if (!run) return;
          await executeRun(this.o, row, run, ownerPrincipal(owner), live.abort.signal, (patch) => this.report(live, run, patch));
        } finally {
          this.slots.release();
        }
      }
    };
    live.done = Promise.all(Array.from({ length: Math.min(row.concurrency, runs.length) }, worker))
      .then(() => this.finish(live))
      .catch((err: unknown) => this.o.logger.error({ err, task: row.id }, 'task failed'))
      .finally(() => this.live.delete(row.id));
  }

  /** Applies a run's change in memory, stores it (a new last line alone is kept in memory until the next change) and streams it. */
  private async report(live: Live, run: TaskRunRow, patch: TaskRunPatch): Promise<void> {
    Object.assign(run, patch);
    const keys = Object.keys(patch);
    if (!(keys.length === 1 && keys[0] === 'last_line')) {
      const rest: TaskRunPatch = { ...run };
      if (!('log' in patch)) delete rest.log;
      await this.o.tasks.updateRun(run.task_id, run.idx, rest).catch((err: unknown) => this.o.logger.warn({ err, task: run.task_id }, 'could not store a task run'));
    }
    live.bus.emit('event', { kind: 'run', run: runToWire(run) } satisfies TaskEvent);
  }

  private async finish(live: Live): Promise<void> {
    // Runs never started (the task was deleted) stay queued; they are reported as interrupted.
    for (const r of live.runs.filter((x) => x.phase === 'queued')) await this.report(live, r, { phase: 'interrupted', step: 'done', message: 'The task was deleted before this run started.' });
    const failed = live.runs.filter((r) => r.phase !== 'succeeded');
    const message = failed.length === 0 ? `All ${live.runs.length} runs succeeded.` : `${live.runs.length - failed.length} of ${live.runs.length} runs succeeded; ${failed.length} did not: ${failed.map((r) => `${r.idx}${r.exit_code !== null && r.exit_code !== 0 ? ` (exit ${r.exit_code})` : ''}`).join(', ')}.`;
    Object.assign(live.row, { state: 'done', finished_at: new Date().toISOString(), message });
    await this.o.tasks.update(live.row.id, { state: 'done', finished_at: live.row.finished_at, message });
    live.bus.emit('event', { kind: 'task', task: await this.toWire(live.row, live.runs) } satisfies TaskEvent);
  }

  private async runsOf(row: TaskRow): Promise<TaskRunRow[]> {
    return this.live.get(row.id)?.runs ?? this.o.tasks.runs(row.id);
  }

  private async find(p: Principal, id: string): Promise<TaskRow> {
    const row = /^tk-[a-f0-9]{10}$/.test(id) ? (this.live.get(id)?.row ?? (await this.o.tasks.get(id))) : undefined;
    if (!row || !(await this.visible(p, row))) throw new NotFoundError(`No task "${id}". See: berth task list`);
    return row;
  }

  private async visible(p: Principal, row: TaskRow): Promise<boolean> {
    if (p.user.role === 'admin' || row.owner_id === p.user.id) return true;
    const project = await this.projectName(row.project_id);
    return this.o.projects.find(p, project, 'read').then(
      () => true,
      () => false,
    );
  }

  private async projectName(id: string): Promise<string> {
    const known = this.names.get(id);
    if (known) return known;
    const row: ProjectRow | undefined = await this.o.store.getProject(id);
    if (row) this.names.set(id, row.name);
    return row?.name ?? id;
  }

  private async toWire(row: TaskRow, runs: TaskRunRow[]): Promise<Task> {
    const owner = (await this.o.store.getUser(row.owner_id))?.name ?? row.owner_id;
    const wires = runs.map(runToWire);
    const count = (phase: TaskRun['phase']) => wires.filter((r) => r.phase === phase).length;
    return {
      id: row.id,
      owner,
      project: await this.projectName(row.project_id),
      ref: row.ref,
      from: row.from_ws,
      provisioner: row.provisioner,
      cmd: JSON.parse(row.cmd_json) as string[],
      count: row.count,
      concurrency: row.concurrency,
      cleanup: row.cleanup as Task['cleanup'],
      state: row.state,
      message: row.message,
      createdAt: row.created_at,
      finishedAt: row.finished_at,
      summary: { succeeded: count('succeeded'), failed: count('failed'), interrupted: count('interrupted'), pending: count('queued') + count('running') },
      runs: wires,
    };
  }
}

/** A run row as the API shows it. */
export function runToWire(r: TaskRunRow): TaskRun {
  return {
    index: r.idx,
    workspace: r.workspace_name,
    workspaceId: r.workspace_id,
    phase: r.phase as TaskRun['phase'],
    step: r.step as TaskRun['step'],
    exitCode: r.exit_code,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    durationMs: r.duration_ms,
    diffStat: r.diff_stat,
    branch: r.branch,
    pushed: r.pushed === 1,
    lastLine: r.last_line,
    message: r.message,
  };
}
