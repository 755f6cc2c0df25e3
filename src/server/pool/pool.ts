/**
 * The warm pool: runtimes prepared ahead (storage, checkout from the project mirror, runtime
 * started) for no user, each under a workspace id reserved for it, so that a create matching a pool
 * stores its row under that id and the reconciler only adopts the runtime (files, setup) instead of
 * provisioning it. Entries are recorded before they are created (journal.ts), so a control plane
 * killed while refilling removes what it cannot trust at the next start. See docs/adr/008-warm-pool.md.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../core/errors.ts';
import type { Spec } from '../../core/spec.ts';
import type { Provisioner, WorkspaceContext } from '../../provisioners/provisioner.ts';
import type { ProvisionerRegistry } from '../../provisioners/registry.ts';
import { newWorkspaceRow, type Store, type WorkspaceRow } from '../../store/store.ts';
import type { WorkspaceContexts } from '../contexts.ts';
import { newId } from '../secrets.ts';
import type { SpecCodec } from '../workspaces.ts';
import type { MirrorHead } from './heads.ts';
import { PoolJournal, type PoolEntry } from './journal.ts';
import { poolKey, poolSpec, type PoolConfig } from './spec.ts';

/** Options of the warm pool. */
export interface WarmPoolOptions {
  store: Store;
  registry: ProvisionerRegistry;
  contexts: Pick<WorkspaceContexts, 'forPool' | 'minimal'>;
  codec: SpecCodec;
  logger: Logger;
  /** Directory of the journal (the data directory). */
  dataDir: string;
  pools: PoolConfig[];
  /** Age after which a ready entry is replaced: its checkout falls behind the project. */
  maxAgeMs?: number;
  /** Period of the refill and expiry check, and of looking for a configured project added since. */
  tickMs?: number;
  /** Delay of the refill after a claim, so that preparing the next entry does not compete with the claimed workspace's first commands. */
  refillDelayMs?: number;
  /** The commit a cold create would check out; entries made from another are replaced, and never adopted. Unset: not compared. */
  head?: MirrorHead | undefined;
}

/** A configured pool resolved against the store: the key creates are matched on. */
interface Target {
  cfg: PoolConfig;
  key: string;
  projectId: string;
  ref: string | null;
  spec: Spec;
  ready: string[];
  filling: Promise<void> | undefined;
  /** No new attempt before this time after a failed one. */
  retryAt: number;
  /** The project's branch changed or the project is gone: the entries are removed, none is made. */
  drained: boolean;
}

/** A claimed entry awaiting adoption: what its checkout was made from. */
interface Claim {
  projectId: string;
  ref: string | null;
  commit: string | undefined;
}

/** What a pool holds now (for tests, metrics and the log). */
export interface PoolStatus {
  provisioner: string;
  project: string;
  ref: string | null;
  size: number;
  ready: number;
}

const quiet = { progress: () => undefined };

/** Keeps configured runtimes ready and hands them to matching creates. */
export class WarmPool {
  private readonly o: Required<Omit<WarmPoolOptions, 'head'>> & Pick<WarmPoolOptions, 'head'>;
  private readonly journal: PoolJournal;
  private readonly targets: Target[] = [];
  private readonly taken = new Set<string>();
  private readonly adopting = new Map<string, Claim>();
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  /** Entries of an earlier run being removed: kept in the journal until two checks a tick apart find nothing left. */
  private readonly doomed = new Map<string, { entry: PoolEntry; seenGone: boolean; busy: boolean }>();
  /** Configured pools not resolved yet (their project or provisioner is missing), with whether that was logged. */
  private readonly pending = new Map<PoolConfig, boolean>();

  constructor(o: WarmPoolOptions) {
    this.o = { maxAgeMs: 10 * 60_000, tickMs: 5_000, refillDelayMs: 1_000, ...o };
    this.journal = new PoolJournal(o.dataDir);
  }

