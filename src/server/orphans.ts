/**
 * Orphan collection that cannot lose data. Resources a provisioner holds for a workspace id the
 * store does not know are quarantined: their runtime is stopped (as `berth ws stop` would, storage
 * kept), they are recorded with the time first seen and reported. They are removed only once the
 * grace period has passed, or when an admin runs `berth admin gc`. The usual way to get such
 * resources is restoring an older database backup: the rows of workspaces created since are gone,
 * their files are not; and a row that comes back (a newer backup restored) releases its quarantine.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../core/errors.ts';
import type { Provisioner } from '../provisioners/provisioner.ts';
import type { ProvisionerRegistry } from '../provisioners/registry.ts';
import type { QuarantineRow, Store } from '../store/store.ts';
import type { WorkspaceContexts } from './contexts.ts';

/** What orphan collection needs. */
export interface OrphanOptions {
  store: Store;
  registry: ProvisionerRegistry;
  /** Builds the minimal context provisioners are given for an id without a row. */
  contexts: Pick<WorkspaceContexts, 'minimal'>;
  logger: Logger;
  /** How long a quarantined orphan is kept before it is removed (0 = only by `gc`). */
  graceMs?: number;
  now?: () => Date;
  /** Ids held without a row on purpose (warm-pool entries, server/pool/): never orphans. */
  reserved?: () => Set<string>;
}

/** A quarantined orphan as an admin sees it. */
export interface Orphan {
  workspaceId: string;
  provisioner: string;
  firstSeen: string;
  /** Milliseconds since it was first seen. */
  ageMs: number;
  /** When the grace period ends and it is removed by itself (absent: only by gc). */
  removeAfter?: string;
  reason: string;
  /** What removal would delete: the provisioner's own facts (directory, volume, claim). */
  resources: Record<string, string | number | boolean>;
}

/** What `gc` did, or with `dryRun` would do. */
export interface GcReport {
  dryRun: boolean;
  orphans: Orphan[];
  /** Ids whose removal failed, with the reason (they stay quarantined). */
  failed: { workspaceId: string; provisioner: string; message: string }[];
}

const REASON = 'resources exist for a workspace id the database does not know (for instance after restoring an older backup)';
const noOp = { progress: () => undefined };

/** Quarantines orphans, releases ids whose rows came back, and removes them after the grace period or on demand. */
export class Orphans {
  private readonly o: Required<OrphanOptions>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(o: OrphanOptions) {
    this.o = { graceMs: 7 * 86_400_000, now: () => new Date(), reserved: () => new Set(), ...o };
  }

  /**
   * Finds resources without a workspace row: stops the runtime of each (storage untouched) and
   * records it; forgets records whose row is back or whose resources are gone. Never deletes.
   */
  async sweep(): Promise<void> {
    const known = new Set([...(await this.o.store.listWorkspaces()).map((w) => w.id), ...this.o.reserved()]);
    const quarantined = await this.o.store.listQuarantine();
    for (const q of quarantined.filter((r) => known.has(r.workspace_id))) {
      await this.o.store.deleteQuarantine(q.workspace_id, q.provisioner);
      this.o.logger.info({ workspaceId: q.workspace_id, provisioner: q.provisioner }, 'workspace row is back; its resources leave quarantine and are reconciled as usual');
    }
    for (const p of this.o.registry.all()) {
      let ids: string[];
      try {
        ids = await p.list();
      } catch (err) {
        this.o.logger.warn({ err, provisioner: p.name }, 'cannot list workspaces of provisioner; orphan collection skipped for it');
        continue;
      }
      const listed = new Set(ids);
      for (const q of quarantined.filter((r) => r.provisioner === p.name && !listed.has(r.workspace_id) && !known.has(r.workspace_id))) {
        await this.o.store.deleteQuarantine(q.workspace_id, q.provisioner);
      }
      for (const id of ids.filter((i) => !known.has(i))) {
        // The API is already serving: a workspace created since `known` was read is not an orphan.
        if ((await this.o.store.getWorkspace(id)) || this.o.reserved().has(id)) continue;
        await this.quarantine(p, id, quarantined.some((q) => q.workspace_id === id && q.provisioner === p.name));
      }
    }
  }

