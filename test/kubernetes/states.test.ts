/**
 * What a user hears about a Kubernetes workspace's pod, through a real `berth server` and the CLI:
 * a pod no node can take is explained with the scheduler's reason while it provisions, and a pod
 * evicted through the Eviction API behind Berth's back is recreated on the same claim, files intact.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { WorkspaceEvent } from '../../src/sdk/wire.ts';
import { eventually, makeRepo, runCli, waitGone } from '../harness.ts';
import { K8sSuite, NS, env, kubectlOk, podName } from './env.ts';

let suite: K8sSuite;

before(async () => {
  suite = await K8sSuite.start();
  await suite.addProject('demo', makeRepo({ 'README.md': '# states\n' }));
});

after(async () => {
  await suite?.close();
});

/** Creates a workspace without waiting; returns its id. */
async function create(name: string, provisioner: string): Promise<string> {
  const r = await runCli(suite.server, ['ws', 'create', name, '--project', 'demo', '--provisioner', provisioner, '--image', env.BERTH_TEST_IMAGE, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { id: string }).id;
}

/** The first event of the workspace whose message matches `re`. */
async function eventMatching(name: string, re: RegExp, timeoutMs: number): Promise<WorkspaceEvent> {
  const signal = AbortSignal.timeout(timeoutMs);
  const last = await suite.server.client().followEvents(name, (e) => re.test(e.message), { signal });
  if (!last || !re.test(last.message)) throw new Error(`no event of ${name} matched ${re} within ${timeoutMs} ms\n${suite.logs()}`);
  return last;
}

test('a pod no node can take: provisioning says why in the scheduler\'s words; rm leaves nothing', async () => {
  await suite.addProvisioner('huge', ['--memory-request', '512Gi']);
  const id = await create('huge', 'huge');
  const e = await eventMatching('huge', /^Waiting for the pod: the pod cannot be scheduled: /, 120_000);
  assert.match(e.message, /Insufficient memory/);
  const w = await suite.server.client().getWorkspace('huge');
  assert.equal(w.phase, 'provisioning', 'an unschedulable pod may yet fit (a node may join), so the provision waits');
  const r = await runCli(suite.server, ['ws', 'rm', 'huge', '--yes'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  await waitGone(suite.server.client(), 'huge', 120_000);
  assert.deepEqual(suite.leftovers().filter((o) => o.includes(podName(id))), []);
});

test('a pod evicted behind Berth\'s back is recreated on the same claim with its files', async () => {
  await suite.addProvisioner('k8s');
  let r = await runCli(suite.server, ['ws', 'create', 'evicted', '--project', 'demo', '--provisioner', 'k8s', '--image', env.BERTH_TEST_IMAGE, '--wait'], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, `${r.stderr}\n${suite.logs()}`);
  const c = suite.server.client();
  const pod = podName((await c.getWorkspace('evicted')).id);
  r = await runCli(suite.server, ['ws', 'exec', 'evicted', '--', 'sh', '-c', 'echo kept > notes.txt']);
  assert.equal(r.code, 0, r.stderr);

  const uid = kubectlOk(NS, ['get', 'pod', pod, '-o', 'jsonpath={.metadata.uid}']);
  const eviction = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace: NS } };
  kubectlOk(NS, ['create', '--raw', `/api/v1/namespaces/${NS}/pods/${pod}/eviction`, '-f', '-'], JSON.stringify(eviction));
  await eventMatching('evicted', /^The runtime is gone/, 120_000);
  await eventually(
    async () => {
      const w = await c.getWorkspace('evicted');
      const now = kubectlOk(NS, ['get', 'pods', '-l', `berth.workspace=${w.id}`, '-o', 'jsonpath={.items[*].metadata.uid}']);
      return w.phase === 'running' && now && now !== uid;
    },
    'the reconciler to recreate the evicted pod',
    120_000,
    500,
  );
  r = await runCli(suite.server, ['ws', 'exec', 'evicted', '--', 'cat', 'notes.txt']);
  assert.equal(r.stdout, 'kept\n', r.stderr);
  r = await runCli(suite.server, ['ws', 'rm', 'evicted', '--yes'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  await waitGone(c, 'evicted', 120_000);
});
