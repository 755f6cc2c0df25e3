import assert from 'node:assert/strict';
import { test } from 'node:test';
import { refusal } from './refusals.ts';

const base = { what: 'creating pod berth-ws-1', namespace: 'team', where: 'namespace team on https://k8s:6443' };

test('an RBAC refusal names the verb, the resource and the namespace', () => {
  const message = 'pods is forbidden: User "system:serviceaccount:berth-test:limited" cannot list resource "pods" in API group "" in the namespace "other"';
  assert.equal(
    refusal({ ...base, code: 403, message }),
    'The Kubernetes credentials of this provisioner (user system:serviceaccount:berth-test:limited) may not list pods in namespace other: no Role grants it. Bind them to the Role in docs/provisioners/kubernetes.md in that namespace, or use a namespace they may use.',
  );
});

test('a quota refusal names the quota and what it limits', () => {
  const message = 'pods "berth-ws-1" is forbidden: exceeded quota: small, requested: limits.memory=1Gi, used: limits.memory=0, limited: limits.memory=64Mi';
  assert.equal(
    refusal({ ...base, code: 403, message }),
    'The ResourceQuota small of namespace team refuses creating pod berth-ws-1: it asks for limits.memory=1Gi where limits.memory=0 is used of limits.memory=64Mi. Ask for less (spec.resources, --pvc-size) or have the quota raised.',
  );
  const bytes = message.replace('limits.memory=1Gi', 'limits.memory=268435456');
  assert.match(refusal({ ...base, code: 403, message: bytes }), /it asks for limits\.memory=256MiB where/);
  const unspecified = 'pods "berth-ws-1" is forbidden: failed quota: small: must specify limits.memory for: workspace';
  assert.match(refusal({ ...base, code: 403, message: unspecified }), /^The ResourceQuota small of namespace team refuses creating pod berth-ws-1: it must specify limits.memory for: workspace\./);
});

test('other refusals keep the apiserver\'s words and say where; no answer is not a refusal', () => {
  assert.equal(refusal({ ...base, code: 422, message: 'Pod "x" is invalid' }), 'Kubernetes refused creating pod berth-ws-1 in namespace team on https://k8s:6443: Pod "x" is invalid');
  assert.equal(
    refusal({ ...base, what: 'watching pods', code: 403, message: 'Forbidden' }),
    'The Kubernetes credentials of this provisioner are refused watching pods in namespace team (Forbidden); bind them to the Role in docs/provisioners/kubernetes.md there.',
  );
  assert.equal(refusal({ ...base, code: 0, message: 'connect ECONNREFUSED 127.0.0.1:6443' }), 'Kubernetes did not answer creating pod berth-ws-1 in namespace team on https://k8s:6443: connect ECONNREFUSED 127.0.0.1:6443');
});
