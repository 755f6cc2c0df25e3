/**
 * E2E: project roles on a real server, on SQLite and on PostgreSQL. A plain user cannot see, clone,
 * push to, sync or create workspaces in a project he is not a member of, and nothing changes in
 * the upstream or the mirror; a developer can; a viewer clones but cannot push; a workspace token
 * reaches no other project. Git runs for real against the gateway.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BerthClient } from '../../src/sdk/client.ts';
import { cleanupEngines, installationOf, testEnv } from '../docker/env.ts';
import { git, rejectsWith, runCli, TestServer, waitGone, waitPhase } from '../harness.ts';
import { bareUpstream, gitWithToken, revParse, upstreamRoot, wsCommit, wsRun } from '../git/fixtures.ts';
import { createThrowawayDatabase, query, type ThrowawayDatabase } from '../store/databases.ts';

/** Every ref of a repository with the commit it points to. */
function refsOf(repo: string): string {
  return execFileSync('git', ['--git-dir', repo, 'for-each-ref', '--format=%(refname) %(objectname)'], { encoding: 'utf8' });
}

/** A clone straight from the upstream on disk with one new commit on main, ready to push elsewhere. */
function workWithCommit(root: string, bare: string, name: string): string {
  const work = path.join(root, name);
  git(root, 'clone', '-q', bare, work);
  fs.writeFileSync(path.join(work, `${name}.txt`), `${name}\n`);
  git(work, 'add', '.');
  git(work, 'commit', '-q', '-m', `commit by ${name}`);
  return work;
}

