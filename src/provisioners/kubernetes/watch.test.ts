import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { KubeClient } from './client.ts';
import { Mirror, newestWarning } from './watch.ts';

/**
 * A fake apiserver for one namespace's pods: lists answer from `pods`, watches stay open and get
 * what `emit` sends; `refuse` makes the next requests fail with that status.
 */
class FakeApi {
  pods = new Map<string, V1Pod>();
  lists = 0;
  refuse: { status: number; message: string } | undefined;
  private watches = new Set<http.ServerResponse>();
  private rv = 1;
  readonly server = http.createServer((req, res) => this.handle(req, res));

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (this.refuse) {
      res.writeHead(this.refuse.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: this.refuse.message, code: this.refuse.status }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    if (url.searchParams.get('watch') === 'true') {
      this.watches.add(res);
      res.on('close', () => this.watches.delete(res));
      res.flushHeaders();
      return;
    }
    this.lists++;
    res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items: [...this.pods.values()] }));
  }

  /** Changes a pod and tells every open watch. */
  emit(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: V1Pod): void {
    pod.metadata!.resourceVersion = String(++this.rv);
    if (type === 'DELETED') this.pods.delete(pod.metadata!.name!);
    else this.pods.set(pod.metadata!.name!, pod);
    for (const w of this.watches) w.write(`${JSON.stringify({ type, object: pod })}\n`);
  }

  /** Ends every open watch with a broken connection. */
  dropWatches(): void {
    for (const w of this.watches) w.destroy();
  }

  get watching(): number {
    return this.watches.size;
  }
}

const api = new FakeApi();
let dir: string;
let kube: KubeClient;
const mirrors: Mirror<V1Pod>[] = [];

function pod(name: string, phase: string): V1Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ns', labels: { 'berth.provisioner': 'k8s' } }, status: { phase } };
}

function mirror(): Mirror<V1Pod> {
  const m = new Mirror<V1Pod>(kube, 'pods', () => kube.core.listNamespacedPod({ namespace: 'ns', labelSelector: 'berth.provisioner=k8s' }), 'berth.provisioner=k8s');
  mirrors.push(m);
  return m;
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

before(async () => {
  await new Promise<void>((r) => api.server.listen(0, '127.0.0.1', r));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-watch-'));
  const file = path.join(dir, 'kubeconfig');
  const server = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  fs.writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // The client refuses plain HTTP unless TLS checks are off; the fake speaks HTTP on loopback.
      clusters: [{ name: 'fake', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'c', context: { cluster: 'fake', user: 'u' } }],
      'current-context': 'c',
    }),
  );
  kube = KubeClient.connect({ kubeconfig: file, namespace: 'ns' });
});

after(async () => {
  for (const m of mirrors) m.close();
  api.server.closeAllConnections();
  await new Promise((r) => api.server.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the cache is unknown until listed, then follows watch events; waits answer from them', async () => {
  api.pods.set('a', pod('a', 'Pending'));
  const m = mirror();
  assert.equal(m.get('a'), undefined, 'not in sync yet: callers read the apiserver instead');
  const running = m.wait('a', (p) => (p?.status?.phase === 'Running' ? 'running' : undefined), AbortSignal.timeout(5000), 5000, 'run');
  await until(() => m.get('a') !== undefined && api.watching > 0, 'the list and the watch');
  assert.equal(m.get('a')?.status?.phase, 'Pending');
  assert.equal(m.get('b'), null, 'absent once in sync');
  api.emit('MODIFIED', pod('a', 'Running'));
  assert.equal(await running, 'running');
  const gone = m.wait('a', (p) => (p ? undefined : true), AbortSignal.timeout(5000), 5000, 'be deleted');
  api.emit('DELETED', pod('a', 'Running'));
  assert.equal(await gone, true);
  m.close();
});

test('a broken watch is listed afresh after a pause, and the cache shows what changed meanwhile', async () => {
  api.pods.clear();
  api.pods.set('c', pod('c', 'Pending'));
  const m = mirror();
  m.get('c');
  await until(() => m.get('c') !== undefined && api.watching > 0, 'the first sync');
  const lists = api.lists;
  api.pods.set('c', pod('c', 'Running'));
  api.dropWatches();
  await until(() => api.lists > lists && m.get('c')?.status?.phase === 'Running', 'a fresh list after the broken watch');
  m.close();
});

test('credentials that may not list give the RBAC sentence at once; a wait that sees nothing times out naming what', async () => {
  api.refuse = { status: 403, message: 'pods is forbidden: User "system:serviceaccount:ns:x" cannot list resource "pods" in API group "" in the namespace "ns"' };
  try {
    const m = mirror();
    await assert.rejects(m.wait('a', () => true, AbortSignal.timeout(5000), 5000, 'run'), /may not list pods in namespace ns/);
    m.close();
  } finally {
    api.refuse = undefined;
  }
  const m = mirror();
  await assert.rejects(m.wait('x', (p) => (p ? true : undefined), AbortSignal.timeout(5000), 200, 'appear'), /Timed out after 0 s waiting for x to appear in namespace ns/);
  const ac = new AbortController();
  const waiting = m.wait('x', (p) => (p ? true : undefined), ac.signal, 5000, 'appear');
  ac.abort();
  await assert.rejects(waiting, { name: 'AbortedError' });
});

test('the newest warning event of a claim is the one reported', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
  const ev = (type: string, reason: string, s: number) => ({ metadata: {}, involvedObject: {}, type, reason, message: reason, lastTimestamp: at(s) });
  assert.deepEqual(newestWarning([ev('Warning', 'old', 1), ev('Normal', 'ExternalProvisioning', 9), ev('Warning', 'ProvisioningFailed', 5)]), { reason: 'ProvisioningFailed', message: 'ProvisioningFailed' });
  assert.equal(newestWarning([ev('Normal', 'x', 1)]), undefined);
});
