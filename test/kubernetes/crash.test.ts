/**
 * kill -9 of the control plane while it provisions a Kubernetes workspace, then a restart on the
 * same data directory: the workspace converges to exactly one claim and one pod, runs, and has the
 * repository's files; deleting it afterwards leaves nothing of it in the namespace. Killed while it
 * deletes one, the restarted control plane finishes the delete.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, makeRepo, runCli, waitGone } from '../harness.ts';
import { K8sSuite, env, objectsOf, podName, watchFor } from './env.ts';

let suite: K8sSuite;

before(async () => {
  suite = await K8sSuite.start();
  await suite.addProject('demo', makeRepo({ 'README.md': '# crash demo\n', 'src/app.txt': 'hello from the repo\n' }));
  await suite.addProvisioner('k8s');
});

after(async () => {
  await suite?.close();
});

/** Starts creating a workspace without waiting for it; returns its id. */
async function startCreate(name: string): Promise<string> {
  const r = await runCli(suite.server, ['ws', 'create', name, '--project', 'demo', '--provisioner', 'k8s', '--image', env.BERTH_TEST_IMAGE, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { id: string }).id;
}

/** After the restart: running, one claim and one pod, the checkout intact; then rm leaves none of its objects. */
async function assertConverged(name: string, id: string): Promise<void> {
  const { server } = suite;
  const c = server.client();
  // Not waitPhase: right after a restart the workspace may show `failed` until the reconciler takes it up again.
  await eventually(async () => (await c.getWorkspace(name)).phase === 'running', `${name} to run again after the restart`, 180_000, 250).catch((err: Error) => {
    throw new Error(`${err.message}\n${suite.logs()}`);
  });
  const n = podName(id);
  assert.deepEqual(objectsOf(id, 'pods,persistentvolumeclaims'), [`persistentvolumeclaim/${n}`, `pod/${n}`], 'exactly one claim and one pod');
  const r = await runCli(server, ['ws', 'exec', name, '--', 'sh', '-c', 'cat src/app.txt; git status --porcelain; git log --format=%s']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'hello from the repo\ninitial commit\n', 'the file from the repository, a clean checkout of its one commit');

  const rm = await runCli(server, ['ws', 'rm', name, '--yes'], { timeoutMs: 120_000 });
  assert.equal(rm.code, 0, rm.stderr);
  await waitGone(c, name, 120_000);
  assert.deepEqual(objectsOf(id), []);
}

test('kill -9 right after the claim appears: after a restart one claim, one pod, running, files from the repo', async () => {
  const claim = await watchFor<{ metadata: { name: string } }>('persistentvolumeclaims', suite.selector, () => true, 120_000);
  const id = await startCreate('crash-claim');
  assert.equal((await claim.found).metadata.name, podName(id));
  await suite.server.kill9();
  await suite.server.restart();
  await assertConverged('crash-claim', id);
});

test('kill -9 while the init container clones: after a restart one claim, one pod, running, files from the repo', async () => {
  const id = await startCreate('crash-clone');
  const c = suite.server.client();
  const cloning = await c.followEvents('crash-clone', (e) => e.message.includes('Cloning demo into work/'));
  assert.ok(cloning, 'the checkout started');
  assert.notEqual((await c.getWorkspace('crash-clone')).phase, 'running', 'killed mid-provision');
  await suite.server.kill9();
  assert.deepEqual(objectsOf(id, 'pods'), [`pod/${podName(id)}`], 'the pod with the checkout was there at the kill');
  await suite.server.restart();
  await assertConverged('crash-clone', id);
});

test('kill -9 while the pod is being deleted: after a restart the workspace is gone and nothing of it is left', async () => {
  const { server } = suite;
  let r = await runCli(server, ['ws', 'create', 'crash-rm', '--project', 'demo', '--provisioner', 'k8s', '--image', env.BERTH_TEST_IMAGE, '--wait'], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, r.stderr);
  const id = (await server.client().getWorkspace('crash-rm')).id;
  const deleting = await watchFor<{ metadata: { deletionTimestamp?: string } }>('pods', `berth.workspace=${id}`, (p) => Boolean(p.metadata.deletionTimestamp), 120_000);
  r = await runCli(server, ['ws', 'rm', 'crash-rm', '--yes']);
  assert.equal(r.code, 0, r.stderr);
  await deleting.found;
  await server.kill9();
  await server.restart();
  await waitGone(server.client(), 'crash-rm', 120_000);
  assert.deepEqual(objectsOf(id), [], 'no pod, claim or Secret of the workspace');
});
