/** Migration 0007: task fan-out (a task and one run per workspace) and what each workspace was last seen doing. */
import type { Kysely, Migration } from 'kysely';

/** Adds `tasks`, `task_runs` and `workspace_activity`. */
export const tasksMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('tasks')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('owner_id', 'text', (c) => c.notNull())
      .addColumn('project_id', 'text', (c) => c.notNull())
      .addColumn('provisioner', 'text')
      .addColumn('ref', 'text')
      .addColumn('from_ws', 'text')
      .addColumn('count', 'integer', (c) => c.notNull())
      .addColumn('concurrency', 'integer', (c) => c.notNull())
      .addColumn('cleanup', 'text', (c) => c.notNull())
      .addColumn('cmd_json', 'text', (c) => c.notNull())
      .addColumn('spec_json', 'text')
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('message', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('finished_at', 'text')
      .execute();
    await db.schema.createIndex('tasks_owner').on('tasks').columns(['owner_id', 'created_at']).execute();
    await db.schema
      .createTable('task_runs')
      .addColumn('task_id', 'text', (c) => c.notNull())
      .addColumn('idx', 'integer', (c) => c.notNull())
      .addColumn('workspace_id', 'text')
      .addColumn('workspace_name', 'text', (c) => c.notNull())
      .addColumn('phase', 'text', (c) => c.notNull())
      .addColumn('step', 'text', (c) => c.notNull())
      .addColumn('exit_code', 'integer')
      .addColumn('started_at', 'text')
      .addColumn('finished_at', 'text')
      .addColumn('duration_ms', 'integer')
      .addColumn('start_commit', 'text')
      .addColumn('diff_stat', 'text')
      .addColumn('branch', 'text')
      .addColumn('pushed', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('last_line', 'text')
      .addColumn('message', 'text')
      .addColumn('log', 'text', (c) => c.notNull().defaultTo(''))
      .addPrimaryKeyConstraint('task_runs_pk', ['task_id', 'idx'])
      .execute();
    await db.schema.createIndex('task_runs_workspace').on('task_runs').column('workspace_id').execute();
    await db.schema
      .createTable('workspace_activity')
      .addColumn('workspace_id', 'text', (c) => c.primaryKey())
      .addColumn('last_command', 'text')
      .addColumn('last_command_at', 'text')
      .addColumn('last_output_at', 'text')
      .execute();
  },
};
