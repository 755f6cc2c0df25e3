/** Workspace operations behind the API: create, find, start, stop, delete, and their wire form. */
import { ConflictError, ForbiddenError, InputError, NotFoundError } from '../core/errors.ts';
import { assertName } from '../core/names.ts';
import { normalizeSpec, redactSpec, type Spec } from '../core/spec.ts';
import { validateSpecFor, type ProvisionerRegistry } from '../provisioners/registry.ts';
import { newWorkspaceRow, type Store, type WorkspaceRow } from '../store/store.ts';
import type { CreateWorkspace, ForkWorkspace, SpecPatch, Workspace } from '../sdk/wire.ts';
import type { Principal } from './auth.ts';
import type { EventLog } from './events.ts';
import { forkLineage, forkWorkspace } from './fork.ts';
import type { WarmPool } from './pool/pool.ts';
import type { PolicyService } from './policy.ts';
import type { ProjectService } from './projects.ts';
import { newId, type SecretBox } from './secrets.ts';
import { updateWorkspace } from './workspace-update.ts';

/** Stores specs with secret values sealed, and opens them again for provisioners. */
export class SpecCodec {
  constructor(private readonly box: SecretBox) {}

  encode(spec: Spec): string {
    return JSON.stringify({
      ...spec,
      env: spec.env.map((e) => (e.secret ? { ...e, value: this.box.encrypt(e.value) } : e)),
      files: spec.files.map((f) => (f.secret ? { ...f, content: this.box.encrypt(f.content) } : f)),
      registryLogins: spec.registryLogins.map((l) => ({ ...l, password: this.box.encrypt(l.password) })),
    });
  }

  decode(json: string): Spec {
    const spec = JSON.parse(json) as Spec;
    return {
      ...spec,
      env: spec.env.map((e) => (e.secret ? { ...e, value: this.box.decrypt(e.value) } : e)),
      files: spec.files.map((f) => (f.secret ? { ...f, content: this.box.decrypt(f.content) } : { ...f, secret: false })),
      registryLogins: spec.registryLogins.map((l) => ({ ...l, password: this.box.decrypt(l.password) })),
    };
  }

  /** The spec without decrypting anything, secrets nulled: what the API shows. */
  redacted(json: string): ReturnType<typeof redactSpec> {
    return redactSpec(JSON.parse(json) as Spec);
  }
}

/** The name behind `id`, read through `cache`; an unknown id stands for itself and is not remembered. */
async function nameOf(cache: Map<string, string>, id: string, load: (id: string) => Promise<string | undefined>): Promise<string> {
  const cached = cache.get(id);
  if (cached !== undefined) return cached;
  const name = await load(id);
  if (name === undefined) return id;
  cache.set(id, name);
  return name;
}

/** Something that reconciles a workspace soon; `preempt` cancels an operation in flight. */
export interface Kicker {
  kick(workspaceId: string, opts?: { preempt?: boolean }): void;
}

/** Options of the workspace service. */
export interface WorkspaceServiceOptions {
  store: Store;
  registry: ProvisionerRegistry;
  projects: ProjectService;
  events: EventLog;
  codec: SpecCodec;
  reconciler: Kicker;
  /** Quotas and allowed provisioners, checked before a workspace is stored; absent = none. */
  policy?: PolicyService;
  /** What each workspace was last seen doing (src/server/activity.ts); absent = not shown. */
  activity?: { wire(workspaceId: string): Promise<Workspace['activity']> };
  /** The warm pool (pool/pool.ts): a matching create takes a prepared runtime's id; absent = none. */
  pool?: Pick<WarmPool, 'take' | 'claimed' | 'release'>;
}

/** Workspace use cases; authorization is checked here, HTTP is not known here. */
export class WorkspaceService {
  private readonly o: WorkspaceServiceOptions;
  /** Owner and project names by id; neither can be renamed or deleted, so each is read once, not on every request. */
  private readonly userNames = new Map<string, string>();
  private readonly projectNames = new Map<string, string>();

  constructor(o: WorkspaceServiceOptions) {
    this.o = o;
  }

  async create(p: Principal, input: CreateWorkspace): Promise<Workspace> {
    if (p.kind !== 'user') throw new ForbiddenError('A workspace token cannot create workspaces.');
    assertName(input.name, 'Workspace name');
    const project = await this.o.projects.find(p, input.project, 'createWorkspace');
    const provisionerName = input.provisioner ?? this.o.registry.defaultName();
    if (!this.o.registry.has(provisionerName)) {
      const available = `Available: ${this.o.registry.names().join(', ') || 'none'}. See: berth provisioner list`;
      // A default that could not be built at start is named, never silently replaced by another provisioner.
      if (input.provisioner === undefined) throw new InputError(`The default provisioner "${provisionerName}" is not available (see the server log); choose one with --provisioner. ${available}`);
      throw new InputError(`No provisioner named "${provisionerName}". ${available}`);
    }
    const provisioner = this.o.registry.get(provisionerName);
    const spec = normalizeSpec(input.spec);
    if (provisioner.capabilities.runsOnHost && p.user.role !== 'admin') {
      // Such workspaces run as the control plane's own user, next to its database and keys.
      throw new ForbiddenError(
        `The "${provisioner.name}" provisioner runs workspaces as the server's own user, so only admins may use it; choose another provisioner (berth provisioner list).`,
      );
    }
    await validateSpecFor(provisioner, spec);
    const ref = input.ref ?? project.branch ?? null;
    // A ref the upstream does not have would fail every clone attempt; say so now, naming the branches there are.
    if (ref) await this.o.projects.assertRef(project, ref, { fromProject: input.ref === undefined });
    const pooled = this.o.pool?.take(provisioner.name, project.id, ref, spec);
    const insert = () =>
      this.o.store.createWorkspace(
        newWorkspaceRow({ id: pooled ?? newId('ws'), name: input.name, owner_id: p.user.id, project_id: project.id, ref, provisioner: provisioner.name, spec_json: this.o.codec.encode(spec) }),
      );
    const row = await (this.o.policy ? this.o.policy.admit({ user: p.user, project, provisioner: provisioner.name, spec }, insert) : insert()).catch((err: unknown) => {
      if (pooled) this.o.pool?.release(pooled);
      throw err;
    });
    if (pooled) this.o.pool?.claimed(pooled);
    await this.o.events.append(row.id, 'phase', 'pending');
    this.o.reconciler.kick(row.id);
    return this.toWire(row);
  }

