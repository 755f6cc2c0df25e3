/** Rows of tasks, their runs and workspace activity (migration 0007), on SQLite and PostgreSQL alike. */
import type { Kysely, Selectable, Updateable } from 'kysely';
import type { Database } from '../../store/schema.ts';

/** The `tasks` table. */
export interface TasksTable {
  id: string;
  owner_id: string;
  project_id: string;
  provisioner: string | null;
  ref: string | null;
  from_ws: string | null;
  count: number;
  concurrency: number;
  cleanup: string;
  cmd_json: string;
  spec_json: string | null;
  state: 'running' | 'done' | 'interrupted';
  message: string | null;
  created_at: string;
  finished_at: string | null;
}

/** The `task_runs` table: one row per workspace of a task. */
export interface TaskRunsTable {
  task_id: string;
  idx: number;
  workspace_id: string | null;
  workspace_name: string;
  phase: string;
  step: string;
  exit_code: number | null;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  start_commit: string | null;
  diff_stat: string | null;
  branch: string | null;
  pushed: number;
  last_line: string | null;
  message: string | null;
  log: string;
}

/** The `workspace_activity` table. */
export interface WorkspaceActivityTable {
  workspace_id: string;
  last_command: string | null;
  last_command_at: string | null;
  last_output_at: string | null;
}

/** The tables this module owns. */
export interface TaskTables {
  tasks: TasksTable;
  task_runs: TaskRunsTable;
  workspace_activity: WorkspaceActivityTable;
}

/** A task row. */
export type TaskRow = Selectable<TasksTable>;
/** A run row. */
export type TaskRunRow = Selectable<TaskRunsTable>;
/** Fields of a run that may change. */
export type TaskRunPatch = Omit<Updateable<TaskRunsTable>, 'task_id' | 'idx'>;
/** An activity row. */
export type ActivityRow = Selectable<WorkspaceActivityTable>;

/** PostgreSQL answers integer columns of some queries as strings; the wire wants numbers. */
function runRow(r: TaskRunRow): TaskRunRow {
  return { ...r, idx: Number(r.idx), pushed: Number(r.pushed), exit_code: r.exit_code === null ? null : Number(r.exit_code), duration_ms: r.duration_ms === null ? null : Number(r.duration_ms) };
}

function taskRow(r: TaskRow): TaskRow {
  return { ...r, count: Number(r.count), concurrency: Number(r.concurrency) };
}

/** Reads and writes of the task tables. */
export class TaskStore {
  private readonly db: Kysely<TaskTables>;

  /** `db` is the store's database (SqlStore.kysely); these tables are typed here, not in its schema. */
  constructor(db: Kysely<Database>) {
    this.db = db as unknown as Kysely<TaskTables>;
  }

  /** Stores a new task with its runs, in one transaction. */
  async create(task: TaskRow, runs: TaskRunRow[]): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.insertInto('tasks').values(task).execute();
      // Bounded batches: 200 runs × 19 columns stays under SQLite's variable limit.
      for (let i = 0; i < runs.length; i += 40) await tx.insertInto('task_runs').values(runs.slice(i, i + 40)).execute();
    });
  }

  async get(id: string): Promise<TaskRow | undefined> {
    const r = await this.db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
    return r && taskRow(r);
  }

  /** Tasks, newest first; `ownerId` narrows to one owner's. */
  async list(filter: { ownerId?: string; state?: TaskRow['state'] } = {}, limit = 500): Promise<TaskRow[]> {
    let q = this.db.selectFrom('tasks').selectAll();
    if (filter.ownerId) q = q.where('owner_id', '=', filter.ownerId);
    if (filter.state) q = q.where('state', '=', filter.state);
    return (await q.orderBy('created_at', 'desc').limit(limit).execute()).map(taskRow);
  }

  async update(id: string, patch: Omit<Updateable<TasksTable>, 'id'>): Promise<void> {
    await this.db.updateTable('tasks').set(patch).where('id', '=', id).execute();
  }

  /** The runs of a task in index order, without their logs. */
  async runs(taskId: string): Promise<TaskRunRow[]> {
    const rows = await this.db.selectFrom('task_runs').selectAll().where('task_id', '=', taskId).orderBy('idx').execute();
    return rows.map((r) => runRow({ ...r, log: '' }));
  }

  /** The kept output of a task's runs (one, with `index`). */
  async logs(taskId: string, index?: number): Promise<Pick<TaskRunRow, 'idx' | 'workspace_name' | 'log'>[]> {
    let q = this.db.selectFrom('task_runs').select(['idx', 'workspace_name', 'log']).where('task_id', '=', taskId);
    if (index !== undefined) q = q.where('idx', '=', index);
    return (await q.orderBy('idx').execute()).map((r) => ({ ...r, idx: Number(r.idx) }));
  }

  async updateRun(taskId: string, idx: number, patch: TaskRunPatch): Promise<void> {
    await this.db.updateTable('task_runs').set(patch).where('task_id', '=', taskId).where('idx', '=', idx).execute();
  }

  /** Removes a task and its runs. */
  async delete(id: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('task_runs').where('task_id', '=', id).execute();
      await tx.deleteFrom('tasks').where('id', '=', id).execute();
    });
  }

  async getActivity(workspaceId: string): Promise<ActivityRow | undefined> {
    return this.db.selectFrom('workspace_activity').selectAll().where('workspace_id', '=', workspaceId).executeTakeFirst();
  }

  /** Removes the activity of workspaces that no longer exist; returns how many rows went. */
  async pruneActivity(): Promise<number> {
    const db = this.db as unknown as Kysely<TaskTables & { workspaces: { id: string } }>;
    const r = await db
      .deleteFrom('workspace_activity')
      .where('workspace_id', 'not in', db.selectFrom('workspaces').select('id'))
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Inserts or replaces a workspace's activity row. */
  async putActivity(row: ActivityRow): Promise<void> {
    const rest: Partial<ActivityRow> = { ...row };
    delete rest.workspace_id;
    await this.db
      .insertInto('workspace_activity')
      .values(row)
      .onConflict((oc) => oc.column('workspace_id').doUpdateSet(rest))
      .execute();
  }
}
