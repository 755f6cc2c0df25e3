/** Projects: git repositories known to the control plane, their upstream credentials and mirrors. */
import fs from 'node:fs';
import path from 'node:path';
import { ConflictError, ForbiddenError, InputError, NotFoundError } from '../core/errors.ts';
import { assertName } from '../core/names.ts';
import type { ProjectRow, Store } from '../store/store.ts';
import type { CreateProject, Project, ProjectSync, UpdateProject } from '../sdk/wire.ts';
import { foreignProject, ProjectAccess, projectNotFound, type ProjectAction } from './access.ts';
import type { Principal } from './auth.ts';
import { MemberService } from './members.ts';
import { assertNoCredentialsInUrl, normalizeCredentials, upstreamEndpoint, type ProjectCredentials } from './git/credentials.ts';
import type { GitMirrors, MirrorProject, SyncResult } from './git/mirrors.ts';
import { assertBranchName } from './git/refs.ts';
import { newId, type SecretBox } from './secrets.ts';
import type { OutboundGuard } from './net/outbound.ts';

/** Converts a project row to its wire form; credentials are never included, only their kind. */
export function projectToWire(p: ProjectRow, credentials: ProjectCredentials['kind'] | null = null): Project {
  return { id: p.id, name: p.name, repo: p.repo_url, branch: p.branch, credentials, createdAt: p.created_at };
}

/** Whether `repo` names a repository on the server's own disk (an absolute path or a file:// URL). */
export function isLocalRepo(repo: string): boolean {
  return repo.startsWith('/') || /^file:/i.test(repo);
}

/**
 * Only admins may point a project at the server's disk: the mirror reads it and the push relay
 * writes into it as the server's own user, so anyone else could read or change any repository there.
 */
export function assertMayUseRepo(p: Principal, repo: string): void {
  if (isLocalRepo(repo) && p.user.role !== 'admin') {
    throw new ForbiddenError(
      "Only admins may use a repository on the server's disk (a local path or file:// URL), because the server reads and pushes into it as its own user; use an https:// or ssh URL instead.",
    );
  }
}

/** Accepts https://, http://, ssh://, git://, file://, scp-like user@host:path, and absolute local paths. */
export function validateRepoUrl(repo: string): string {
  if (/[\s\0]/.test(repo)) throw new InputError('The repository URL must not contain spaces or control characters.');
  if (repo.startsWith('-')) throw new InputError('The repository URL must not start with "-".');
  assertNoCredentialsInUrl(repo);
  if (repo.startsWith('/')) {
    if (!fs.existsSync(repo)) throw new InputError(`The local repository path ${repo} does not exist on the server.`);
    return path.normalize(repo);
  }
  if (/^(https?|ssh|git|file):\/\/[^/]/.test(repo) || /^file:\/\/\//.test(repo)) {
    try {
      new URL(repo);
    } catch {
      throw new InputError(`"${repo}" is not a valid URL.`);
    }
    return repo;
  }
  if (/^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/].*$/.test(repo)) return repo;
  throw new InputError(`"${repo}" is not a repository URL git accepts here: use https://, ssh://, git://, file://, user@host:path or an absolute local path.`);
}

/** What the project service needs for credentials and mirrors; without it, projects carry no credentials and cannot sync. */
export interface ProjectGitOptions {
  box: SecretBox;
  mirrors: GitMirrors;
  /** Refuses upstreams of non-admins on internal addresses (checked again at every fetch). */
  outbound?: OutboundGuard;
}

/** Creating and finding projects, and syncing their mirrors. */
export class ProjectService {
  /** Who may do what on a project. */
  readonly access: ProjectAccess;
  /** Project members and their roles. */
  readonly members: MemberService;

  constructor(private readonly store: Store, private readonly git?: ProjectGitOptions) {
    this.access = new ProjectAccess(store);
    this.members = new MemberService(store, this);
  }

