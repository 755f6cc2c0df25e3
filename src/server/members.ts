/** Project members and their roles, and removing users without leaving a project ownerless. */
import { ConflictError, ForbiddenError, NotFoundError } from '../core/errors.ts';
import type { ProjectRole } from '../store/schema.ts';
import type { MemberWithName, ProjectRow, Store, UserRow } from '../store/store.ts';
import type { Member } from '../sdk/wire.ts';
import type { Principal } from './auth.ts';
import type { ProjectService } from './projects.ts';

/** The wire form of a member row. */
export function memberToWire(m: MemberWithName): Member {
  return { user: m.user_name, role: m.role, createdAt: m.created_at };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Listing, adding, changing and removing project members; deleting users. */
export class MemberService {
  constructor(private readonly store: Store, private readonly projects: ProjectService) {}

  /** The members of a project (anyone who may see it). */
  async list(p: Principal, project: string): Promise<Member[]> {
    const row = await this.projects.find(p, project, 'read');
    return (await this.store.listMembers(row.id)).map(memberToWire);
  }

  /** Adds `userName` to a project or changes their role (owners and admins). */
  async set(p: Principal, project: string, userName: string, role: ProjectRole): Promise<Member> {
    const row = await this.projects.find(p, project, 'manageMembers');
    const user = await this.user(userName);
    return this.store.transaction(async (tx) => {
      if (role !== 'owner') await assertOtherOwner(tx, row, user, `make ${user.name} ${role === 'developer' ? 'a developer' : 'a viewer'}`);
      await tx.setMember(row.id, user.id, role, new Date().toISOString());
      return memberToWire((await tx.listMembers(row.id)).find((m) => m.user_id === user.id)!);
    });
  }

  /** Removes `userName` from a project (owners and admins); the last owner stays. */
  async remove(p: Principal, project: string, userName: string): Promise<void> {
    const row = await this.projects.find(p, project, 'manageMembers');
    const user = await this.user(userName);
    await this.store.transaction(async (tx) => {
      if (!(await tx.getMemberRole(row.id, user.id))) throw new NotFoundError(`${user.name} is not a member of project "${row.name}".`);
      await assertOtherOwner(tx, row, user, `remove ${user.name}`);
      await tx.removeMember(row.id, user.id);
    });
  }

  /**
   * Deletes a user with their tokens and memberships (admins). Refused while they own workspaces,
   * are the only owner of a project, or are the last admin: each would leave something no one can manage.
   */
  async deleteUser(p: Principal, name: string): Promise<void> {
    if (p.kind !== 'user' || p.user.role !== 'admin') throw new ForbiddenError('Only an admin can do this.');
    const user = await this.user(name);
    await this.store.transaction(async (tx) => {
      if (user.role === 'admin' && (await tx.listUsers()).filter((u) => u.role === 'admin').length === 1) {
        throw new ConflictError(`${user.name} is the last admin and cannot be removed; create another admin first (berth user add NAME --admin).`);
      }
      const workspaces = await tx.listWorkspaces({ ownerId: user.id });
      if (workspaces.length > 0) {
        const names = workspaces.slice(0, 5).map((w) => `${user.name}/${w.name}`);
        throw new ConflictError(`${user.name} still owns ${plural(workspaces.length, 'workspace')} (${names.join(', ')}${workspaces.length > 5 ? ', …' : ''}); delete them first (berth ws rm ${names[0]}).`);
      }
      const soleOwner: string[] = [];
      for (const id of await tx.listMemberProjectIds(user.id)) {
        const owners = (await tx.listMembers(id)).filter((m) => m.role === 'owner');
        if (owners.length === 1 && owners[0]!.user_id === user.id) soleOwner.push((await tx.getProject(id))!.name);
      }
      if (soleOwner.length > 0) {
        throw new ConflictError(
          `${user.name} is the only owner of ${soleOwner.length === 1 ? 'project' : 'projects'} ${soleOwner.join(', ')}; give ${soleOwner.length === 1 ? 'it' : 'each'} another owner first (berth project member add ${soleOwner[0]} USER --role owner) or delete ${soleOwner.length === 1 ? 'it' : 'them'}.`,
        );
      }
      await tx.deleteUser(user.id);
    });
  }

  private async user(name: string): Promise<UserRow> {
    const user = await this.store.getUserByName(name);
    if (!user) throw new NotFoundError(`No user named "${name}"; see berth user list.`);
    return user;
  }
}

/** Throws ConflictError when `user` is the project's only owner: a project always keeps one. */
async function assertOtherOwner(tx: Store, project: ProjectRow, user: UserRow, what: string): Promise<void> {
  const owners = (await tx.listMembers(project.id)).filter((m) => m.role === 'owner');
  if (owners.length === 1 && owners[0]!.user_id === user.id) {
    throw new ConflictError(`Cannot ${what}: ${user.name} is the only owner of project "${project.name}", and a project always keeps one; make someone else an owner first.`);
  }
}
