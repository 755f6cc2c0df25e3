/** Migration 0008: fork lineage, and how far a fork's start has come (files copied, branch checked out). */
import type { Kysely, Migration } from 'kysely';

/** Adds `forked_from`, `fork_branch` and `fork_stage` to `workspaces`. */
export const forksMigration: Migration = {
  async up(db: Kysely<any>) {
    // One column per statement: SQLite's ALTER TABLE adds one at a time.
    await db.schema.alterTable('workspaces').addColumn('forked_from', 'text').execute();
    await db.schema.alterTable('workspaces').addColumn('fork_branch', 'text').execute();
    await db.schema.alterTable('workspaces').addColumn('fork_stage', 'text').execute();
  },
};
