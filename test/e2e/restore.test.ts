/**
 * Restoring an older database backup destroys nothing: workspaces created after the backup (shell
 * and docker) are quarantined with their files kept, reported, listed by `berth admin gc --dry-run`,
 * and removed only by `berth admin gc`, which leaves every other workspace alone.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Workspace } from '../../src/sdk/wire.ts';
import { cleanupEngines, containersWith, installationOf, testEnv } from '../docker/env.ts';
import { TestServer, eventually, makeRepo, runCli, tempDir, waitPhase } from '../harness.ts';

const env = testEnv();
let server: TestServer;
let repo: string;
let installation: string;
const scratch = tempDir('berth-restore-');

before(async () => {
  server = await TestServer.start();
  installation = installationOf(server);
  repo = makeRepo();
  await server.client().createProject({ name: 'demo', repo });
});
after(async () => {
  await server?.stop();
  if (installation) cleanupEngines(installation);
  fs.rmSync(repo, { recursive: true, force: true });
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** Where a workspace's checkout lies on this host: the shell directory, or the docker provisioner's storage directory. */
function checkoutOf(w: Workspace): string {
  return path.join(String(w.details.directory ?? w.details.storage), 'work');
}

/** Creates a running workspace and writes a file into its checkout; returns the workspace and the file's path on the host. */
async function workspaceWithFile(name: string, provisioner: 'shell' | 'docker'): Promise<{ w: Workspace; file: string }> {
  const c = server.client();
  await c.createWorkspace({ name, project: 'demo', provisioner, ...(provisioner === 'docker' ? { spec: { image: env.BERTH_TEST_IMAGE } } : {}) });
  const w = await waitPhase(c, name, 'running', 120_000);
  const r = await c.run(name, ['sh', '-c', `echo "kept: ${name}" > restore-note.txt`]);
  assert.equal(r.code, 0, r.stderr);
  const file = path.join(checkoutOf(w), 'restore-note.txt');
  assert.equal(fs.readFileSync(file, 'utf8'), `kept: ${name}\n`);
  return { w, file };
}

test('restoring a backup taken before five more workspaces quarantines the five, keeps their files, and gc removes only them', async () => {
  const before = [await workspaceWithFile('old-shell', 'shell'), await workspaceWithFile('old-docker', 'docker')];

  const backup = path.join(scratch, 'berth-backup.db');
  const b = await runCli(server, ['admin', 'backup', backup]);
  assert.equal(b.code, 0, b.stderr);
  assert.ok(fs.statSync(backup).size > 0);

  const newer = [
    await workspaceWithFile('new-shell-1', 'shell'),
    await workspaceWithFile('new-shell-2', 'shell'),
    await workspaceWithFile('new-shell-3', 'shell'),
    await workspaceWithFile('new-docker-1', 'docker'),
    await workspaceWithFile('new-docker-2', 'docker'),
  ];
  const newIds = newer.map((n) => n.w.id).sort();

  // The operator's restore: stop the server, put the backup in place of the database, start.
  await server.stop({ keep: true });
  const db = path.join(server.dataDir, 'berth.db');
  for (const f of [`${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true });
  fs.copyFileSync(backup, db);
  server.logs = '';
  await server.restart();
  const c = server.client();

  // The workspaces of the backup converge as before, with their files.
  for (const { w, file } of before) {
    await waitPhase(c, w.id, 'running', 120_000);
    assert.equal(fs.readFileSync(file, 'utf8'), `kept: ${w.name}\n`);
  }
  assert.deepEqual((await c.listWorkspaces()).map((w) => w.name).sort(), ['old-docker', 'old-shell']);

  // The five newer ones: reported, their runtime stopped, their files still there.
  for (const { w, file } of newer) {
    assert.match(server.logs, new RegExp(`"workspaceId":"${w.id}"[^\\n]*quarantined orphaned workspace resources`), `quarantine of ${w.name} is logged`);
    assert.equal(fs.readFileSync(file, 'utf8'), `kept: ${w.name}\n`, `${w.name}'s file survived the restore`);
  }
  for (const { w } of newer.filter((n) => n.w.provisioner === 'docker')) {
    await eventually(() => containersWith(`berth.workspace=${w.id}`).length === 0, `the container of ${w.name} to be stopped`);
  }

  const dry = await runCli(server, ['admin', 'gc', '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  for (const { w } of newer) assert.match(dry.stdout, new RegExp(`${w.id}\\s+${w.provisioner}\\s+\\S+\\s+in \\S+\\s+would remove`), `dry run lists ${w.name}`);
  assert.match(dry.stdout, /5 quarantined orphan\(s\)/);
  for (const { w } of before) assert.doesNotMatch(dry.stdout, new RegExp(w.id));
  const listed = await runCli(server, ['admin', 'gc', '--dry-run', '--json']);
  assert.deepEqual((JSON.parse(listed.stdout) as { orphans: { workspaceId: string }[] }).orphans.map((o) => o.workspaceId).sort(), newIds);
  for (const { w, file } of newer) assert.ok(fs.existsSync(file), `a dry run keeps ${w.name}'s file`);

  const gc = await runCli(server, ['admin', 'gc']);
  assert.equal(gc.code, 0, gc.stderr);
  assert.match(gc.stdout, /Removed 5 of 5 quarantined orphan\(s\)/);
  for (const { w, file } of newer) assert.equal(fs.existsSync(path.dirname(path.dirname(file))), false, `${w.name}'s storage is removed`);
  for (const { w, file } of before) {
    assert.equal(fs.readFileSync(file, 'utf8'), `kept: ${w.name}\n`, `${w.name} is untouched by gc`);
    assert.equal((await c.getWorkspace(w.id)).phase, 'running');
  }
  const after = await runCli(server, ['admin', 'gc', '--dry-run']);
  assert.match(after.stdout, /No quarantined orphans/);
});
