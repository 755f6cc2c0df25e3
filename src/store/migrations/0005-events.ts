/** Migration 0005: what event retention removed per workspace, so readers can say how much is gone. */
import type { Kysely, Migration } from 'kysely';

/** Adds `event_retention`: per workspace, how many events were pruned and the id of the newest pruned one. */
export const eventsMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('event_retention')
      .addColumn('workspace_id', 'text', (c) => c.primaryKey())
      .addColumn('dropped', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('last_dropped_id', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('pruned_at', 'text', (c) => c.notNull())
      .execute();
  },
};