for (const database of ['sqlite', 'postgres'] as const) {
  describe(`project roles on ${database}`, () => {
    let db: ThrowawayDatabase | undefined;
    let server: TestServer;
    let installation = '';
    let root: string;
    let bare: string;
    let mirror: string;
    let admin: BerthClient;
    let bob: BerthClient;
    let bobToken: string;
    let carol: BerthClient;
    let carolToken: string;
    const gateway = (project: string) => `${server.url}/git/${project}.git`;

    before(async () => {
      if (database === 'postgres') db = await createThrowawayDatabase();
      server = await TestServer.start(db ? { args: ['--database-url', db.url] } : {});
      // For removing whatever a docker workspace left on the engine, should a test fail midway.
      installation = db ? (await query<{ value: string }>(db.url, "SELECT value FROM meta WHERE key = 'installation_id'"))[0]!.value : installationOf(server);
      root = upstreamRoot();
      bare = bareUpstream(root, 'web');
      bareUpstream(root, 'other');
      admin = server.client();
      await admin.createProject({ name: 'web', repo: bare });
      await admin.createProject({ name: 'other', repo: path.join(root, 'other.git') });
      await admin.syncProject('web');
      mirror = path.join(server.dataDir, 'git', 'web.git');
      ({ token: bobToken } = await admin.createUser('bob'));
      ({ token: carolToken } = await admin.createUser('carol'));
      bob = server.client(bobToken);
      carol = server.client(carolToken);
    });
    after(async () => {
      await server?.stop();
      await db?.drop();
      if (installation) cleanupEngines(installation);
      if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    test('bob, no member, cannot see, clone, push to, sync or create workspaces in the project; upstream and mirror stay as they were', async () => {
      assert.deepEqual((await bob.listProjects()).map((p) => p.name), []);
      assert.deepEqual((await admin.listProjects()).map((p) => p.name), ['other', 'web']);
      // The same words as for a project that does not exist: bob learns nothing.
      await rejectsWith(bob.getProject('ghost'), 404, /^No project named "ghost"\./);
      await rejectsWith(bob.getProject('web'), 404, /^No project named "web"\./);

      // Someone moves the upstream; bob's refused sync must not bring that into the mirror.
      const elsewhere = workWithCommit(root, bare, 'elsewhere');
      git(elsewhere, 'push', '-q', 'origin', 'main');
      const upstreamBefore = refsOf(bare);
      const mirrorBefore = refsOf(mirror);
      assert.notEqual(revParse(mirror, 'main'), revParse(bare, 'main'));
      await rejectsWith(bob.syncProject('web'), 404, /^No project named "web"\./);
      await rejectsWith(bob.createWorkspace({ name: 'sneak', project: 'web', provisioner: 'docker' }), 404, /^No project named "web"\./);
      await rejectsWith(bob.updateProject('web', { branch: 'main' }), 404, /^No project named "web"\./);
      await rejectsWith(bob.deleteProject('web'), 404, /^No project named "web"\./);
      await rejectsWith(bob.listMembers('web'), 404, /^No project named "web"\./);
      await rejectsWith(bob.setMember('web', 'bob', 'owner'), 404, /^No project named "web"\./);

      const clone = gitWithToken(root, bobToken, 'clone', gateway('web'), path.join(root, 'bob-clone'));
      assert.notEqual(clone.code, 0);
      assert.match(clone.stderr, /not found/);
      assert.equal(fs.existsSync(path.join(root, 'bob-clone', '.git')), false);
      const work = workWithCommit(root, bare, 'bob-work');
      const push = gitWithToken(work, bobToken, 'push', gateway('web'), 'HEAD:main');
      assert.notEqual(push.code, 0);
      assert.match(push.stderr, /not found/);

      assert.equal(refsOf(bare), upstreamBefore, 'nothing changed upstream');
      assert.equal(refsOf(mirror), mirrorBefore, 'nothing changed in the mirror');
      assert.deepEqual((await admin.listWorkspaces(true)).map((w) => w.name), []);
    });

    test('once a developer, bob sees, clones, syncs, pushes and creates workspaces', async () => {
      const m = await admin.setMember('web', 'bob', 'developer');
      assert.deepEqual([m.user, m.role], ['bob', 'developer']);
      assert.deepEqual((await bob.listProjects()).map((p) => p.name), ['web']);
      assert.equal((await bob.getProject('web')).name, 'web');
      await rejectsWith(bob.getProject('other'), 404, /^No project named "other"\./);

      const synced = await bob.syncProject('web');
      assert.equal(synced.head, 'main');
      assert.equal(revParse(mirror, 'main'), revParse(bare, 'main'), 'his sync brought the upstream into the mirror');
      const dir = path.join(root, 'bob-dev');
      const clone = gitWithToken(root, bobToken, 'clone', gateway('web'), dir);
      assert.equal(clone.code, 0, clone.stderr);
      fs.writeFileSync(path.join(dir, 'bob.txt'), 'from bob\n');
      git(dir, 'add', '.');
      git(dir, 'commit', '-q', '-m', 'bob was here');
      const push = gitWithToken(dir, bobToken, 'push', 'origin', 'HEAD:main');
      assert.equal(push.code, 0, push.stderr);
      assert.equal(git(root, '--git-dir', bare, 'log', '-1', '--format=%s', 'main').trim(), 'bob was here');
      assert.equal(revParse(mirror, 'main'), revParse(bare, 'main'));

      // Developers may not change the project or its members: that is for owners.
      await rejectsWith(bob.updateProject('web', { branch: 'main' }), 403, /^You are a developer of project "web"; to change it you need to be an owner or higher/);
      await rejectsWith(bob.setMember('web', 'carol', 'viewer'), 403, /to manage the members of it you need to be an owner/);

      const ws = await bob.createWorkspace({ name: 'bobws', project: 'web', provisioner: 'docker', spec: { image: testEnv().BERTH_TEST_IMAGE } });
      assert.equal(ws.project, 'web');
      assert.deepEqual((await bob.listWorkspaces()).map((w) => w.name), ['bobws']);
    });

    test("a workspace acts with its owner's current role: pushes as a developer, only fetches once he is a viewer", async () => {
      await waitPhase(bob, 'bobws', 'running', 180_000);
      await wsCommit(bob, 'bobws', 'from-ws.txt', 'pushed from the workspace', 'from the workspace');
      await bob.gitSync('bobws', 'push');
      assert.equal(git(root, '--git-dir', bare, 'log', '-1', '--format=%s', 'main').trim(), 'from the workspace');

      await admin.setMember('web', 'bob', 'viewer');
      const upstreamBefore = refsOf(bare);
      const mirrorBefore = refsOf(mirror);
      await wsCommit(bob, 'bobws', 'refused.txt', 'not pushed', 'as a viewer');
      await rejectsWith(bob.gitSync('bobws', 'push'), 403, /^You are a viewer of project "web"; to push to it you need to be a developer/);
      // Inside the workspace, git itself is refused by the gateway, with the reason.
      const push = await bob.run('bobws', ['git', 'push', 'origin', 'HEAD:main']);
      assert.notEqual(push.code, 0);
      assert.match(push.stderr, /remote: This workspace's owner, bob, is a viewer of project "web"; to push to it they need to be a developer or higher/);
      assert.equal(refsOf(bare), upstreamBefore, 'nothing changed upstream');
      assert.equal(refsOf(mirror), mirrorBefore, 'nothing changed in the mirror');
      await wsRun(bob, 'bobws', ['git', 'fetch', '-q', 'origin']);

      await admin.setMember('web', 'bob', 'developer');
      await bob.deleteWorkspace('bobws');
      await waitGone(bob, 'bobws', 120_000);
    });

    test("a viewer clones but cannot push (git shows why), sync or create workspaces; nothing changes", async () => {
      await admin.setMember('web', 'carol', 'viewer');
      const dir = path.join(root, 'carol');
      const clone = gitWithToken(root, carolToken, 'clone', gateway('web'), dir);
      assert.equal(clone.code, 0, clone.stderr);
      assert.equal(revParse(path.join(dir, '.git'), 'HEAD'), revParse(bare, 'main'));
      const upstreamBefore = refsOf(bare);
      const mirrorBefore = refsOf(mirror);
      fs.writeFileSync(path.join(dir, 'carol.txt'), 'from carol\n');
      git(dir, 'add', '.');
      git(dir, 'commit', '-q', '-m', 'carol tries');
      const push = gitWithToken(dir, carolToken, 'push', 'origin', 'HEAD:main');
      assert.notEqual(push.code, 0);
      assert.match(push.stderr, /remote: You are a viewer of project "web"; to push to it you need to be a developer or higher \(ask a project owner: berth project member add web carol --role developer\)\./);
      await rejectsWith(carol.syncProject('web'), 403, /You are a viewer of project "web"; to sync it you need to be a developer/);
      await rejectsWith(carol.createWorkspace({ name: 'c', project: 'web', provisioner: 'docker' }), 403, /to create workspaces in it you need to be a developer/);
      assert.equal(refsOf(bare), upstreamBefore, 'nothing changed upstream');
      assert.equal(refsOf(mirror), mirrorBefore, 'nothing changed in the mirror');
      assert.deepEqual((await carol.listMembers('web')).map((x) => [x.user, x.role]), [['admin', 'owner'], ['bob', 'developer'], ['carol', 'viewer']]);
    });

    test('a workspace token reaches its own project only, over git and over the API', async () => {
      await admin.createWorkspace({ name: 'dev', project: 'web' });
      await waitPhase(admin, 'dev', 'running');
      const token = (await wsRun(admin, 'dev', ['printenv', 'BERTH_WORKSPACE_TOKEN'])).stdout.trim();
      assert.match(token, /^berth_w_/);
      assert.equal(gitWithToken(root, token, 'ls-remote', gateway('web')).code, 0);
      for (const project of ['other', 'ghost']) {
        const r = gitWithToken(root, token, 'ls-remote', gateway(project));
        assert.notEqual(r.code, 0, project);
        assert.match(r.stderr, new RegExp(`remote: This workspace token may only access the repository of its own workspace's project, not "${project}"`));
      }
      const otherBefore = refsOf(path.join(root, 'other.git'));
      const work = workWithCommit(root, path.join(root, 'other.git'), 'ws-token-work');
      assert.notEqual(gitWithToken(work, token, 'push', gateway('other'), 'HEAD:main').code, 0);
      assert.equal(refsOf(path.join(root, 'other.git')), otherBefore);
      const asWorkspace = server.client(token);
      await rejectsWith(asWorkspace.getProject('other'), 403, /workspace token/);
      await rejectsWith(asWorkspace.syncProject('other'), 403, /workspace token/);
      await rejectsWith(asWorkspace.listMembers('other'), 403, /workspace token/);
      await rejectsWith(asWorkspace.createWorkspace({ name: 'x', project: 'other' }), 403, /workspace token/);
      assert.deepEqual((await asWorkspace.listWorkspaces()).map((w) => w.name), ['dev']);
      await admin.deleteWorkspace('dev');
      await waitGone(admin, 'dev');
    });

    test('a project keeps one owner; removing a user is refused while it would orphan something, then revokes their tokens', async () => {
      await rejectsWith(admin.removeMember('web', 'admin'), 409, /admin is the only owner of project "web", and a project always keeps one/);
      await rejectsWith(admin.setMember('web', 'admin', 'viewer'), 409, /only owner/);
      await admin.setMember('web', 'bob', 'owner');
      await bob.removeMember('web', 'admin');
      await rejectsWith(admin.deleteUser('bob'), 409, /^bob is the only owner of project web; give it another owner first/);
      await bob.setMember('web', 'carol', 'owner');
      await rejectsWith(bob.deleteUser('carol'), 403, /admin/);
      await admin.deleteUser('bob');
      await rejectsWith(bob.listProjects(), 401, /./);
      assert.deepEqual((await admin.listUsers()).map((u) => u.name), ['admin', 'carol']);
      assert.deepEqual((await carol.listMembers('web')).map((x) => [x.user, x.role]), [['carol', 'owner']]);
      await rejectsWith(admin.deleteUser('admin'), 409, /last admin/);
      await rejectsWith(admin.deleteUser('nobody'), 404, /No user named "nobody"/);
    });

    if (database === 'sqlite') {
      test('CLI: project member add, list, rm; user list, rm; --version', async () => {
        const version = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
        let r = await runCli(server, ['--version']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), version);
        await admin.createUser('dave');
        r = await runCli(server, ['project', 'member', 'add', 'other', 'dave']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, 'dave is now a developer of project other.\n');
        r = await runCli(server, ['project', 'member', 'add', 'other', 'dave', '--role', 'viewer']);
        assert.equal(r.stdout, 'dave is now a viewer of project other.\n');
        r = await runCli(server, ['project', 'member', 'list', 'other']);
        assert.match(r.stdout, /^USER +ROLE +SINCE\nadmin +owner +\S+\ndave +viewer +\S+\n$/);
        r = await runCli(server, ['project', 'member', 'add', 'other', 'dave', '--role', 'boss']);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /Allowed choices are viewer, developer, owner/);
        r = await runCli(server, ['project', 'member', 'rm', 'other', 'dave']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, 'dave is no longer a member of project other.\n');
        r = await runCli(server, ['project', 'member', 'rm', 'other', 'admin']);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /^berth: Cannot remove admin: admin is the only owner of project "other"/);
        r = await runCli(server, ['user', 'list']);
        assert.match(r.stdout, /^NAME +ROLE +CREATED\nadmin +admin +\S+\ncarol +user +\S+\ndave +user +\S+\n$/);
        r = await runCli(server, ['user', 'rm', 'dave']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, 'User dave removed; their tokens no longer work.\n');
        r = await runCli(server, ['user', 'list', '--json']);
        assert.deepEqual((JSON.parse(r.stdout) as { name: string }[]).map((u) => u.name), ['admin', 'carol']);
      });
    }
  });
}
