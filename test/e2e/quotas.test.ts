/**
 * Quotas per user and per project, and the provisioners a project may use, against a real server:
 * each limit refuses a create with a sentence naming it, stores nothing, and admits again once a
 * workspace is deleted.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import type { BerthClient } from '../../src/sdk/client.ts';
import type { ProjectProvisioners, Quota } from '../../src/sdk/policy.ts';
import type { CreateWorkspace } from '../../src/sdk/wire.ts';
import { TestServer, makeRepo, rejectsWith, runCli, waitGone, waitPhase } from '../harness.ts';
import { cleanupEngines, installationOf, removeWorkspaces, testEnv } from '../docker/env.ts';

let server: TestServer;
let repo: string;
let installation: string;
/** An admin (admins may use the shell provisioner) whose own quota the tests set. */
let carol: BerthClient;
let bobToken: string;

before(async () => {
  server = await TestServer.start();
  installation = installationOf(server);
  repo = makeRepo();
  const admin = server.client();
  await admin.createProject({ name: 'web', repo });
  await admin.createProject({ name: 'api', repo });
  carol = server.client((await admin.createUser('carol', 'admin')).token);
  bobToken = (await admin.createUser('bob')).token;
});

after(async () => {
  await server?.stop();
  if (installation) cleanupEngines(installation);
  fs.rmSync(repo, { recursive: true, force: true });
});

const setQuota = (scope: 'users' | 'projects', name: string, body: object, c = server.client()) => c.request<Quota>('PUT', `/api/v1/${scope}/${name}/quota`, body);
const names = async () => (await server.client().listWorkspaces(true)).map((w) => `${w.owner}/${w.name}`).sort();

/** Asserts that creating `w` as `c` is refused with 403 and `message`, and that no workspace was stored. */
async function refused(c: BerthClient, w: CreateWorkspace, message: RegExp): Promise<void> {
  const before = await names();
  await rejectsWith(c.createWorkspace(w), 403, message);
  assert.deepEqual(await names(), before, 'nothing is stored');
}

test('a user workspace quota refuses one more, naming the limit, and admits again after a delete', async () => {
  await setQuota('users', 'carol', { workspaces: 2 });
  const a = await carol.createWorkspace({ name: 'a', project: 'web', provisioner: 'shell' });
  const b = await carol.createWorkspace({ name: 'b', project: 'api', provisioner: 'shell' });
  await refused(carol, { name: 'c', project: 'web', provisioner: 'shell' }, /^User carol may have at most 2 workspaces; 2 exist and this would be one more \(delete one first\)\.$/);
  // Admins are not limited by carol's quota.
  const mine = await server.client().createWorkspace({ name: 'admins', project: 'web', provisioner: 'shell' });
  await carol.deleteWorkspace(a.id);
  const c = await carol.createWorkspace({ name: 'c', project: 'web', provisioner: 'shell' });
  await setQuota('users', 'carol', {});
  await removeWorkspaces(server.client(), b.id, c.id, mine.id);
  await waitGone(server.client(), a.id);
});

test('creates at the same moment cannot both take the last share', async () => {
  await setQuota('users', 'carol', { workspaces: 1 });
  const results = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => carol.createWorkspace({ name: `race-${i}`, project: 'web', provisioner: 'shell' })));
  const created = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  assert.equal(created.length, 1, 'exactly one is admitted');
  for (const r of results) if (r.status === 'rejected') assert.match((r.reason as Error).message, /^User carol may have at most 1 workspace; 1 exists/);
  await setQuota('users', 'carol', {});
  await removeWorkspaces(server.client(), created[0]!.id);
});

test('a project workspace quota counts every user in the project', async () => {
  await setQuota('projects', 'api', { workspaces: 1 });
  const a = await server.client().createWorkspace({ name: 'api-1', project: 'api', provisioner: 'shell' });
  await refused(carol, { name: 'api-2', project: 'api', provisioner: 'shell' }, /^Project api may have at most 1 workspace; 1 exists and this would be one more/);
  // Another project is not limited.
  const other = await carol.createWorkspace({ name: 'web-1', project: 'web', provisioner: 'shell' });
  await server.client().deleteWorkspace(a.id);
  const b = await carol.createWorkspace({ name: 'api-2', project: 'api', provisioner: 'shell' });
  assert.deepEqual((await server.client().request<Quota>('GET', '/api/v1/projects/api/quota')).used.workspaces, 1);
  await setQuota('projects', 'api', {});
  await removeWorkspaces(server.client(), other.id, b.id);
  await waitGone(server.client(), a.id);
});

