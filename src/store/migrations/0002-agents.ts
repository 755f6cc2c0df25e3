/** Migration 0002: remote host agents, their one-time enrollment tokens, and workspace pins. */
import type { Kysely, Migration } from 'kysely';

/** Adds `agents`, `agent_enrollments` and `workspace_agents`. */
export const agentsMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('agents')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('labels_json', 'text', (c) => c.notNull())
      .addColumn('certificate', 'text')
      .addColumn('fingerprint', 'text')
      .addColumn('client_cert', 'text')
      .addColumn('client_key_enc', 'text')
      .addColumn('client_fingerprint', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('enrolled_at', 'text')
      .addColumn('revoked_at', 'text')
      .execute();
    await db.schema
      .createTable('agent_enrollments')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('agent_name', 'text', (c) => c.notNull().references('agents.name').onDelete('cascade'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('used_at', 'text')
      .execute();
    await db.schema.createIndex('agent_enrollments_agent').on('agent_enrollments').column('agent_name').execute();
    await db.schema
      .createTable('workspace_agents')
      .addColumn('workspace_id', 'text', (c) => c.primaryKey())
      .addColumn('agent_name', 'text', (c) => c.notNull())
      .addColumn('pinned_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('workspace_agents_agent').on('workspace_agents').column('agent_name').execute();
  },
};
