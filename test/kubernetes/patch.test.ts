/**
 * A spec change on Kubernetes: `PATCH /workspaces/{ref}` with new env and limits recreates the pod
 * on the same claim, so a file written in the workspace survives and the new pod has the new env
 * and memory limit; a bad patch is a 400 that leaves the pod alone.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeRepo, rejectsWith, waitPhase } from '../harness.ts';
import { K8sSuite, NS, env, kubectlOk, podName } from './env.ts';

let suite: K8sSuite;

before(async () => {
  suite = await K8sSuite.start();
  await suite.addProject('demo', makeRepo());
  await suite.addProvisioner('k8s');
});

after(async () => {
  await suite?.close();
});

test('a spec change recreates the pod on the same claim and keeps the files (kubernetes)', async () => {
  const c = suite.server.client();
  const w = await c.createWorkspace({ name: 'patch', project: 'demo', provisioner: 'k8s', spec: { image: env.BERTH_TEST_IMAGE, resources: { memory: '256MiB' } } });
  await waitPhase(c, w.id, 'running', 180_000);
  const kept = await c.run(w.id, ['sh', '-c', 'echo kept > "$BERTH_WORKDIR/notes.txt"']);
  assert.equal(kept.code, 0, kept.stderr);
  const uid = () => kubectlOk(NS, ['get', 'pod', podName(w.id), '-o', 'jsonpath={.metadata.uid}']);
  const before = uid();

  await rejectsWith(c.updateWorkspace(w.id, { resources: { memory: '1KiB' } }), 400, /at least 6MiB/);
  assert.equal(uid(), before, 'a refused patch leaves the pod alone');

  await c.updateWorkspace(w.id, { env: [{ name: 'FOO', value: 'bar' }], resources: { memory: '512MiB' } });
  await waitPhase(c, w.id, 'running', 180_000);
  assert.notEqual(uid(), before, 'a new pod');
  const limit = kubectlOk(NS, ['get', 'pod', podName(w.id), '-o', 'jsonpath={.spec.containers[0].resources.limits.memory}']);
  assert.match(limit, /^(512Mi|536870912)$/);
  const r = await c.run(w.id, ['sh', '-c', 'cat "$BERTH_WORKDIR/notes.txt"; echo "$FOO"']);
  assert.equal(r.stdout, 'kept\nbar\n', r.stderr);
  const change = (await c.events(w.id)).map((e) => e.message).find((m) => m.startsWith('Spec changed:'));
  assert.match(change ?? '', /memory 256MiB → 512MiB, env \+FOO/);
});
