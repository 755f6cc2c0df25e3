/**
 * The run-as user of a workspace pod. Pods never run as root, and Kubernetes takes only numeric
 * ids, so a user name (or the uid's home and shell) is read from the image's /etc/passwd by a
 * short-lived probe pod, hardened like every other, and cached per image and user.
 */
import crypto from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import { ProvisionerError } from '../../core/errors.ts';
import { resolveUser, type ContainerUser } from '../image-users.ts';
import type { KubeClient } from './client.ts';
import { labelsOf, type PodSettings } from './objects.ts';
import { podState } from './status.ts';

const SPLIT = '::berth-group::';
const PROBE_MS = 120_000;

/** `uid:gid:home:shell` as the pod's annotation keeps it, so exec needs no probe after a restart. */
export function encodeUser(u: ContainerUser): string {
  return [u.uid, u.gid, u.home, u.shell ?? '', u.name ?? ''].join(':');
}

/** The user from a pod's annotation, if it has one. */
export function decodeUser(text: string | undefined): ContainerUser | undefined {
  const f = text?.split(':');
  if (!f || f.length < 5) return undefined;
  return { spec: f[0]!, uid: Number(f[0]), gid: Number(f[1]), home: f[2] || '/', ...(f[3] ? { shell: f[3] } : {}), ...(f[4] ? { name: f[4] } : {}) };
}

/** Resolves users against images through probe pods. */
export class UserResolver {
  private readonly cache = new Map<string, ContainerUser>();

  constructor(
    private readonly kube: KubeClient,
    private readonly settings: PodSettings,
  ) {}

  /** The user `userSpec` names in `image` (pulled with `pullSecret` when given); refuses root. `say` hears what holds the probe pod up. */
  async resolve(image: string, userSpec: string, pullSecret: string | undefined, pullPolicy: string, signal: AbortSignal, say: (message: string) => void = () => undefined): Promise<ContainerUser> {
    const key = `${image}\0${userSpec}`;
    let u = this.cache.get(key);
    if (!u) {
      const [passwd, group] = await this.readImageFiles(image, pullSecret, pullPolicy, signal, say);
      u = resolveUser(userSpec, passwd, group, image);
      this.cache.set(key, u);
    }
    if (u.uid === 0) {
      throw new ProvisionerError(`Workspace pods never run as root, and spec.user "${userSpec}" is root in ${image}; name another user (spec.user).`, { retryable: false, code: 'invalid_spec' });
    }
    return u;
  }

  private async readImageFiles(image: string, pullSecret: string | undefined, pullPolicy: string, signal: AbortSignal, say: (message: string) => void): Promise<[string, string]> {
    const name = `berth-probe-${crypto.randomBytes(5).toString('hex')}`;
    const pod: V1Pod = {
      metadata: { name, labels: labelsOf(this.settings, undefined), annotations: this.settings.annotations },
      spec: {
        restartPolicy: 'Never',
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        terminationGracePeriodSeconds: 0,
        ...(pullSecret ? { imagePullSecrets: [{ name: pullSecret }] } : {}),
        ...(Object.keys(this.settings.nodeSelector).length ? { nodeSelector: this.settings.nodeSelector } : {}),
        ...(this.settings.tolerations.length ? { tolerations: this.settings.tolerations } : {}),
        securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'probe',
            image,
            imagePullPolicy: pullPolicy,
            command: ['/bin/sh', '-c', `cat /etc/passwd; echo '${SPLIT}'; cat /etc/group`],
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            resources: { limits: { cpu: '100m', memory: '32Mi' } },
          },
        ],
      },
    };
    pod.metadata!.labels![`berth.kind`] = 'probe';
    await this.kube.create(`probe pod ${name}`, () => this.kube.core.createNamespacedPod({ namespace: this.kube.namespace, body: pod }));
    let said: string | undefined;
    try {
      const end = await this.kube.watchPod(
        name,
        (p) => {
          if (!p) return { error: 'the probe pod vanished' };
          if (p.status?.phase === 'Succeeded') return { ok: true as const };
          if (p.status?.phase === 'Failed') return { error: `the probe of ${image} failed (no /bin/sh or cat in the image?)` };
          const s = podState(p, null);
          if (s.message && s.message !== said) say((said = s.message));
          return s.stuck ? { error: s.message ?? 'the probe pod cannot start' } : undefined;
        },
        signal,
        PROBE_MS,
        `read the users of ${image}`,
      );
      if ('error' in end) {
        // A pull failure already names the image; other troubles say what was being done.
        const pull = /cannot be pulled/.test(end.error ?? '');
        const text = pull ? `${end.error!.charAt(0).toUpperCase()}${end.error!.slice(1)}.` : `Cannot read the users of image ${image}: ${end.error}.`;
        throw new ProvisionerError(text, { retryable: !pull, code: 'image_pull_failed' });
      }
      const log = await this.kube.core.readNamespacedPodLog({ name, namespace: this.kube.namespace, container: 'probe' }).catch((err: unknown) => {
        throw this.kube.fail(`reading the log of probe pod ${name}`, err);
      });
      const [passwd = '', group = ''] = String(log).split(SPLIT);
      return [passwd, group];
    } finally {
      await this.kube.remove(`probe pod ${name}`, () => this.kube.core.deleteNamespacedPod({ name, namespace: this.kube.namespace, gracePeriodSeconds: 0 })).catch(() => undefined);
    }
  }
}
