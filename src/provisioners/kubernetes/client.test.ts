import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { SERVICE_ACCOUNT_DIR, loadConfig, namespaceOf, runsInPod } from './client.ts';

/** A fake pod filesystem: `<root>/var/run/secrets/…/{token,ca.crt,namespace}`. */
function podRoot(namespace: string): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-sa-'));
  const dir = path.join(root, SERVICE_ACCOUNT_DIR);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'token'), 'token');
  fs.writeFileSync(path.join(dir, 'ca.crt'), '');
  fs.writeFileSync(path.join(dir, 'namespace'), namespace);
  return root;
}

test('a process runs in a pod when the apiserver address is in its env and a token is mounted', () => {
  const root = podRoot('team');
  const dir = path.join(root, SERVICE_ACCOUNT_DIR);
  assert.equal(runsInPod({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, dir), true);
  assert.equal(runsInPod({}, dir), false);
  assert.equal(runsInPod({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, path.join(root, 'nowhere')), false);
  fs.rmSync(root, { recursive: true, force: true });
});

test('in a pod without a kubeconfig option the service account is used; a kubeconfig option still wins', (t) => {
  // loadFromCluster reads the apiserver's address from the env the kubelet gives every pod.
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  t.after(() => {
    for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1';
  process.env.KUBERNETES_SERVICE_PORT = '443';
  assert.equal(loadConfig({}, true).getCurrentCluster()?.server, 'https://10.96.0.1:443');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-kc-')), 'config');
  fs.writeFileSync(file, 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://elsewhere:6443"}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n');
  assert.equal(loadConfig({ kubeconfig: file }, true).getCurrentCluster()?.server, 'https://elsewhere:6443');
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
});

test("the namespace defaults to the pod's own, out of a pod to default", () => {
  const root = podRoot('team-a\n');
  const kc = new KubeConfig();
  kc.loadFromCluster(root);
  assert.equal(namespaceOf({}, kc), 'team-a');
  assert.equal(namespaceOf({ namespace: 'other' }, kc), 'other');
  const plain = new KubeConfig();
  plain.loadFromString('apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://k:6443"}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u, namespace: ns}}]\ncurrent-context: x\n');
  assert.equal(namespaceOf({}, plain), 'default');
  fs.rmSync(root, { recursive: true, force: true });
});
