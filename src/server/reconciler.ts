/**
 * The reconciler drives each workspace from its observed phase to its desired state. It is
 * level-triggered: every decision is made from the store and from Provisioner.inspect, never from
 * remembered history, so a control plane killed at any moment converges after a restart. At most
 * one operation runs per workspace; failures are retried with exponential back-off.
 */
import type { Logger } from 'pino';
import { AbortedError, BerthError, ProvisionerError, UnreachableError, errorMessage, isUnreachable } from '../core/errors.ts';
import { formatOutage, nextAction, phaseAfter, phaseAfterOutage, phaseDuring, type Action, type Outage, type Phase } from '../core/workspace.ts';
import type { Provisioner, RuntimeStatus } from '../provisioners/provisioner.ts';
import type { ProvisionerRegistry } from '../provisioners/registry.ts';
import type { Store, WorkspaceRow } from '../store/store.ts';
import type { WorkspaceContexts } from './contexts.ts';
import type { EventLog } from './events.ts';
import { NO_POOL, provisionOrAdopt, type PoolClaims } from './pool/adopt.ts';
import { NO_METRICS, type ReconcileMetrics } from './metrics.ts';
import { OpQueue } from './op-queue.ts';
import { Orphans } from './orphans.ts';

/** Options of the reconciler. */
export interface ReconcilerOptions {
  store: Store;
  registry: ProvisionerRegistry;
  events: EventLog;
  /** Builds what provisioners are told about a workspace. */
  contexts: WorkspaceContexts;
  logger: Logger;
  /** Period of the full re-check. */
  intervalMs: number;
  /** First retry delay; doubles per attempt up to `maxBackoffMs`. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** Attempts after which a retryable error marks the workspace failed. */
  maxAttempts?: number;
  /** Counts operations, their latency and failures (GET /metrics). */
  metrics?: ReconcileMetrics;
  /** The warm pool: runtimes claimed on create are adopted instead of provisioned (pool/). */
  pool?: PoolClaims;
}

interface Slot {
  running: Promise<void>;
  again: boolean;
  controller: AbortController;
}

/** Drives workspaces to their desired state. */
export class Reconciler {
  private readonly o: Required<ReconcilerOptions>;
  private readonly slots = new Map<string, Slot>();
  /** Lifecycle calls wait here for room on their provisioner (its maxConcurrentOps), fairly between owners. */
  private readonly queue: OpQueue;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(o: ReconcilerOptions) {
    this.o = { baseBackoffMs: 1000, maxBackoffMs: 60_000, maxAttempts: 8, metrics: NO_METRICS, pool: NO_POOL, ...o };
    this.queue = new OpQueue((name) => (this.o.registry.has(name) ? this.o.registry.get(name).maxConcurrentOps : undefined));
  }

  /** Quarantines orphans, reconciles everything once, then keeps re-checking every interval. */
  async start(): Promise<void> {
    await this.collectOrphans();
    await this.resync();
    this.timer = setInterval(() => void this.resync().catch((err) => this.o.logger.error({ err }, 'resync failed')), this.o.intervalMs);
    this.timer.unref();
  }

  /** Asks for a reconcile of one workspace soon; `preempt` aborts an operation that is in flight. */
  kick(workspaceId: string, opts: { preempt?: boolean } = {}): void {
    if (this.stopped) return;
    const slot = this.slots.get(workspaceId);
    if (slot) {
      slot.again = true;
      if (opts.preempt) slot.controller.abort(new BerthError('preempted', 'The desired state changed; the operation in progress was cancelled.'));
      return;
    }
    const controller = new AbortController();
    const s: Slot = { again: false, controller, running: Promise.resolve() };
    this.slots.set(workspaceId, s);
    s.running = (async () => {
      try {
        do {
          s.again = false;
          if (s.controller.signal.aborted) s.controller = new AbortController();
          await this.reconcile(workspaceId, s.controller.signal).catch((err) =>
            this.o.logger.error({ err, workspaceId }, 'reconcile crashed'),
          );
        } while (s.again && !this.stopped);
      } finally {
        this.slots.delete(workspaceId);
      }
    })();
  }

  /** Waits until no operation is in flight for the workspace (used by tests and shutdown). */
  async idle(workspaceId?: string): Promise<void> {
    while (true) {
      const pending = workspaceId ? [this.slots.get(workspaceId)] : [...this.slots.values()];
      const live = pending.filter((s): s is Slot => s !== undefined);
      if (live.length === 0) return;
      await Promise.all(live.map((s) => s.running));
    }
  }

