/**
 * The agent's own reconciler: holds desired state per workspace (persisted by DesiredStore) and
 * drives the docker runtime towards it, one operation at a time per workspace, retrying with
 * back-off, and again on a timer so that a container removed behind its back comes back. It never
 * needs the control plane: workspaces keep running, and converge, while the control plane is away.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { AbortedError, BerthError, ConflictError, NotFoundError, ProvisionerError, errorMessage, type ErrorCode } from '../core/errors.ts';
import type { DockerProvisioner } from '../provisioners/docker/docker.ts';
import type { OpOptions, RuntimeStatus, WorkspaceContext } from '../provisioners/provisioner.ts';
import type { AgentEvent, PutWorkspace, WorkspaceReport } from './protocol.ts';
import { checkSegment, checkWorkspaceId, type AgentRoot } from './root.ts';
import type { DesiredRecord, DesiredStore } from './state.ts';

const RETRY_MIN_MS = 2_000;
const RETRY_MAX_MS = 60_000;

/** What the reconciler needs. */
export interface AgentWorkspacesDeps {
  root: AgentRoot;
  store: DesiredStore;
  provisioner: DockerProvisioner;
  logger: Logger;
  /** How often every workspace is checked against its desired state (ms). */
  resyncMs?: number;
}

interface Slot {
  /** The operation in progress, chained so that one runs at a time. */
  chain: Promise<void>;
  controller?: AbortController;
  error?: { generation: number; code: string; message: string; retryable: boolean };
  failures: number;
  retry?: NodeJS.Timeout;
}

