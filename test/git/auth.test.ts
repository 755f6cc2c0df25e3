/** E2E: who may use the git gateway (401/403), token rotation, and where credentials must never show up. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { tempDir, TestServer, waitGone, waitPhase } from '../harness.ts';
import { bareUpstream, filesContaining, gitWithToken, upstreamRoot, UPSTREAM_PASSWORD, UPSTREAM_USER, wsCommit, wsRun } from './fixtures.ts';
import { startUpstream, type UpstreamServer } from './upstream-server.ts';

let server: TestServer;
let upstream: UpstreamServer;
let root: string;
const seenTokens: string[] = [];

before(async () => {
  root = upstreamRoot();
  bareUpstream(root, 'app');
  bareUpstream(root, 'other');
  upstream = await startUpstream(root, UPSTREAM_USER, UPSTREAM_PASSWORD);
  server = await TestServer.start();
  const c = server.client();
  await c.createProject({ name: 'web', repo: `${upstream.url}/app.git`, credentials: { username: UPSTREAM_USER, password: UPSTREAM_PASSWORD } });
  await c.createProject({ name: 'other', repo: path.join(root, 'other.git') });
  await c.createWorkspace({ name: 'dev', project: 'web' });
  await c.createWorkspace({ name: 'odev', project: 'other' });
  await waitPhase(c, 'dev', 'running');
  await waitPhase(c, 'odev', 'running');
});
after(async () => {
  await server?.stop();
  await upstream?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

async function workspaceToken(ws: string): Promise<string> {
  const t = (await wsRun(server.client(), ws, ['printenv', 'BERTH_WORKSPACE_TOKEN'])).stdout.trim();
  assert.match(t, /^berth_w_/);
  seenTokens.push(t);
  return t;
}

function refs(project: string, token?: string, service = 'git-upload-pack'): Promise<Response> {
  const headers: Record<string, string> = token ? { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` } : {};
  return fetch(`${server.url}/git/${project}.git/info/refs?service=${service}`, { headers });
}

test('without credentials the gateway answers 401 with a Basic challenge, so git asks its credential helpers', async () => {
  const res = await refs('web');
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('www-authenticate'), 'Basic realm="berth", charset="UTF-8"');
  assert.match(await res.text(), /Berth token/);
  for (const bad of ['not-a-token', `berth_w_${'A'.repeat(43)}`, `berth_u_${'b'.repeat(43)}`]) {
    const r = await refs('web', bad);
    assert.equal(r.status, 401, bad);
    assert.ok(r.headers.get('www-authenticate'));
  }
  const dir = tempDir();
  const clone = gitWithToken(dir, `berth_w_${'A'.repeat(43)}`, 'ls-remote', `${server.url}/git/web.git`);
  assert.notEqual(clone.code, 0);
  assert.match(clone.stderr, /Authentication failed/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("an admin's token reaches every project, a user's only those they are a member of; a workspace token only its own project (403 otherwise)", async () => {
  const c = server.client();
  const user = await c.createUser('bob');
  for (const project of ['web', 'other']) assert.equal((await refs(project, server.adminToken)).status, 200, project);
  for (const project of ['web', 'other', 'nope']) assert.equal((await refs(project, user.token)).status, 404, `bob is no member of ${project}`);
  await c.setMember('web', 'bob', 'viewer');
  assert.equal((await refs('web', user.token)).status, 200);
  assert.equal((await refs('other', user.token)).status, 404);
  assert.equal((await refs('nope', server.adminToken)).status, 404);

  const token = await workspaceToken('dev');
  assert.equal((await refs('web', token)).status, 200);
  assert.equal((await refs('web', token, 'git-receive-pack')).status, 200);
  for (const service of ['git-upload-pack', 'git-receive-pack']) {
    const res = await refs('other', token, service);
    assert.equal(res.status, 403, service);
    assert.match(await res.text(), /may only access the repository of its own workspace's project/);
  }
  assert.equal((await refs('nope', token)).status, 403, 'no existence leak to workspace tokens');
  const push = await fetch(`${server.url}/git/other.git/git-receive-pack`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}`, 'content-type': 'application/x-git-receive-pack-request' },
    body: '0000',
  });
  assert.equal(push.status, 403);
  const dir = tempDir();
  const r = gitWithToken(dir, token, 'ls-remote', `${server.url}/git/other.git`);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /remote: This workspace token may only access/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('revoked tokens are refused; after the token rotates, git in the workspace keeps working', async () => {
  const c = server.client();
  const old = await workspaceToken('dev');
  await c.stopWorkspace('dev');
  await waitPhase(c, 'dev', 'stopped');
  await c.startWorkspace('dev');
  await waitPhase(c, 'dev', 'running');
  const fresh = await workspaceToken('dev');
  assert.notEqual(fresh, old);
  const res = await refs('web', old);
  assert.equal(res.status, 401);
  assert.match(await res.text(), /revoked/);
  assert.equal((await refs('web', fresh)).status, 200);
  // The checkout's credential helper reads the token from the environment, so the rotation is invisible to git.
  await wsCommit(c, 'dev', 'after-rotation.txt', 'still works', 'after rotation');
  await wsRun(c, 'dev', ['git', 'push', '-q', 'origin', 'main']);
  await wsRun(c, 'dev', ['git', 'pull', '-q']);

  const t = await c.createToken('short');
  assert.equal((await refs('web', t.token)).status, 200);
  await c.revokeToken(t.info.id);
  assert.equal((await refs('web', t.token)).status, 401);

  const gone = await workspaceToken('odev');
  await c.deleteWorkspace('odev');
  await waitGone(c, 'odev');
  assert.equal((await refs('other', gone)).status, 401);
});

test('credentials and tokens never appear in API responses, the server log, or the workspace files', async () => {
  const c = server.client();
  const w = await c.getWorkspace('dev');
  const current = await workspaceToken('dev');
  const api = JSON.stringify([await c.listProjects(), await c.getProject('web'), await c.listWorkspaces(), w, await c.events('dev')]);
  assert.ok(!api.includes(UPSTREAM_PASSWORD), 'password in an API response');
  for (const t of seenTokens) assert.ok(!api.includes(t), 'workspace token in an API response');

  assert.ok(server.logs.length > 0);
  assert.ok(!server.logs.includes(UPSTREAM_PASSWORD), 'password in the server log');
  for (const t of seenTokens) assert.ok(!server.logs.includes(t), 'workspace token in the server log');

  const dir = path.join(server.dataDir, 'workspaces', 'shell', w.id);
  assert.ok(fs.existsSync(path.join(dir, 'work', '.git')));
  assert.deepEqual(filesContaining(dir, UPSTREAM_PASSWORD), [], 'password in workspace files');
  for (const t of [...seenTokens, current]) assert.deepEqual(filesContaining(dir, t), [], 'token in workspace files');
  const config = fs.readFileSync(path.join(dir, 'work', '.git', 'config'), 'utf8');
  assert.match(config, /password=\$BERTH_WORKSPACE_TOKEN/, 'the helper references the variable');

  const mirror = path.join(server.dataDir, 'git');
  assert.deepEqual(filesContaining(mirror, UPSTREAM_PASSWORD), [], 'password in the mirror');
  for (const f of fs.readdirSync(server.dataDir).filter((n) => n.startsWith('berth.db'))) {
    assert.ok(!fs.readFileSync(path.join(server.dataDir, f)).includes(UPSTREAM_PASSWORD), `password stored in clear in ${f}`);
  }
});
