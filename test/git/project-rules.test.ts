/**
 * E2E: what the server refuses when projects and workspaces are defined: secrets in repository URLs,
 * repositories on the server's disk for non-admins, credentials following a project to another host,
 * and branch names git would refuse or the upstream does not have.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import type { BerthClient } from '../../src/sdk/client.ts';
import { git, rejectsWith, runCli, TestServer, waitPhase } from '../harness.ts';
import { bareUpstream, upstreamRoot, UPSTREAM_PASSWORD, UPSTREAM_USER } from './fixtures.ts';
import { startUpstream, type UpstreamServer } from './upstream-server.ts';

let server: TestServer;
let upstream: UpstreamServer;
let root: string;
let bare: string;
let bob: BerthClient;
let bobToken: string;

before(async () => {
  root = upstreamRoot();
  bare = bareUpstream(root, 'app');
  git(root, '--git-dir', bare, 'branch', 'dev', 'main');
  bareUpstream(root, 'app2');
  upstream = await startUpstream(root, UPSTREAM_USER, UPSTREAM_PASSWORD);
  // Bob's projects use the loopback upstream, which non-admins reach only when an admin allows it.
  server = await TestServer.start({ args: ['--outbound-allow', '127.0.0.1/32'] });
  bobToken = (await server.client().createUser('bob')).token;
  bob = server.client(bobToken);
});
after(async () => {
  await server?.stop();
  await upstream?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

test('a token or user name in an http(s) URL is refused on create and update; ssh user names stay allowed', async () => {
  const c = server.client();
  const hint = /Put credentials in --username\/--password-stdin, not in the URL\./;
  for (const repo of [
    `${upstream.url.replace('http://', 'http://ghp_secrettoken@')}/app.git`,
    'https://oauth2:glpat-secret@git.example.com/team/app.git',
    'https://alice@git.example.com/team/app.git',
    'https://@git.example.com/team/app.git',
  ]) {
    await rejectsWith(c.createProject({ name: 'leak', repo }), 400, hint);
  }
  await c.createProject({ name: 'ok-ssh', repo: 'ssh://git@git.example.com:2222/team/app.git' });
  await c.createProject({ name: 'ok-scp', repo: 'git@git.example.com:team/app.git' });
  await c.createProject({ name: 'ok-http', repo: 'https://git.example.com/team/app.git' });
  await rejectsWith(c.updateProject('ok-http', { repo: 'https://ghp_secret@git.example.com/team/app.git' }), 400, hint);
  await rejectsWith(c.updateProject('ok-http', { repo: 'https://ghp_secret@git.example.com/team/app.git', credentials: null }), 400, hint);
  const cli = await runCli(server, ['project', 'add', 'leak2', '--repo', 'https://ghp_secret@git.example.com/team/app.git']);
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, hint);
  const listed = JSON.stringify(await c.listProjects());
  assert.ok(!listed.includes('secret'), 'no URL with a secret was stored');
});

test('only admins may use repositories on the server disk (local paths and file:// URLs)', async () => {
  const local = bareUpstream(root, 'local');
  for (const repo of [local, `file://${local}`, '/etc', '/nonexistent/repo']) {
    await rejectsWith(bob.createProject({ name: 'mine', repo }), 403, /Only admins may use a repository on the server's disk/);
  }
  // A non-admin's project may not be moved onto the disk either.
  await bob.createProject({ name: 'bobs', repo: `${upstream.url}/app.git`, credentials: { username: UPSTREAM_USER, password: UPSTREAM_PASSWORD } });
  await rejectsWith(bob.updateProject('bobs', { repo: local }), 403, /Only admins may use a repository on the server's disk/);
  await rejectsWith(bob.updateProject('bobs', { repo: `file://${local}` }), 403, /Only admins/);
  assert.equal((await bob.getProject('bobs')).repo, `${upstream.url}/app.git`);
  const cli = await runCli(server, ['project', 'add', 'mine', '--repo', local], { token: bobToken });
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /Only admins/);

  const c = server.client();
  assert.equal((await c.createProject({ name: 'adm-local', repo: local })).repo, local);
  assert.equal((await c.createProject({ name: 'adm-file', repo: `file://${local}` })).repo, `file://${local}`);
  await c.updateProject('bobs', { repo: `file://${local}` });
  await c.updateProject('bobs', { repo: `${upstream.url}/app.git`, credentials: { username: UPSTREAM_USER, password: UPSTREAM_PASSWORD } });
});

test('stored credentials are dropped when the repository moves to another scheme, host or port', async () => {
  const c = server.client();
  const port = Number(new URL(upstream.url).port);
  await c.createProject({ name: 'mover', repo: `${upstream.url}/app.git`, credentials: { username: UPSTREAM_USER, password: UPSTREAM_PASSWORD } });

  // Same scheme, host and port: the credentials stay, and the new path is fetched with them.
  let p = await c.updateProject('mover', { repo: `${upstream.url}/app2.git` });
  assert.equal(p.credentials, 'password');
  assert.equal(p.notice, undefined);
  assert.equal((await c.syncProject('mover')).head, 'main');

  // Another host name: the credentials stay behind, and the response says so.
  p = await c.updateProject('mover', { repo: `http://localhost:${port}/app.git` });
  assert.equal(p.credentials, null);
  assert.match(p.notice ?? '', /stored credentials were removed because the repository moved from http:\/\/127\.0\.0\.1:\d+ to http:\/\/localhost:\d+/);
  const before = upstream.refused;
  await rejectsWith(c.syncProject('mover'), 502, /Authentication failed|could not read Username/);
  assert.ok(upstream.refused > before, 'the new host was asked without credentials');

  // Sent again with the move, they are kept.
  p = await c.updateProject('mover', { repo: `${upstream.url}/app.git`, credentials: { username: UPSTREAM_USER, password: UPSTREAM_PASSWORD } });
  assert.equal(p.credentials, 'password');
  // Another port, or another scheme, drops them too.
  p = await c.updateProject('mover', { repo: `http://127.0.0.1:${port + 1}/app.git` });
  assert.equal(p.credentials, null);
  await c.updateProject('mover', { repo: `${upstream.url}/app.git`, credentials: { username: UPSTREAM_USER, password: UPSTREAM_PASSWORD } });
  p = await c.updateProject('mover', { repo: `https://127.0.0.1:${port}/app.git` });
  assert.equal(p.credentials, null);
  assert.match(p.notice ?? '', /removed/);

  const cli = await runCli(server, ['project', 'update', 'mover', '--repo', `${upstream.url}/app.git`]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /no credentials/);
});

test('branch names git refuses are rejected with 400 for projects and workspaces', async () => {
  const c = server.client();
  for (const branch of ['bad branch', 'a..b', 'feature.lock', '-x', 'x/', '.hidden', 'a//b', 'a@{1}', '@', 'end.', 'wild*', 'HEAD~1', 'back\\slash']) {
    await rejectsWith(c.createProject({ name: 'brn', repo: `${upstream.url}/app.git`, branch }), 400, /branch has an invalid format: .*git branch name/);
  }
  await c.createProject({ name: 'brn', repo: bare, branch: 'feature/x-1.2' });
  await rejectsWith(c.updateProject('brn', { branch: 'no..dots' }), 400, /branch has an invalid format/);
  for (const ref of ['a..b', 'x.lock', '-b', 'a@{u}']) {
    await rejectsWith(c.createWorkspace({ name: 'w-bad', project: 'brn', ref }), 400, /ref has an invalid format/);
  }
});

test('a workspace ref (or project branch) the mirror does not have is a 400 naming the branches it has', async () => {
  const c = server.client();
  await c.createProject({ name: 'refs', repo: bare });
  await rejectsWith(c.createWorkspace({ name: 'w1', project: 'refs', ref: 'nope' }), 400, /^Branch "nope" does not exist in project "refs"; it has: main, dev\./);
  await c.updateProject('refs', { branch: 'gone' });
  await rejectsWith(c.createWorkspace({ name: 'w2', project: 'refs' }), 400, /Branch "gone" does not exist in project "refs"; it has: main, dev\./);
  assert.deepEqual((await c.listWorkspaces(true)).map((w) => w.name).filter((n) => n.startsWith('w')), [], 'nothing was created');

  // A branch created upstream after the mirror's last fetch is found: a miss looks at the upstream again.
  git(root, '--git-dir', bare, 'branch', 'fresh', 'main');
  const w = await c.createWorkspace({ name: 'w3', project: 'refs', ref: 'fresh' });
  assert.equal(w.ref, 'fresh');
  await waitPhase(c, 'w3', 'running');
  await c.updateProject('refs', { branch: 'dev' });
  assert.equal((await c.createWorkspace({ name: 'w4', project: 'refs' })).ref, 'dev');
  await waitPhase(c, 'w4', 'running');

  // With a fresh mirror, creating stays fast.
  const t0 = Date.now();
  await c.createWorkspace({ name: 'w5', project: 'refs', ref: 'main' });
  assert.ok(Date.now() - t0 < 1000, `create took ${Date.now() - t0} ms`);
  const cli = await runCli(server, ['ws', 'create', 'w6', '--project', 'refs', '--branch', 'missing']);
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /Branch "missing" does not exist in project "refs"; it has: main, dev, fresh\./);
});
