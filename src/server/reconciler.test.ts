/** Reconciler behaviour against an in-memory provisioner: retries, back-off, preemption, drift. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ProvisionerError, UnreachableError } from '../core/errors.ts';
import { normalizeSpec, type Spec } from '../core/spec.ts';
import type { ExecProcess, OpOptions, Provisioner, RuntimeStatus, WorkspaceContext } from '../provisioners/provisioner.ts';
import { ProvisionerRegistry } from '../provisioners/registry.ts';
import { SqlStore } from '../store/sql-store.ts';
import { newWorkspaceRow } from '../store/store.ts';
import { WorkspaceContexts } from './contexts.ts';
import { EventLog } from './events.ts';
import { createLogger } from './logger.ts';
import { Reconciler } from './reconciler.ts';
import { SecretBox } from './secrets.ts';
import { SpecCodec } from './workspaces.ts';

/** A provisioner that keeps runtimes in a map and fails on demand. */
class MemoryProvisioner implements Provisioner {
  readonly name = 'mem';
  readonly type = 'memory';
  readonly capabilities = { runsOnHost: false, image: false, user: false, resources: false, registryLogins: false, needsServerUrl: false, fork: false };
  runtimes = new Map<string, 'running' | 'stopped'>();
  failures = 0;
  permanent = false;
  provisionDelayMs = 0;
  /** While set, every call fails as an engine that cannot be reached. */
  unreachable = false;
  calls: string[] = [];
  tokens: string[] = [];
  async validate(_spec: Spec): Promise<void> {}
  async provision(ws: WorkspaceContext, opts: OpOptions): Promise<RuntimeStatus> {
    this.calls.push(`provision ${ws.env.BERTH_WORKSPACE_TOKEN ? 'with-token' : 'no-token'}`);
    if (ws.env.BERTH_WORKSPACE_TOKEN) this.tokens.push(ws.env.BERTH_WORKSPACE_TOKEN);
    if (this.failures > 0) {
      this.failures--;
      throw new ProvisionerError('engine unavailable', { retryable: !this.permanent });
    }
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, this.provisionDelayMs);
      opts.signal.addEventListener('abort', () => {
        clearTimeout(t);
        reject(new Error('aborted'));
      });
    });
    this.runtimes.set(ws.id, 'running');
    return { state: 'running', storage: true };
  }
  async stop(ws: WorkspaceContext): Promise<void> {
    this.calls.push('stop');
    if (this.runtimes.has(ws.id)) this.runtimes.set(ws.id, 'stopped');
  }
  async destroy(ws: WorkspaceContext): Promise<void> {
    this.calls.push('destroy');
    this.runtimes.delete(ws.id);
  }
  async inspect(id: string): Promise<RuntimeStatus> {
    if (this.unreachable) throw new UnreachableError('Cannot reach the memory engine: connect ECONNREFUSED.');
    const r = this.runtimes.get(id);
    return r ? { state: r, storage: true } : { state: 'absent', storage: false };
  }
  async exec(): Promise<ExecProcess> {
    throw new Error('not used');
  }
  async list(): Promise<string[]> {
    return [...this.runtimes.keys()];
  }
  async close(): Promise<void> {}
}

