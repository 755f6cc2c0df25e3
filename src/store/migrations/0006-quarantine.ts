/** Migration 0006: orphaned workspace resources held in quarantine until a grace period ends or an admin collects them. */
import type { Kysely, Migration } from 'kysely';

/** Adds `quarantine`: one row per workspace id and provisioner that holds resources without a workspace row. */
export const quarantineMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('quarantine')
      .addColumn('workspace_id', 'text', (c) => c.notNull())
      .addColumn('provisioner', 'text', (c) => c.notNull())
      .addColumn('first_seen', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('quarantine_pk', ['workspace_id', 'provisioner'])
      .execute();
  },
};