/** Desired state, convergence and reports for every workspace on this agent. */
export class AgentWorkspaces {
  /** Emits `event` with an AgentEvent for every status change, progress line and port mapping. */
  readonly events = new EventEmitter();
  private readonly slots = new Map<string, Slot>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly deps: AgentWorkspacesDeps) {
    this.events.setMaxListeners(0);
  }

  /** Converges every stored workspace now (adopting containers after a restart), then on a timer. */
  start(): void {
    for (const r of this.deps.store.all()) this.kick(r.workspace.id);
    this.timer = setInterval(() => {
      for (const r of this.deps.store.all()) if (!this.slots.get(r.workspace.id)?.controller) this.kick(r.workspace.id);
    }, this.deps.resyncMs ?? 15_000);
    this.timer.unref();
  }

  /** Stops converging; running workspaces keep running. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    for (const s of this.slots.values()) {
      clearTimeout(s.retry);
      s.controller?.abort(new AbortedError('The agent is shutting down.'));
    }
    await Promise.allSettled([...this.slots.values()].map((s) => s.chain));
  }

  private emit(e: AgentEvent): void {
    this.events.emit('event', e);
  }

  /** Records desired state; the generation moves only when something changed (or `force`), so a replay is harmless. */
  async put(id: string, put: PutWorkspace, force = false): Promise<DesiredRecord> {
    checkWorkspaceId(id);
    const old = this.deps.store.get(id);
    // A stop without a workspace (an orphan in quarantine) keeps what the agent holds, or only ends the runtime.
    const body = { ...put, workspace: put.workspace ?? old?.workspace ?? minimalWorkspace(id) };
    if (put.workspace) {
      if (body.workspace.id !== id) throw new ProvisionerError(`The body names workspace ${body.workspace.id}, the path ${id}.`, { retryable: false, code: 'invalid_spec' });
      checkSegment(body.workspace.owner.id, 'user id');
      checkSegment(body.workspace.project.name, 'project name');
      await this.deps.provisioner.validate(body.workspace.spec);
    }
    if (old?.desired === 'deleted') throw new ConflictError(`Workspace ${id} is being deleted on this agent; wait for the delete to finish before creating it again.`);
    // `force`: the control plane asks for a full pass now (its provision call), not only for the state.
    const same = !force && old && old.desired === body.desired && old.controller === body.controller && JSON.stringify(old.workspace) === JSON.stringify(body.workspace);
    const rec: DesiredRecord = same
      ? old
      : { desired: body.desired, generation: (old?.generation ?? 0) + 1, applied: old?.applied ?? 0, workspace: body.workspace, ...(body.controller ? { controller: body.controller } : {}) };
    if (!same) this.deps.store.save(rec);
    this.kick(id);
    return rec;
  }

  /** Marks a workspace for deletion (runtime and files); a workspace the agent does not know is deleted from what the engine holds. */
  delete(id: string): DesiredRecord {
    checkWorkspaceId(id);
    const old = this.deps.store.get(id);
    const workspace = old?.workspace ?? minimalWorkspace(id);
    const rec: DesiredRecord = old?.desired === 'deleted' ? old : { desired: 'deleted', generation: (old?.generation ?? 0) + 1, applied: old?.applied ?? 0, workspace };
    if (rec !== old) this.deps.store.save(rec);
    // A provision in progress is pointless now; the delete runs right after it gives up.
    this.slots.get(id)?.controller?.abort(new AbortedError('The workspace is being deleted.'));
    this.kick(id);
    return rec;
  }

  /** Stores a bundle of the checkout (0600, under state/) for the next provision's first clone. */
  bundleFile(id: string): string {
    return path.join(this.deps.root.state, `${checkWorkspaceId(id)}.bundle`);
  }

  /** The workspace's context as the docker runtime wants it. */
  context(id: string): WorkspaceContext {
    const rec = this.deps.store.get(id);
    if (!rec || rec.desired === 'deleted') throw new NotFoundError(`This agent holds no workspace ${id}.`);
    return this.toContext(rec);
  }

  private toContext(rec: DesiredRecord): WorkspaceContext {
    const w = rec.workspace;
    const bundle = this.bundleFile(w.id);
    return {
      ...w,
      project: {
        ...w.project,
        ...(fs.existsSync(bundle) ? { bundle: async () => fs.createReadStream(bundle) } : {}),
      },
    };
  }

  /** What the agent observes for a workspace now, with its desired state and last error. */
  async report(id: string): Promise<WorkspaceReport> {
    checkWorkspaceId(id);
    const rec = this.deps.store.get(id);
    const status = await this.deps.provisioner.inspect(id);
    const err = this.slots.get(id)?.error;
    const dir = this.deps.provisioner.storage.hostDir(id);
    return {
      id,
      ...(rec ? { desired: rec.desired } : {}),
      ...(rec?.controller ? { controller: rec.controller } : {}),
      generation: rec?.generation ?? 0,
      applied: rec?.applied ?? 0,
      ...(err && rec && err.generation === rec.generation ? { error: { code: err.code, message: err.message } } : {}),
      status,
      checkout: dir !== undefined && fs.existsSync(path.join(dir, 'work', '.git')),
    };
  }

  /** Ids of every workspace with desired state or anything on the engine. */
  async ids(): Promise<string[]> {
    const ids = new Set([...this.deps.store.all().map((r) => r.workspace.id), ...(await this.deps.provisioner.list())]);
    return [...ids].sort();
  }

  /** Resolves once `generation` is applied (or superseded), rejects with the error of its last attempt when that failed for good. */
  waitFor(id: string, generation: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const rec = this.deps.store.get(id);
        if (!rec || rec.applied >= generation || rec.generation > generation) return finish(resolve);
        const err = this.slots.get(id)?.error;
        if (err && err.generation === generation && !this.slots.get(id)?.controller) {
          return finish(() => reject(new ProvisionerError(err.message, { code: err.code as ErrorCode, retryable: err.retryable })));
        }
        return false;
      };
      const onEvent = (e: AgentEvent) => {
        if (e.id === id && (e.type === 'status' || e.type === 'deleted')) check();
      };
      const onAbort = () => finish(() => reject(new AbortedError()));
      const finish = (f: () => void): true => {
        this.events.off('event', onEvent);
        signal.removeEventListener('abort', onAbort);
        f();
        return true;
      };
      this.events.on('event', onEvent);
      signal.addEventListener('abort', onAbort);
      check();
    });
  }

  /** Schedules one convergence of a workspace after the one in progress. */
  kick(id: string): void {
    if (this.closed) return;
    const slot = this.slots.get(id) ?? { chain: Promise.resolve(), failures: 0 };
    this.slots.set(id, slot);
    clearTimeout(slot.retry);
    slot.chain = slot.chain.then(() => this.converge(id, slot));
  }

  private async converge(id: string, slot: Slot): Promise<void> {
    const rec = this.deps.store.get(id);
    if (!rec || this.closed) return;
    const controller = new AbortController();
    slot.controller = controller;
    const opts: OpOptions = { signal: controller.signal, progress: (line, kind) => this.emit({ type: 'progress', id, line, ...(kind ? { kind } : {}) }) };
    const p = this.deps.provisioner;
    const ctx = this.toContext(rec);
    try {
      let status: RuntimeStatus | undefined;
      if (rec.desired === 'deleted') {
        await p.destroy(ctx, opts);
        fs.rmSync(this.bundleFile(id), { force: true });
        this.deps.store.remove(id);
        slot.error = undefined;
        slot.failures = 0;
        this.emit({ type: 'deleted', id });
        return;
      }
      const current = await p.inspect(id);
      const settled = rec.applied === rec.generation;
      if (rec.desired === 'running' && !(settled && current.state === 'running')) {
        try {
          status = await p.provision(ctx, opts);
        } finally {
          // Used or not, a bundle is stale after an attempt: the control plane sends a fresh one while no checkout exists.
          fs.rmSync(this.bundleFile(id), { force: true });
        }
      } else if (rec.desired === 'stopped' && !(settled && current.state !== 'running')) {
        await p.stop(ctx, opts);
      }
      const now = this.deps.store.get(id);
      if (now && now.generation === rec.generation) this.deps.store.save({ ...now, applied: rec.generation });
      slot.error = undefined;
      slot.failures = 0;
      if (status?.ports?.length) this.emit({ type: 'ports', id, ports: status.ports });
      if (status || !settled) this.emit({ type: 'status', id, report: await this.report(id) });
    } catch (err) {
      const be = err instanceof BerthError ? err : undefined;
      const retryable = !(err instanceof ProvisionerError) || err.retryable;
      slot.error = { generation: rec.generation, code: be?.code ?? 'provisioner_error', message: errorMessage(err), retryable };
      slot.failures++;
      this.deps.logger.warn({ workspace: id, desired: rec.desired, err: errorMessage(err) }, 'workspace did not converge');
      const superseded = (this.deps.store.get(id)?.generation ?? 0) !== rec.generation;
      if (!this.closed && (retryable || superseded) && !(err instanceof AbortedError && !superseded)) {
        const delay = superseded ? 0 : Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (slot.failures - 1));
        slot.retry = setTimeout(() => this.kick(id), delay);
        slot.retry.unref();
      }
      slot.controller = undefined;
      this.emit({ type: 'status', id, report: await this.report(id).catch(() => ({ id, generation: rec.generation, applied: rec.applied, status: { state: 'failed', storage: false }, checkout: false })) });
    } finally {
      slot.controller = undefined;
    }
  }
}

/** A context for deleting a workspace the agent has no desired state for (leftovers on the engine). */
function minimalWorkspace(id: string): DesiredRecord['workspace'] {
  return {
    id,
    name: id,
    owner: { id: 'unknown', name: 'unknown' },
    project: { name: 'unknown', cloneUrl: '' },
    spec: { env: [], files: [], setup: [], teardown: [], userData: [], caches: [], ports: [], resources: {}, registryLogins: [], mountPath: '/workspace' },
    env: {},
  };
}
