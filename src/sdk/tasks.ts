/** Task fan-out on the wire, and the client methods for it (reached as `client.tasks`). */
import { Type, type Static } from '@sinclair/typebox';
import { SpecInputSchema } from '../core/spec.ts';
import { BranchNameSchema, NameSchema } from './wire.ts';

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

/** The task methods of a client (kept in tasks-api.ts, which loads no schemas). */
export { TasksApi } from './tasks-api.ts';
