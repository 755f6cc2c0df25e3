/**
 * The warm pool through a real `berth server` on the shell provisioner and the real local Docker
 * engine: a claimed workspace has a fresh token and none of another's files or events, a refill cut
 * off by kill -9 leaves no orphans after a restart, a changed pool image drains the old entries, a
 * project that moved (a new commit, another default branch) never hands out an older checkout, and
 * a create that matches no pool is provisioned cold as before.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { containersWith, docker, startDemo, stopDemo, testEnv } from '../docker/env.ts';
import { TestServer, eventually, git, runCli, waitGone, waitPhase } from '../harness.ts';

const env = testEnv();
let server: TestServer;
let repo: string;
let installation: string;
/** The server's arguments; changed in place before a restart to change the pool. Every create fetches the upstream, as with a mirror gone stale. */
const args = ['--warm-pool', `shell:demo=1 docker:demo=1:${env.BERTH_TEST_IMAGE_BUSYBOX}`, '--git-freshness', '0s'];

before(async () => ({ server, repo, installation } = await startDemo({ 'README.md': '# pool demo\n' }, { args })));
after(() => stopDemo({ server, repo, installation }));

/** Runtimes ready in the pool of `provisioner`, as /metrics reports them. */
async function ready(provisioner: string): Promise<number> {
  const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.adminToken}` } });
  const m = new RegExp(`^berth_warm_pool_ready\\{provisioner="${provisioner}",project="demo"\\} (\\d+)$`, 'm').exec(await res.text());
  return m ? Number(m[1]) : 0;
}

/** Runs a shell script in a workspace through the CLI; returns stdout, failing the test on a non-zero exit. */
async function sh(ws: string, script: string): Promise<string> {
  const r = await runCli(server, ['ws', 'exec', ws, '--', 'sh', '-c', script]);
  assert.equal(r.code, 0, `in ${ws}: ${script}\n${r.stderr}`);
  return r.stdout;
}

/** Event messages of a workspace, oldest first. */
async function events(ws: string): Promise<string[]> {
  return (await server.client().events(ws)).map((e) => e.message);
}

/** Engine containers of this server that belong to no workspace (a claimed container keeps the pool's labels, so the rows decide). */
async function poolContainers(): Promise<{ name: string; image: string }[]> {
  const rows = new Set((await server.client().listWorkspaces(true)).map((x) => `berth-${x.id}`));
  return containersWith(`berth.installation=${installation}`)
    .filter((name) => !rows.has(name))
    .map((name) => JSON.parse(docker(['inspect', name]))[0] as { Name: string; Config: { Image: string; Labels: Record<string, string> } })
    .filter((c) => c.Config.Labels['berth.kind'] === 'workspace')
    .map((c) => ({ name: c.Name.slice(1), image: c.Config.Labels['berth.image'] ?? c.Config.Image }));
}

const cases = [
  { provisioner: 'shell', spec: {} },
  { provisioner: 'docker', spec: { image: env.BERTH_TEST_IMAGE_BUSYBOX } },
];

for (const { provisioner, spec } of cases) {
  describe(provisioner, () => {
    test('a claimed workspace has a fresh token and none of the files or events of the one before it', async () => {
      const c = server.client();
      await eventually(async () => (await ready(provisioner)) === 1, `the ${provisioner} pool to fill`, 120_000);
      const a = await c.createWorkspace({ name: `${provisioner}-a`, project: 'demo', provisioner, spec });
      await waitPhase(c, a.id, 'running');
      assert.ok((await events(a.id)).some((m) => /warm pool/.test(m)), 'the workspace says it came from the pool');
      assert.equal(await sh(a.id, 'cat README.md'), '# pool demo\n', 'the checkout is there');
      assert.equal((await sh(a.id, 'echo $BERTH_WORKSPACE_ID')).trim(), a.id);
      const tokenA = (await sh(a.id, 'echo $BERTH_WORKSPACE_TOKEN')).trim();
      assert.match(tokenA, /^berth_w_/);
      await sh(a.id, 'echo private-to-a > notes.txt');

      await c.deleteWorkspace(a.id);
      await waitGone(c, a.id);
      await eventually(async () => (await ready(provisioner)) === 1, `the ${provisioner} pool to refill`, 120_000);

      const b = await c.createWorkspace({ name: `${provisioner}-b`, project: 'demo', provisioner, spec });
      assert.notEqual(b.id, a.id);
      await waitPhase(c, b.id, 'running');
      const evB = await events(b.id);
      assert.ok(evB.some((m) => /warm pool/.test(m)), 'b came from the refilled pool');
      assert.ok(!evB.some((m) => m.includes(a.id) || m.includes(`${provisioner}-a`)), 'no event of a');
      assert.equal((await sh(b.id, 'ls -a')).split('\n').includes('notes.txt'), false, "a's file is absent");
      const tokenB = (await sh(b.id, 'echo $BERTH_WORKSPACE_TOKEN')).trim();
      assert.match(tokenB, /^berth_w_/);
      assert.notEqual(tokenB, tokenA);
      assert.equal((await sh(b.id, 'echo $BERTH_WORKSPACE_ID')).trim(), b.id);
      await c.deleteWorkspace(b.id);
      await waitGone(c, b.id);
    });
  });
}

describe('docker', () => {
  test('a create matching no pool is provisioned cold while the pool is on', async () => {
    const c = server.client();
    const w = await c.createWorkspace({ name: 'cold', project: 'demo', provisioner: 'docker', spec: { image: env.BERTH_TEST_IMAGE } });
    await waitPhase(c, w.id, 'running', 120_000);
    const ev = await events(w.id);
    assert.ok(!ev.some((m) => /warm pool/.test(m)), 'not from the pool');
    assert.ok(ev.some((m) => /Cloning demo/.test(m)), 'cloned');
    assert.equal(await sh(w.id, 'cat README.md'), '# pool demo\n');
    await c.deleteWorkspace(w.id);
    await waitGone(c, w.id);
  });

  test('kill -9 during a refill leaves no orphans, and a changed pool image drains the old entries', async () => {
    const c = server.client();
    await eventually(async () => (await ready('docker')) === 1 && (await ready('shell')) === 1, 'both pools to fill', 120_000);
    // Claiming starts a refill (a second later); the control plane dies while it runs.
    const w = await c.createWorkspace({ name: 'claimer', project: 'demo', provisioner: 'docker', spec: { image: env.BERTH_TEST_IMAGE_BUSYBOX } });
    await eventually(() => fs.readFileSync(path.join(server.dataDir, 'warm-pool.json'), 'utf8').includes('"creating"'), 'the refill to be recorded', 30_000, 10);
    await server.kill9();
    args[1] = `shell:demo=1 docker:demo=1:${env.BERTH_TEST_IMAGE}`;
    await server.restart();
    await waitPhase(c, w.id, 'running', 120_000);
    await eventually(async () => (await ready('docker')) === 1 && (await ready('shell')) === 1, 'both pools to fill again', 180_000);

    // What the killed control plane had asked the engine for may still appear; it is removed within a few seconds.
    await eventually(async () => (await poolContainers()).length === 1, 'the entries of the killed control plane to be removed', 60_000, 500).catch(() => undefined);
    const pool = await poolContainers();
    assert.equal(pool.length, 1, `one pool container, got ${JSON.stringify(pool)}; journal ${fs.readFileSync(path.join(server.dataDir, 'warm-pool.json'), 'utf8')}; log ${server.logs.split('\n').filter((l) => /pool|orphan/i.test(l)).join('\n')}`);
    assert.equal(pool[0]!.image, env.BERTH_TEST_IMAGE, 'the entry has the new image; the busybox ones were drained');
    // Every container is a workspace's or the pool's: nothing was left by the refill cut short.
    const rows = new Set((await c.listWorkspaces()).map((x) => `berth-${x.id}`));
    const others = containersWith(`berth.installation=${installation}`).filter((n) => !rows.has(n) && n !== pool[0]!.name);
    assert.deepEqual(others, []);
    assert.deepEqual(await c.orphans(), [], 'nothing quarantined');
    // Shell directories: the workspace-less one is the pool's only.
    const shellRoot = path.join(server.dataDir, 'workspaces', 'shell');
    if (fs.existsSync(shellRoot)) assert.equal(fs.readdirSync(shellRoot).filter((d) => d.startsWith('ws_')).length, 1);
    await c.deleteWorkspace(w.id);
    await waitGone(c, w.id);
  });
});

describe('shell', () => {
  const ADOPTED = /Using a runtime prepared ahead/;
  /** The shell pool's entry: the one workspace directory no workspace row names. */
  async function shellEntry(): Promise<string | undefined> {
    const rows = new Set((await server.client().listWorkspaces(true)).map((x) => x.id));
    const root = path.join(server.dataDir, 'workspaces', 'shell');
    const dirs = fs.existsSync(root) ? fs.readdirSync(root).filter((d) => d.startsWith('ws_') && !rows.has(d)) : [];
    return dirs.length === 1 ? dirs[0] : undefined;
  }

  /** Creates a shell workspace, checks `file` holds `content`, deletes it; returns its event messages. */
  async function createAndRead(name: string, file: string, content: string): Promise<string[]> {
    const c = server.client();
    const w = await c.createWorkspace({ name, project: 'demo', provisioner: 'shell', spec: {} });
    await waitPhase(c, w.id, 'running');
    assert.equal(await sh(w.id, `cat ${file}`), content, `${name} has the project's latest ${file}`);
    const ev = await events(w.id);
    await c.deleteWorkspace(w.id);
    await waitGone(c, w.id);
    return ev;
  }

  test('a project that moved never hands out an older checkout from the pool', async () => {
    const c = server.client();
    const commit = (file: string, content: string) => {
      fs.writeFileSync(path.join(repo, file), content);
      git(repo, 'add', '-A');
      git(repo, 'commit', '-q', '-m', `add ${file}`);
    };
    await eventually(async () => (await ready('shell')) === 1 && (await shellEntry()), 'the shell pool to fill', 120_000);

    // The upstream moves; the entry was made before. The claim finds it behind and provisions afresh.
    commit('NEWS.md', 'one\n');
    const claimedStale = await createAndRead('moved', 'NEWS.md', 'one\n');
    assert.ok(!claimedStale.some((m) => ADOPTED.test(m)), `the older entry was not adopted: ${claimedStale.join(' | ')}`);
    await eventually(async () => (await ready('shell')) === 1, 'the shell pool to refill', 120_000);
    assert.ok((await createAndRead('refilled', 'NEWS.md', 'one\n')).some((m) => ADOPTED.test(m)), 'the refilled entry has the new commit and is adopted');

    // A sync moves the mirror: the pool replaces its entry by itself, before any create asks.
    await eventually(async () => (await ready('shell')) === 1 && (await shellEntry()), 'the shell pool to refill', 120_000);
    const before = await shellEntry();
    commit('NEWS.md', 'two\n');
    await c.syncProject('demo');
    await eventually(async () => (await ready('shell')) === 1 && (await shellEntry()) !== before && (await shellEntry()), 'the entry to be replaced after the sync', 120_000);
    assert.ok((await createAndRead('synced', 'NEWS.md', 'two\n')).some((m) => ADOPTED.test(m)), 'the replacement is adopted');

    // Another default branch: the pool drains and is made again from it.
    git(repo, 'checkout', '-q', '-b', 'other');
    commit('OTHER.md', 'other\n');
    git(repo, 'checkout', '-q', 'main');
    await eventually(async () => (await ready('shell')) === 1 && (await shellEntry()), 'the shell pool to refill', 120_000);
    const onMain = await shellEntry();
    await c.updateProject('demo', { branch: 'other' });
    await eventually(async () => (await ready('shell')) === 1 && (await shellEntry()) !== onMain && (await shellEntry()), 'the pool to be made from the new branch', 120_000);
    assert.ok((await createAndRead('other', 'OTHER.md', 'other\n')).some((m) => ADOPTED.test(m)), 'the entry of the new branch is adopted');
    await c.updateProject('demo', { branch: 'main' });
  });
});
