/**
 * Forking a live workspace through a real `berth server`, on the shell provisioner and on the real
 * local Docker engine (bind storage and volumes): a fork taken while the source has uncommitted
 * and untracked files and a running process holds those files, is on its own branch, has its own
 * token, directory and host ports, and changes on either side never show on the other; ten forks
 * at once all reach running.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BerthClient } from '../../src/sdk/client.ts';
import type { Workspace } from '../../src/sdk/wire.ts';
import { removeWorkspaces, testEnv, startDemo, stopDemo } from '../docker/env.ts';
import { TestServer, eventually, git, rejectsWith, runCli, waitPhase } from '../harness.ts';

const env = testEnv();
let server: TestServer;
let repo: string;
let installation: string;

before(async () => ({ server, repo, installation } = await startDemo({ 'README.md': '# fork demo\n', 'src/app.txt': 'hello\n' })));
after(() => stopDemo({ server, repo, installation }));

/** Runs a shell script in a workspace through the CLI; returns stdout, failing the test on a non-zero exit. */
async function sh(ws: string, script: string): Promise<string> {
  const r = await runCli(server, ['ws', 'exec', ws, '--', 'sh', '-c', script]);
  assert.equal(r.code, 0, `in ${ws}: ${script}\n${r.stderr}`);
  return r.stdout;
}

/** Git on a directory the server (root) does not own: the checkout of a container user. */
function hostGit(dir: string, ...args: string[]): string {
  return git(dir, '-c', 'safe.directory=*', ...args).trim();
}

describe('shell', () => {
  test('a fork of a running workspace has its uncommitted files, its own branch and token, and the two never share a change', async () => {
    const c = server.client();
    let r = await runCli(server, ['ws', 'create', 'src', '--project', 'demo', '--provisioner', 'shell', '--wait']);
    assert.equal(r.code, 0, r.stderr);
    // Uncommitted (a changed tracked file), untracked, and a process that keeps writing while the fork is taken.
    await sh('src', 'echo changed >> README.md && echo draft > notes.txt');
    await sh('src', 'nohup sh -c "while :; do date +%s%N > tick; sleep 0.1; done" >/dev/null 2>&1 &');
    await eventually(async () => (await sh('src', 'cat tick 2>/dev/null || true')).trim() !== '', 'the source process to write');

    r = await runCli(server, ['ws', 'fork', 'src', 'f1', '--wait']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /f1 +ws_[0-9a-f]+ +fork\/f1 +running/);
    const [src, f1] = [await c.getWorkspace('src'), await c.getWorkspace('f1')];
    assert.notEqual(f1.id, src.id);
    assert.deepEqual(f1.forkedFrom, { id: src.id, name: 'admin/src', branch: 'fork/f1', copied: true });
    assert.equal(f1.project, 'demo');
    assert.notEqual(f1.details.directory, src.details.directory, 'its own directory');

    assert.equal(await sh('f1', 'git status --porcelain'), ' M README.md\n?? notes.txt\n?? tick\n');
    assert.equal(await sh('f1', 'cat notes.txt'), 'draft\n');
    assert.equal((await sh('f1', 'git rev-parse --abbrev-ref HEAD')).trim(), 'fork/f1');
    assert.equal((await sh('src', 'git rev-parse --abbrev-ref HEAD')).trim(), 'main', 'the source stays on its branch');
    assert.equal(await sh('f1', 'git rev-parse main'), await sh('src', 'git rev-parse HEAD'), 'the branch starts at the source HEAD');

    const [srcToken, f1Token] = [await sh('src', 'echo $BERTH_WORKSPACE_TOKEN'), await sh('f1', 'echo $BERTH_WORKSPACE_TOKEN')];
    assert.match(f1Token, /^berth_w_/);
    assert.notEqual(f1Token, srcToken);
    assert.equal((await sh('f1', 'echo $BERTH_WORKSPACE_ID')).trim(), f1.id);
    assert.doesNotMatch(await sh('f1', 'cat .git/config'), /berth_w_/, 'no token is written into the copied checkout');

    // The source's process kept running through the fork (its records were not copied, so the fork's provision ended nothing of the source).
    const tick = (await sh('src', 'cat tick')).trim();
    await eventually(async () => (await sh('src', 'cat tick')).trim() !== tick, 'the source process to go on writing');
    const forkTick = (await sh('f1', 'cat tick')).trim();
    const later = (await sh('src', 'cat tick')).trim();
    await eventually(async () => (await sh('src', 'cat tick')).trim() !== later, 'the source process to write once more');
    assert.equal((await sh('f1', 'cat tick')).trim(), forkTick, 'no process of the source runs in the fork');

    // Changes never cross over, in either direction.
    await sh('f1', 'echo fork-only > fork.txt && echo fork-edit >> notes.txt');
    await sh('src', 'echo src-only > src.txt');
    assert.equal(await sh('src', 'cat notes.txt; test ! -e fork.txt && echo absent'), 'draft\nabsent\n');
    assert.equal(await sh('f1', 'test ! -e src.txt && echo absent'), 'absent\n');

    // The fork pushes its branch through the gateway with its own token.
    await sh('f1', 'git add -A && git -c user.name=t -c user.email=t@example.com commit -qm fork && git push -q origin HEAD');
    assert.match(git(repo, 'branch', '--list', 'fork/f1'), /fork\/f1/);

    r = await runCli(server, ['ws', 'show', 'f1']);
    assert.match(r.stdout, /Forked from: +admin\/src on branch fork\/f1/);
    await removeWorkspaces(c, f1.id);
  });

  test('a fork is refused with a sentence: unknown source, bad count or name, a name in use (and then none is created)', async () => {
    const c = server.client();
    await rejectsWith(c.forkWorkspace('nope', { name: 'x' }), 404, /No workspace "nope"/);
    await rejectsWith(c.forkWorkspace('src', { name: 'x', count: 0 }), 400, /count/);
    await rejectsWith(c.forkWorkspace('src', { name: 'Bad Name' }), 400, /name/i);
    await rejectsWith(c.forkWorkspace('src', { name: 'src' }), 409, /src/);
    const taken = await c.forkWorkspace('src', { name: 'dup-2' });
    await rejectsWith(c.forkWorkspace('src', { name: 'dup', count: 3 }), 409, /dup-2/);
    await rejectsWith(c.getWorkspace('dup-1'), 404, /dup-1/);
    await rejectsWith(c.getWorkspace('dup-3'), 404, /dup-3/);
    // Forks count against quotas like creates: room for one more, two asked, neither created.
    const inProject = (await c.listWorkspaces(true)).filter((w) => w.project === 'demo').length;
    await c.request('PUT', '/api/v1/projects/demo/quota', { workspaces: inProject + 1 });
    await rejectsWith(c.forkWorkspace('src', { name: 'q', count: 2 }), 403, /[Qq]uota|at most/);
    await rejectsWith(c.getWorkspace('q-1'), 404, /q-1/);
    await c.request('PUT', '/api/v1/projects/demo/quota', {});
    await waitPhase(c, taken[0]!.id, 'running');
    await removeWorkspaces(c, taken[0]!.id);
  });

  test('a control plane killed while a fork copies converges after its restart: the fork runs with the whole copy and no temporary copy is left', async () => {
    // Enough files that the copy takes a moment.
    await sh('src', 'mkdir -p big && cd big && seq -f f%g 1 20000 | xargs touch');
    const [f] = await server.client().forkWorkspace('src', { name: 'crash' });
    await eventually(async () => (await server.client().events(f!.id)).some((e) => /^Copying files from src/.test(e.message)), 'the copy to start', 30_000, 20);
    await server.restart();
    const c = server.client();
    const w = await waitPhase(c, f!.id, 'running', 120_000);
    assert.equal((await sh('crash', 'ls big | wc -l; git rev-parse --abbrev-ref HEAD')).replace(/ +/g, ''), '20000\nfork/crash\n');
    const root = path.dirname(String(w.details.directory));
    assert.deepEqual(fs.readdirSync(root).filter((d) => d.startsWith('.fork-')), [], 'no temporary copy is left');
    await sh('src', 'rm -rf big');
    await removeWorkspaces(c, w.id);
  });
});

