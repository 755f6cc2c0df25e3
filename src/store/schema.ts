/** Table types for Kysely. Timestamps are ISO-8601 strings so both SQLite and PostgreSQL store them alike. */
import type { ColumnType, Generated } from 'kysely';
import type { DesiredState, Phase } from '../core/workspace.ts';

/** A person or automation that owns workspaces. */
export interface UsersTable {
  id: string;
  name: string;
  role: 'admin' | 'user';
  created_at: string;
}

/** API tokens: user tokens and workspace tokens. Only the SHA-256 of the token is stored. */
export interface TokensTable {
  id: string;
  kind: 'user' | 'workspace';
  user_id: string;
  workspace_id: string | null;
  name: string;
  hash: string;
  /** Encrypted plaintext, kept only for workspace tokens so they can be injected into later execs. */
  secret_enc: string | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

/** Git repositories known to the control plane. */
export interface ProjectsTable {
  id: string;
  name: string;
  repo_url: string;
  branch: string | null;
  owner_id: string;
  credentials_enc: string | null;
  created_at: string;
}

/** A project role: viewers read and clone, developers also push, sync and create workspaces, owners also change, delete and manage members. */
export type ProjectRole = 'owner' | 'developer' | 'viewer';

/** Who may use a project, and how; admins need no row. */
export interface ProjectMembersTable {
  project_id: string;
  user_id: string;
  role: ProjectRole;
  created_at: string;
}

/** Provisioner instances added at run time (built-in ones come from config). */
export interface ProvisionersTable {
  name: string;
  type: string;
  config_enc: string;
  created_at: string;
}

/** Workspaces: desired state (what the owner wants) and observed phase (what the reconciler saw). */
export interface WorkspacesTable {
  id: string;
  name: string;
  owner_id: string;
  project_id: string;
  ref: string | null;
  provisioner: string;
  /** Normalized spec as JSON with secret values encrypted. */
  spec_json: string;
  desired: DesiredState;
  /** A text column in SQL; only the phases of core/workspace.ts are ever written. */
  phase: Phase;
  message: string | null;
  /** Runtime details from the last inspect (ports, container id), JSON. */
  status_json: string | null;
  attempts: number;
  next_attempt_at: string | null;
  /** The workspace this one was forked from (its id; kept after the source is deleted). */
  forked_from: string | null;
  /** The branch a fork checks out in its copied checkout. */
  fork_branch: string | null;
  /** What is left of a fork's start: `copy` (files not copied yet), `branch` (branch not checked out yet), null once done. */
  fork_stage: 'copy' | 'branch' | null;
  created_at: string;
  updated_at: string;
}

/** Append-only event log per workspace: phase changes and provisioning output line by line. */
export interface EventsTable {
  id: Generated<number>;
  workspace_id: string;
  ts: string;
  kind: string;
  message: string;
}

/** Per workspace, what event retention has pruned: a count, and the newest pruned id (older ids are gone). */
export interface EventRetentionTable {
  workspace_id: string;
  dropped: ColumnType<number, number, number>;
  last_dropped_id: ColumnType<number, number, number>;
  pruned_at: string;
}

/** Remote host agents: enrolled once their certificate is set; a revoked one stays listed, unusable. */
export interface AgentsTable {
  name: string;
  url: string;
  /** Placement labels, a JSON object of strings. */
  labels_json: string;
  /** The agent's server certificate (PEM) and its SHA-256 fingerprint, which the control plane pins. */
  certificate: string | null;
  fingerprint: string | null;
  /** The client certificate the control plane presents to this agent only; its key is encrypted. */
  client_cert: string | null;
  client_key_enc: string | null;
  client_fingerprint: string | null;
  created_at: string;
  enrolled_at: string | null;
  revoked_at: string | null;
}

/** One-time enrollment tokens: only the SHA-256 of the token is stored. */
export interface AgentEnrollmentsTable {
  token_hash: string;
  agent_name: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

/** Which agent holds a workspace's files (the `agent` provisioner pins a workspace there). */
export interface WorkspaceAgentsTable {
  workspace_id: string;
  agent_name: string;
  pinned_at: string;
}

/** Limits per user or per project; a null column is no limit. Sizes in bytes. */
export interface QuotasTable {
  scope: 'user' | 'project';
  subject_id: string;
  max_workspaces: number | null;
  max_cpus: number | null;
  max_memory: number | null;
  max_storage: number | null;
  updated_at: string;
}

/** The provisioners a project may use; a project without rows may use every one. */
export interface ProjectProvisionersTable {
  project_id: string;
  provisioner: string;
}

/** Resources a provisioner holds for a workspace id the store does not know: stopped, kept, removed after a grace period or by `admin gc`. */
export interface QuarantineTable {
  workspace_id: string;
  provisioner: string;
  first_seen: string;
  reason: string;
}

/** Key/value settings of the control plane itself. */
export interface MetaTable {
  key: string;
  value: ColumnType<string, string, string>;
}

/** The database as Kysely sees it. */
export interface Database {
  users: UsersTable;
  tokens: TokensTable;
  projects: ProjectsTable;
  project_members: ProjectMembersTable;
  provisioners: ProvisionersTable;
  workspaces: WorkspacesTable;
  events: EventsTable;
  event_retention: EventRetentionTable;
  meta: MetaTable;
  agents: AgentsTable;
  agent_enrollments: AgentEnrollmentsTable;
  workspace_agents: WorkspaceAgentsTable;
  quarantine: QuarantineTable;
  quotas: QuotasTable;
  project_provisioners: ProjectProvisionersTable;
}
