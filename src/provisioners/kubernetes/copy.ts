/**
 * A fork's claim on Kubernetes: a new PersistentVolumeClaim filled by a short-lived copy pod that
 * mounts the source's claim read-only and the new one, and copies with `cp -a` as the workspace's
 * own (never root) user, hardened like every Berth pod. The pod is held to the source pod's node,
 * so a ReadWriteOnce claim in use there can be mounted twice. The source keeps running; its files
 * are copied as they are then.
 */
import crypto from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import { ProvisionerError } from '../../core/errors.ts';
import { seriousCopyErrors } from '../copy-tree.ts';
import type { ContainerUser } from '../image-users.ts';
import type { OpOptions } from '../provisioner.ts';
import type { KubeClient } from './client.ts';
import { LABELS, labelsOf, type PodSettings } from './objects.ts';
import { podState } from './status.ts';

const COPY_MS = 60 * 60_000;

/**
 * Empties the target (a copy cut short before), then copies each top-level entry, so that the
 * claim's root itself (owned by the volume, not the user) is never changed.
 */
const COPY_SCRIPT = [
  'rm -rf /to/* /to/.[!.]* /to/..?*',
  'cd /from || exit 1',
  's=0',
  'for f in * .[!.]* ..?*; do { [ -e "$f" ] || [ -L "$f" ]; } || continue; cp -a "$f" /to/ || s=1; done',
  'exit $s',
].join('\n');

/** What a copy pod needs: the claims, the image and user of the source, and where the source runs. */
export interface ClaimCopy {
  from: string;
  to: string;
  image: string;
  pullPolicy: string;
  user: ContainerUser;
  /** The node of the source's pod, when it runs: the copy pod runs there too. */
  node?: string;
  pullSecret?: string;
}

/** The copy pod's manifest. */
export function copyPodFor(s: PodSettings, name: string, c: ClaimCopy): V1Pod {
  return {
    metadata: { name, labels: { ...labelsOf(s, undefined), [LABELS.kind]: 'copy' }, annotations: s.annotations },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 0,
      // Through the scheduler (not nodeName), so a new claim waiting for its first consumer is bound.
      ...(c.node
        ? { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [c.node] }] }] } } } }
        : Object.keys(s.nodeSelector).length
          ? { nodeSelector: s.nodeSelector }
          : {}),
      ...(s.tolerations.length ? { tolerations: s.tolerations } : {}),
      ...(c.pullSecret ? { imagePullSecrets: [{ name: c.pullSecret }] } : {}),
      securityContext: {
        runAsNonRoot: true,
        runAsUser: c.user.uid,
        runAsGroup: c.user.gid,
        fsGroup: c.user.gid,
        fsGroupChangePolicy: 'OnRootMismatch',
        seccompProfile: { type: 'RuntimeDefault' },
      },
      volumes: [
        { name: 'from', persistentVolumeClaim: { claimName: c.from, readOnly: true } },
        { name: 'to', persistentVolumeClaim: { claimName: c.to } },
      ],
      containers: [
        {
          name: 'copy',
          image: c.image,
          imagePullPolicy: c.pullPolicy,
          command: ['/bin/sh', '-c', COPY_SCRIPT],
          volumeMounts: [
            { name: 'from', mountPath: '/from', readOnly: true },
            { name: 'to', mountPath: '/to' },
          ],
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          resources: { limits: { cpu: '500m', memory: '256Mi' } },
        },
      ],
    },
  };
}

/** Runs a copy pod to its end and removes it; throws with a sentence when the copy failed. */
export async function copyClaim(kube: KubeClient, s: PodSettings, c: ClaimCopy, opts: OpOptions): Promise<void> {
  const name = `berth-copy-${crypto.randomBytes(5).toString('hex')}`;
  await kube.create(`copy pod ${name}`, () => kube.core.createNamespacedPod({ namespace: kube.namespace, body: copyPodFor(s, name, c) }));
  let said: string | undefined;
  try {
    const end = await kube.watchPod(
      name,
      (p) => {
        if (!p) return { error: 'the copy pod vanished' };
        if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') return { done: p.status.phase };
        const st = podState(p, null);
        if (st.message && st.message !== said) opts.progress(`Waiting for the copy pod: ${(said = st.message)}.`, 'info');
        return st.stuck ? { error: st.message ?? 'the copy pod cannot start' } : undefined;
      },
      opts.signal,
      COPY_MS,
      `copy claim ${c.from} into ${c.to}`,
    );
    if ('error' in end) throw new ProvisionerError(`Copying the files of claim ${c.from} failed: ${end.error}.`);
    if (end.done === 'Succeeded') return;
    const log = await kube.core.readNamespacedPodLog({ name, namespace: kube.namespace, container: 'copy' }).catch(() => '');
    const lines = String(log).split('\n').map((l) => l.trim()).filter(Boolean);
    const serious = seriousCopyErrors(lines);
    if (serious.length > 0 || lines.length === 0) throw new ProvisionerError(`Copying the files of claim ${c.from} in a pod from ${c.image} failed: ${serious[0] ?? 'no message'}`);
    opts.progress(`${lines.length} file(s) vanished from the source while they were copied and are not in the copy.`, 'info');
  } finally {
    await kube.remove(`copy pod ${name}`, () => kube.core.deleteNamespacedPod({ name, namespace: kube.namespace, gracePeriodSeconds: 0 })).catch(() => undefined);
  }
}