describe('docker', () => {
  let dsrc: Workspace;

  test('bind storage: a fork of a workspace serving on a port gets its files, a fresh host port and its own branch (an image without git)', async () => {
    const c = server.client();
    const r = await runCli(server, ['provisioner', 'add', 'docker-ports', '--type', 'docker', '--allow-ports']);
    assert.equal(r.code, 0, r.stderr);
    const spec = { image: env.BERTH_TEST_IMAGE_BUSYBOX, ports: [{ port: 8080 }] };
    dsrc = await waitPhase(c, (await c.createWorkspace({ name: 'dsrc', project: 'demo', provisioner: 'docker-ports', spec })).id, 'running', 120_000);
    await sh('dsrc', 'mkdir -p /workspace/www && echo source > /workspace/www/index.html && echo draft > /workspace/work/notes.txt');
    await sh('dsrc', 'httpd -p 8080 -h /workspace/www');
    const get = async (w: Workspace) => {
      const res = await fetch(`http://127.0.0.1:${w.ports[0]!.hostPort}/index.html`).catch(() => undefined);
      return res?.ok ? res.text() : undefined;
    };
    assert.equal(await eventually(() => get(dsrc), 'the source to serve'), 'source\n');

    const [fork] = await c.forkWorkspace('dsrc', { name: 'dfork' });
    const df = await waitPhase(c, fork!.id, 'running', 120_000);
    assert.ok(df.ports[0]?.hostPort && df.ports[0].hostPort !== dsrc.ports[0]!.hostPort, `its own host port: ${JSON.stringify([df.ports, dsrc.ports])}`);
    assert.notEqual(df.details.storage, dsrc.details.storage);
    assert.equal(await sh('dfork', 'cat /workspace/work/notes.txt /workspace/www/index.html'), 'draft\nsource\n');
    assert.notEqual(await sh('dfork', 'echo $BERTH_WORKSPACE_TOKEN'), await sh('dsrc', 'echo $BERTH_WORKSPACE_TOKEN'));
    // No git in the image: the branch was made by hand, as git would have.
    const work = path.join(String(df.details.storage), 'work');
    assert.equal(hostGit(work, 'rev-parse', '--abbrev-ref', 'HEAD'), 'fork/dfork');
    assert.equal(hostGit(work, 'rev-parse', 'HEAD'), hostGit(path.join(String(dsrc.details.storage), 'work'), 'rev-parse', 'HEAD'));
    assert.equal(hostGit(work, 'status', '--porcelain'), '?? notes.txt');

    // Each serves its own files on its own port once they diverge; the source kept serving throughout.
    await sh('dfork', 'echo fork > /workspace/www/index.html && httpd -p 8080 -h /workspace/www');
    assert.equal(await eventually(() => get(df), 'the fork to serve'), 'fork\n');
    assert.equal(await get(dsrc), 'source\n');
    await removeWorkspaces(c, df.id);
  });

  test('ten forks at once all reach running, each with its own host port and branch', async () => {
    const c = server.client();
    const r = await runCli(server, ['ws', 'fork', 'dsrc', 'par', '--count', '10', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const forks = JSON.parse(r.stdout) as Workspace[];
    assert.deepEqual(forks.map((w) => w.name), Array.from({ length: 10 }, (_, i) => `par-${i + 1}`));
    const running = await Promise.all(forks.map((w) => waitPhase(c, w.id, 'running', 240_000)));
    assert.equal(running.filter((w) => w.phase === 'running').length, 10);
    const ports = new Set([dsrc, ...running].map((w) => w.ports[0]?.hostPort));
    assert.equal(ports.size, 11, 'no two share a host port');
    for (const w of running) {
      assert.equal(w.forkedFrom?.branch, `fork/${w.name}`);
      assert.equal(hostGit(path.join(String(w.details.storage), 'work'), 'rev-parse', '--abbrev-ref', 'HEAD'), `fork/${w.name}`);
    }
    await removeWorkspaces(c, ...running.map((w) => w.id));
  });

  test('forking needs the developer role on the project and a user token, like creating', async () => {
    const c = server.client();
    const { token } = await c.createUser('bob');
    await c.setMember('demo', 'bob', 'developer');
    const bob = new BerthClient(server.url, token);
    const mine = await waitPhase(bob, (await bob.createWorkspace({ name: 'bw', project: 'demo', provisioner: 'docker', spec: { image: env.BERTH_TEST_IMAGE_BUSYBOX } })).id, 'running', 120_000);
    await rejectsWith(bob.forkWorkspace('admin/dsrc', { name: 'x' }), 404, /No workspace/);
    const wsToken = (await sh('bob/bw', 'echo $BERTH_WORKSPACE_TOKEN')).trim();
    await rejectsWith(new BerthClient(server.url, wsToken).forkWorkspace('bw', { name: 'x' }), 403, /workspace token/);
    await c.setMember('demo', 'bob', 'viewer');
    await rejectsWith(bob.forkWorkspace('bw', { name: 'x' }), 403, /viewer/);
    await c.setMember('demo', 'bob', 'developer');
    const [f] = await bob.forkWorkspace('bw', { name: 'bf' });
    assert.equal(f!.owner, 'bob');
    await waitPhase(bob, f!.id, 'running', 120_000);
    await removeWorkspaces(bob, f!.id, mine.id);
  });

  test('volume storage: the fork is copied volume to volume by a helper container, on its own branch, and diverges', async () => {
    const c = server.client();
    const r = await runCli(server, ['provisioner', 'add', 'docker-vol', '--type', 'docker', '--storage', 'volume']);
    assert.equal(r.code, 0, r.stderr);
    const spec = { image: env.BERTH_TEST_IMAGE, user: 'dev' };
    const vsrc = await waitPhase(c, (await c.createWorkspace({ name: 'vsrc', project: 'demo', provisioner: 'docker-vol', spec })).id, 'running', 120_000);
    await sh('vsrc', 'echo changed >> README.md && echo draft > notes.txt');
    const [fork] = await c.forkWorkspace('vsrc', { name: 'vfork', branch: 'feature/try' });
    const vf = await waitPhase(c, fork!.id, 'running', 120_000);
    assert.match(String(vf.details.storage), new RegExp(`volume berth-ws-${vf.id}`));
    assert.equal(await sh('vfork', 'git status --porcelain; git rev-parse --abbrev-ref HEAD; stat -c %U notes.txt'), ' M README.md\n?? notes.txt\nfeature/try\ndev\n');
    await sh('vfork', 'echo fork > fork.txt');
    assert.equal(await sh('vsrc', 'test ! -e fork.txt && git rev-parse --abbrev-ref HEAD'), 'main\n');
    await removeWorkspaces(c, vf.id, vsrc.id);
  });
});
