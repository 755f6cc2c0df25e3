/** Task fan-out on the wire, and the client methods for it (reached as `client.tasks`). */
import { Type, type Static } from '@sinclair/typebox';
import { errorMessage } from '../core/errors.ts';
import { ApiError, type BerthClient } from './client.ts';
import { SpecInputSchema } from '../core/spec.ts';
import { BranchNameSchema, NameSchema, type ErrorBody } from './wire.ts';

const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()]);

/** What happens to a task's workspaces once their run has ended. */
export const CleanupSchema = Type.Union([Type.Literal('keep-failed'), Type.Literal('keep-all'), Type.Literal('delete-all')], {
  description: 'keep-failed (default): delete the workspaces of runs that succeeded; keep-all; delete-all',
});
/** Cleanup policy, as TypeScript. */
export type Cleanup = Static<typeof CleanupSchema>;

/** A task id in a path (`{id}`). */
export const TaskIdSchema = Type.String({ pattern: '^tk-[a-f0-9]{10}$', description: 'Task id (tk-…)' });

/** JSON schema of a new task: N workspaces, one command in each. */
export const RunTaskSchema = Type.Object(
  {
    project: NameSchema,
    ref: Type.Optional(BranchNameSchema),
    from: Type.Optional(Type.String({ minLength: 1, maxLength: 127, pattern: '^([a-z0-9-]{1,63}/)?[a-z0-9_-]{1,63}$', description: 'A workspace to fork for every run instead of creating from the project' })),
    count: Type.Integer({ minimum: 1, maximum: 200 }),
    provisioner: Type.Optional(NameSchema),
    cmd: Type.Array(Type.String({ maxLength: 65536 }), { minItems: 1, maxItems: 4096, description: 'argv of the headless command run in each workspace (in its checkout)' }),
    concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, description: 'Runs in flight at once; the rest wait in a queue (default 4)' })),
    cleanup: Type.Optional(CleanupSchema),
    spec: Type.Optional(SpecInputSchema),
  },
  { additionalProperties: false },
);
/** A new task, as TypeScript. */
export type RunTask = Static<typeof RunTaskSchema>;

/** The steps of a run, in order. */
export const TASK_STEPS = ['queued', 'creating', 'forking', 'waiting', 'running', 'collecting', 'pushing', 'cleaning', 'done'] as const;
/** A step of a run. */
export type TaskStep = (typeof TASK_STEPS)[number];
/** How a run stands. */
export const RUN_PHASES = ['queued', 'running', 'succeeded', 'failed', 'interrupted'] as const;
/** A run's phase. */
export type RunPhase = (typeof RUN_PHASES)[number];

/** JSON schema of one run of a task (one workspace). */
export const TaskRunSchema = Type.Object({
  index: Type.Integer({ description: 'BERTH_TASK_INDEX of the run, 0 to count-1' }),
  workspace: Type.String(),
  workspaceId: Nullable(Type.String()),
  phase: Type.Union(RUN_PHASES.map((p) => Type.Literal(p))),
  step: Type.Union(TASK_STEPS.map((s) => Type.Literal(s))),
  exitCode: Nullable(Type.Integer()),
  startedAt: Nullable(Type.String()),
  finishedAt: Nullable(Type.String()),
  durationMs: Nullable(Type.Integer({ description: 'How long the command ran' })),
  diffStat: Nullable(Type.String({ description: 'git diff --stat of the run against the commit it started from' })),
  branch: Nullable(Type.String()),
  pushed: Type.Boolean({ description: 'Whether the branch is upstream' }),
  lastLine: Nullable(Type.String()),
  message: Nullable(Type.String({ description: 'Why a run failed or was interrupted, when it is not the exit code' })),
});
/** One run, as TypeScript. */
export type TaskRun = Static<typeof TaskRunSchema>;