  private async quarantine(p: Provisioner, id: string, already: boolean): Promise<void> {
    if (!already) {
      await this.o.store.addQuarantine({ workspace_id: id, provisioner: p.name, first_seen: this.o.now().toISOString(), reason: REASON });
      const after = this.o.graceMs > 0 ? `; removed after ${Math.round(this.o.graceMs / 3_600_000)}h unless its row comes back` : '';
      this.o.logger.warn({ workspaceId: id, provisioner: p.name }, `quarantined orphaned workspace resources: runtime stopped, storage kept${after} ("berth admin gc --dry-run" lists them)`);
    }
    try {
      // Stop is the contract's "end the runtime, keep the storage": exactly what quarantine needs.
      const status = await p.inspect(id);
      if (status.state === 'running') await p.stop(this.o.contexts.minimal(id), { signal: new AbortController().signal, ...noOp });
    } catch (err) {
      this.o.logger.warn({ err, workspaceId: id, provisioner: p.name }, 'cannot stop quarantined orphan; will retry');
    }
  }

  /** The quarantined orphans, with their age and what removal would delete. */
  async list(): Promise<Orphan[]> {
    const now = this.o.now().getTime();
    const out: Orphan[] = [];
    for (const q of await this.o.store.listQuarantine()) {
      const first = Date.parse(q.first_seen);
      out.push({
        workspaceId: q.workspace_id,
        provisioner: q.provisioner,
        firstSeen: q.first_seen,
        ageMs: Math.max(0, now - first),
        ...(this.o.graceMs > 0 ? { removeAfter: new Date(first + this.o.graceMs).toISOString() } : {}),
        reason: q.reason,
        resources: await this.resources(q),
      });
    }
    return out;
  }

  private async resources(q: QuarantineRow): Promise<Record<string, string | number | boolean>> {
    try {
      const s = await this.o.registry.get(q.provisioner).inspect(q.workspace_id);
      return { state: s.state, storage: s.storage, ...s.details };
    } catch (err) {
      return { error: errorMessage(err) };
    }
  }

  /** Sweeps, then removes every quarantined orphan (with `dryRun`, lists them instead). */
  async gc(opts: { dryRun: boolean }): Promise<GcReport> {
    return this.serial(async () => {
      await this.sweep();
      const orphans = await this.list();
      if (opts.dryRun) return { dryRun: true, orphans, failed: [] };
      return { dryRun: false, orphans, failed: await this.remove(orphans) };
    });
  }

  /** Removes the quarantined orphans whose grace period has passed; returns their ids. */
  async collectExpired(): Promise<string[]> {
    if (this.o.graceMs <= 0) return [];
    return this.serial(async () => {
      await this.sweep();
      const expired = (await this.list()).filter((o) => o.ageMs >= this.o.graceMs);
      const failed = await this.remove(expired);
      return expired.filter((o) => !failed.some((f) => f.workspaceId === o.workspaceId)).map((o) => o.workspaceId);
    });
  }

  private async remove(orphans: Orphan[]): Promise<GcReport['failed']> {
    const failed: GcReport['failed'] = [];
    for (const o of orphans) {
      // Checked again right before deleting: a row restored meanwhile wins over the quarantine.
      if (await this.o.store.getWorkspace(o.workspaceId)) continue;
      try {
        await this.o.registry.get(o.provisioner).destroy(this.o.contexts.minimal(o.workspaceId), { signal: new AbortController().signal, ...noOp });
        await this.o.store.deleteQuarantine(o.workspaceId, o.provisioner);
        this.o.logger.warn({ workspaceId: o.workspaceId, provisioner: o.provisioner, firstSeen: o.firstSeen }, 'removed quarantined orphan: runtime and storage deleted');
      } catch (err) {
        failed.push({ workspaceId: o.workspaceId, provisioner: o.provisioner, message: errorMessage(err) });
        this.o.logger.warn({ err, workspaceId: o.workspaceId, provisioner: o.provisioner }, 'cannot remove quarantined orphan; it stays quarantined');
      }
    }
    return failed;
  }

  /** Runs sweeps one at a time: a periodic one and an admin's gc must not stop and destroy the same id at once. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.running.then(fn, fn);
    this.running = run.catch(() => undefined);
    return run;
  }

  /** Removes expired orphans now and then every `intervalMs` (a tenth of the grace period, between a minute and an hour). */
  start(intervalMs = Math.min(3_600_000, Math.max(60_000, this.o.graceMs / 10))): void {
    const tick = () => void this.collectExpired().catch((err) => this.o.logger.error({ err }, 'orphan collection failed'));
    tick();
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
  }

  /** Stops the periodic collection and waits for one in flight. */
  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
