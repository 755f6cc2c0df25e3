/**
 * Provisioners and projects as an admin manages them through the real CLI and API: types with
 * their options, adding with type flags, changing, removing; nothing removed while a workspace
 * uses it, with a sentence that names the workspaces; built-in provisioners stay.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { TestServer, makeRepo, rejectsWith, runCli, tempDir, waitGone, waitPhase } from '../harness.ts';

let server: TestServer;
let repo: string;
const roots: string[] = [];

before(async () => {
  server = await TestServer.start({ args: ['--local-docker', 'off'] });
  repo = makeRepo();
});
after(async () => {
  await server?.stop();
  for (const d of [repo, ...roots]) fs.rmSync(d, { recursive: true, force: true });
});

test('provisioner types lists every type with its capabilities and its options as flags', async () => {
  const r = await runCli(server, ['provisioner', 'types']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^shell: .*\n  capabilities: runsOnHost, fork\b[^\n]*\n  options:\n    --root <value>/m);
  assert.match(r.stdout, /^docker: .*\n  capabilities: image, user, resources, registryLogins, needsServerUrl, fork\b[^\n]*\n/m);
  assert.match(r.stdout, /--docker-host <value> +unix:\/\/\/var\/run\/docker\.sock/);
  const types = (await server.client().listProvisionerTypes()).map((t) => t.type);
  assert.deepEqual(types, [...types].sort(), 'types are listed by name');
  assert.ok(types.includes('docker') && types.includes('shell'), types.join(', '));
  for (const t of types) assert.match(r.stdout, new RegExp(`^${t}: `, 'm'), `provisioner types shows ${t}`);
});

test('bad type flags and unknown types are one sentence each, and nothing is added', async () => {
  let r = await runCli(server, ['provisioner', 'add', 'x', '--type', 'docker', '--colour', 'red']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^berth: The docker provisioner has no option --colour\. Its options: --docker-host, /);
  r = await runCli(server, ['provisioner', 'add', 'x', '--type', 'kubernetez']);
  const known = (await server.client().listProvisionerTypes()).map((t) => t.type).join(', ');
  assert.equal(r.stderr, `berth: Unknown provisioner type "kubernetez". This server has: ${known}.\n`);
  await rejectsWith(server.client().createProvisioner({ name: 'x', type: 'shell', options: { root: 'relative' } }), 400, /^The shell provisioner option root must be an absolute directory path\.$/);
  await rejectsWith(server.client().createProvisioner({ name: 'x', type: 'shell', options: { root: 7 } }), 400, /^The shell provisioner option root is invalid: /);
  assert.deepEqual((await server.client().listProvisioners()).map((p) => p.name), ['shell']);
});

test('a provisioner in use cannot be removed or changed; once its workspaces are gone it can', async () => {
  const admin = server.client();
  const root = tempDir('berth-sh2-');
  roots.push(root);
  let r = await runCli(server, ['provisioner', 'add', 'sh2', '--type', 'shell', '--root', root]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await admin.listProvisioners()).find((p) => p.name === 'sh2')?.builtin, false);
  r = await runCli(server, ['project', 'add', 'demo', '--repo', repo]);
  assert.equal(r.code, 0, r.stderr);
  await admin.createWorkspace({ name: 'w1', project: 'demo', provisioner: 'sh2' });
  const w = await waitPhase(admin, 'w1', 'running');
  assert.ok(fs.existsSync(`${root}/${w.id}/work/README.md`), 'the workspace lives under the provisioner root given as a flag');

  r = await runCli(server, ['provisioner', 'rm', 'sh2']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'berth: The provisioner "sh2" is used by 1 workspace (w1); delete it first to remove it.\n');
  r = await runCli(server, ['provisioner', 'update', 'sh2', '--root', tempDir('berth-sh3-')]);
  assert.match(r.stderr, /^berth: The provisioner "sh2" is used by 1 workspace \(w1\); delete it first to change its options\.\n$/);
  r = await runCli(server, ['project', 'rm', 'demo']);
  assert.equal(r.stderr, 'berth: Project "demo" has 1 workspace (w1); delete it first (berth ws rm) to delete it.\n');
  r = await runCli(server, ['project', 'update', 'demo', '--repo', makeRepo()]);
  assert.equal(r.stderr, 'berth: Project "demo" has 1 workspace (w1); delete it first (berth ws rm) to change its repository.\n');
  r = await runCli(server, ['project', 'update', 'demo', '--branch', 'main']);
  assert.equal(r.code, 0, `other settings may change while workspaces use the project: ${r.stderr}`);
  assert.equal((await admin.listProvisioners()).find((p) => p.name === 'sh2')?.workspaces, 1);

  r = await runCli(server, ['provisioner', 'update', 'sh2', '--default']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await admin.listProvisioners()).find((p) => p.default)?.name, 'sh2');

  await admin.deleteWorkspace('w1');
  await waitGone(admin, 'w1');
  r = await runCli(server, ['provisioner', 'update', 'sh2', '--unset', 'root', '--colour', 'x']);
  assert.match(r.stderr, /^berth: The shell provisioner has no option --colour\./);
  r = await runCli(server, ['provisioner', 'update', 'sh2', '--unset', 'root']);
  assert.equal(r.code, 0, r.stderr);
  await admin.createWorkspace({ name: 'w2', project: 'demo', provisioner: 'sh2' });
  const w2 = await waitPhase(admin, 'w2', 'running');
  assert.ok(fs.existsSync(`${server.dataDir}/workspaces/sh2/${w2.id}/work/README.md`), 'with root unset, the default root under the data directory applies');
  await admin.deleteWorkspace('w2');
  await waitGone(admin, 'w2');
  r = await runCli(server, ['provisioner', 'rm', 'sh2']);
  assert.equal(r.code, 0, r.stderr);
  const left = await admin.listProvisioners();
  assert.deepEqual(left.map((p) => [p.name, p.default]), [['shell', true]], 'removing the default makes the built-in default apply again');
  r = await runCli(server, ['project', 'rm', 'demo']);
  assert.equal(r.code, 0, r.stderr);
  await rejectsWith(admin.deleteProject('demo'), 404, /^No project named "demo"/);
});

test('built-in provisioners stay; only admins add, change or remove provisioners; the changes survive a restart', async () => {
  const admin = server.client();
  await rejectsWith(admin.deleteProvisioner('shell'), 409, /^The provisioner "shell" is built in \(the server registers it at every start\) and cannot be removed\.$/);
  await rejectsWith(admin.updateProvisioner('shell', { options: { root: '/tmp' } }), 409, /cannot be changed/);
  await rejectsWith(admin.deleteProvisioner('nope'), 404, /^No provisioner named "nope"/);
  const bob = server.client((await admin.createUser('bob')).token);
  await rejectsWith(bob.createProvisioner({ name: 'b', type: 'shell' }), 403, /admin/i);
  await rejectsWith(bob.deleteProvisioner('shell'), 403, /admin/i);

  const root = tempDir('berth-sh4-');
  roots.push(root);
  await admin.createProvisioner({ name: 'sh4', type: 'shell', options: { root } });
  await admin.updateProvisioner('sh4', { default: true });
  await server.restart();
  const after = await server.client().listProvisioners();
  assert.deepEqual(after.map((p) => [p.name, p.default, p.builtin]), [['sh4', true, false], ['shell', false, true]]);
  await server.client().deleteProvisioner('sh4');
  await server.restart();
  assert.deepEqual((await server.client().listProvisioners()).map((p) => p.name), ['shell'], 'a removed provisioner does not come back at the next start');
});

test('a stored provisioner that cannot be built at start is listed with why, and can be removed', async () => {
  const root = tempDir('berth-sh6-');
  roots.push(root);
  await server.client().createProvisioner({ name: 'sh6', type: 'shell', options: { root } });
  await server.stop({ keep: true });
  // Its root is no longer a directory, so the instance cannot be built again.
  fs.rmSync(root, { recursive: true });
  fs.writeFileSync(root, 'not a directory');
  await server.restart();
  const r = await runCli(server, ['provisioner', 'list']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^sh6 +shell +0 +unavailable$/m);
  assert.match(r.stdout, /^sh6: .*EEXIST/m, 'the list says why');
  await rejectsWith(server.client().createProvisioner({ name: 'sh6', type: 'shell' }), 409, /^The provisioner "sh6" could not be built at start \(.*\); remove it \(berth provisioner rm sh6\) and add it again\.$/);
  assert.equal((await runCli(server, ['provisioner', 'rm', 'sh6'])).code, 0);
  await server.restart();
  assert.deepEqual((await server.client().listProvisioners()).map((p) => p.name), ['shell']);
});
