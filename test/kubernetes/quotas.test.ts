/**
 * A storage quota on Kubernetes, the provisioner that honours spec.resources.disk (the claim's
 * size): refused with the sentence naming it, nothing stored, admitted again after a delete.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Quota } from '../../src/sdk/policy.ts';
import { makeRepo, rejectsWith, waitGone } from '../harness.ts';
import { K8sSuite, env } from './env.ts';

let suite: K8sSuite;

before(async () => {
  suite = await K8sSuite.start();
  await suite.addProject('demo', makeRepo());
  await suite.addProvisioner('k8s');
});

after(async () => {
  await suite?.close();
});

test('a storage quota counts the claims workspaces ask for (kubernetes)', async () => {
  const c = suite.server.client();
  await c.request<Quota>('PUT', '/api/v1/projects/demo/quota', { storage: '1GiB' });
  const ws = (name: string, disk: string) => c.createWorkspace({ name, project: 'demo', provisioner: 'k8s', spec: { image: env.BERTH_TEST_IMAGE, resources: { disk } } });
  const first = await ws('first', '512MiB');
  const names = async () => (await c.listWorkspaces(true)).map((w) => w.name).sort();
  await rejectsWith(ws('second', '768MiB'), 403, /^Project demo may use at most 1GiB of storage across workspaces; 512MiB is in use and this workspace asks for 768MiB\.$/);
  assert.deepEqual(await names(), ['first'], 'nothing is stored');
  assert.equal((await c.request<Quota>('GET', '/api/v1/projects/demo/quota')).used.storage, 512 * 1024 ** 2);
  await c.deleteWorkspace(first.id);
  const second = await ws('second', '768MiB');
  await c.deleteWorkspace(second.id);
  await waitGone(c, first.id, 120_000);
  await waitGone(c, second.id, 120_000);
});