  /** Stops scheduling and cancels operations in flight; a later start converges from the store. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const s of this.slots.values()) s.controller.abort(new BerthError('shutdown', 'The control plane is shutting down.'));
    await Promise.allSettled([...this.slots.values()].map((s) => s.running));
  }

  private async resync(): Promise<void> {
    const now = new Date().toISOString();
    for (const row of await this.o.store.listWorkspaces()) {
      if (this.slots.has(row.id)) continue;
      if (row.next_attempt_at && row.next_attempt_at > now) continue;
      this.kick(row.id);
    }
  }

  /** Quarantines resources of workspaces the store does not know (stopped, never deleted here; see orphans.ts). */
  async collectOrphans(): Promise<void> {
    await new Orphans({ ...this.o, reserved: () => this.o.pool.reserved() }).sweep();
  }

  private async setPhase(row: WorkspaceRow, phase: Phase, extra: Partial<WorkspaceRow> = {}): Promise<WorkspaceRow> {
    const updated = await this.o.store.updateWorkspace(row.id, { phase, updated_at: new Date().toISOString(), ...extra });
    if (row.phase !== phase) await this.o.events.append(row.id, 'phase', phase);
    return updated ?? row;
  }

  private async reconcile(id: string, signal: AbortSignal): Promise<void> {
    let row = await this.o.store.getWorkspace(id);
    if (!row) return;
    if (row.phase === 'failed' && row.desired === 'running' && row.attempts > 0 && !row.next_attempt_at) return; // waits for an explicit start
    let provisioner: Provisioner;
    try {
      provisioner = this.o.registry.get(row.provisioner);
    } catch (err) {
      // Not built in this process (a built-in engine that did not answer at start, a stored instance
      // that could not be built): its runtimes cannot be observed, which is an outage, not a failure.
      const why = `The provisioner "${row.provisioner}" is not available in this control plane (its backend did not answer at start, or it could not be built; see berth provisioner list)`;
      await this.unreachable(row, new UnreachableError(`${why}.`, { cause: err }));
      return;
    }

    let status: RuntimeStatus;
    try {
      status = await provisioner.inspect(id, signal);
    } catch (err) {
      if (isUnreachable(err)) await this.unreachable(row, err);
      else await this.fail(row, err, 'inspect');
      return;
    }
    if (row.phase === 'unreachable') row = await this.reachable(row, status);
    const action: Action = nextAction(row.desired, row.phase, status.state === 'running');
    if (action === 'none') {
      const statusJson = JSON.stringify({ ports: status.ports ?? [], details: status.details ?? {} });
      if (statusJson !== row.status_json || row.attempts !== 0) await this.o.store.updateWorkspace(id, { status_json: statusJson, attempts: 0, next_attempt_at: null });
      return;
    }
    if (action === 'provision' && row.phase === 'running') {
      await this.o.events.append(id, 'info', `The runtime is gone (${status.message ?? status.state}); recreating it on the same storage.`);
    }
    // Its place in the provisioner's line: when the change was asked for (the create, or the last change of desired state).
    const line = { signal, since: row.updated_at };
    row = await this.setPhase(row, phaseDuring(action), { message: null });
    const measured = this.o.metrics.reconcile(action);
    const progress = (line: string, kind: 'output' | 'progress' | 'info' = 'output') => {
      this.o.events.output(id, kind, line);
    };
    try {
      const ctx = await (action === 'provision' ? this.o.contexts.forProvision(row) : this.o.contexts.current(row)).catch(async (err: unknown) => {
        if (action !== 'destroy') throw err;
        // A workspace whose secrets can no longer be opened (lost or replaced key) must still be deletable.
        await this.o.events.append(id, 'error', `Cannot open the workspace's stored secrets (${errorMessage(err)}); deleting without them.`);
        return this.o.contexts.minimal(id, row);
      });
      if (action === 'provision') {
        // A fork gets its source's files first and its own branch after (fork.ts); a pool claim is adopted (pool/adopt.ts).
        const st = await this.queue.run(provisioner.name, row.owner_id, () => provisionOrAdopt(this.o, row, provisioner, ctx, { signal, progress }), line);
        await this.setPhase(row, phaseAfter(action), {
          attempts: 0,
          next_attempt_at: null,
          message: null,
          status_json: JSON.stringify({ ports: st.ports ?? [], details: st.details ?? {} }),
        });
      } else if (action === 'stop') {
        await this.queue.run(provisioner.name, row.owner_id, () => provisioner.stop(ctx, { signal, progress }), line);
        await this.setPhase(row, 'stopped', { attempts: 0, next_attempt_at: null, status_json: null });
      } else {
        await this.queue.run(provisioner.name, row.owner_id, () => provisioner.destroy(ctx, { signal, progress }), line);
        await this.o.store.revokeWorkspaceTokens(id, new Date().toISOString());
        await this.o.store.deleteWorkspace(id);
        this.o.events.closed(id);
        this.o.logger.info({ workspaceId: id }, 'workspace deleted');
      }
      measured();
    } catch (err) {
      measured(signal.aborted ? new AbortedError() : err);
      if (signal.aborted) {
        await this.o.events.append(id, 'info', errorMessage(signal.reason ?? 'Operation cancelled.'));
        return;
      }
      // Cut off mid-operation: shown unreachable, and the operation is redone once observed again.
      if (isUnreachable(err)) await this.unreachable(row, err);
      else await this.fail(row, err, action);
    }
  }

