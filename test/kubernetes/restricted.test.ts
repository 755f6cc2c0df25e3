/**
 * Berth's pods pass PodSecurity `restricted`: in a namespace that enforces it (labelled
 * `pod-security.kubernetes.io/enforce=restricted`, where kubectl cannot create a privileged pod nor
 * one that is merely baseline), a workspace is created, runs and is deleted through the CLI.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, makeRepo, runCli, waitGone } from '../harness.ts';
import { K8sSuite, env, kubectlIn, kubectlOk, objectsOf, podName } from './env.ts';

let suite: K8sSuite;
let ns: string;

before(async () => {
  suite = await K8sSuite.start();
  ns = `berth-restricted-${suite.run}`;
  const namespace = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: ns, labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' } },
  };
  kubectlOk(ns, ['apply', '-f', '-'], JSON.stringify(namespace));
  // Pods are refused until the namespace's default service account exists.
  await eventually(() => kubectlIn(ns, ['get', 'serviceaccount', 'default']).code === 0, `service account default in ${ns}`, 60_000, 250);
  await suite.addProject('demo', makeRepo({ 'README.md': '# restricted demo\n' }));
  await suite.addProvisioner('k8s', [], ns);
});

after(async () => {
  await suite?.close();
  if (ns) kubectlIn(ns, ['delete', 'namespace', ns, '--wait=false']);
});

/** A pod manifest for kubectl; `securityContext` of its one container. */
function podManifest(name: string, securityContext: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { containers: [{ name: 'c', image: env.BERTH_TEST_IMAGE, command: ['sleep', '60'], securityContext }] },
  });
}

test('the namespace enforces PodSecurity restricted: kubectl cannot create a privileged or a baseline pod there', () => {
  assert.equal(kubectlOk(ns, ['get', 'namespace', ns, '-o', 'jsonpath={.metadata.labels.pod-security\\.kubernetes\\.io/enforce}']), 'restricted');
  for (const [name, sc] of [['privileged', { privileged: true }], ['baseline', {}]] as const) {
    const r = kubectlIn(ns, ['apply', '-f', '-'], podManifest(`${name}-${suite.run}`, sc));
    assert.notEqual(r.code, 0, `a ${name} pod was admitted: ${r.stdout}`);
    assert.match(r.stderr, /violates PodSecurity "restricted:latest"/);
  }
  assert.equal(kubectlOk(ns, ['get', 'pods', '-o', 'name']), '', 'no pod was created');
});

test("Berth's workspace pods are admitted under restricted: create, exec and rm through the CLI", async () => {
  const { server } = suite;
  let r = await runCli(server, ['ws', 'create', 'strict', '--project', 'demo', '--provisioner', 'k8s', '--image', env.BERTH_TEST_IMAGE, '--wait'], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, `${r.stderr}\n${suite.logs()}`);
  const id = (await server.client().getWorkspace('strict')).id;
  const n = podName(id);
  assert.deepEqual(objectsOf(id, 'pods,persistentvolumeclaims', ns), [`persistentvolumeclaim/${n}`, `pod/${n}`]);

  r = await runCli(server, ['ws', 'exec', 'strict', '--', 'sh', '-c', 'id -u; cat README.md']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '1000\n# restricted demo\n', 'runs as the non-root default user on its checkout');

  r = await runCli(server, ['ws', 'rm', 'strict', '--yes'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  await waitGone(server.client(), 'strict', 120_000);
  assert.deepEqual(suite.leftovers(ns), []);
});
