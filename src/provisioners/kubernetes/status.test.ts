import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1ContainerStatus, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { claimSentence, podState, pullFault, pullSentence } from './status.ts';

const OLD = new Date(Date.now() - 10 * 60_000);
const IMAGE = '127.0.0.1:5000/berth/dev:1';

/** A workspace pod as the apiserver returns it, with the given status and a 256Mi limit. */
function pod(status: V1Pod['status'], created = OLD): V1Pod {
  return {
    metadata: { name: 'berth-ws-1', creationTimestamp: created },
    spec: { containers: [{ name: 'workspace', image: IMAGE, resources: { limits: { memory: '256Mi' } } }] },
    status,
  };
}

function container(c: Partial<V1ContainerStatus>, name = 'workspace'): V1ContainerStatus {
  return { name, image: IMAGE, imageID: '', ready: false, restartCount: 0, ...c };
}

function claim(phase: string, storageClassName = 'fast'): V1PersistentVolumeClaim {
  return { metadata: { name: 'berth-ws-1' }, spec: { storageClassName }, status: { phase } };
}

const unschedulable = { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient memory.' };

test('a running, ready pod is running without a message', () => {
  assert.deepEqual(podState(pod({ phase: 'Running', containerStatuses: [container({ ready: true, state: { running: {} } })] }), null), { state: 'running', stuck: false });
});

test('an unschedulable pod gives the scheduler\'s reason', () => {
  const s = podState(pod({ phase: 'Pending', conditions: [unschedulable] }), claim('Bound'));
  assert.deepEqual(s, { state: 'starting', stuck: false, message: 'the pod cannot be scheduled: 0/1 nodes are available: 1 Insufficient memory.' });
});

test('a pending claim names its storage class and the controller\'s event; an unknown class is final', () => {
  const p = pod({ phase: 'Pending', conditions: [{ ...unschedulable, message: 'pod has unbound immediate PersistentVolumeClaims' }] });
  assert.deepEqual(podState(p, claim('Pending')), { state: 'starting', stuck: false, message: 'the volume claim berth-ws-1 is pending (storage class fast)' });
  const slow = { reason: 'ProvisioningFailed', message: 'waiting for a volume to be created' };
  assert.equal(podState(p, claim('Pending'), slow).message, 'the volume claim berth-ws-1 is pending (storage class fast): ProvisioningFailed: waiting for a volume to be created');
  const missing = { reason: 'ProvisioningFailed', message: 'storageclass.storage.k8s.io "fast" not found' };
  const s = podState(p, claim('Pending'), missing);
  assert.equal(s.state, 'failed');
  assert.equal(s.stuck, true);
  assert.match(s.message!, /^the storage class fast does not exist in the cluster, so the volume claim berth-ws-1 stays pending/);
  assert.match(claimSentence({ metadata: { name: 'c' }, spec: {}, status: { phase: 'Pending' } }).message, /storage class the cluster's default/);
});

test('an image that is not found is final at once and named', () => {
  const message = `failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": ${IMAGE}: not found`;
  const s = podState(pod({ phase: 'Pending', containerStatuses: [container({ state: { waiting: { reason: 'ErrImagePull', message } } })] }, new Date()), null);
  assert.deepEqual(s, { state: 'failed', stuck: true, message: `the image ${IMAGE} cannot be pulled: not found in its registry (check spec.image)` });
});

test('refused credentials are final only once the pod is past the pull-secret grace period', () => {
  const message = `failed to resolve reference "${IMAGE}": unexpected status from HEAD request: 401 Unauthorized`;
  const status = { phase: 'Pending', containerStatuses: [container({ state: { waiting: { reason: 'ImagePullBackOff', message } } })] };
  const young = podState(pod(status, new Date()), null);
  assert.equal(young.stuck, false);
  assert.match(young.message!, /registry refused the credentials/);
  assert.equal(podState(pod(status), null).stuck, true);
});

test('pull messages are classified as auth, missing or other', () => {
  assert.equal(pullFault('pull access denied, repository does not exist or may require authorization'), 'auth');
  assert.equal(pullFault('manifest unknown: manifest unknown'), 'missing');
  assert.equal(pullFault('dial tcp: connection refused'), 'other');
  assert.equal(pullSentence('x', ''), 'the image x cannot be pulled: no reason given');
});

test('an OOM kill names the memory limit; a crash loop its restarts and last exit code', () => {
  const oom = podState(
    pod({ phase: 'Running', containerStatuses: [container({ ready: true, restartCount: 1, state: { running: {} }, lastState: { terminated: { reason: 'OOMKilled', exitCode: 137 } } })] }),
    null,
  );
  assert.deepEqual(oom, { state: 'running', stuck: false, message: 'the workspace container was restarted after running out of memory (limit 256Mi)' });
  const killed = podState(pod({ phase: 'Running', containerStatuses: [container({ state: { terminated: { reason: 'OOMKilled', exitCode: 137 } } })] }), null);
  assert.equal(killed.message, 'the workspace container was killed because it ran out of memory (limit 256Mi)');
  const loop = podState(
    pod({ phase: 'Running', containerStatuses: [container({ restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { reason: 'Error', exitCode: 3 } } })] }),
    null,
  );
  assert.deepEqual(loop, { state: 'starting', stuck: false, message: 'the workspace container keeps crashing (restarted 4 times; last exit code 3)' });
  const initLoop = podState(pod({ phase: 'Pending', initContainerStatuses: [container({ restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 128 } } }, 'checkout')] }), null);
  assert.equal(initLoop.state, 'failed', 'a checkout that keeps failing will not heal by waiting');
});

test('an evicted pod is failed with the node\'s reason, so the reconciler recreates it', () => {
  const s = podState(pod({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: ephemeral-storage.' }), null);
  assert.deepEqual(s, { state: 'failed', stuck: true, message: 'the node evicted the pod: The node was low on resource: ephemeral-storage.' });
});

test('a pod being deleted is not running', () => {
  assert.equal(podState({ ...pod({ phase: 'Running' }), metadata: { name: 'x', deletionTimestamp: new Date() } }, null).message, 'the pod is being deleted');
});

test("a Secret the kubelet could not read yet is retried while the pod is young, and final after", () => {
  const waiting = { reason: 'CreateContainerConfigError', message: 'failed to sync secret cache: timed out waiting for the condition' };
  const status = { phase: 'Pending', containerStatuses: [container({ state: { waiting } })] };
  assert.deepEqual(podState(pod(status, new Date()), null), { state: 'starting', stuck: false, message: `the workspace container cannot start: ${waiting.message}` });
  assert.equal(podState(pod(status), null).state, 'failed');
  const missing = { phase: 'Pending', containerStatuses: [container({ state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "x" not found' } } })] };
  assert.equal(podState(pod(missing, new Date()), null).state, 'failed', 'a missing Secret is final at once');
});
