/**
 * Smoke test of the single-node Kubernetes made by testenv/berth-testenv: a PVC from the default
 * (hostPath) StorageClass survives its pod being deleted and recreated, exec works through the
 * apiserver (WebSocket), and a pod pulls the private image from the authenticated registry with
 * the namespace's imagePullSecret (and cannot without it).
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException, CoreV1Api, Exec, KubeConfig, StorageV1Api, type V1Pod, type V1Status } from '@kubernetes/client-node';
import { loadK8sTestEnv, type K8sTestEnv } from './env.ts';

let env: K8sTestEnv;
let kc: KubeConfig;
let core: CoreV1Api;
let ns: string;
const suffix = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const createdPods = new Set<string>();
const createdPvcs = new Set<string>();

before(() => {
  env = loadK8sTestEnv();
  kc = new KubeConfig();
  kc.loadFromFile(env.KUBECONFIG);
  core = kc.makeApiClient(CoreV1Api);
  ns = env.BERTH_TEST_K8S_NAMESPACE;
});

after(async () => {
  for (const name of createdPods) await deletePod(name, 0).catch(() => undefined);
  for (const name of createdPvcs) {
    await core.deleteNamespacedPersistentVolumeClaim({ name, namespace: ns }).catch(() => undefined);
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function isNotFound(e: unknown): boolean {
  return e instanceof ApiException && e.code === 404;
}

/** A pod that passes the "restricted" Pod Security Standard, running as the image's `dev` user. */
function podSpec(name: string, image: string, opts: { pvc?: string; pullSecret?: string; pullPolicy?: string } = {}): V1Pod {
  return {
    metadata: { name, labels: { 'app.kubernetes.io/name': 'berth-testenv-smoke' } },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 2,
      automountServiceAccountToken: false,
      imagePullSecrets: opts.pullSecret ? [{ name: opts.pullSecret }] : undefined,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 1000,
        runAsGroup: 1000,
        fsGroup: 1000,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: 'main',
          image,
          imagePullPolicy: opts.pullPolicy ?? 'IfNotPresent',
          // sleep as PID 1 ignores SIGTERM; trap it so deletion is quick.
          command: ['/bin/sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'],
          securityContext: {
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
            runAsNonRoot: true,
          },
          volumeMounts: opts.pvc ? [{ name: 'work', mountPath: '/home/dev/work' }] : undefined,
        },
      ],
      volumes: opts.pvc ? [{ name: 'work', persistentVolumeClaim: { claimName: opts.pvc } }] : undefined,
    },
  };
}

async function createPod(pod: V1Pod): Promise<void> {
  createdPods.add(pod.metadata!.name!);
  await core.createNamespacedPod({ namespace: ns, body: pod });
}

