/** Migration 0003: project members and their roles; every existing project gets its owner as a member. */
import { sql, type Kysely, type Migration } from 'kysely';

/** Adds `project_members` and backfills an `owner` row per project from `projects.owner_id`. */
export const membersMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('project_members')
      .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('project_members_pk', ['project_id', 'user_id'])
      .execute();
    // "Which projects may this user see" is asked on every project list.
    await db.schema.createIndex('project_members_user').on('project_members').column('user_id').execute();
    await sql`INSERT INTO project_members (project_id, user_id, role, created_at) SELECT id, owner_id, 'owner', created_at FROM projects`.execute(db);
  },
};