  /** Ids the pool holds on backends: not orphans, though no workspace row names them. */
  reserved(): Set<string> {
    return new Set(this.journal.all().map((e) => e.id));
  }

  /** Resolves the configured pools, removes entries left by an earlier run that cannot be handed out, and starts filling. */
  async start(): Promise<void> {
    for (const cfg of this.o.pools) this.pending.set(cfg, false);
    await this.resolve();
    for (const e of this.journal.all()) await this.recover(e);
    this.tick();
    this.timer = setInterval(() => void this.resolve().then(() => this.tick()), this.o.tickMs);
    this.timer.unref();
  }

  /**
   * Turns configured pools into targets once their project and provisioner exist (either may be
   * added after start); drains a target whose project is gone or whose default branch changed.
   */
  private async resolve(): Promise<void> {
    for (const t of [...this.targets]) {
      const project = await this.o.store.getProject(t.projectId);
      if (project && (t.cfg.ref ?? project.branch ?? null) === t.ref) continue;
      this.o.logger.info({ pool: `${t.cfg.provisioner}:${t.cfg.project}` }, 'warm pool drained: its project changed');
      t.drained = true;
      this.targets.splice(this.targets.indexOf(t), 1);
      this.pending.set(t.cfg, false);
      await this.removeReady(t, t.ready.splice(0));
    }
    for (const [cfg, logged] of this.pending) {
      const project = await this.o.store.getProjectByName(cfg.project);
      const p = this.o.registry.has(cfg.provisioner) ? this.o.registry.get(cfg.provisioner) : undefined;
      const why = !project ? `there is no project "${cfg.project}" yet` : !p ? `the provisioner "${cfg.provisioner}" is not available` : !p.capabilities.warmPool ? `provisioner "${cfg.provisioner}" cannot hand prepared runtimes to workspaces` : undefined;
      if (why || !project) {
        if (!logged) this.o.logger.warn({ pool: `${cfg.provisioner}:${cfg.project}` }, `warm pool not filled: ${why}`);
        this.pending.set(cfg, true);
        continue;
      }
      this.pending.delete(cfg);
      const spec = poolSpec(cfg);
      const ref = cfg.ref ?? project.branch ?? null;
      this.targets.push({ cfg, key: poolKey(cfg.provisioner, project.id, ref, spec), projectId: project.id, ref, spec, ready: [], filling: undefined, retryAt: 0, drained: false });
    }
  }

  /**
   * Takes a ready entry for a create, or undefined when none matches. The caller stores its
   * workspace row under the returned id, then calls `claimed`, or `release` if storing failed.
   */
  take(provisioner: string, projectId: string, ref: string | null, spec: Spec): string | undefined {
    const key = poolKey(provisioner, projectId, ref, spec);
    const t = this.targets.find((x) => x.key === key);
    const id = t?.ready.shift();
    if (id) this.taken.add(id);
    return id;
  }

  /** The workspace row now holds the id: the entry leaves the pool, the reconciler adopts it, and the pool refills shortly after. */
  claimed(id: string): void {
    if (!this.taken.delete(id)) return;
    const e = this.journal.all().find((x) => x.id === id);
    const t = this.targets.find((x) => x.key === e?.key);
    this.journal.remove(id);
    this.adopting.set(id, { projectId: t?.projectId ?? '', ref: t?.ref ?? null, commit: e?.commit });
    setTimeout(() => this.tick(), this.o.refillDelayMs).unref();
  }

  /** Storing the row failed: the entry goes back to the pool untouched. */
  release(id: string): void {
    if (!this.taken.delete(id)) return;
    const e = this.journal.all().find((x) => x.id === id);
    this.targets.find((t) => t.key === e?.key)?.ready.unshift(id);
  }

