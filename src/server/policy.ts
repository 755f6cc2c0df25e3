/**
 * Quotas per user and per project, and the provisioners a project may use: checked when a
 * workspace is created, before anything is stored.
 */
import { ForbiddenError, InputError, NotFoundError, QuotaExceededError } from '../core/errors.ts';
import type { Spec } from '../core/spec.ts';
import { formatSize, parseSize } from '../core/units.ts';
import type { ProjectRow, QuotaRow, Store, UserRow, WorkspaceRow } from '../store/store.ts';
import type { ProjectProvisioners, Quota, QuotaInput } from '../sdk/policy.ts';

/** Amounts a set of workspaces holds, or a limit on them (sizes in bytes). */
export interface Amounts {
  workspaces: number;
  cpus: number;
  memory: number;
  storage: number;
}

/** A quota's limits; null is no limit. */
export type Limits = { [K in keyof Amounts]: number | null };

/** What one workspace asks for; an absent resource is unlimited. */
export type Ask = Partial<Pick<Amounts, 'cpus' | 'memory' | 'storage'>>;

const NO_LIMITS: Limits = { workspaces: null, cpus: null, memory: null, storage: null };

/** How each resource is named in sentences, and the spec field that sets it. */
const RESOURCES = {
  cpus: { what: 'CPUs', field: 'spec.resources.cpus', show: (n: number) => String(n) },
  memory: { what: 'of memory', field: 'spec.resources.memory', show: formatSize },
  storage: { what: 'of storage', field: 'spec.resources.disk', show: formatSize },
} as const;

/** What a workspace spec asks for: CPUs, memory and disk of `spec.resources`. */
export function askOf(spec: Pick<Spec, 'resources'>): Ask {
  const r = spec.resources ?? {};
  return { ...(r.cpus !== undefined ? { cpus: r.cpus } : {}), ...(r.memory !== undefined ? { memory: r.memory } : {}), ...(r.disk !== undefined ? { storage: r.disk } : {}) };
}

/**
 * Why one more workspace asking `ask` would break `limits` given `used`, as a sentence naming the
 * limit, the amount in use and the amount asked; undefined when it fits. Under a CPU, memory or
 * storage limit a workspace must state that resource: an unlimited one could take any amount.
 */
export function quotaRefusal(subject: string, limits: Limits, used: Amounts, ask: Ask): string | undefined {
  if (limits.workspaces !== null && used.workspaces + 1 > limits.workspaces) {
    return `${subject} may have at most ${limits.workspaces} workspace${limits.workspaces === 1 ? '' : 's'}; ${used.workspaces} exist${used.workspaces === 1 ? 's' : ''} and this would be one more (delete one first).`;
  }
  for (const key of ['cpus', 'memory', 'storage'] as const) {
    const limit = limits[key];
    if (limit === null) continue;
    const r = RESOURCES[key];
    const what = key === 'cpus' && limit === 1 ? 'CPU' : r.what;
    const asked = ask[key];
    if (asked === undefined) {
      return `${subject} has a quota of ${r.show(limit)} ${what}, so each workspace must set ${r.field}; this one sets none.`;
    }
    if (used[key] + asked > limit) {
      return `${subject} may use at most ${r.show(limit)} ${what} across workspaces; ${r.show(used[key])} ${key === 'cpus' && used[key] !== 1 ? 'are' : 'is'} in use and this workspace asks for ${r.show(asked)}.`;
    }
  }
  return undefined;
}

/** Sums what live workspaces hold; those being deleted no longer count. */
export function usageOf(rows: { desired: string; spec_json: string }[]): Amounts {
  const used: Amounts = { workspaces: 0, cpus: 0, memory: 0, storage: 0 };
  for (const row of rows) {
    if (row.desired === 'deleted') continue;
    const ask = askOf(JSON.parse(row.spec_json) as Spec);
    used.workspaces += 1;
    used.cpus += ask.cpus ?? 0;
    used.memory += ask.memory ?? 0;
    used.storage += ask.storage ?? 0;
  }
  // Fractions of CPUs add up with float noise (0.1 + 0.2); sentences show two decimals at most.
  used.cpus = Math.round(used.cpus * 100) / 100;
  return used;
}

function limitsOf(row: QuotaRow | undefined): Limits {
  return row ? { workspaces: row.max_workspaces, cpus: row.max_cpus, memory: row.max_memory, storage: row.max_storage } : NO_LIMITS;
}

/** What the create check needs to know about the new workspace. */
export interface Admission {
  user: UserRow;
  project: ProjectRow;
  provisioner: string;
  spec: Spec;
}

/** Quotas and allowed provisioners: the create check and their administration. */
export class PolicyService {
  /** Admissions run one after another, so two creates cannot both take the last unit of a quota. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: Store, private readonly provisionerNames: () => string[]) {}

  /** Checks `a` against the project's provisioners and both quotas, then runs `store` (the insert) before the next admission. */
  admit<T>(a: Admission, store: () => Promise<T>): Promise<T> {
    return this.serially(async () => {
      await this.check(a);
      return store();
    });
  }