/** JSON schema of a task. */
export const TaskSchema = Type.Object({
  id: Type.String(),
  owner: Type.String(),
  project: Type.String(),
  ref: Nullable(Type.String()),
  from: Nullable(Type.String()),
  provisioner: Nullable(Type.String()),
  cmd: Type.Array(Type.String()),
  count: Type.Integer(),
  concurrency: Type.Integer(),
  cleanup: CleanupSchema,
  state: Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('interrupted')]),
  message: Nullable(Type.String()),
  createdAt: Type.String(),
  finishedAt: Nullable(Type.String()),
  summary: Type.Object({ succeeded: Type.Integer(), failed: Type.Integer(), interrupted: Type.Integer(), pending: Type.Integer() }),
  runs: Type.Array(TaskRunSchema),
});
/** A task, as TypeScript. */
export type Task = Static<typeof TaskSchema>;

/** JSON schema of one line of a task's event stream: the whole task first and last, a run whenever it changes. */
export const TaskEventSchema = Type.Union([Type.Object({ kind: Type.Literal('task'), task: TaskSchema }), Type.Object({ kind: Type.Literal('run'), run: TaskRunSchema })]);
/** A task event, as TypeScript. */
export type TaskEvent = Static<typeof TaskEventSchema>;

/** JSON schema of the output kept of one run. */
export const TaskLogSchema = Type.Object({ index: Type.Integer(), workspace: Type.String(), log: Type.String({ description: 'The last 64 KiB of the command output (stdout and stderr)' }) });
/** A run's output, as TypeScript. */
export type TaskLog = Static<typeof TaskLogSchema>;

/** The task methods of a client; stable names for the CLI, tests and the MCP server. */
export class TasksApi {
  constructor(
    private readonly c: BerthClient,
    private readonly token: string | undefined,
  ) {}

  /** Starts a task; the server creates the workspaces and runs the command in the background. */
  runTask(input: RunTask): Promise<Task> {
    return this.c.request<Task>('POST', '/api/v1/tasks', input);
  }
  /** A task with every run. */
  getTask(id: string): Promise<Task> {
    return this.c.request<Task>('GET', `/api/v1/tasks/${encodeURIComponent(id)}`);
  }
  /** Tasks you may see, newest first. */
  listTasks(): Promise<Task[]> {
    return this.c.request<Task[]>('GET', '/api/v1/tasks');
  }
  /** The kept output of each run (or of one, by index). */
  taskLogs(id: string, index?: number): Promise<TaskLog[]> {
    return this.c.request<TaskLog[]>('GET', `/api/v1/tasks/${encodeURIComponent(id)}/logs${index === undefined ? '' : `?index=${index}`}`);
  }
  /** Stops what still runs, deletes the task's remaining workspaces and forgets it. */
  deleteTask(id: string): Promise<Task> {
    return this.c.request<Task>('DELETE', `/api/v1/tasks/${encodeURIComponent(id)}`);
  }

  /** Streams the task's events until it ends (the last event is the finished task), `onEvent` returns true, or `signal` fires. */
  async followTask(id: string, onEvent: (e: TaskEvent) => boolean | void, signal?: AbortSignal): Promise<void> {
    const controller = new AbortController();
    signal?.addEventListener('abort', () => controller.abort(), { once: true });
    let res: Response;
    try {
      res = await fetch(`${this.c.url}/api/v1/tasks/${encodeURIComponent(id)}/events?follow=true`, { headers: this.token ? { authorization: `Bearer ${this.token}` } : {}, signal: controller.signal });
    } catch (err) {
      if (controller.signal.aborted) return;
      throw new ApiError(0, 'unreachable', `Cannot reach the Berth server at ${this.c.url}: ${errorMessage(err)}`);
    }
    if (!res.ok || !res.body) {
      const e = ((await res.json().catch(() => undefined)) as ErrorBody | undefined)?.error;
      throw new ApiError(res.status, e?.code ?? 'error', e?.message ?? `HTTP ${res.status}`);
    }
    let buf = '';
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        for (let i = buf.indexOf('\n'); i !== -1; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line && onEvent(JSON.parse(line) as TaskEvent) === true) {
            controller.abort();
            return;
          }
        }
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    }
  }
}
