/**
 * The kubernetes provisioner on the testenv cluster, through a real `berth server` and the real
 * CLI: provisioner add, a workspace cloned through the git gateway (reached by pods through a proxy
 * on the node's bridge berthcni0, the one address the test environment made for them), exec, a file
 * kept across stop/start and across `kubectl delete pod` behind Berth's back, and delete leaving no
 * pod, claim or Secret.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { Forwarders } from '../../src/provisioners/docker/forwarder.ts';
import { TestServer, eventually, makeRepo, runCli, waitGone } from '../harness.ts';
import { loadK8sTestEnv } from '../testenv/env.ts';
import { kubectl } from './kubectl.ts';

const env = loadK8sTestEnv();
const ns = env.BERTH_TEST_K8S_NAMESPACE;
/** The node's address on the pod bridge (docs/testenv.md): pods reach this host only there. */
const BRIDGE = '10.218.0.1';
let server: TestServer;
let repo: string;
let proxy: Forwarders;
let proxyUrl: string;

/** Names of this workspace's objects of the given kinds, by its label. */
function objectsOf(id: string, kinds = 'pods,persistentvolumeclaims,secrets'): string[] {
  return kubectl(['get', kinds, '-l', `berth.workspace=${id}`, '-o', 'name']).split('\n').filter(Boolean).sort();
}

before(async () => {
  server = await TestServer.start();
  proxy = new Forwarders();
  const port = await proxy.ensure(BRIDGE, 0, { host: '127.0.0.1', port: server.port });
  proxyUrl = `http://${BRIDGE}:${port}`;
  repo = makeRepo({ 'README.md': '# k8s demo\n', 'src/app.txt': 'hello from the repo\n' });
  const r = await runCli(server, ['project', 'add', 'demo', '--repo', repo]);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await server?.stop();
  await proxy?.close();
  if (repo) fs.rmSync(repo, { recursive: true, force: true });
});

test('full lifecycle on Kubernetes: add, create, exec, files across stop/start and kubectl delete pod, rm leaves nothing', async () => {
  let r = await runCli(server, [
    'provisioner', 'add', 'k8s', '--type', 'kubernetes',
    '--kubeconfig', env.KUBECONFIG, '--namespace', ns, '--storage-class', env.BERTH_TEST_K8S_STORAGE_CLASS,
    '--pvc-size', '256Mi', '--server-url', proxyUrl,
  ]);
  assert.equal(r.code, 0, r.stderr);

  r = await runCli(server, ['ws', 'create', 'kube', '--project', 'demo', '--provisioner', 'k8s', '--image', env.BERTH_TEST_IMAGE, '--wait'], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, `${r.stderr}\n${server.logs.slice(-3000)}`);
  assert.match(r.stderr, /Cloning demo into work\//);
  const c = server.client();
  const w = await c.getWorkspace('kube');
  const pod = `berth-${w.id.replace('_', '-')}`;
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
  assert.equal(origin, `${proxyUrl}/git/demo.git`);
  assert.equal(content, 'hello from the repo');
  r = await runCli(server, ['ws', 'exec', 'kube', '--', 'git', 'fetch', 'origin']);
  assert.equal(r.code, 0, `a fetch through the gateway from the pod works: ${r.stderr}`);

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