  /** Adds a project; credentials are validated against the URL and stored encrypted. */
  async create(p: Principal, input: CreateProject): Promise<Project> {
    assertName(input.name, 'Project name');
    // Checked before the URL, so a non-admin learns nothing about which paths exist on the server.
    assertMayUseRepo(p, input.repo);
    const repo = validateRepoUrl(input.repo);
    await this.assertMayReach(p, repo);
    if (input.branch !== undefined) await assertBranchName(input.branch, 'branch');
    const creds = normalizeCredentials(repo, input.credentials);
    if (creds && !this.git) throw new InputError('This server cannot store repository credentials.');
    const now = new Date().toISOString();
    // With its owner in the same transaction: a project without an owner could be managed by no one but admins.
    const row = await this.store.transaction(async (tx) => {
      const created = await tx.createProject({
        id: newId('prj'),
        name: input.name,
        repo_url: repo,
        branch: input.branch ?? null,
        owner_id: p.user.id,
        credentials_enc: creds ? this.git!.box.encrypt(JSON.stringify(creds)) : null,
        created_at: now,
      });
      await tx.setMember(created.id, p.user.id, 'owner', now);
      return created;
    });
    return this.toWire(row);
  }

  /**
   * Changes the URL, default branch or credentials (owner or admin). Credentials left out are kept
   * while the URL stays on the same scheme, host and port, and dropped (with a `notice`) when it moves;
   * `credentials: null` removes them. The next fetch uses the new settings.
   */
  async update(p: Principal, name: string, input: UpdateProject): Promise<Project> {
    const row = await this.find(p, name, 'update');
    if (input.repo !== undefined) assertMayUseRepo(p, input.repo);
    // Live checkouts would silently get another upstream behind their `origin`.
    if (input.repo !== undefined && input.repo !== row.repo_url) await this.assertUnused(row, 'change its repository');
    const repo = input.repo === undefined ? row.repo_url : validateRepoUrl(input.repo);
    if (input.repo !== undefined) await this.assertMayReach(p, repo);
    if (input.branch !== undefined && input.branch !== null) await assertBranchName(input.branch, 'branch');
    const patch: Parameters<Store['updateProject']>[1] = {};
    let notice: string | undefined;
    if (input.repo !== undefined) patch.repo_url = repo;
    if (input.branch !== undefined) patch.branch = input.branch;
    if (input.credentials === null) patch.credentials_enc = null;
    else if (input.credentials !== undefined) {
      const creds = normalizeCredentials(repo, input.credentials);
      if (creds && !this.git) throw new InputError('This server cannot store repository credentials.');
      patch.credentials_enc = creds ? this.git!.box.encrypt(JSON.stringify(creds)) : null;
    } else if (input.repo !== undefined) {
      const kept = this.credentials(row);
      const from = upstreamEndpoint(row.repo_url);
      const to = upstreamEndpoint(repo);
      if (kept && from !== to) {
        // Credentials were given for one server; a new URL must not hand them to another one.
        patch.credentials_enc = null;
        notice = `The stored credentials were removed because the repository moved from ${from ?? 'a local path'} to ${to ?? 'a local path'}; give them again with --username/--password-stdin or --ssh-key if the new host needs them.`;
      } else {
        // Kept credentials must still fit the new URL, so an https password never goes to an ssh host.
        normalizeCredentials(repo, kept ? (kept.kind === 'password' ? { username: kept.username, password: kept.password } : { sshKey: kept.privateKey }) : undefined);
      }
    }
    const updated = (await this.store.updateProject(row.id, patch))!;
    this.git?.mirrors.invalidate(row.name);
    return notice ? { ...this.toWire(updated), notice } : this.toWire(updated);
  }

