/**
 * A private image from the testenv's authenticated registry: with the spec's registry login Berth
 * makes an imagePullSecret and the workspace runs; without one the workspace fails with a sentence
 * naming the image and the refusal, and deleting it leaves nothing behind.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { makeRepo, runCli, tempDir, waitGone } from '../harness.ts';
import { K8sSuite, NS, env, kubectlOk, objectsOf, podName } from './env.ts';

const IMAGE = env.BERTH_TEST_IMAGE_PRIVATE;
let suite: K8sSuite;
let specs: string;

before(async () => {
  suite = await K8sSuite.start();
  await suite.addProject('demo', makeRepo({ 'README.md': '# private image demo\n' }));
  // Always: a node that pulled the image once would otherwise run it for anyone, credentials or not.
  await suite.addProvisioner('k8s', ['--image-pull-policy', 'Always']);
  specs = tempDir('berth-specs-');
});

after(async () => {
  await suite?.close();
  if (specs) fs.rmSync(specs, { recursive: true, force: true });
});

/** Writes a spec file for the private image, with or without the registry login. */
function specFile(name: string, login: boolean): string {
  const file = path.join(specs, `${name}.json`);
  const logins = login ? [{ registry: env.BERTH_TEST_REGISTRY, username: env.BERTH_TEST_REGISTRY_USER, password: env.BERTH_TEST_REGISTRY_PASSWORD }] : [];
  fs.writeFileSync(file, JSON.stringify({ image: IMAGE, registryLogins: logins }));
  return file;
}

/** Deletes a workspace with the CLI and checks that none of its objects is left. */
async function removeAll(name: string, id: string): Promise<void> {
  const r = await runCli(suite.server, ['ws', 'rm', name, '--yes'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  await waitGone(suite.server.client(), name, 120_000);
  assert.deepEqual(objectsOf(id), []);
}

test('with the registry login the private image is pulled through an imagePullSecret Berth made, and the workspace runs', async () => {
  const { server } = suite;
  let r = await runCli(server, ['ws', 'create', 'priv', '--project', 'demo', '--provisioner', 'k8s', '--spec', specFile('priv', true), '--wait'], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, `${r.stderr}\n${suite.logs()}`);
  assert.match(r.stderr, new RegExp(`Pulling image ${IMAGE.replace(/[.]/g, '\\.')} as ${env.BERTH_TEST_REGISTRY_USER}`));
  const id = (await server.client().getWorkspace('priv')).id;
  const n = podName(id);

  const pod = JSON.parse(kubectlOk(NS, ['get', 'pod', n, '-o', 'json'])) as { spec: { imagePullSecrets?: { name: string }[]; containers: { name: string; image: string; imagePullPolicy: string }[] } };
  assert.deepEqual(pod.spec.imagePullSecrets, [{ name: `${n}-pull` }]);
  const main = pod.spec.containers.find((c) => c.name === 'workspace');
  assert.deepEqual([main?.image, main?.imagePullPolicy], [IMAGE, 'Always']);
  assert.equal(kubectlOk(NS, ['get', 'secret', `${n}-pull`, '-o', 'jsonpath={.type}']), 'kubernetes.io/dockerconfigjson');
  const shown = kubectlOk(NS, ['get', 'pod', n, '-o', 'yaml']) + r.stdout + r.stderr;
  assert.ok(!shown.includes(env.BERTH_TEST_REGISTRY_PASSWORD), 'the registry password is only in the pull Secret');

  r = await runCli(server, ['ws', 'exec', 'priv', '--', 'sh', '-c', '. /etc/os-release; echo $VERSION_CODENAME; cat README.md']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'bookworm\n# private image demo\n');
  await removeAll('priv', id);
});

test('without a login the workspace fails with a sentence naming the image and the refused credentials; rm leaves nothing', async () => {
  const { server } = suite;
  const r = await runCli(server, ['ws', 'create', 'nologin', '--project', 'demo', '--provisioner', 'k8s', '--spec', specFile('nologin', false), '--wait'], { timeoutMs: 180_000 });
  assert.notEqual(r.code, 0, 'the create must fail');
  const sentence = new RegExp(`the image ${IMAGE.replace(/[.]/g, '\\.')} cannot be pulled: the registry refused the credentials`, 'i');
  assert.match(r.stderr, sentence);
  const w = await server.client().getWorkspace('nologin');
  assert.equal(w.phase, 'failed');
  assert.match(w.message ?? '', sentence);
  await removeAll('nologin', w.id);
  assert.deepEqual(suite.leftovers(), [], 'no pod (probes included), claim or Secret of this run is left');
});
