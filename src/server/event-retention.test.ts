/** Event retention on SQLite: count and age, bounded batches, the newest phase event spared, and pages that say what went. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SqlStore } from '../store/sql-store.ts';
import { newWorkspaceRow } from '../store/store.ts';
import { EventRetention, eventPage } from './event-retention.ts';
import { createLogger } from './logger.ts';

async function setup(): Promise<SqlStore> {
  const store = await SqlStore.create({ kind: 'sqlite', file: ':memory:' });
  const now = '2026-01-01T00:00:00.000Z';
  await store.createUser({ id: 'usr_1', name: 'u', role: 'user', created_at: now });
  await store.createProject({ id: 'prj_1', name: 'p', repo_url: '/tmp', branch: null, owner_id: 'usr_1', credentials_enc: null, created_at: now });
  await store.createWorkspace(newWorkspaceRow({ id: 'ws_1', name: 'w', owner_id: 'usr_1', project_id: 'prj_1', provisioner: 'shell', spec_json: '{}' }));
  return store;
}

test('beyond the count, the oldest go in batches, the newest phase event stays, and the count of dropped ones is kept', async () => {
  const store = await setup();
  await store.appendEvents('ws_1', [{ kind: 'phase', message: 'provisioning', ts: '2026-01-01T00:00:00.000Z' }]);
  await store.appendEvents('ws_1', Array.from({ length: 5000 }, (_, i) => ({ kind: 'output', message: `line ${i}`, ts: '2026-01-01T00:00:01.000Z' })));
  const retention = new EventRetention({ store, policy: { count: 1000, ageMs: 86_400_000 }, logger: createLogger('silent'), batch: 700, now: () => new Date('2026-01-01T01:00:00Z') });
  assert.equal(await retention.prune(), 4000);
  const page = await eventPage(store, 'ws_1', { limit: 10 }, { count: 1000, ageMs: 86_400_000 });
  assert.equal(page.dropped, 4000);
  assert.equal(page.events.at(-1)!.message, 'line 4999');
  const oldest = await eventPage(store, 'ws_1', { after: 0, limit: 3 }, { count: 1000, ageMs: 86_400_000 });
  assert.deepEqual(oldest.events.map((e) => e.message), ['provisioning', 'line 4000', 'line 4001'], 'the phase event is spared');
  assert.equal(oldest.truncated, true);
  assert.equal(oldest.prev, null);
  await store.close();
});

test('events older than the age go; paging backwards and forwards meets every kept event once', async () => {
  const store = await setup();
  await store.appendEvents('ws_1', Array.from({ length: 30 }, (_, i) => ({ kind: 'output', message: `old ${i}`, ts: '2026-01-01T00:00:00.000Z' })));
  await store.appendEvents('ws_1', Array.from({ length: 25 }, (_, i) => ({ kind: 'output', message: `new ${i}`, ts: '2026-01-09T00:00:00.000Z' })));
  const policy = { count: 10_000, ageMs: 7 * 86_400_000 };
  const retention = new EventRetention({ store, policy, logger: createLogger('silent'), now: () => new Date('2026-01-10T00:00:00Z') });
  assert.equal(await retention.prune(), 30);
  const back: string[] = [];
  let page = await eventPage(store, 'ws_1', { limit: 10 }, policy);
  for (;;) {
    back.unshift(...page.events.map((e) => e.message));
    if (page.prev === null) break;
    page = await eventPage(store, 'ws_1', { before: page.prev, limit: 10 }, policy);
  }
  const forward: string[] = [];
  page = await eventPage(store, 'ws_1', { after: 0, limit: 10 }, policy);
  for (;;) {
    forward.push(...page.events.map((e) => e.message));
    if (page.next === null) break;
    page = await eventPage(store, 'ws_1', { after: page.next, limit: 10 }, policy);
  }
  const expected = Array.from({ length: 25 }, (_, i) => `new ${i}`);
  assert.deepEqual(back, expected);
  assert.deepEqual(forward, expected);
  await store.close();
});
