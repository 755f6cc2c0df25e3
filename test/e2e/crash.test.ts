/** kill -9 of the control plane mid-provision and mid-delete, then restart: the workspace converges, nothing is orphaned. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { TestServer, eventually, makeRepo, processesWith, waitGone, waitPhase } from '../harness.ts';

let server: TestServer;
let repo: string;

before(async () => {
  server = await TestServer.start();
  repo = makeRepo();
  await server.client().createProject({ name: 'demo', repo });
});
after(async () => {
  await server?.stop();
  fs.rmSync(repo, { recursive: true, force: true });
});

test('kill -9 mid-provision: after restart the workspace runs, setup completed once more, no orphan process', async () => {
  const c = server.client();
  // A setup step that takes long enough to be interrupted; the odd duration marks its process.
  const marker = 'sleep 4.3217';
  await c.createWorkspace({ name: 'crash1', project: 'demo', spec: { setup: [`echo start >> ../setup-runs; ${marker}; echo done >> ../setup-runs`] } });
  await eventually(() => processesWith(marker).length > 0, 'the setup command to start');
  await server.kill9();
  // The setup process outlived the server (it is in its own process group).
  assert.ok(processesWith(marker).length > 0, 'setup still running after kill -9');

  await server.restart();
  const w = await waitPhase(server.client(), 'crash1', 'running', 60_000);
  const dir = String(w.details.directory);
  assert.equal(processesWith(marker).length, 0, 'the interrupted setup was ended, and the new one finished');
  const runs = fs.readFileSync(path.join(dir, 'setup-runs'), 'utf8').trim().split('\n');
  assert.deepEqual(runs, ['start', 'start', 'done'], 'the interrupted run never finished; the second one did');
  const ls = await server.client().run('crash1', ['git', 'status', '--short']);
  assert.equal(ls.code, 0);

  const shellRoot = path.dirname(dir);
  assert.deepEqual(fs.readdirSync(shellRoot), [w.id], 'exactly one workspace directory');
});

test('kill -9 mid-delete: after restart the workspace is gone, no directory, no process', async () => {
  let c = server.client();
  // The first teardown would run for a minute; the one repeated after the restart returns at once.
  const marker = 'sleep 60.8713';
  await c.createWorkspace({ name: 'crash2', project: 'demo', spec: { teardown: [`if [ -e ../teardown-started ]; then :; else touch ../teardown-started; ${marker}; fi`] } });
  const w = await waitPhase(c, 'crash2', 'running');
  const dir = String(w.details.directory);
  await c.deleteWorkspace('crash2');
  await eventually(() => processesWith(marker).length > 0, 'the teardown command to start');
  assert.equal((await c.getWorkspace('crash2')).phase, 'deleting');
  const interrupted = processesWith(marker).map((l) => Number(l.trim().split(/\s+/)[0]));
  await server.kill9();
  const t0 = Date.now();
  await server.restart();
  // The interrupted teardown is ended at once (it would otherwise run for a minute more).
  await eventually(() => interrupted.every((pid) => !fs.existsSync(`/proc/${pid}`)), 'the interrupted teardown to be ended', 15_000, 20);
  assert.ok(Date.now() - t0 < 15_000, `ended after ${Date.now() - t0} ms`);
  c = server.client();
  await waitGone(c, 'crash2');
  assert.equal(fs.existsSync(dir), false, 'storage directory removed');
  assert.deepEqual(processesWith(marker), [], 'no teardown process left');
});

test('SIGTERM shuts down promptly even while a client follows the event log', async () => {
  const c = server.client();
  await c.createWorkspace({ name: 'follow', project: 'demo' });
  await waitPhase(c, 'follow', 'running');
  const controller = new AbortController();
  const following = c.followEvents('follow', () => false, { signal: controller.signal }).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  const exited = new Promise((r) => server.proc.once('exit', r));
  server.proc.kill('SIGTERM');
  await exited;
  assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  controller.abort();
  await following;
  await server.restart();
});

test('a directory the store does not know is quarantined at start-up, kept, and removed by admin gc', async () => {
  const shellRoot = path.join(server.dataDir, 'workspaces', 'shell');
  const orphan = path.join(shellRoot, 'ws_0123456789abcdef0123');
  fs.mkdirSync(path.join(orphan, 'work'), { recursive: true });
  await server.restart();
  assert.equal(fs.existsSync(orphan), true, 'kept at start');
  assert.deepEqual((await server.client().orphans()).map((o) => [o.workspaceId, o.provisioner]), [['ws_0123456789abcdef0123', 'shell']]);
  const gc = await server.client().gc(false);
  assert.deepEqual([gc.orphans.length, gc.failed], [1, []]);
  assert.equal(fs.existsSync(orphan), false);
});