  /**
   * The runtime could not be observed (or an operation on it was cut off): shown `unreachable` with
   * the reason, and nothing else changes. No attempt is counted, nothing is retried with back-off;
   * the periodic re-check looks again.
   */
  private async unreachable(row: WorkspaceRow, err: unknown): Promise<void> {
    const reason = errorMessage(err);
    const status = readStatus(row.status_json);
    if (row.phase === 'unreachable') {
      if (row.message !== reason) await this.o.store.updateWorkspace(row.id, { message: reason });
      return;
    }
    status.outage = { since: new Date().toISOString(), phase: row.phase };
    await this.o.events.append(row.id, 'error', `${reason} The workspace is left as it is until its runtime can be observed again.`);
    await this.setPhase(row, 'unreachable', { message: reason, next_attempt_at: null, status_json: JSON.stringify(status) });
  }

  /** Observed again after an outage: the phase it showed before is resumed, then decided on as usual. */
  private async reachable(row: WorkspaceRow, observed: RuntimeStatus): Promise<WorkspaceRow> {
    const { outage, ...status } = readStatus(row.status_json);
    const took = outage ? ` after ${formatOutage(Date.now() - Date.parse(outage.since))}` : '';
    await this.o.events.append(row.id, 'info', `The runtime can be observed again${took}; it is ${observed.state}.`);
    return this.setPhase(row, phaseAfterOutage(outage), { message: null, status_json: JSON.stringify(status) });
  }

  private async fail(row: WorkspaceRow, err: unknown, action: string): Promise<void> {
    const retryable = err instanceof ProvisionerError ? err.retryable : !(err instanceof BerthError);
    // The message is stored on the workspace and shown by the API: it may quote output that held a secret.
    const message = await this.o.events.redact(row.id, err instanceof BerthError ? err.message : `Internal error during ${action}: ${errorMessage(err)}`);
    if (!(err instanceof BerthError)) this.o.logger.error({ err, workspaceId: row.id, action }, 'unexpected reconcile error');
    const attempts = row.attempts + 1;
    await this.o.events.append(row.id, 'error', message);
    if (!retryable || attempts >= this.o.maxAttempts) {
      // Deletion is never given up on: a workspace whose owner wants it gone keeps being retried.
      if (row.desired === 'deleted') {
        await this.backoff(row, attempts, message);
        return;
      }
      await this.setPhase(row, 'failed', { attempts, next_attempt_at: null, message });
      return;
    }
    await this.backoff(row, attempts, message);
  }

  private async backoff(row: WorkspaceRow, attempts: number, message: string): Promise<void> {
    const delay = Math.min(this.o.maxBackoffMs, this.o.baseBackoffMs * 2 ** (attempts - 1));
    const at = new Date(Date.now() + delay);
    await this.o.store.updateWorkspace(row.id, { attempts, message: `${message} (retrying in ${Math.round(delay / 1000)}s)`, next_attempt_at: at.toISOString() });
    const t = setTimeout(() => this.kick(row.id), delay + 10);
    t.unref();
  }
}

/** The stored status of a workspace: last observed ports and details, and the outage while it is unreachable. */
function readStatus(json: string | null): { ports?: unknown; details?: unknown; outage?: Outage } {
  return json ? (JSON.parse(json) as { outage?: Outage }) : {};
}
