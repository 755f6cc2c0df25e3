/** The Store on Kysely: one implementation for SQLite (embedded default) and PostgreSQL. */
import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Insertable, type MigrationProvider, type Transaction } from 'kysely';
import { ConflictError, InputError, errorMessage } from '../core/errors.ts';
import { pruneEventBatch, pruneEventsWithoutWorkspace } from './event-prune.ts';
import { migrations, type Dialect } from './migrations/index.ts';
import { withStatementCache } from './sqlite-statements.ts';
import type { AgentEnrollmentsTable, AgentsTable, Database, ProjectRole, ProjectsTable, ProvisionersTable, TokensTable, UsersTable, WorkspacesTable } from './schema.ts';
import type { AgentPatch, EventRow, ProjectRow, QuarantineRow, QuotaRow, Store, TokenRow, UserRow, WorkspaceFilter, WorkspacePatch, WorkspaceRow } from './store.ts';

/** Where the store lives: a SQLite file, or a PostgreSQL connection string. */
export type StoreLocation = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

/** A connection string fit for a message: the password replaced. */
function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** PostgreSQL's bigserial comes back as a string (int8 may exceed 2^53); event ids stay far below that. */
function eventRow(row: EventRow): EventRow {
  return typeof row.id === 'number' ? row : { ...row, id: Number(row.id) };
}

function isForeignKeyViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || e?.code === '23503';
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e?.code === '23505';
}

/** Store implementation over a Kysely instance (or a transaction of one). */
export class SqlStore implements Store {
  /**
   * Per workspace, the tail of its event appends and its deletion, each run after those called
   * before it: SQLite's single connection orders them by itself, PostgreSQL's pool does not (lines
   * of output would get ids out of order, and a line could land after the delete).
   */
  private readonly workspaceWrites = new Map<string, Promise<void>>();

  private constructor(
    private readonly db: Kysely<Database> | Transaction<Database>,
    private readonly root: Kysely<Database>,
    readonly dialect: Dialect,
    /** The SQLite connection, for its online backup API; absent on PostgreSQL. */
    private readonly sqlite?: SqliteDatabase.Database,
  ) {}

  /** Opens the database, applies pending migrations and returns a ready store. */
  static async create(location: StoreLocation): Promise<SqlStore> {
    let db: Kysely<Database>;
    let dialect: Dialect;
    let sqlite: SqliteDatabase.Database | undefined;
    if (location.kind === 'sqlite') {
      if (location.file !== ':memory:') fs.mkdirSync(path.dirname(location.file), { recursive: true });
      sqlite = new SqliteDatabase(location.file);
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('synchronous = NORMAL');
      sqlite.pragma('busy_timeout = 5000');
      sqlite.pragma('foreign_keys = ON');
      db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
      dialect = 'sqlite';
    } else {
      const pg = await import('pg');
      const pool = new pg.default.Pool({ connectionString: location.url, max: 10 });
      // An idle pooled connection that the server ends (restart, pg_terminate_backend) is reported
      // here; without a listener it would crash the process. The pool drops it and the next query
      // opens a new one; errors of queries in flight still reach their callers.
      pool.on('error', () => {});
      db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
      dialect = 'postgres';
      try {
        await sql`SELECT 1`.execute(db);
      } catch (err) {
        await db.destroy();
        const reason = errorMessage(err) || (err as { code?: string }).code || String(err);
        throw new InputError(
          `Cannot use the PostgreSQL database ${withoutPassword(location.url)}: ${reason}. Check --database-url (BERTH_DATABASE_URL) and that the database server is running.`,
          { cause: err },
        );
      }
    }
    const provider: MigrationProvider = { getMigrations: async () => migrations(dialect) };
    const { error } = await new Migrator({ db, provider }).migrateToLatest();
    if (error) {
      await db.destroy();
      throw new Error(`Database migration failed: ${errorMessage(error)}`, { cause: error });
    }
    return new SqlStore(db, db, dialect, sqlite);
  }