  /**
   * Whether the workspace's runtime was claimed from the pool (answered once): `adopt` when its
   * checkout is what a cold create would check out now (the mirror made as fresh first, as for a
   * cold create), `stale` when the project moved since it was prepared.
   */
  async claim(id: string, signal: AbortSignal): Promise<'adopt' | 'stale' | undefined> {
    const c = this.adopting.get(id);
    if (!c) return undefined;
    if (!this.o.head || c.commit === undefined) {
      this.adopting.delete(id);
      return 'adopt';
    }
    const now = await this.o.head(c.projectId, c.ref, { sync: true, signal }).catch((err: unknown) => {
      if (signal.aborted) throw err; // asked again on the next attempt
      return undefined;
    });
    this.adopting.delete(id);
    return now === c.commit ? 'adopt' : 'stale';
  }

  /** What each pool holds. */
  status(): PoolStatus[] {
    return this.targets.map((t) => ({ provisioner: t.cfg.provisioner, project: t.cfg.project, ref: t.ref, size: t.cfg.size, ready: t.ready.length }));
  }

  /** Resolves once no refill is in flight (tests, benchmarks). */
  async idle(): Promise<void> {
    for (;;) {
      const busy = this.targets.flatMap((t) => (t.filling ? [t.filling] : []));
      if (busy.length === 0) return;
      await Promise.all(busy);
    }
  }

