/** Numbered migrations. Each is written with Kysely's schema builder so it runs on SQLite and PostgreSQL. */
import { type Kysely, type Migration } from 'kysely';
import { agentsMigration } from './0002-agents.ts';
import { eventsMigration } from './0005-events.ts';
import { quarantineMigration } from './0006-quarantine.ts';
import { tasksMigration } from './0007-tasks.ts';
import { forksMigration } from './0008-forks.ts';
import { membersMigration } from './0003-members.ts';
import { policiesMigration } from './0004-policies.ts';

/** Which SQL dialect a migration runs on; used only where the two differ (auto-increment keys). */
export type Dialect = 'sqlite' | 'postgres';

/** Returns the migrations by name; names sort in application order. */
export function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001_initial': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('users')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('tokens')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('workspace_id', 'text')
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull().unique())
          .addColumn('secret_enc', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text')
          .addColumn('revoked_at', 'text')
          .execute();
        await db.schema.createIndex('tokens_workspace').on('tokens').column('workspace_id').execute();
        await db.schema
          .createTable('projects')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('repo_url', 'text', (c) => c.notNull())
          .addColumn('branch', 'text')
          .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('credentials_enc', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('provisioners')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('config_enc', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('workspaces')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id'))
          .addColumn('ref', 'text')
          .addColumn('provisioner', 'text', (c) => c.notNull())
          .addColumn('spec_json', 'text', (c) => c.notNull())
          .addColumn('desired', 'text', (c) => c.notNull())
          .addColumn('phase', 'text', (c) => c.notNull())
          .addColumn('message', 'text')
          .addColumn('status_json', 'text')
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('next_attempt_at', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('workspaces_owner_name', ['owner_id', 'name'])
          .execute();
        await db.schema
          .createTable('events')
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('workspace_id', 'text', (c) => c.notNull())
          .addColumn('ts', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('message', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('events_workspace').on('events').columns(['workspace_id', 'id']).execute();
        await db.schema
          .createTable('meta')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0002_agents': agentsMigration,
    '0006_quarantine': quarantineMigration,
    '0003_members': membersMigration,
    '0004_policies': policiesMigration,
    '0005_events': eventsMigration,
    '0007_tasks': tasksMigration,
    '0008_forks': forksMigration,
  };
}