async function podDiagnostics(name: string): Promise<string> {
  try {
    const pod = await core.readNamespacedPod({ name, namespace: ns });
    const events = await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${name}` });
    return JSON.stringify(
      {
        phase: pod.status?.phase,
        conditions: pod.status?.conditions,
        containerStatuses: pod.status?.containerStatuses,
        events: events.items.map((e) => `${e.reason}: ${e.message}`),
      },
      null,
      2,
    );
  } catch (e) {
    return `(no diagnostics: ${String(e)})`;
  }
}

/** Waits for the pod's container to be running; fails early on a terminal waiting reason. */
async function waitRunning(name: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const fatal = new Set(['ErrImageNeverPull', 'CreateContainerConfigError', 'CreateContainerError', 'InvalidImageName']);
  // A pull can fail once right after the pod is created: the node authorizer may not yet let the
  // kubelet read the pod's pull secret ("FailedToRetrieveImagePullSecret"), and the kubelet retries.
  // A pull error is final only when it lasts.
  const pullErrors = new Set(['ErrImagePull', 'ImagePullBackOff']);
  let pullFailingSince: number | undefined;
  while (Date.now() < deadline) {
    const pod = await core.readNamespacedPod({ name, namespace: ns });
    const cs = pod.status?.containerStatuses?.[0];
    if (pod.status?.phase === 'Running' && cs?.state?.running) return;
    const reason = cs?.state?.waiting?.reason;
    pullFailingSince = reason && pullErrors.has(reason) ? (pullFailingSince ?? Date.now()) : undefined;
    const pullFinal = pullFailingSince !== undefined && Date.now() - pullFailingSince > 45_000;
    if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded' || (reason && fatal.has(reason)) || pullFinal) {
      assert.fail(`pod ${ns}/${name} will not run:\n${await podDiagnostics(name)}`);
    }
    await sleep(500);
  }
  assert.fail(`pod ${ns}/${name} not running after ${timeoutMs} ms:\n${await podDiagnostics(name)}`);
}

/** Waits until the pod's container is waiting with one of the given reasons. */
async function waitWaitingReason(name: string, reasons: string[], timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const pod = await core.readNamespacedPod({ name, namespace: ns });
    const cs = pod.status?.containerStatuses?.[0];
    assert.ok(!cs?.state?.running, `pod ${ns}/${name} unexpectedly running`);
    const reason = cs?.state?.waiting?.reason;
    if (reason && reasons.includes(reason)) return `${reason}: ${cs?.state?.waiting?.message ?? ''}`;
    await sleep(500);
  }
  assert.fail(`pod ${ns}/${name} did not reach ${reasons.join('/')} within ${timeoutMs} ms:\n${await podDiagnostics(name)}`);
}

/** Deletes a pod and waits until it is gone. */
async function deletePod(name: string, gracePeriodSeconds = 2, timeoutMs = 60_000): Promise<void> {
  try {
    await core.deleteNamespacedPod({ name, namespace: ns, gracePeriodSeconds });
  } catch (e) {
    if (isNotFound(e)) return void createdPods.delete(name);
    throw e;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await core.readNamespacedPod({ name, namespace: ns });
    } catch (e) {
      if (isNotFound(e)) return void createdPods.delete(name);
      throw e;
    }
    await sleep(300);
  }
  assert.fail(`pod ${ns}/${name} still exists ${timeoutMs} ms after deletion`);
}

/** Runs a command in the pod through the apiserver's exec (WebSocket) endpoint. */
async function execIn(pod: string, command: string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string; status: V1Status | undefined }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        append(chunk.toString('utf8'));
        cb();
      },
    });
  return await new Promise((resolve, reject) => {
    let status: V1Status | undefined;
    const timer = setTimeout(() => reject(new Error(`exec ${command.join(' ')} in ${pod} timed out`)), timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      resolve({ stdout, stderr, status });
    };
    new Exec(kc)
      .exec(ns, pod, 'main', command, sink((s) => (stdout += s)), sink((s) => (stderr += s)), null, false, (s) => {
        status = s;
      })
      .then((ws) => {
        ws.on('close', () => setImmediate(finish));
        ws.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      })
      .catch((err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      });
  });
}

test('node is Ready and the StorageClass exists', async () => {
  const nodes = await core.listNode();
  assert.ok(nodes.items.length >= 1, 'no nodes');
  const ready = nodes.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  assert.ok(ready.length >= 1, `no Ready node: ${JSON.stringify(nodes.items.map((n) => n.status?.conditions))}`);
  const sc = await kc.makeApiClient(StorageV1Api).readStorageClass({ name: env.BERTH_TEST_K8S_STORAGE_CLASS });
  assert.equal(sc.provisioner, 'kubernetes.io/host-path');
  assert.equal(sc.metadata?.annotations?.['storageclass.kubernetes.io/is-default-class'], 'true');
  await core.readNamespacedSecret({ name: env.BERTH_TEST_K8S_PULL_SECRET, namespace: ns });
});

test('PVC data survives pod delete + recreate (exec write, exec read)', async () => {
  const pvc = `smoke-pvc-${suffix}`;
  const pod = `smoke-pvc-pod-${suffix}`;
  createdPvcs.add(pvc);
  await core.createNamespacedPersistentVolumeClaim({
    namespace: ns,
    body: {
      metadata: { name: pvc },
      spec: {
        accessModes: ['ReadWriteOnce'],
        storageClassName: env.BERTH_TEST_K8S_STORAGE_CLASS,
        resources: { requests: { storage: '64Mi' } },
      },
    },
  });

  await createPod(podSpec(pod, env.BERTH_TEST_IMAGE, { pvc }));
  await waitRunning(pod);

  const bound = await core.readNamespacedPersistentVolumeClaim({ name: pvc, namespace: ns });
  assert.equal(bound.status?.phase, 'Bound', `PVC ${pvc} not bound`);

  const token = `berth-${randomBytes(8).toString('hex')}`;
  const write = await execIn(pod, ['/bin/sh', '-c', `id -u && echo ${token} > /home/dev/work/smoke.txt && cat /home/dev/work/smoke.txt`]);
  assert.equal(write.status?.status, 'Success', `exec write failed: ${JSON.stringify(write.status)} stderr=${write.stderr}`);
  assert.equal(write.stdout, `1000\n${token}\n`);

  await deletePod(pod);
  await createPod(podSpec(pod, env.BERTH_TEST_IMAGE, { pvc }));
  await waitRunning(pod);

  const read = await execIn(pod, ['cat', '/home/dev/work/smoke.txt']);
  assert.equal(read.status?.status, 'Success', `exec read failed: ${JSON.stringify(read.status)} stderr=${read.stderr}`);
  assert.equal(read.stdout, `${token}\n`);

  const failing = await execIn(pod, ['/bin/sh', '-c', 'exit 3']);
  assert.equal(failing.status?.status, 'Failure', 'non-zero exit must be reported as Failure');

  await deletePod(pod);
  await core.deleteNamespacedPersistentVolumeClaim({ name: pvc, namespace: ns });
  createdPvcs.delete(pvc);
});

test('private image: pulled with the imagePullSecret, refused without it', async () => {
  const withSecret = `smoke-private-${suffix}`;
  const without = `smoke-private-nosecret-${suffix}`;
  // imagePullPolicy Always: the kubelet must go to the registry even if the image is cached.
  await createPod(podSpec(withSecret, env.BERTH_TEST_IMAGE_PRIVATE, { pullSecret: env.BERTH_TEST_K8S_PULL_SECRET, pullPolicy: 'Always' }));
  await createPod(podSpec(without, env.BERTH_TEST_IMAGE_PRIVATE, { pullPolicy: 'Always' }));

  await waitRunning(withSecret);
  const out = await execIn(withSecret, ['/bin/sh', '-c', 'git --version']);
  assert.equal(out.status?.status, 'Success', out.stderr);
  assert.match(out.stdout, /^git version /);

  const reason = await waitWaitingReason(without, ['ErrImagePull', 'ImagePullBackOff']);
  assert.match(reason, /unauthorized|authorization|401|denied/i, `pull without secret failed for another reason: ${reason}`);

  await deletePod(withSecret);
  await deletePod(without, 0);
});