  /**
   * Throws InputError unless `ref` is a valid branch name that names a branch or tag in the project's
   * mirror (synced within the freshness window, and once more on a miss, since the upstream may have
   * the branch already). When the mirror cannot be prepared, only the name is checked: the workspace's
   * clone then reports the upstream's problem as before. `fromProject` says the ref is the project's default branch.
   */
  async assertRef(row: ProjectRow, ref: string, opts: { fromProject?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    await assertBranchName(ref, opts.fromProject ? 'branch' : 'ref');
    const mirrors = this.git?.mirrors;
    if (!mirrors) return;
    const project = this.mirrorProject(row);
    let synced: SyncResult | null;
    try {
      synced = await mirrors.prepare(project, opts.signal);
    } catch {
      return;
    }
    if (await mirrors.hasRef(row.name, ref)) return;
    if (synced && !synced.fetched) {
      await mirrors.prepare(project, opts.signal, { force: true });
      if (await mirrors.hasRef(row.name, ref)) return;
    }
    const branches = await mirrors.branches(row.name);
    const shown = branches.length > 20 ? `${branches.slice(0, 20).join(', ')} and ${branches.length - 20} more` : branches.join(', ') || 'no branches yet';
    const hint = opts.fromProject ? ` It is the project's default branch; change it with: berth project update ${row.name} --branch NAME.` : '';
    throw new InputError(`Branch "${ref}" does not exist in project "${row.name}"; it has: ${shown}.${hint}`, { details: { branches: branches.slice(0, 100) } });
  }

  /** Removes a project and its mirror (owner or admin); refused while any workspace uses it. */
  async remove(p: Principal, name: string): Promise<void> {
    const row = await this.find(p, name, 'delete');
    await this.assertUnused(row, 'delete it');
    await this.store.deleteProject(row.id);
    await this.git?.mirrors.remove(row.name);
  }

  /** Refuses, for non-admins, a URL whose host is or resolves to an internal address (no connection is made). */
  private async assertMayReach(p: Principal, repo: string): Promise<void> {
    if (p.user.role !== 'admin') await this.git?.outbound?.check(repo, { lenient: true });
  }

  private async assertUnused(row: ProjectRow, action: string): Promise<void> {
    const used = await this.store.listWorkspaces({ projectId: row.id });
    if (used.length === 0) return;
    const shown = used.slice(0, 5).map((w) => w.name).join(', ');
    throw new ConflictError(
      `Project "${row.name}" has ${used.length} workspace${used.length > 1 ? 's' : ''} (${shown}${used.length > 5 ? ', …' : ''}); delete ${used.length > 1 ? 'them' : 'it'} first (berth ws rm) to ${action}.`,
    );
  }

  /** The projects `p` may see. */
  async list(p: Principal): Promise<Project[]> {
    return (await this.access.visible(p, await this.store.listProjects())).map((r) => this.toWire(r));
  }

  /** Finds a project by name or id that `p` may do `action` on; a project `p` may not know of is not found. */
  async find(p: Principal, name: string, action: ProjectAction): Promise<ProjectRow> {
    let row: ProjectRow;
    try {
      row = await this.get(name);
    } catch (err) {
      // A workspace cannot probe for names: every project but its own gets the same 403.
      throw p.kind === 'workspace' && err instanceof NotFoundError ? foreignProject(name) : err;
    }
    await this.access.check(p, row, action);
    return row;
  }

  /** Finds a project by name or id, or throws NotFoundError. */
  async get(name: string): Promise<ProjectRow> {
    const row = (await this.store.getProjectByName(name)) ?? (name.startsWith('prj_') ? await this.store.getProject(name) : undefined);
    if (!row) throw projectNotFound(name);
    return row;
  }

  /** The wire form of a row. */
  toWire(row: ProjectRow): Project {
    return projectToWire(row, this.credentials(row)?.kind ?? null);
  }

  /** The decrypted upstream credentials (in memory only), or null. */
  credentials(row: ProjectRow): ProjectCredentials | null {
    if (!row.credentials_enc || !this.git) return null;
    return JSON.parse(this.git.box.decrypt(row.credentials_enc)) as ProjectCredentials;
  }

  /** What the mirror manager needs about a project. */
  mirrorProject(row: ProjectRow): MirrorProject {
    return { name: row.name, repo: row.repo_url, credentials: this.credentials(row), ownerId: row.owner_id };
  }

  /** The mirror manager (undefined when the server runs without the git gateway). */
  get mirrors(): GitMirrors | undefined {
    return this.git?.mirrors;
  }

  /** Fetches the upstream into the project's mirror now (users only). */
  async sync(p: Principal, name: string, signal?: AbortSignal): Promise<ProjectSync> {
    const row = await this.find(p, name, 'sync');
    if (!this.git) throw new InputError('This server runs without the git gateway, so there is no mirror to sync.');
    return this.git.mirrors.sync(this.mirrorProject(row), signal ? { signal } : {});
  }
}
