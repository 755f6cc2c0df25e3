/** Orphan quarantine against an in-memory provisioner: nothing is deleted before the grace period or gc, and a row that comes back wins. */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { normalizeSpec } from '../core/spec.ts';
import type { ExecProcess, Provisioner, RuntimeStatus, WorkspaceContext } from '../provisioners/provisioner.ts';
import { ProvisionerRegistry } from '../provisioners/registry.ts';
import { SqlStore } from '../store/sql-store.ts';
import { newWorkspaceRow } from '../store/store.ts';
import { createLogger } from './logger.ts';
import { Orphans } from './orphans.ts';

/** Runtimes and storage in maps; `destroy` is the only call that removes storage. */
class MemoryProvisioner implements Provisioner {
  readonly name = 'mem';
  readonly type = 'memory';
  readonly capabilities = { runsOnHost: false, image: false, user: false, resources: false, registryLogins: false, needsServerUrl: false, fork: false };
  runtimes = new Map<string, 'running' | 'stopped'>();
  listFails = false;
  async validate(): Promise<void> {}
  async provision(): Promise<RuntimeStatus> {
    throw new Error('not used');
  }
  async stop(ws: WorkspaceContext): Promise<void> {
    if (this.runtimes.has(ws.id)) this.runtimes.set(ws.id, 'stopped');
  }
  async destroy(ws: WorkspaceContext): Promise<void> {
    this.runtimes.delete(ws.id);
  }
  async inspect(id: string): Promise<RuntimeStatus> {
    const r = this.runtimes.get(id);
    return r ? { state: r, storage: true, details: { volume: `vol-${id}` } } : { state: 'absent', storage: false };
  }
  async exec(): Promise<ExecProcess> {
    throw new Error('not used');
  }
  async list(): Promise<string[]> {
    if (this.listFails) throw new Error('engine unreachable');
    return [...this.runtimes.keys()];
  }
  async close(): Promise<void> {}
}

const DAY = 86_400_000;
const A = 'ws_aaaaaaaaaaaaaaaaaaaa';
const B = 'ws_bbbbbbbbbbbbbbbbbbbb';
let store: SqlStore;
let mem: MemoryProvisioner;
let now: number;
let orphans: Orphans;

beforeEach(async () => {
  store = await SqlStore.create({ kind: 'sqlite', file: ':memory:' });
  mem = new MemoryProvisioner();
  const registry = new ProvisionerRegistry({ installation: 'test', dataDir: '/nonexistent', serverUrl: () => 'http://x', listening: Promise.resolve(), logger: createLogger('silent') });
  registry.add(mem);
  now = Date.parse('2026-01-01T00:00:00Z');
  const contexts = { minimal: (id: string) => ({ id, name: id, owner: { id: '', name: '' }, project: { name: '', cloneUrl: '' }, spec: normalizeSpec({}), env: {} }) };
  orphans = new Orphans({ store, registry, contexts, logger: createLogger('silent'), graceMs: 7 * DAY, now: () => new Date(now) });
  await store.createUser({ id: 'usr_1', name: 'u', role: 'user', created_at: new Date(now).toISOString() });
  await store.createProject({ id: 'prj_1', name: 'p', repo_url: '/tmp', branch: null, owner_id: 'usr_1', credentials_enc: null, created_at: new Date(now).toISOString() });
});
afterEach(async () => {
  await orphans.shutdown();
  await store.close();
});

async function restoreRow(id: string): Promise<void> {
  await store.createWorkspace(newWorkspaceRow({ id, name: id, owner_id: 'usr_1', project_id: 'prj_1', provisioner: 'mem', spec_json: '{}' }));
}

test('an orphan is stopped and recorded, its storage kept; a second sweep keeps its first_seen', async () => {
  mem.runtimes.set(A, 'running');
  await orphans.sweep();
  assert.equal(mem.runtimes.get(A), 'stopped', 'runtime stopped, storage still there');
  const first = await orphans.list();
  assert.deepEqual(
    first.map((o) => [o.workspaceId, o.provisioner, o.firstSeen, o.removeAfter, o.resources.volume]),
    [[A, 'mem', '2026-01-01T00:00:00.000Z', '2026-01-08T00:00:00.000Z', `vol-${A}`]],
  );
  now += DAY;
  await orphans.sweep();
  const again = await orphans.list();
  assert.equal(again[0]!.firstSeen, '2026-01-01T00:00:00.000Z');
  assert.equal(again[0]!.ageMs, DAY);
});

test('nothing is removed before the grace period; then only the expired orphans go', async () => {
  mem.runtimes.set(A, 'running');
  await orphans.sweep();
  now += 3 * DAY;
  mem.runtimes.set(B, 'running');
  assert.deepEqual(await orphans.collectExpired(), []);
  assert.deepEqual([...mem.runtimes.keys()].sort(), [A, B]);
  now += 4 * DAY;
  assert.deepEqual(await orphans.collectExpired(), [A]);
  assert.deepEqual([...mem.runtimes.entries()], [[B, 'stopped']]);
  assert.deepEqual((await store.listQuarantine()).map((q) => q.workspace_id), [B]);
});

test('a row that comes back releases the quarantine, and removal never touches it', async () => {
  mem.runtimes.set(A, 'running');
  mem.runtimes.set(B, 'running');
  await orphans.sweep();
  await restoreRow(A);
  const report = await orphans.gc({ dryRun: false });
  assert.deepEqual(report.orphans.map((o) => o.workspaceId), [B]);
  assert.equal(mem.runtimes.get(A), 'stopped', 'A is kept, for the reconciler to start again');
  assert.equal(mem.runtimes.has(B), false);
  assert.deepEqual(await store.listQuarantine(), []);
});

test('gc --dry-run lists and changes nothing; gc removes them all', async () => {
  mem.runtimes.set(A, 'running');
  mem.runtimes.set(B, 'stopped');
  const dry = await orphans.gc({ dryRun: true });
  assert.equal(dry.dryRun, true);
  assert.deepEqual(dry.orphans.map((o) => o.workspaceId).sort(), [A, B]);
  assert.deepEqual([...mem.runtimes.keys()].sort(), [A, B]);
  const real = await orphans.gc({ dryRun: false });
  assert.deepEqual(real.failed, []);
  assert.equal(mem.runtimes.size, 0);
  assert.deepEqual(await store.listQuarantine(), []);
});

test('a provisioner that cannot list keeps its quarantine records; resources gone behind our back are forgotten', async () => {
  mem.runtimes.set(A, 'running');
  await orphans.sweep();
  mem.listFails = true;
  await orphans.sweep();
  assert.equal((await store.listQuarantine()).length, 1);
  mem.listFails = false;
  mem.runtimes.delete(A);
  await orphans.sweep();
  assert.deepEqual(await store.listQuarantine(), []);
});