  /** The database itself, for services that own their tables (tasks: src/server/tasks/store.ts). */
  get kysely(): Kysely<Database> {
    return this.root;
  }

  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (this.db !== this.root) return fn(this);
    return this.root.transaction().execute((trx) => fn(new SqlStore(trx, this.root, this.dialect, this.sqlite)));
  }

  /** Runs `fn` after the writes to this workspace's events called before it (see workspaceWrites). */
  private inOrder<T>(workspaceId: string, fn: () => Promise<T>): Promise<T> {
    if (this.db !== this.root) return fn(); // a transaction has one connection: in order already
    const run = (this.workspaceWrites.get(workspaceId) ?? Promise.resolve()).then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.workspaceWrites.set(workspaceId, tail);
    void tail.then(() => {
      if (this.workspaceWrites.get(workspaceId) === tail) this.workspaceWrites.delete(workspaceId);
    });
    return run;
  }

  private async insert<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`${what} already exists.`, { cause: err });
      if (isForeignKeyViolation(err)) throw new ConflictError(`${what} cannot be created: its owner or project was removed meanwhile.`, { cause: err });
      throw err;
    }
  }

  async createUser(row: Insertable<UsersTable>): Promise<UserRow> {
    await this.insert(`A user named "${row.name}"`, () => this.db.insertInto('users').values(row).execute());
    return (await this.getUser(row.id))!;
  }
  getUser(id: string) {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }
  getUserByName(name: string) {
    return this.db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
  }
  listUsers() {
    return this.db.selectFrom('users').selectAll().orderBy('name').execute();
  }

  async createToken(row: Insertable<TokensTable>): Promise<void> {
    await this.insert('That token', () => this.db.insertInto('tokens').values(row).execute());
  }
  findTokenByHash(hash: string): Promise<TokenRow | undefined> {
    return this.db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
  }
  getToken(id: string) {
    return this.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
  }
  listTokens(userId: string) {
    return this.db.selectFrom('tokens').selectAll().where('user_id', '=', userId).where('kind', '=', 'user').orderBy('created_at').execute();
  }
  async revokeToken(id: string, at: string) {
    await this.db.updateTable('tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
  }
  async revokeWorkspaceTokens(workspaceId: string, at: string) {
    await this.db.updateTable('tokens').set({ revoked_at: at, secret_enc: null }).where('workspace_id', '=', workspaceId).where('revoked_at', 'is', null).execute();
  }
  currentWorkspaceToken(workspaceId: string) {
    return this.db
      .selectFrom('tokens')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where('kind', '=', 'workspace')
      .where('revoked_at', 'is', null)
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
  }

  async createProject(row: Insertable<ProjectsTable>): Promise<ProjectRow> {
    await this.insert(`A project named "${row.name}"`, () => this.db.insertInto('projects').values(row).execute());
    return (await this.getProject(row.id))!;
  }
  getProject(id: string) {
    return this.db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
  }
  getProjectByName(name: string) {
    return this.db.selectFrom('projects').selectAll().where('name', '=', name).executeTakeFirst();
  }
  listProjects() {
    return this.db.selectFrom('projects').selectAll().orderBy('name').execute();
  }
  async updateProject(id: string, patch: Partial<Pick<ProjectRow, 'repo_url' | 'branch' | 'credentials_enc'>>) {
    if (Object.keys(patch).length > 0) await this.db.updateTable('projects').set(patch).where('id', '=', id).execute();
    return this.getProject(id);
  }

  async deleteProject(id: string) {
    await this.db.deleteFrom('project_members').where('project_id', '=', id).execute();
    await this.db.deleteFrom('project_provisioners').where('project_id', '=', id).execute();
    await this.db.deleteFrom('quotas').where('scope', '=', 'project').where('subject_id', '=', id).execute();
    await this.db.deleteFrom('projects').where('id', '=', id).execute();
  }

  listMembers(projectId: string) {
    return this.db
      .selectFrom('project_members')
      .innerJoin('users', 'users.id', 'project_members.user_id')
      .selectAll('project_members')
      .select('users.name as user_name')
      .where('project_members.project_id', '=', projectId)
      .orderBy('users.name')
      .execute();
  }
  async getMemberRole(projectId: string, userId: string) {
    return (await this.db.selectFrom('project_members').select('role').where('project_id', '=', projectId).where('user_id', '=', userId).executeTakeFirst())?.role;
  }
  async setMember(projectId: string, userId: string, role: ProjectRole, at: string) {
    await this.insert('That membership', () =>
      this.db
        .insertInto('project_members')
        .values({ project_id: projectId, user_id: userId, role, created_at: at })
        .onConflict((oc) => oc.columns(['project_id', 'user_id']).doUpdateSet({ role }))
        .execute(),
    );
  }
  async removeMember(projectId: string, userId: string) {
    const res = await this.db.deleteFrom('project_members').where('project_id', '=', projectId).where('user_id', '=', userId).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }
  async listMemberProjectIds(userId: string) {
    return (await this.db.selectFrom('project_members').select('project_id').where('user_id', '=', userId).execute()).map((r) => r.project_id);
  }
  async deleteUser(id: string) {
    // projects.owner_id records who created a project; it passes to another owner so the row stays valid.
    await this.db
      .updateTable('projects')
      .set((eb) => ({
        owner_id: eb
          .selectFrom('project_members')
          .select('project_members.user_id')
          .whereRef('project_members.project_id', '=', 'projects.id')
          .where('project_members.role', '=', 'owner')
          .where('project_members.user_id', '<>', id)
          .orderBy('project_members.created_at')
          .limit(1),
      }))
      .where('owner_id', '=', id)
      .execute();
    await this.db.deleteFrom('project_members').where('user_id', '=', id).execute();
    await this.db.deleteFrom('tokens').where('user_id', '=', id).execute();
    await this.db.deleteFrom('quotas').where('scope', '=', 'user').where('subject_id', '=', id).execute();
    await this.db.deleteFrom('users').where('id', '=', id).execute();
  }

  async createProvisioner(row: Insertable<ProvisionersTable>) {
    await this.insert(`A provisioner named "${row.name}"`, () => this.db.insertInto('provisioners').values(row).execute());
  }
  listProvisioners() {
    return this.db.selectFrom('provisioners').selectAll().orderBy('name').execute();
  }
  async updateProvisioner(name: string, configEnc: string) {
    const res = await this.db.updateTable('provisioners').set({ config_enc: configEnc }).where('name', '=', name).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }
  async deleteProvisioner(name: string) {
    const res = await this.db.deleteFrom('provisioners').where('name', '=', name).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async createWorkspace(row: Insertable<WorkspacesTable>): Promise<WorkspaceRow> {
    await this.insert(`A workspace named "${row.name}"`, () => this.db.insertInto('workspaces').values(row).execute());
    return (await this.getWorkspace(row.id))!;
  }
  getWorkspace(id: string) {
    return this.db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
  }
  getWorkspaceByName(ownerId: string, name: string) {
    return this.db.selectFrom('workspaces').selectAll().where('owner_id', '=', ownerId).where('name', '=', name).executeTakeFirst();
  }
  listWorkspaces(filter: WorkspaceFilter = {}) {
    let q = this.db.selectFrom('workspaces').selectAll();
    if (filter.ownerId) q = q.where('owner_id', '=', filter.ownerId);
    if (filter.name) q = q.where('name', '=', filter.name);
    if (filter.projectId) q = q.where('project_id', '=', filter.projectId);
    if (filter.provisioner) q = q.where('provisioner', '=', filter.provisioner);
    return q.orderBy('created_at').orderBy('name').execute();
  }
  async countWorkspacesByProvisioner() {
    const rows = await this.db.selectFrom('workspaces').select(['provisioner', (eb) => eb.fn.countAll<number | string | bigint>().as('n')]).groupBy('provisioner').execute();
    return new Map(rows.map((r) => [r.provisioner, Number(r.n)]));
  }
  async updateWorkspace(id: string, patch: WorkspacePatch, guard: { unlessDesired?: WorkspaceRow['desired'] } = {}) {
    let q = this.db.updateTable('workspaces').set(patch).where('id', '=', id);
    if (guard.unlessDesired) q = q.where('desired', '<>', guard.unlessDesired);
    const res = await q.executeTakeFirst();
    if (guard.unlessDesired && Number(res.numUpdatedRows) === 0) return undefined;
    return this.getWorkspace(id);
  }
  async deleteWorkspace(id: string) {
    await this.inOrder(id, async () => {
      await this.db.deleteFrom('events').where('workspace_id', '=', id).execute();
      await this.db.deleteFrom('event_retention').where('workspace_id', '=', id).execute();
      await this.db.deleteFrom('tokens').where('workspace_id', '=', id).execute();
      await this.db.deleteFrom('workspace_agents').where('workspace_id', '=', id).execute();
      await this.db.deleteFrom('workspaces').where('id', '=', id).execute();
    });
  }

  async appendEvents(workspaceId: string, events: { kind: string; message: string; ts: string }[]): Promise<EventRow[]> {
    if (events.length === 0) return [];
    const rows = await this.inOrder(workspaceId, () =>
      this.db
        .insertInto('events')
        .values(events.map((e) => ({ workspace_id: workspaceId, ...e })))
        .returningAll()
        .execute(),
    );
    return rows.map(eventRow);
  }
  async listEvents(workspaceId: string, afterId: number, limit: number) {
    const rows = await this.db
      .selectFrom('events')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(eventRow);
  }

  async eventsBefore(workspaceId: string, beforeId: number, limit: number) {
    const rows = await this.db.selectFrom('events').selectAll().where('workspace_id', '=', workspaceId).where('id', '<', beforeId).orderBy('id', 'desc').limit(limit).execute();
    return rows.reverse().map(eventRow);
  }
  async pruneEvents(workspaceId: string, policy: { keep: number; olderThan: string; limit: number }, at: string) {
    return this.inOrder(workspaceId, () => pruneEventBatch(this.db, workspaceId, policy, at));
  }
  pruneEventsWithoutWorkspace(limit: number) {
    return pruneEventsWithoutWorkspace(this.db, limit);
  }
  async eventsDropped(workspaceId: string) {
    const r = await this.db.selectFrom('event_retention').select(['dropped', 'last_dropped_id']).where('workspace_id', '=', workspaceId).executeTakeFirst();
    return { dropped: Number(r?.dropped ?? 0), lastDroppedId: Number(r?.last_dropped_id ?? 0) };
  }

  async lastEvents(workspaceId: string, n: number) {
    const rows = await this.db.selectFrom('events').selectAll().where('workspace_id', '=', workspaceId).orderBy('id', 'desc').limit(n).execute();
    return rows.reverse().map(eventRow);
  }

  async createAgent(row: Insertable<AgentsTable>) {
    await this.insert(`An agent named "${row.name}"`, () => this.db.insertInto('agents').values(row).execute());
    return (await this.getAgent(row.name))!;
  }
  getAgent(name: string) {
    return this.db.selectFrom('agents').selectAll().where('name', '=', name).executeTakeFirst();
  }
  listAgents() {
    return this.db.selectFrom('agents').selectAll().orderBy('name').execute();
  }
  async updateAgent(name: string, patch: AgentPatch) {
    if (Object.keys(patch).length > 0) await this.db.updateTable('agents').set(patch).where('name', '=', name).execute();
    return this.getAgent(name);
  }
  async deleteAgent(name: string) {
    // Explicitly, not only by the foreign key's cascade: SQLite enforces it only with the pragma on.
    await this.db.deleteFrom('agent_enrollments').where('agent_name', '=', name).execute();
    const res = await this.db.deleteFrom('agents').where('name', '=', name).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }
  async createAgentEnrollment(row: Insertable<AgentEnrollmentsTable>) {
    await this.insert('That enrollment token', () => this.db.insertInto('agent_enrollments').values(row).execute());
  }
  getAgentEnrollment(tokenHash: string) {
    return this.db.selectFrom('agent_enrollments').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
  }
  async useAgentEnrollment(tokenHash: string, at: string) {
    const res = await this.db
      .updateTable('agent_enrollments')
      .set({ used_at: at })
      .where('token_hash', '=', tokenHash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', at)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }
  async getAgentPin(workspaceId: string) {
    return (await this.db.selectFrom('workspace_agents').select('agent_name').where('workspace_id', '=', workspaceId).executeTakeFirst())?.agent_name;
  }
  async setAgentPin(workspaceId: string, agentName: string, at: string) {
    await this.db
      .insertInto('workspace_agents')
      .values({ workspace_id: workspaceId, agent_name: agentName, pinned_at: at })
      .onConflict((oc) => oc.column('workspace_id').doUpdateSet({ agent_name: agentName, pinned_at: at }))
      .execute();
  }
  async deleteAgentPin(workspaceId: string) {
    await this.db.deleteFrom('workspace_agents').where('workspace_id', '=', workspaceId).execute();
  }
  async listAgentPins(agentName: string) {
    const rows = await this.db.selectFrom('workspace_agents').select('workspace_id').where('agent_name', '=', agentName).orderBy('workspace_id').execute();
    return rows.map((r) => r.workspace_id);
  }

  async getQuota(scope: QuotaRow['scope'], subjectId: string) {
    const row = await this.db.selectFrom('quotas').selectAll().where('scope', '=', scope).where('subject_id', '=', subjectId).executeTakeFirst();
    // PostgreSQL returns bigint columns as strings.
    const num = (v: number | string | null) => (v === null ? null : Number(v));
    return row && { ...row, max_workspaces: num(row.max_workspaces), max_cpus: num(row.max_cpus), max_memory: num(row.max_memory), max_storage: num(row.max_storage) };
  }
  async setQuota(row: QuotaRow) {
    const limits = { max_workspaces: row.max_workspaces, max_cpus: row.max_cpus, max_memory: row.max_memory, max_storage: row.max_storage, updated_at: row.updated_at };
    await this.db.insertInto('quotas').values(row).onConflict((oc) => oc.columns(['scope', 'subject_id']).doUpdateSet(limits)).execute();
  }
  async listProjectProvisioners(projectId: string) {
    const rows = await this.db.selectFrom('project_provisioners').select('provisioner').where('project_id', '=', projectId).orderBy('provisioner').execute();
    return rows.map((r) => r.provisioner);
  }
  async setProjectProvisioners(projectId: string, names: string[]) {
    await this.transaction(async (tx) => {
      const db = (tx as SqlStore).db;
      await db.deleteFrom('project_provisioners').where('project_id', '=', projectId).execute();
      if (names.length > 0) await db.insertInto('project_provisioners').values(names.map((provisioner) => ({ project_id: projectId, provisioner }))).execute();
    });
  }

  async addQuarantine(row: QuarantineRow) {
    await this.db.insertInto('quarantine').values(row).onConflict((oc) => oc.columns(['workspace_id', 'provisioner']).doNothing()).execute();
  }
  listQuarantine() {
    return this.db.selectFrom('quarantine').selectAll().orderBy('first_seen').orderBy('workspace_id').execute();
  }
  async deleteQuarantine(workspaceId: string, provisioner: string) {
    await this.db.deleteFrom('quarantine').where('workspace_id', '=', workspaceId).where('provisioner', '=', provisioner).execute();
  }

  async getMeta(key: string) {
    return (await this.db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst())?.value;
  }
  async setMeta(key: string, value: string) {
    await this.db.insertInto('meta').values({ key, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
  }

  async backup(file: string) {
    if (!this.sqlite) {
      throw new ConflictError('This server keeps its state in PostgreSQL, which Berth cannot copy consistently by itself; back it up with pg_dump (see "Backup and restore" in docs/operations.md).');
    }
    await this.sqlite.backup(file);
  }

  async close() {
    await this.root.destroy();
  }
}

/** Re-exported for callers that build provisioner rows. */
export type { ProvisionersTable };
