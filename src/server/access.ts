/**
 * Who may do what on a project. One decision table (`decide`) for every caller: admins may do
 * everything, members what their role allows, workspace tokens only their own project with their
 * workspace owner's role. Non-members learn nothing: the answer is the same 404 as for a project
 * that does not exist.
 */
import { ForbiddenError, NotFoundError } from '../core/errors.ts';
import type { ProjectRole } from '../store/schema.ts';
import type { ProjectRow, Store } from '../store/store.ts';
import type { Principal } from './auth.ts';

/** What can be done to a project. */
export type ProjectAction = 'read' | 'clone' | 'push' | 'sync' | 'createWorkspace' | 'update' | 'manageMembers' | 'delete';

/** The least role each action needs (admins need none). */
export const ROLE_NEEDED: Record<ProjectAction, ProjectRole> = {
  read: 'viewer',
  clone: 'viewer',
  push: 'developer',
  sync: 'developer',
  createWorkspace: 'developer',
  update: 'owner',
  manageMembers: 'owner',
  delete: 'owner',
};

/** The roles, weakest first. */
export const PROJECT_ROLES: readonly ProjectRole[] = ['viewer', 'developer', 'owner'];

// Words for sentences: "to <verb> it you need …".
const VERB: Record<ProjectAction, string> = {
  read: 'see',
  clone: 'clone or fetch',
  push: 'push to',
  sync: 'sync',
  createWorkspace: 'create workspaces in',
  update: 'change',
  manageMembers: 'manage the members of',
  delete: 'delete',
};

// A workspace works on its project's code; changing or managing the project is for people.
const WORKSPACE_TOKEN_ACTIONS: ReadonlySet<ProjectAction> = new Set(['read', 'clone', 'push']);

/** Whether `role` is at least `needed`. */
export function roleAtLeast(role: ProjectRole, needed: ProjectRole): boolean {
  return PROJECT_ROLES.indexOf(role) >= PROJECT_ROLES.indexOf(needed);
}

/** The answer for a project that does not exist, and for one the caller may not know exists: the same words. */
export function projectNotFound(name: string): NotFoundError {
  return new NotFoundError(`No project named "${name}". Add it with: berth project add ${name} --repo URL`);
}

/** The answer to a workspace token naming any project but its own, whether or not that project exists. */
export function foreignProject(name: string): ForbiddenError {
  return new ForbiddenError(`This workspace token may only access the repository of its own workspace's project, not "${name}".`);
}

/** Everything the decision needs to know about the caller, already looked up. */
export interface Subject {
  /** The user's name (for a workspace token: the workspace owner's). */
  user: string;
  admin: boolean;
  /** The user's role in the project, if a member. */
  role: ProjectRole | undefined;
  /** Set for workspace tokens: whether the project is the workspace's own. */
  workspaceToken?: { ownProject: boolean };
}

/** Allowed, or the error to show. */
export type Decision = { ok: true } | { ok: false; error: NotFoundError | ForbiddenError };

const an = (role: ProjectRole) => (role === 'owner' ? 'an owner' : `a ${role}`);

/** The decision table: may `s` do `action` on the project named `project`? */
export function decide(s: Subject, project: string, action: ProjectAction): Decision {
  const needed = ROLE_NEEDED[action];
  if (s.workspaceToken) {
    if (!s.workspaceToken.ownProject) return deny(foreignProject(project));
    if (!WORKSPACE_TOKEN_ACTIONS.has(action)) return deny(new ForbiddenError(`A workspace token cannot ${VERB[action]} projects; use a user token.`));
    if (s.admin || (s.role && roleAtLeast(s.role, needed))) return { ok: true };
    const now = s.role ? `is ${an(s.role)} of project "${project}"` : `is no longer a member of project "${project}"`;
    return deny(new ForbiddenError(`This workspace's owner, ${s.user}, ${now}; to ${VERB[action]} it they need to be ${an(needed)} or higher (a project owner can change that: berth project member add ${project} ${s.user} --role ${needed}).`));
  }
  if (s.admin) return { ok: true };
  if (!s.role) return deny(projectNotFound(project));
  if (roleAtLeast(s.role, needed)) return { ok: true };
  return deny(new ForbiddenError(`You are ${an(s.role)} of project "${project}"; to ${VERB[action]} it you need to be ${an(needed)} or higher (ask a project owner: berth project member add ${project} ${s.user} --role ${needed}).`));
}

function deny(error: NotFoundError | ForbiddenError): Decision {
  return { ok: false, error };
}

/** Looks up what `decide` needs and applies it. */
export class ProjectAccess {
  constructor(private readonly store: Store) {}

  /** May `p` do `action` on `project`? */
  async can(p: Principal, project: ProjectRow, action: ProjectAction): Promise<Decision> {
    let workspaceToken: Subject['workspaceToken'];
    if (p.kind === 'workspace') {
      const ws = p.workspaceId ? await this.store.getWorkspace(p.workspaceId) : undefined;
      workspaceToken = { ownProject: ws?.project_id === project.id };
    }
    const role = await this.store.getMemberRole(project.id, p.user.id);
    return decide({ user: p.user.name, admin: p.user.role === 'admin', role, ...(workspaceToken ? { workspaceToken } : {}) }, project.name, action);
  }

  /** Throws NotFoundError or ForbiddenError unless `p` may do `action` on `project`. */
  async check(p: Principal, project: ProjectRow, action: ProjectAction): Promise<void> {
    const d = await this.can(p, project, action);
    if (!d.ok) throw d.error;
  }

  /** The projects of `rows` that `p` may see: all for admins, the member ones for users, its own for a workspace token. */
  async visible(p: Principal, rows: ProjectRow[]): Promise<ProjectRow[]> {
    if (p.kind === 'workspace') {
      const ws = p.workspaceId ? await this.store.getWorkspace(p.workspaceId) : undefined;
      return rows.filter((r) => r.id === ws?.project_id);
    }
    if (p.user.role === 'admin') return rows;
    const mine = new Set(await this.store.listMemberProjectIds(p.user.id));
    return rows.filter((r) => mine.has(r.id));
  }
}