  /** Stops refilling; an entry cut short stays `creating` in the journal and is removed at the next start. */
  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.controller.abort();
    await Promise.allSettled(this.targets.flatMap((t) => (t.filling ? [t.filling] : [])));
  }

  // ---------------------------------------------------------------- refill

  private tick(): void {
    if (this.controller.signal.aborted) return;
    for (const d of this.doomed.values()) if (!d.busy) void this.settle(d);
    for (const t of this.targets) if (!t.filling && Date.now() >= t.retryAt) {
      t.filling = this.fill(t)
        .catch((err: unknown) => this.o.logger.error({ err }, 'warm pool refill failed'))
        .finally(() => (t.filling = undefined));
    }
  }

  /**
   * Replaces expired entries and those made from another commit than the mirror's now (a push or
   * sync moved the project), and creates missing ones, one at a time (a refill must not crowd out creates).
   */
  private async fill(t: Target): Promise<void> {
    const p = this.o.registry.get(t.cfg.provisioner);
    const cutoff = new Date(Date.now() - this.o.maxAgeMs).toISOString();
    const head = await this.head(t, false);
    const stale = t.ready.filter((id) => {
      const e = this.journal.all().find((x) => x.id === id);
      return e && (e.createdAt < cutoff || (head !== undefined && e.commit !== undefined && e.commit !== head));
    });
    if (stale.length) t.ready = t.ready.filter((id) => !stale.includes(id));
    await this.removeReady(t, stale);
    while (t.ready.length < t.cfg.size && !t.drained && !this.controller.signal.aborted) {
      // Read before the checkout is made: a push in between makes the entry look stale (replaced), never current.
      const commit = await this.head(t, true);
      const e: PoolEntry = { id: newId('ws'), key: t.key, provisioner: p.name, state: 'creating', createdAt: new Date().toISOString(), ...(commit ? { commit } : {}) };
      this.journal.put(e);
      try {
        await p.provision(await this.context(t, e.id), { signal: this.controller.signal, ...quiet });
      } catch (err) {
        if (this.controller.signal.aborted) return;
        this.o.logger.warn({ err: errorMessage(err), provisioner: p.name, project: t.cfg.project }, 'warm pool entry could not be prepared; retrying in 30s');
        await this.remove(p, e);
        t.retryAt = Date.now() + 30_000;
        return;
      }
      if (t.drained) {
        await this.remove(p, e);
        return;
      }
      this.journal.put({ ...e, state: 'ready' });
      t.ready.push(e.id);
    }
  }

  /** The mirror's commit of the target's ref, or undefined when it is not compared or cannot be read. */
  private async head(t: Target, sync: boolean): Promise<string | undefined> {
    if (!this.o.head) return undefined;
    return this.o.head(t.projectId, t.ref, { sync, signal: this.controller.signal }).catch((err: unknown) => {
      this.o.logger.warn({ err: errorMessage(err), project: t.cfg.project }, 'warm pool could not read the project mirror');
      return undefined;
    });
  }

  /** Removes entries taken out of a target's ready list. */
  private async removeReady(t: Target, ids: string[]): Promise<void> {
    for (const id of ids) {
      const e = this.journal.all().find((x) => x.id === id);
      if (!e) continue;
      if (this.o.registry.has(t.cfg.provisioner)) await this.remove(this.o.registry.get(t.cfg.provisioner), e);
      else this.doomed.set(id, { entry: e, seenGone: false, busy: false });
    }
  }

  /** An entry of an earlier run: kept if configured, whole and running; else removed (it never had a user). */
  private async recover(e: PoolEntry): Promise<void> {
    if (await this.o.store.getWorkspace(e.id)) {
      // Claimed just before a crash: the workspace row owns it now, and the reconciler provisions it as usual.
      this.journal.remove(e.id);
      return;
    }
    if (!this.o.registry.has(e.provisioner)) {
      this.doomed.set(e.id, { entry: e, seenGone: false, busy: false }); // kept reserved until its provisioner is back
      return;
    }
    const p = this.o.registry.get(e.provisioner);
    const t = this.targets.find((x) => x.key === e.key);
    const fresh = e.createdAt >= new Date(Date.now() - this.o.maxAgeMs).toISOString();
    const running = t && fresh && e.state === 'ready' && (await p.inspect(e.id).then((s) => s.state === 'running', () => false));
    if (t && running) t.ready.push(e.id);
    else this.doomed.set(e.id, { entry: e, seenGone: false, busy: false });
  }

  /**
   * Removes an entry a killed control plane left. Its last request to the backend (a container
   * create) may still be carried out after the first removal, so the entry leaves the journal (and
   * stops being reserved) only once nothing is found on two checks a tick apart.
   */
  private async settle(d: { entry: PoolEntry; seenGone: boolean; busy: boolean }): Promise<void> {
    const e = d.entry;
    if (!this.o.registry.has(e.provisioner)) return;
    const p = this.o.registry.get(e.provisioner);
    d.busy = true;
    try {
      const st = await p.inspect(e.id);
      if (st.state === 'absent' && !st.storage) {
        if (d.seenGone) {
          this.doomed.delete(e.id);
          this.journal.remove(e.id);
        }
        d.seenGone = true;
        return;
      }
      d.seenGone = false;
      await p.destroy(this.o.contexts.minimal(e.id), { signal: new AbortController().signal, ...quiet });
    } catch (err) {
      this.o.logger.warn({ err: errorMessage(err), workspaceId: e.id }, 'warm pool entry of an earlier run could not be removed yet; trying again');
    } finally {
      d.busy = false;
    }
  }

  private async remove(p: Provisioner, e: PoolEntry): Promise<void> {
    try {
      await p.destroy(this.o.contexts.minimal(e.id), { signal: new AbortController().signal, ...quiet });
      this.journal.remove(e.id);
    } catch (err) {
      this.o.logger.warn({ err: errorMessage(err), workspaceId: e.id }, 'warm pool entry could not be removed; trying again');
      this.doomed.set(e.id, { entry: e, seenGone: false, busy: false });
    }
  }

  /** The context an entry is prepared with: a row that is never stored, owned by no user, without a token. */
  private context(t: Target, id: string): Promise<WorkspaceContext> {
    const row = newWorkspaceRow({ id, name: 'warm-pool', owner_id: '', project_id: t.projectId, ref: t.ref, provisioner: t.cfg.provisioner, spec_json: this.o.codec.encode(t.spec) });
    return this.o.contexts.forPool(row as WorkspaceRow);
  }
}
