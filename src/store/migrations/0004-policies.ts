/** Migration 0004: quotas per user and per project, and the provisioners a project may use. */
import type { Kysely, Migration } from 'kysely';

/** Adds `quotas` and `project_provisioners`. */
export const policiesMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('quotas')
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('subject_id', 'text', (c) => c.notNull())
      .addColumn('max_workspaces', 'integer')
      .addColumn('max_cpus', 'double precision')
      // Bytes: beyond 32 bits.
      .addColumn('max_memory', 'bigint')
      .addColumn('max_storage', 'bigint')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('quotas_pk', ['scope', 'subject_id'])
      .execute();
    await db.schema
      .createTable('project_provisioners')
      .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('provisioner', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('project_provisioners_pk', ['project_id', 'provisioner'])
      .execute();
  },
};
