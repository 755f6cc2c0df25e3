/**
 * The kubernetes provisioner on the testenv cluster, through a real `berth server` and the real
 * CLI: provisioner add, a workspace cloned through the git gateway (reached by pods through a proxy
 * on the node's bridge berthcni0, the one address the test environment made for them), exec, a file
 * kept across stop/start and across `kubectl delete pod` behind Berth's back, and delete leaving no
 * pod, claim or Secret.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, makeRepo, runCli, waitGone } from '../harness.ts';
import { K8sSuite, env, objectsOf, podName } from './env.ts';
import { kubectl } from './kubectl.ts';

let suite: K8sSuite;

before(async () => {
  suite = await K8sSuite.start();
  await suite.addProject('demo', makeRepo({ 'README.md': '# k8s demo\n', 'src/app.txt': 'hello from the repo\n' }));
});

after(async () => {
  await suite?.close();
});

test('full lifecycle on Kubernetes: add, create, exec, files across stop/start and kubectl delete pod, rm leaves nothing', async () => {
  await suite.addProvisioner('k8s');
  const server = suite.server;
  let r: Awaited<ReturnType<typeof runCli>>;

  r = await runCli(server, ['ws', 'create', 'kube', '--project', 'demo', '--provisioner', 'k8s', '--image', env.BERTH_TEST_IMAGE, '--wait'], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, `${r.stderr}\n${server.logs.slice(-3000)}`);
  assert.match(r.stderr, /Cloning demo into work\//);
  const c = server.client();
  const w = await c.getWorkspace('kube');
  const pod = podName(w.id);
  assert.deepEqual(objectsOf(w.id, 'pods,persistentvolumeclaims'), [`persistentvolumeclaim/${pod}`, `pod/${pod}`]);

  // The pod is hardened to PodSecurity restricted and holds no secret in its spec.
  const spec = JSON.parse(kubectl(['get', 'pod', pod, '-o', 'json'])) as { spec: { automountServiceAccountToken: boolean; securityContext: { runAsNonRoot: boolean; runAsUser: number; seccompProfile: { type: string } }; containers: { securityContext: { allowPrivilegeEscalation: boolean; capabilities: { drop: string[] } } }[] } };
  assert.equal(spec.spec.automountServiceAccountToken, false);
  assert.equal(spec.spec.securityContext.runAsNonRoot, true);
  assert.notEqual(spec.spec.securityContext.runAsUser, 0);
  assert.equal(spec.spec.securityContext.seccompProfile.type, 'RuntimeDefault');
  assert.equal(spec.spec.containers[0]!.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(spec.spec.containers[0]!.securityContext.capabilities.drop, ['ALL']);
  assert.ok(!JSON.stringify(spec).includes('berth_w_'), 'no workspace token in the pod spec');

  // The checkout came through the gateway; git works from inside the pod.
  r = await runCli(server, ['ws', 'exec', 'kube', '--', 'sh', '-c', 'git log --format=%s; git remote get-url origin; cat src/app.txt']);
  assert.equal(r.code, 0, r.stderr);
  const [subject, origin, content] = r.stdout.trim().split('\n');
  assert.ok(subject, 'git log shows the commit');
  assert.equal(origin, `${suite.podUrl}/git/demo.git`);
  assert.equal(content, 'hello from the repo');
  r = await runCli(server, ['ws', 'exec', 'kube', '--', 'git', 'fetch', 'origin']);
  assert.equal(r.code, 0, `a fetch through the gateway from the pod works: ${r.stderr}\n${suite.logs()}`);

  // Separate streams and exit codes; a file written through stdin.
  r = await runCli(server, ['ws', 'exec', 'kube', '--', 'sh', '-c', 'echo to-out; echo to-err >&2; exit 7']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [7, 'to-out\n', 'to-err\n']);
  r = await runCli(server, ['ws', 'exec', 'kube', '--', 'sh', '-c', 'cat > notes.txt'], { input: 'written before stop\n' });
  assert.equal(r.code, 0, r.stderr);

  // Stop deletes the pod and keeps the claim; start brings the file back.
  r = await runCli(server, ['ws', 'stop', 'kube', '--wait'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(objectsOf(w.id, 'pods,persistentvolumeclaims'), [`persistentvolumeclaim/${pod}`]);
  r = await runCli(server, ['ws', 'start', 'kube', '--wait'], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(server, ['ws', 'exec', 'kube', '--', 'cat', 'notes.txt']);
  assert.equal(r.stdout, 'written before stop\n');

  // kubectl delete pod behind Berth's back: the reconciler recreates it on the same claim.
  const uid = kubectl(['get', 'pod', pod, '-o', 'jsonpath={.metadata.uid}']);
  kubectl(['delete', 'pod', pod, '--wait=true']);
  await eventually(
    async () => {
      const x = await c.getWorkspace('kube');
      const now = kubectl(['get', 'pod', pod, '-o', 'jsonpath={.metadata.uid}'], true);
      return x.phase === 'running' && now && now !== uid ? x : undefined;
    },
    'the reconciler to recreate the deleted pod',
    120_000,
    500,
  );
  r = await runCli(server, ['ws', 'exec', 'kube', '--', 'cat', 'notes.txt']);
  assert.equal(r.stdout, 'written before stop\n', r.stderr);

  // rm: pod, claim and Secrets go.
  r = await runCli(server, ['ws', 'rm', 'kube', '--yes'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  await waitGone(c, 'kube', 120_000);
  assert.deepEqual(objectsOf(w.id), []);
});
