/** E2E: projects with credentials, workspaces cloning and pushing through the git gateway (real git, real servers). */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { git, runCli, TestServer, waitPhase } from '../harness.ts';
import { bareUpstream, revParse, upstreamRoot, UPSTREAM_PASSWORD, UPSTREAM_USER, wsCommit, wsRun } from './fixtures.ts';
import { startUpstream, type UpstreamServer } from './upstream-server.ts';

let server: TestServer;
let upstream: UpstreamServer;
let root: string;
let bare: string;

before(async () => {
  root = upstreamRoot();
  bare = bareUpstream(root, 'app');
  upstream = await startUpstream(root, UPSTREAM_USER, UPSTREAM_PASSWORD);
  server = await TestServer.start();
});
after(async () => {
  await server?.stop();
  await upstream?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

test('project add stores credentials encrypted and never shows them', async () => {
  const r = await runCli(server, ['project', 'add', 'web', '--repo', `${upstream.url}/app.git`, '--username', UPSTREAM_USER, '--password-stdin'], { input: `${UPSTREAM_PASSWORD}\n` });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /password credentials stored encrypted/);
  assert.match(r.stdout, /Mirror fetched: 1 branches and tags, default branch main/);
  const shown = await server.client().getProject('web');
  assert.equal(shown.credentials, 'password');
  const list = await runCli(server, ['project', 'list', '--json']);
  for (const text of [JSON.stringify(shown), list.stdout, r.stdout, r.stderr]) assert.ok(!text.includes(UPSTREAM_PASSWORD), 'password must not be shown');
  assert.ok(upstream.accepted > 0, 'the upstream saw authenticated requests');
});

test("wrong credentials make the sync fail with git's message; updating them fixes it", async () => {
  const r = await runCli(server, ['project', 'add', 'bad', '--repo', `${upstream.url}/app.git`, '--username', UPSTREAM_USER, '--password-stdin'], { input: 'wrong\n' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /fetching it failed: Fetching project "bad" from its upstream .* failed: .*Authentication failed/s);
  const sync = await runCli(server, ['project', 'sync', 'bad']);
  assert.equal(sync.code, 1);

  // Fixing the credentials makes the next sync work.
  const fix = await runCli(server, ['project', 'update', 'bad', '--username', UPSTREAM_USER, '--password-stdin'], { input: UPSTREAM_PASSWORD });
  assert.equal(fix.code, 0, fix.stderr);
  assert.match(fix.stdout, /Project bad updated \(.*, password credentials\)/);
  const again = await runCli(server, ['project', 'sync', 'bad']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /Project bad synced in \d+ ms: 1 ref\(s\) updated, 1 branches and tags, default branch main/);
  const ssh = await runCli(server, ['project', 'update', 'bad', '--repo', 'git@git.example.com:team/app.git', '--username', UPSTREAM_USER, '--password-stdin'], { input: UPSTREAM_PASSWORD });
  assert.equal(ssh.code, 1);
  assert.match(ssh.stderr, /only work with an http:\/\/ or https:\/\/ repository URL/);
  // Moving to another host without sending credentials again leaves the stored ones behind.
  const moved = await runCli(server, ['project', 'update', 'bad', '--repo', 'git@git.example.com:team/app.git']);
  assert.equal(moved.code, 0, moved.stderr);
  assert.match(moved.stdout, /Project bad updated \(git@git\.example\.com:team\/app\.git, no credentials\)/);
});

test('a workspace clones from the gateway, commits and pushes; the upstream has the commit', async () => {
  const c = server.client();
  await c.createWorkspace({ name: 'dev', project: 'web' });
  await waitPhase(c, 'dev', 'running');
  const origin = await wsRun(c, 'dev', ['git', 'remote', 'get-url', 'origin']);
  assert.equal(origin.stdout.trim(), `${server.url}/git/web.git`);
  // The workspace's token clones the project over the gateway's smart HTTP, as a remote runtime does.
  const token = (await wsRun(c, 'dev', ['printenv', 'BERTH_WORKSPACE_TOKEN'])).stdout.trim();
  const viaHttp = path.join(root, 'via-http');
  git(root, '-c', `http.extraHeader=Authorization: Bearer ${token}`, 'clone', '-q', `${server.url}/git/web.git`, viaHttp);
  assert.equal(revParse(path.join(viaHttp, '.git'), 'HEAD'), revParse(bare, 'main'));

  await wsCommit(c, 'dev', 'feature.txt', 'hello from the workspace', 'add feature');
  const push = await wsRun(c, 'dev', ['git', 'push', 'origin', 'main']);
  assert.match(push.stderr, /main -> main/);
  assert.equal(git(root, '--git-dir', bare, 'log', '-1', '--format=%s', 'main').trim(), 'add feature');
  const mirror = path.join(server.dataDir, 'git', 'web.git');
  assert.equal(revParse(mirror, 'main'), revParse(bare, 'main'), 'the mirror moved with the upstream');

  // Someone pushes to the upstream directly; a pull in the workspace (through the gateway) brings it in.
  const other = path.join(root, 'other');
  git(root, 'clone', '-q', bare, other);
  fs.writeFileSync(path.join(other, 'upstream.txt'), 'from elsewhere\n');
  git(other, 'add', '.');
  git(other, 'commit', '-q', '-m', 'upstream change');
  git(other, 'push', '-q', 'origin', 'main');
  await c.syncProject('web');
  await wsRun(c, 'dev', ['git', 'pull', '--no-rebase', '-q']);
  assert.equal((await wsRun(c, 'dev', ['cat', 'upstream.txt'])).stdout, 'from elsewhere\n');
});

test('a project whose upstream is a local path works the same way', async () => {
  const local = bareUpstream(root, 'local');
  const c = server.client();
  await c.createProject({ name: 'loc', repo: local });
  await c.createWorkspace({ name: 'ldev', project: 'loc' });
  await waitPhase(c, 'ldev', 'running');
  assert.equal((await wsRun(c, 'ldev', ['git', 'remote', 'get-url', 'origin'])).stdout.trim(), `${server.url}/git/loc.git`);
  await wsCommit(c, 'ldev', 'l.txt', 'local', 'local change');
  await wsRun(c, 'ldev', ['git', 'push', '-q', 'origin', 'main']);
  assert.equal(git(root, '--git-dir', local, 'log', '-1', '--format=%s', 'main').trim(), 'local change');
});
