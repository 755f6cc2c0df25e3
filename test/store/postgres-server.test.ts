/**
 * A real `berth server --database-url postgres://…` on a fresh database of the test environment's
 * PostgreSQL: the shell-workspace lifecycle, a kill -9 mid-provision and a restart, deletion.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { TestServer, eventually, makeRepo, processesWith, waitGone, waitPhase } from '../harness.ts';
import { createThrowawayDatabase, query, type ThrowawayDatabase } from './databases.ts';

let db: ThrowawayDatabase;
let server: TestServer;
let repo: string;

before(async () => {
  db = await createThrowawayDatabase();
  server = await TestServer.start({ args: ['--database-url', db.url] });
  repo = makeRepo({ 'README.md': '# on postgres\n' });
});
after(async () => {
  await server?.stop();
  await db?.drop();
  if (repo) fs.rmSync(repo, { recursive: true, force: true });
});

test('the server keeps its state in PostgreSQL, not in a SQLite file', async () => {
  assert.equal(fs.existsSync(path.join(server.dataDir, 'berth.db')), false, 'no berth.db in the data directory');
  const users = await query<{ name: string; role: string }>(db.url, 'SELECT name, role FROM users');
  assert.deepEqual(users, [{ name: 'admin', role: 'admin' }], 'the bootstrap admin is a row in PostgreSQL');
});

test('project from a local repo, shell workspace, exec, events, stop and start', async () => {
  const c = server.client();
  await c.createProject({ name: 'demo', repo });
  await c.createWorkspace({ name: 'w1', project: 'demo' });
  const w = await waitPhase(c, 'w1', 'running');

  const log = await c.run('w1', ['git', 'log', '--format=%s']);
  assert.equal(log.code, 0, log.stderr);
  assert.equal(log.stdout.trim(), 'initial commit');

  const rows = await query<{ phase: string; desired: string }>(db.url, 'SELECT phase, desired FROM workspaces WHERE id = $1', [w.id]);
  assert.deepEqual(rows, [{ phase: 'running', desired: 'running' }]);

  // Event ids cross the wire as increasing numbers, and `after` resumes exactly there.
  const events = await c.events('w1');
  assert.ok(events.length >= 2, `events: ${JSON.stringify(events)}`);
  for (const [i, e] of events.entries()) {
    assert.equal(typeof e.id, 'number');
    if (i > 0) assert.ok(e.id > events[i - 1]!.id);
  }
  const mid = events[Math.floor(events.length / 2)]!.id;
  assert.deepEqual(await c.events('w1', mid), events.filter((e) => e.id > mid));
  assert.deepEqual(await c.lastEvent('w1'), events.at(-1));

  await c.stopWorkspace('w1');
  await waitPhase(c, 'w1', 'stopped');
  // A follower that starts after the last event it saw gets only what comes next.
  const lastSeen = (await c.lastEvent('w1'))!.id;
  const followed: { id: number; message: string }[] = [];
  const following = c.followEvents('w1', (e) => {
    followed.push(e);
    return e.kind === 'phase' && e.message.includes('running');
  }, { after: lastSeen });
  await c.startWorkspace('w1');
  await waitPhase(c, 'w1', 'running');
  await following;
  assert.ok(followed.length > 0);
  for (const [i, e] of followed.entries()) {
    assert.equal(typeof e.id, 'number');
    assert.ok(e.id > (i === 0 ? lastSeen : followed[i - 1]!.id), 'no event twice, none older than `after`');
  }
  const again = await c.run('w1', ['git', 'status', '--short']);
  assert.equal(again.code, 0, again.stderr);
});

test('kill -9 mid-provision: after a restart on the same database the workspace runs, setup completed once more', async () => {
  const marker = 'sleep 4.6143';
  await server.client().createWorkspace({ name: 'crash', project: 'demo', spec: { setup: [`echo start >> ../setup-runs; ${marker}; echo done >> ../setup-runs`] } });
  await eventually(() => processesWith(marker).length > 0, 'the setup command to start');
  await server.kill9();

  await server.restart();
  const w = await waitPhase(server.client(), 'crash', 'running', 60_000);
  assert.equal(processesWith(marker).length, 0, 'the interrupted setup was ended, and the new one finished');
  const runs = fs.readFileSync(path.join(String(w.details.directory), 'setup-runs'), 'utf8').trim().split('\n');
  assert.deepEqual(runs, ['start', 'start', 'done']);
  const r = await server.client().run('crash', ['git', 'log', '--format=%s']);
  assert.equal(r.stdout.trim(), 'initial commit');
  // Data from before the crash is still there.
  assert.equal((await server.client().getWorkspace('w1')).phase, 'running');
});

test('delete: the workspace, its directory, events and tokens are gone', async () => {
  const c = server.client();
  for (const name of ['w1', 'crash']) {
    const w = await c.getWorkspace(name);
    const dir = String(w.details.directory);
    await c.deleteWorkspace(name);
    await waitGone(c, name);
    assert.equal(fs.existsSync(dir), false, `${name}: storage directory removed`);
    assert.deepEqual(await query(db.url, 'SELECT id FROM workspaces WHERE id = $1', [w.id]), [], `${name}: no workspace row left`);
    assert.deepEqual(await query(db.url, 'SELECT id, kind, message FROM events WHERE workspace_id = $1', [w.id]), [], `${name}: no event left`);
    assert.deepEqual(await query(db.url, 'SELECT id, kind FROM tokens WHERE workspace_id = $1', [w.id]), [], `${name}: no token left`);
  }
  assert.deepEqual(await c.listWorkspaces(true), []);
});