  /** Finds a workspace by id or by name (the caller's own; admins may also name another user's as owner/name). */
  async resolve(p: Principal, ref: string): Promise<WorkspaceRow> {
    let row: WorkspaceRow | undefined;
    if (/^ws_[a-f0-9]{20}$/.test(ref)) {
      row = await this.o.store.getWorkspace(ref);
    } else {
      const slash = ref.indexOf('/');
      if (slash > 0) {
        const owner = await this.o.store.getUserByName(ref.slice(0, slash));
        row = owner ? await this.o.store.getWorkspaceByName(owner.id, ref.slice(slash + 1)) : undefined;
      } else {
        assertName(ref, 'Workspace name');
        row = await this.o.store.getWorkspaceByName(p.user.id, ref);
      }
    }
    if (p.kind === 'workspace') {
      if (!row || row.id !== p.workspaceId) throw new ForbiddenError('This workspace token is scoped to its own workspace and cannot access another.');
      return row;
    }
    if (!row || (row.owner_id !== p.user.id && p.user.role !== 'admin')) throw new NotFoundError(`No workspace "${ref}".`);
    return row;
  }

  async list(p: Principal, all: boolean): Promise<Workspace[]> {
    if (p.kind === 'workspace') {
      const row = p.workspaceId ? await this.o.store.getWorkspace(p.workspaceId) : undefined;
      return row ? [await this.toWire(row)] : [];
    }
    const rows = await this.o.store.listWorkspaces(all && p.user.role === 'admin' ? {} : { ownerId: p.user.id });
    return Promise.all(rows.map((r) => this.toWire(r)));
  }

  async setDesired(p: Principal, ref: string, desired: 'running' | 'stopped' | 'deleted'): Promise<Workspace> {
    const row = await this.resolve(p, ref);
    if (p.kind === 'workspace' && desired === 'deleted') throw new ForbiddenError('A workspace token cannot delete its workspace.');
    const deleting = () => new ConflictError(`Workspace "${row.name}" is being deleted and cannot be ${desired === 'running' ? 'started' : 'stopped'}.`);
    if (row.desired === 'deleted' && desired !== 'deleted') throw deleting();
    const patch: Parameters<Store['updateWorkspace']>[1] = { desired, updated_at: new Date().toISOString() };
    // An explicit start after a failure is a fresh attempt.
    if (desired === 'running' && row.phase === 'failed') Object.assign(patch, { attempts: 0, next_attempt_at: null, message: null });
    const changed = row.desired !== desired || row.phase === 'failed';
    // Conditional, so a start racing a delete can never undo the delete.
    const updated = await this.o.store.updateWorkspace(row.id, patch, desired === 'deleted' ? {} : { unlessDesired: 'deleted' });
    if (!updated) throw deleting();
    if (changed) await this.o.events.append(row.id, 'info', `Desired state set to ${desired}.`);
    this.o.reconciler.kick(row.id, { preempt: row.desired !== desired });
    return this.toWire(updated);
  }

  /** Changes the spec and provisions again on the same storage (workspace-update.ts). */
  async update(p: Principal, ref: string, patch: SpecPatch): Promise<Workspace> {
    return updateWorkspace(this.o, this, p, ref, patch);
  }

  /** Forks a workspace into `input.count` new ones starting from a copy of its files (fork.ts). */
  async fork(p: Principal, ref: string, input: ForkWorkspace): Promise<Workspace[]> {
    return forkWorkspace(this.o, this, p, ref, input);
  }

  /** Whether the workspace row still exists. */
  async exists(id: string): Promise<boolean> {
    return (await this.o.store.getWorkspace(id)) !== undefined;
  }

  async toWire(row: WorkspaceRow): Promise<Workspace> {
    const owner = await nameOf(this.userNames, row.owner_id, async (id) => (await this.o.store.getUser(id))?.name);
    const project = await nameOf(this.projectNames, row.project_id, async (id) => (await this.o.store.getProject(id))?.name);
    const activity = await this.o.activity?.wire(row.id);
    const status = row.status_json ? (JSON.parse(row.status_json) as { ports?: Workspace['ports']; details?: Workspace['details']; outage?: { since: string } }) : {};
    return {
      id: row.id,
      name: row.name,
      owner,
      project,
      ref: row.ref,
      provisioner: row.provisioner,
      desired: row.desired,
      phase: row.phase,
      message: row.message,
      ports: status.ports ?? [],
      details: status.details ?? {},
      ...(row.phase === 'unreachable' && status.outage ? { unreachableSince: status.outage.since } : {}),
      spec: this.o.codec.redacted(row.spec_json),
      ...(activity ? { activity } : {}),
      ...(await forkLineage(this.o.store, row, async (s) => `${await nameOf(this.userNames, s.owner_id, async (id) => (await this.o.store.getUser(id))?.name)}/${s.name}`)),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

}