  /** Runs `fn` after every admission called before it. */
  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Checks a workspace's changed spec (PATCH) against its owner's and project's CPU, memory and
   * storage limits, its own old share not counted, then runs `store` (the update). A change that
   * leaves the resources as they were is never refused, whatever the quotas say now.
   */
  admitChange<T>(c: { row: WorkspaceRow; before: Spec; after: Spec }, store: () => Promise<T>): Promise<T> {
    const ask = askOf(c.after);
    if (JSON.stringify(askOf(c.before)) === JSON.stringify(ask)) return store();
    return this.serially(async () => {
      const [owner, project] = await Promise.all([this.store.getUser(c.row.owner_id), this.store.getProject(c.row.project_id)]);
      // The workspace exists already: only its resources are checked, not the count.
      await this.checkQuotas({ id: c.row.owner_id, name: owner?.name ?? c.row.owner_id }, { id: c.row.project_id, name: project?.name ?? c.row.project_id }, ask, c.row.id);
      return store();
    });
  }

  /** Throws ForbiddenError or QuotaExceededError with a sentence when `a` is not allowed. */
  async check(a: Admission): Promise<void> {
    const allowed = await this.store.listProjectProvisioners(a.project.id);
    if (allowed.length > 0 && !allowed.includes(a.provisioner)) {
      throw new ForbiddenError(`Project ${a.project.name} may use only the provisioner${allowed.length === 1 ? '' : 's'} ${allowed.join(', ')}; choose one of them instead of "${a.provisioner}".`);
    }
    await this.checkQuotas(a.user, a.project, askOf(a.spec));
  }

  /** Throws QuotaExceededError when `ask` does not fit the owner's or the project's quota; `changing` names a workspace that exists already (not counted, nor its share). */
  private async checkQuotas(owner: { id: string; name: string }, project: { id: string; name: string }, ask: Ask, changing?: string): Promise<void> {
    const scopes = [
      { scope: 'user' as const, id: owner.id, subject: `User ${owner.name}`, filter: { ownerId: owner.id } },
      { scope: 'project' as const, id: project.id, subject: `Project ${project.name}`, filter: { projectId: project.id } },
    ];
    for (const s of scopes) {
      const row = await this.store.getQuota(s.scope, s.id);
      if (!row) continue;
      const used = usageOf((await this.store.listWorkspaces(s.filter)).filter((w) => w.id !== changing));
      const limits = changing ? { ...limitsOf(row), workspaces: null } : limitsOf(row);
      const refusal = quotaRefusal(s.subject, limits, used, ask);
      if (refusal) throw new QuotaExceededError(refusal, { details: { scope: s.scope, subject: s.subject.split(' ')[1], used } });
    }
  }

  /** A user's or project's quota with what its workspaces use now. */
  async getQuota(scope: QuotaRow['scope'], name: string): Promise<Quota> {
    const id = await this.subjectId(scope, name);
    const used = usageOf(await this.store.listWorkspaces(scope === 'user' ? { ownerId: id } : { projectId: id }));
    return { scope, subject: name, limits: limitsOf(await this.store.getQuota(scope, id)), used };
  }

  /** Replaces a quota: limits absent or null are lifted. */
  async setQuota(scope: QuotaRow['scope'], name: string, input: QuotaInput): Promise<Quota> {
    const id = await this.subjectId(scope, name);
    const size = (v: string | number | null | undefined, what: string) => (v === null || v === undefined ? null : parseSize(v, what));
    const row: QuotaRow = {
      scope,
      subject_id: id,
      max_workspaces: input.workspaces ?? null,
      max_cpus: input.cpus ?? null,
      max_memory: size(input.memory, 'memory'),
      max_storage: size(input.storage, 'storage'),
      updated_at: new Date().toISOString(),
    };
    await this.store.setQuota(row);
    return this.getQuota(scope, name);
  }

  /** The provisioners a project may use (empty: any). */
  async getProvisioners(projectName: string): Promise<ProjectProvisioners> {
    const project = await this.project(projectName);
    return { project: project.name, provisioners: await this.store.listProjectProvisioners(project.id) };
  }

  /** Restricts a project to `names` (empty lifts the restriction); each must be a provisioner this server has. */
  async setProvisioners(projectName: string, names: string[]): Promise<ProjectProvisioners> {
    const project = await this.project(projectName);
    const known = this.provisionerNames();
    const unknown = names.filter((n) => !known.includes(n));
    if (unknown.length > 0) throw new InputError(`No provisioner named ${unknown.map((n) => `"${n}"`).join(', ')}; this server has: ${known.join(', ') || 'none'}.`);
    await this.store.setProjectProvisioners(project.id, [...new Set(names)]);
    return this.getProvisioners(projectName);
  }

  private async project(name: string): Promise<ProjectRow> {
    const project = await this.store.getProjectByName(name);
    if (!project) throw new NotFoundError(`No project named "${name}".`);
    return project;
  }

  private async subjectId(scope: QuotaRow['scope'], name: string): Promise<string> {
    if (scope === 'project') return (await this.project(name)).id;
    const user = await this.store.getUserByName(name);
    if (!user) throw new NotFoundError(`No user named "${name}".`);
    return user.id;
  }
}
