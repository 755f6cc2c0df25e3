/** The Store: every read and write of control-plane state goes through this interface. */
import type { Insertable, Selectable, Updateable } from 'kysely';
import type { AgentEnrollmentsTable, AgentsTable, Database, EventsTable, ProjectMembersTable, ProjectRole, ProjectsTable, ProvisionersTable, QuarantineTable, QuotasTable, TokensTable, UsersTable, WorkspacesTable } from './schema.ts';

/** A user row. */
export type UserRow = Selectable<UsersTable>;
/** A token row (hash only, never the token). */
export type TokenRow = Selectable<TokensTable>;
/** A project row. */
export type ProjectRow = Selectable<ProjectsTable>;
/** A project member row. */
export type MemberRow = Selectable<ProjectMembersTable>;
/** A member row with the user's name. */
export type MemberWithName = MemberRow & { user_name: string };
/** A provisioner row. */
export type ProvisionerRow = Selectable<ProvisionersTable>;
/** Which workspaces `listWorkspaces` returns; every field narrows. */
export interface WorkspaceFilter {
  ownerId?: string;
  name?: string;
  projectId?: string;
  provisioner?: string;
}
/** A workspace row. */
export type WorkspaceRow = Selectable<WorkspacesTable>;
/** An event row. */
export type EventRow = Selectable<EventsTable>;
/** An agent row. */
export type AgentRow = Selectable<AgentsTable>;
/** An agent enrollment row (the token's hash, never the token). */
export type AgentEnrollmentRow = Selectable<AgentEnrollmentsTable>;
/** A quota row (user or project limits). */
export type QuotaRow = Selectable<QuotasTable>;
/** A quarantined orphan: resources of a provisioner for a workspace id without a row. */
export type QuarantineRow = Selectable<QuarantineTable>;
/** Fields an agent update may change. */
export type AgentPatch = Omit<Updateable<AgentsTable>, 'name' | 'created_at'>;
/** What a caller must say about a new workspace; everything else has the defaults of `newWorkspaceRow`. */
export type NewWorkspace = Pick<Insertable<WorkspacesTable>, 'id' | 'name' | 'owner_id' | 'project_id' | 'provisioner' | 'spec_json'> & Partial<Insertable<WorkspacesTable>>;

/** The row of a new workspace: no ref, wanted running and pending, no attempts yet, created now; `fields` override any of it. */
export function newWorkspaceRow(fields: NewWorkspace, now = new Date().toISOString()): Insertable<WorkspacesTable> {
  return {
    ref: null,
    desired: 'running',
    phase: 'pending',
    message: null,
    status_json: null,
    attempts: 0,
    next_attempt_at: null,
    created_at: now,
    updated_at: now,
    ...fields,
  };
}

/** Fields a workspace update may change. */
export type WorkspacePatch = Omit<Updateable<WorkspacesTable>, 'id' | 'owner_id' | 'created_at'>;

/** Persistence of users, tokens, projects, provisioners, workspaces and their events, and agents. */
export interface Store {
  /** Runs `fn` in one transaction; the Store passed to `fn` is bound to it. */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;

  createUser(row: Insertable<UsersTable>): Promise<UserRow>;
  getUser(id: string): Promise<UserRow | undefined>;
  getUserByName(name: string): Promise<UserRow | undefined>;
  listUsers(): Promise<UserRow[]>;

  createToken(row: Insertable<TokensTable>): Promise<void>;
  findTokenByHash(hash: string): Promise<TokenRow | undefined>;
  getToken(id: string): Promise<TokenRow | undefined>;
  listTokens(userId: string): Promise<TokenRow[]>;
  revokeToken(id: string, at: string): Promise<void>;
  /** Revokes every live token of a workspace (on rotation and on delete). */
  revokeWorkspaceTokens(workspaceId: string, at: string): Promise<void>;
  /** The newest live token of a workspace. */
  currentWorkspaceToken(workspaceId: string): Promise<TokenRow | undefined>;

  createProject(row: Insertable<ProjectsTable>): Promise<ProjectRow>;
  getProject(id: string): Promise<ProjectRow | undefined>;
  getProjectByName(name: string): Promise<ProjectRow | undefined>;
  listProjects(): Promise<ProjectRow[]>;
  /** Changes a project's URL, default branch or (encrypted) credentials. */
  updateProject(id: string, patch: Partial<Pick<ProjectRow, 'repo_url' | 'branch' | 'credentials_enc'>>): Promise<ProjectRow | undefined>;

  /** Removes a project row (its workspaces must be gone; the caller checks). */
  deleteProject(id: string): Promise<void>;

  /** Members of a project with their user names, by name. */
  listMembers(projectId: string): Promise<MemberWithName[]>;
  /** A user's role in a project, or undefined when they are not a member. */
  getMemberRole(projectId: string, userId: string): Promise<ProjectRole | undefined>;
  /** Adds a member or changes their role. */
  setMember(projectId: string, userId: string, role: ProjectRole, at: string): Promise<void>;
  /** Removes a member; false when they were not one. */
  removeMember(projectId: string, userId: string): Promise<boolean>;
  /** Ids of the projects a user is a member of. */
  listMemberProjectIds(userId: string): Promise<string[]>;
  /** Removes a user with their tokens, memberships and quota; projects they created pass to another owner (the caller checks there is one). */
  deleteUser(id: string): Promise<void>;