let store: SqlStore;
let dir: string;
let mem: MemoryProvisioner;
let rec: Reconciler;
let userId: string;
let projectId: string;
let n = 0;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-rec-'));
  store = await SqlStore.create({ kind: 'sqlite', file: ':memory:' });
  const box = SecretBox.open(dir);
  mem = new MemoryProvisioner();
  const registry = new ProvisionerRegistry({ installation: 'test', dataDir: dir, serverUrl: () => 'http://x', listening: Promise.resolve(), logger: createLogger('silent') });
  registry.add(mem);
  rec = new Reconciler({ store, registry, events: new EventLog(store), contexts: new WorkspaceContexts({ store, codec: new SpecCodec(box), box, serverUrl: () => 'http://x' }), logger: createLogger('silent'), intervalMs: 60_000, baseBackoffMs: 20, maxBackoffMs: 50, maxAttempts: 3 });
  const now = new Date().toISOString();
  userId = (await store.createUser({ id: 'usr_1', name: 'u', role: 'user', created_at: now })).id;
  projectId = (await store.createProject({ id: 'prj_1', name: 'p', repo_url: '/tmp', branch: null, owner_id: userId, credentials_enc: null, created_at: now })).id;
});
after(async () => {
  await rec.shutdown();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function newWorkspace(): Promise<string> {
  const id = `ws_${(++n).toString(16).padStart(20, '0')}`;
  await store.createWorkspace(
    newWorkspaceRow({ id, name: `w${n}`, owner_id: userId, project_id: projectId, provisioner: 'mem', spec_json: new SpecCodec(SecretBox.open(dir)).encode(normalizeSpec({})) }),
  );
  return id;
}

async function settle(id: string, phase: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    await rec.idle(id);
    if ((await store.getWorkspace(id))?.phase === phase) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`workspace ${id} did not reach ${phase}; it is ${(await store.getWorkspace(id))?.phase}`);
}

test('retryable failures are retried with back-off until provisioning succeeds', async () => {
  mem.failures = 2;
  mem.permanent = false;
  mem.tokens = [];
  const id = await newWorkspace();
  rec.kick(id);
  await settle(id, 'running');
  const row = (await store.getWorkspace(id))!;
  assert.equal(row.attempts, 0);
  const errors = (await store.listEvents(id, 0, 100)).filter((e) => e.kind === 'error');
  assert.equal(errors.length, 2);
  assert.equal(mem.tokens.length, 3);
  assert.equal(new Set(mem.tokens).size, 3, 'every provision gets a fresh token');
  const live = await store.currentWorkspaceToken(id);
  assert.ok(live, 'the newest token is live');
});

test('a permanent failure marks the workspace failed without retrying', async () => {
  mem.failures = 1;
  mem.permanent = true;
  const id = await newWorkspace();
  const before = mem.calls.length;
  rec.kick(id);
  await settle(id, 'failed');
  await new Promise((r) => setTimeout(r, 100));
  rec.kick(id);
  await rec.idle(id);
  assert.equal(mem.calls.length - before, 1, 'no second attempt until the owner starts it again');
  assert.match((await store.getWorkspace(id))!.message ?? '', /engine unavailable/);
});

test('deleting during a slow provision cancels it and removes everything', async () => {
  mem.failures = 0;
  mem.provisionDelayMs = 5000;
  const id = await newWorkspace();
  rec.kick(id);
  await new Promise((r) => setTimeout(r, 50));
  await store.updateWorkspace(id, { desired: 'deleted' });
  const t0 = Date.now();
  rec.kick(id, { preempt: true });
  await rec.idle(id);
  assert.ok(Date.now() - t0 < 2000, 'the provision was aborted, not waited for');
  assert.equal(await store.getWorkspace(id), undefined);
  assert.equal(mem.runtimes.has(id), false);
  mem.provisionDelayMs = 0;
});

test('a runtime that vanished behind our back is recreated', async () => {
  const id = await newWorkspace();
  rec.kick(id);
  await settle(id, 'running');
  mem.runtimes.delete(id);
  rec.kick(id);
  await settle(id, 'running');
  assert.equal(mem.runtimes.get(id), 'running');
  const infos = (await store.listEvents(id, 0, 100)).map((e) => e.message);
  assert.ok(infos.some((m) => /runtime is gone/.test(m)));
});

test('an unreachable runtime is never failed, recreated or deleted; it resumes as it was once observed again', async () => {
  const id = await newWorkspace();
  rec.kick(id);
  await settle(id, 'running');
  const before = mem.calls.length;
  mem.unreachable = true;
  // Far more checks than maxAttempts (3): none counts.
  for (let i = 0; i < 6; i++) {
    rec.kick(id);
    await rec.idle(id);
  }
  let row = (await store.getWorkspace(id))!;
  assert.equal(row.phase, 'unreachable');
  assert.equal(row.attempts, 0);
  assert.match(row.message ?? '', /ECONNREFUSED/);
  assert.ok((JSON.parse(row.status_json!) as { outage?: { since: string } }).outage?.since, 'the outage start is kept');
  // Deleting while unreachable keeps the row (resources may exist) and destroys nothing yet.
  await store.updateWorkspace(id, { desired: 'deleted' });
  rec.kick(id);
  await rec.idle(id);
  assert.equal((await store.getWorkspace(id))?.phase, 'unreachable');
  assert.equal(mem.calls.length, before, 'nothing was provisioned, stopped or destroyed');
  // Back: a start while still desired running resumes running without a provision.
  await store.updateWorkspace(id, { desired: 'running' });
  mem.unreachable = false;
  rec.kick(id);
  await settle(id, 'running');
  assert.equal(mem.calls.length, before, 'the running runtime was kept, not replaced');
  row = (await store.getWorkspace(id))!;
  assert.equal(row.message, null);
  const events = (await store.listEvents(id, 0, 100)).map((e) => `${e.kind}:${e.message}`);
  assert.ok(events.includes('phase:unreachable') && events.some((e) => /can be observed again/.test(e)), events.join('\n'));
  // Then a delete while unreachable goes through once it is reachable.
  mem.unreachable = true;
  rec.kick(id);
  await settle(id, 'unreachable');
  await store.updateWorkspace(id, { desired: 'deleted' });
  rec.kick(id);
  await rec.idle(id);
  assert.ok(await store.getWorkspace(id), 'the row stays while resources may exist');
  mem.unreachable = false;
  rec.kick(id);
  await rec.idle(id);
  assert.equal(await store.getWorkspace(id), undefined);
  assert.equal(mem.runtimes.has(id), false);
});

test('a workspace whose provisioner is not available is shown unreachable, never failed', async () => {
  const id = await newWorkspace();
  await store.updateWorkspace(id, { provisioner: 'gone' });
  for (let i = 0; i < 5; i++) {
    rec.kick(id);
    await rec.idle(id);
  }
  const row = (await store.getWorkspace(id))!;
  assert.equal(row.phase, 'unreachable');
  assert.equal(row.attempts, 0);
  assert.match(row.message ?? '', /^The provisioner "gone" is not available in this control plane/);
  await store.deleteWorkspace(id);
});

test('orphans (resources without a workspace row) are quarantined: stopped and recorded, never destroyed at start', async () => {
  mem.runtimes.set('ws_ffffffffffffffffffff', 'running');
  await rec.collectOrphans();
  assert.equal(mem.runtimes.get('ws_ffffffffffffffffffff'), 'stopped');
  assert.deepEqual((await store.listQuarantine()).map((q) => [q.workspace_id, q.provisioner]), [['ws_ffffffffffffffffffff', 'mem']]);
});