test('under a CPU, memory or storage quota a workspace must state that resource', async () => {
  for (const [limit, field] of [
    [{ cpus: 4 }, 'spec\\.resources\\.cpus'],
    [{ memory: '8GiB' }, 'spec\\.resources\\.memory'],
    [{ storage: '50GiB' }, 'spec\\.resources\\.disk'],
  ] as const) {
    await setQuota('users', 'carol', limit);
    await refused(carol, { name: 'free', project: 'web', provisioner: 'shell' }, new RegExp(`^User carol has a quota of \\S+ (CPUs|of memory|of storage), so each workspace must set ${field}; this one sets none\\.$`));
  }
  await setQuota('users', 'carol', {});
});

test('CPU and memory quotas on docker: refused with used and asked amounts, admitted again after a delete', async () => {
  const image = testEnv().BERTH_TEST_IMAGE;
  const ws = (name: string, cpus: number, memory: string): CreateWorkspace => ({ name, project: 'web', provisioner: 'docker', spec: { image, resources: { cpus, memory } } });
  await setQuota('users', 'carol', { cpus: 2, memory: '1GiB' });
  const a = await carol.createWorkspace(ws('big', 1.5, '512MiB'));
  await refused(carol, ws('more-cpu', 1, '256MiB'), /^User carol may use at most 2 CPUs across workspaces; 1\.5 are in use and this workspace asks for 1\.$/);
  await refused(carol, ws('more-mem', 0.5, '768MiB'), /^User carol may use at most 1GiB of memory across workspaces; 512MiB is in use and this workspace asks for 768MiB\.$/);
  const q = await carol.request<Quota>('GET', '/api/v1/users/carol/quota');
  assert.deepEqual(q.used, { workspaces: 1, cpus: 1.5, memory: 512 * 1024 ** 2, storage: 0 });
  // A stopped workspace still holds its share.
  await carol.stopWorkspace(a.id);
  await refused(carol, ws('more-cpu', 1, '256MiB'), /1\.5 are in use/);
  await carol.deleteWorkspace(a.id);
  const b = await carol.createWorkspace(ws('more-cpu', 1, '256MiB'));
  await setQuota('users', 'carol', {});
  await removeWorkspaces(server.client(), b.id);
  await waitGone(server.client(), a.id);
});

test('changing a workspace to more CPUs or memory is held to the quota, its own old share not counted', async () => {
  const image = testEnv().BERTH_TEST_IMAGE;
  await setQuota('users', 'carol', { cpus: 1 });
  const w = await carol.createWorkspace({ name: 'grow', project: 'web', provisioner: 'docker', spec: { image, resources: { cpus: 0.5 } } });
  await carol.stopWorkspace(w.id);
  await waitPhase(carol, w.id, 'stopped', 120_000);
  const cpus = (x: { spec: unknown }) => (x.spec as { resources: { cpus?: number } }).resources.cpus;
  // 0.5 → 1 fits (its own 0.5 is not counted twice); 1 → 1.5 does not.
  assert.equal(cpus(await carol.updateWorkspace(w.id, { resources: { cpus: 1 } })), 1);
  await rejectsWith(carol.updateWorkspace(w.id, { resources: { cpus: 1.5 } }), 403, /^User carol may use at most 1 CPU across workspaces; 0 are in use and this workspace asks for 1\.5\.$/);
  await rejectsWith(carol.updateWorkspace(w.id, { resources: { cpus: null } }), 403, /must set spec\.resources\.cpus/);
  assert.equal(cpus(await carol.getWorkspace(w.id)), 1, 'the refused changes stored nothing');
  // A change that leaves the resources alone is not refused, even once the quota is lower.
  await setQuota('users', 'carol', { cpus: 0.5 });
  await carol.updateWorkspace(w.id, { env: [{ name: 'COLOUR', value: 'blue' }] });
  await setQuota('users', 'carol', {});
  await removeWorkspaces(server.client(), w.id);
});