  createProvisioner(row: Insertable<ProvisionersTable>): Promise<void>;
  listProvisioners(): Promise<ProvisionerRow[]>;
  /** Replaces a stored provisioner's (encrypted) options; false when there is no such row. */
  updateProvisioner(name: string, configEnc: string): Promise<boolean>;
  /** Removes a stored provisioner row; false when there was none. */
  deleteProvisioner(name: string): Promise<boolean>;

  createWorkspace(row: Insertable<WorkspacesTable>): Promise<WorkspaceRow>;
  getWorkspace(id: string): Promise<WorkspaceRow | undefined>;
  getWorkspaceByName(ownerId: string, name: string): Promise<WorkspaceRow | undefined>;
  listWorkspaces(filter?: WorkspaceFilter): Promise<WorkspaceRow[]>;
  /** How many workspaces each provisioner has (provisioners without any are absent). */
  countWorkspacesByProvisioner(): Promise<Map<string, number>>;
  /** Updates a workspace; with `unlessDesired`, only if its desired state is not that one (returns undefined otherwise). */
  updateWorkspace(id: string, patch: WorkspacePatch, guard?: { unlessDesired?: WorkspaceRow['desired'] }): Promise<WorkspaceRow | undefined>;
  /** Removes the workspace row, its events and tokens; events appended before the call are removed too. */
  deleteWorkspace(id: string): Promise<void>;

  /** Appends events; appends to one workspace get increasing ids in the order they were called, even when not awaited. */
  appendEvents(workspaceId: string, events: { kind: string; message: string; ts: string }[]): Promise<EventRow[]>;
  listEvents(workspaceId: string, afterId: number, limit: number): Promise<EventRow[]>;
  /** The newest `n` events, oldest first. */
  lastEvents(workspaceId: string, n: number): Promise<EventRow[]>;
  /** The newest `limit` events with an id below `beforeId`, oldest first. */
  eventsBefore(workspaceId: string, beforeId: number, limit: number): Promise<EventRow[]>;
  /**
   * Removes up to `limit` of the workspace's oldest events that are beyond the newest `keep` or
   * older than `olderThan` (never its newest phase event), and counts them; returns how many went.
   */
  pruneEvents(workspaceId: string, policy: { keep: number; olderThan: string; limit: number }, at: string): Promise<number>;
  /** Removes up to `limit` events of workspaces whose row is gone (output that landed after a delete); returns how many. */
  pruneEventsWithoutWorkspace(limit: number): Promise<number>;
  /** How many events retention removed from a workspace, and the newest removed id. */
  eventsDropped(workspaceId: string): Promise<{ dropped: number; lastDroppedId: number }>;

  createAgent(row: Insertable<AgentsTable>): Promise<AgentRow>;
  getAgent(name: string): Promise<AgentRow | undefined>;
  listAgents(): Promise<AgentRow[]>;
  updateAgent(name: string, patch: AgentPatch): Promise<AgentRow | undefined>;
  /** Removes an agent with its enrollment tokens; false when there was none. */
  deleteAgent(name: string): Promise<boolean>;
  createAgentEnrollment(row: Insertable<AgentEnrollmentsTable>): Promise<void>;
  getAgentEnrollment(tokenHash: string): Promise<AgentEnrollmentRow | undefined>;
  /** Marks an enrollment token used if it is unused and unexpired at `at`; false when another use won or it expired. */
  useAgentEnrollment(tokenHash: string, at: string): Promise<boolean>;
  /** The agent a workspace is pinned to. */
  getAgentPin(workspaceId: string): Promise<string | undefined>;
  /** Pins a workspace to an agent (replacing any earlier pin). */
  setAgentPin(workspaceId: string, agentName: string, at: string): Promise<void>;
  deleteAgentPin(workspaceId: string): Promise<void>;
  /** Ids of the workspaces pinned to an agent. */
  listAgentPins(agentName: string): Promise<string[]>;

  /** The limits of a user or project, if set. */
  getQuota(scope: QuotaRow['scope'], subjectId: string): Promise<QuotaRow | undefined>;
  /** Sets (replaces) the limits of a user or project. */
  setQuota(row: QuotaRow): Promise<void>;
  /** The provisioners a project may use; empty means every one. */
  listProjectProvisioners(projectId: string): Promise<string[]>;
  /** Replaces the provisioners a project may use. */
  setProjectProvisioners(projectId: string, names: string[]): Promise<void>;

  /** Records an orphan in quarantine; an existing record keeps its `first_seen`. */
  addQuarantine(row: QuarantineRow): Promise<void>;
  /** Every quarantined orphan, oldest first. */
  listQuarantine(): Promise<QuarantineRow[]>;
  /** Forgets a quarantine record (its resources were removed, or its workspace row is back). */
  deleteQuarantine(workspaceId: string, provisioner: string): Promise<void>;

  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;

  /** Writes a consistent copy of the database to `file` while it stays in use (SQLite's backup API); PostgreSQL refuses, pointing at pg_dump. */
  backup(file: string): Promise<void>;

  /** Closes the connection pool. */
  close(): Promise<void>;
}

/** The Kysely database type, re-exported for store implementations. */
export type { Database };