test('a developer of a project is held to his own quota there', async () => {
  const bob = server.client(bobToken);
  await server.client().request('PUT', '/api/v1/projects/web/members/bob', { role: 'developer' });
  await setQuota('users', 'bob', { workspaces: 1 });
  const image = testEnv().BERTH_TEST_IMAGE;
  const first = await bob.createWorkspace({ name: 'one', project: 'web', provisioner: 'docker', spec: { image } });
  await refused(bob, { name: 'two', project: 'web', provisioner: 'docker', spec: { image } }, /^User bob may have at most 1 workspace; 1 exists and this would be one more/);
  await setQuota('users', 'bob', {});
  await server.client().request('DELETE', '/api/v1/projects/web/members/bob');
  await removeWorkspaces(server.client(), first.id);
});

test('a project restricted to docker refuses shell, naming the allowed ones', async () => {
  const set = (provisioners: string[]) => server.client().request<ProjectProvisioners>('PUT', '/api/v1/projects/web/provisioners', { provisioners });
  assert.deepEqual(await set(['docker']), { project: 'web', provisioners: ['docker'] });
  await refused(carol, { name: 'sh', project: 'web', provisioner: 'shell' }, /^Project web may use only the provisioner docker; choose one of them instead of "shell"\.$/);
  // Other projects are not restricted.
  const other = await carol.createWorkspace({ name: 'sh', project: 'api', provisioner: 'shell' });
  await rejectsWith(set(['docker', 'nowhere']), 400, /No provisioner named "nowhere"/);
  assert.deepEqual(await set([]), { project: 'web', provisioners: [] });
  const sh = await carol.createWorkspace({ name: 'sh2', project: 'web', provisioner: 'shell' });
  await removeWorkspaces(server.client(), other.id, sh.id);
});

test('only admins set quotas and provisioners; a user sees their own quota only', async () => {
  const bob = server.client(bobToken);
  await rejectsWith(setQuota('users', 'bob', { workspaces: 100 }, bob), 403, /Only an admin/);
  await rejectsWith(bob.request('PUT', '/api/v1/projects/web/provisioners', { provisioners: [] }), 403, /Only an admin/);
  await rejectsWith(bob.request('GET', '/api/v1/users/carol/quota'), 403, /another user's quota/);
  assert.equal((await bob.request<Quota>('GET', '/api/v1/users/bob/quota')).limits.workspaces, null);
  // A project bob is not a member of is not there for him.
  await rejectsWith(bob.request('GET', '/api/v1/projects/web/quota'), 404, /No project named "web"/);
  await rejectsWith(bob.request('GET', '/api/v1/projects/web/provisioners'), 404, /No project named "web"/);
  await rejectsWith(setQuota('users', 'nobody', {}), 404, /No user named "nobody"/);
  await rejectsWith(setQuota('users', 'bob', { memory: 'lots' }), 400, /memory "lots" is not a size/);
});

test('the CLI sets and shows quotas and allowed provisioners', async () => {
  const set = await runCli(server, ['quota', 'set', '--user', 'bob', '--workspaces', '3', '--cpu', '4', '--memory', '8GiB', '--storage', '50GiB']);
  assert.equal(set.code, 0, set.stderr);
  const shown = await runCli(server, ['quota', 'show', '--user', 'bob']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /Quota of user bob/);
  assert.match(shown.stdout, /workspaces\s+3\s+0/);
  assert.match(shown.stdout, /memory\s+8GiB\s+0B/);
  assert.match(shown.stdout, /storage\s+50GiB/);
  const json = JSON.parse((await runCli(server, ['quota', 'show', '--user', 'bob', '--json'])).stdout) as Quota;
  assert.deepEqual(json.limits, { workspaces: 3, cpus: 4, memory: 8 * 1024 ** 3, storage: 50 * 1024 ** 3 });
  const own = await runCli(server, ['quota', 'show'], { token: bobToken });
  assert.match(own.stdout, /Quota of user bob/, own.stderr);
  const both = await runCli(server, ['quota', 'show', '--user', 'bob', '--project', 'web']);
  assert.notEqual(both.code, 0);
  assert.match(both.stderr, /exactly one of --user NAME or --project NAME/);
  const restrict = await runCli(server, ['project', 'provisioners', 'set', 'api', 'docker', 'shell']);
  assert.equal(restrict.stdout, 'Project api may use: docker, shell.\n', restrict.stderr);
  assert.equal((await runCli(server, ['project', 'provisioners', 'set', 'api'])).stdout, 'Project api may use any provisioner.\n');
  assert.equal((await runCli(server, ['project', 'provisioners', 'show', 'api'])).stdout, 'Project api may use any provisioner.\n');
});
