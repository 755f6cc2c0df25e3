/**
 * The Kubernetes objects of one workspace, built from its context without I/O: names, labels, the
 * PersistentVolumeClaim, the Secrets (environment, config files, image pulls) and the pod with its
 * checkout script. Secret values go only into Secrets; labels and annotations carry names and ids.
 */
import type { V1PersistentVolumeClaim, V1Pod, V1Secret, V1SecurityContext } from '@kubernetes/client-node';
import { ProvisionerError } from '../../core/errors.ts';
import type { Spec } from '../../core/spec.ts';
import { checkoutConfigScript, shellQuote } from '../git-setup.ts';
import type { WorkspaceContext } from '../provisioner.ts';
import { trustEnv, trustScripts } from '../trust.ts';
import type { ContainerUser } from '../image-users.ts';
import { RUN_DIR } from './exec.ts';
import type { Toleration } from './options.ts';

/** Label keys on everything Berth creates in the cluster. No secrets ever go into labels. */
export const LABELS = {
  installation: 'berth.installation',
  provisioner: 'berth.provisioner',
  workspace: 'berth.workspace',
  kind: 'berth.kind',
} as const;

/** Where config files are mounted (read-only) in the workspace container, before being copied into place. */
export const FILES_DIR = '/run/berth-files';
/** The workspace container's name in its pod. */
export const MAIN = 'workspace';
/** The init container's name (with an init image). */
export const INIT = 'checkout';
/** The checkout script says this when it waits for the control plane to send a bundle. */
export const BUNDLE_WAIT = 'berth: waiting for the checkout bundle';
/** Written into `.berth/` once the checkout is complete. */
export const CHECKOUT_MARKER = 'checkout-complete';

const ID_RE = /^ws_[a-z0-9]+$/;

/** The object names of a workspace: `berth-ws-<id>` for claim and pod, with suffixes for its Secrets. */
export function names(id: string): { pvc: string; pod: string; env: string; files: string; pull: string } {
  if (!ID_RE.test(id)) throw new ProvisionerError(`Invalid workspace id "${id}".`, { retryable: false });
  const base = `berth-${id.replace('_', '-')}`;
  return { pvc: base, pod: base, env: `${base}-env`, files: `${base}-files`, pull: `${base}-pull` };
}

/** What the provisioner's options decide about every workspace. */
export interface PodSettings {
  installation: string;
  provisioner: string;
  storageClass?: string;
  pvcSize: string;
  accessMode: string;
  cpuRequest?: string;
  memoryRequest?: string;
  nodeSelector: Record<string, string>;
  tolerations: Toleration[];
  serviceAccount?: string;
  imagePullPolicy: string;
  initImage?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Labels of this provisioner's objects, narrowed to one workspace and kind when given. */
export function labelsOf(s: PodSettings, id?: string, kind = 'workspace'): Record<string, string> {
  return {
    ...s.labels,
    'app.kubernetes.io/managed-by': 'berth',
    [LABELS.installation]: s.installation,
    [LABELS.provisioner]: s.provisioner,
    ...(id ? { [LABELS.workspace]: id, [LABELS.kind]: kind } : {}),
  };
}

function metadata(s: PodSettings, name: string, ws: WorkspaceContext, extra: Record<string, string> = {}) {
  return {
    name,
    labels: labelsOf(s, ws.id),
    annotations: { ...s.annotations, 'berth.workspace-name': ws.name, 'berth.owner': ws.owner.name, 'berth.project': ws.project.name, ...extra },
  };
}

/** The workspace's claim; `spec.resources.disk` sets its size. */
export function pvcFor(s: PodSettings, ws: WorkspaceContext): V1PersistentVolumeClaim {
  const disk = ws.spec.resources.disk;
  return {
    metadata: metadata(s, names(ws.id).pvc, ws),
    spec: {
      accessModes: [s.accessMode],
      ...(s.storageClass ? { storageClassName: s.storageClass } : {}),
      resources: { requests: { storage: disk !== undefined ? String(disk) : s.pvcSize } },
    },
  };
}

/** The Secret of the workspace's secret environment: the workspace token and the spec's secret values. */
export function envSecretFor(s: PodSettings, ws: WorkspaceContext): V1Secret {
  const secretNames = new Set(['BERTH_WORKSPACE_TOKEN', ...ws.spec.env.filter((e) => e.secret).map((e) => e.name)]);
  const data = Object.fromEntries(Object.entries(ws.env).filter(([k]) => secretNames.has(k)).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  return { metadata: metadata(s, names(ws.id).env, ws), type: 'Opaque', data };
}

/** The Secret holding the spec's config files (`f0`, `f1`, …), mounted read-only in the workspace container. */
export function filesSecretFor(s: PodSettings, ws: WorkspaceContext): V1Secret {
  const data = Object.fromEntries(ws.spec.files.map((f, i) => [`f${i}`, Buffer.from(f.content).toString('base64')]));
  return { metadata: metadata(s, names(ws.id).files, ws), type: 'Opaque', data };
}

/** The registry host of an image reference (`docker.io` when it names none). */
export function registryOf(image: string): string {
  const first = image.split('/')[0]!;
  return image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
}

/** The image pull Secret from the spec's registry logins, or undefined without logins. */
export function pullSecretFor(s: PodSettings, ws: WorkspaceContext): V1Secret | undefined {
  if (!ws.spec.registryLogins.length) return undefined;
  const auths = Object.fromEntries(
    ws.spec.registryLogins.map((l) => [l.registry, { username: l.username, password: l.password, auth: Buffer.from(`${l.username}:${l.password}`).toString('base64') }]),
  );
  return {
    metadata: metadata(s, names(ws.id).pull, ws),
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths })).toString('base64') },
  };
}

/** Hardening every Berth container gets: PodSecurity `restricted`. */
const RESTRICTED: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  runAsNonRoot: true,
  seccompProfile: { type: 'RuntimeDefault' },
};

/** PID 1 of the workspace container: sleeps until told to stop (plain POSIX sh). */
export const KEEPALIVE = "trap 'exit 0' TERM INT HUP; while :; do sleep 86400 & wait $!; done";

/** Where the checkout gets the repository from. */
export type CloneSource = { kind: 'url'; url: string } | { kind: 'bundle' };

/** What the checkout script says when the image has no git. */
export const NO_GIT = 'The workspace image has no git, which the checkout needs; use an image with git installed, or give the provisioner an --init-image that has it.';

/**
 * The checkout script (init container or exec): keeps a complete checkout; moves an incomplete one aside; clones
 * into a scratch directory (from the URL, or from a bundle the control plane sends meanwhile),
 * moves it into place, points `origin` at the gateway with the credential helper, writes the marker.
 */
export function initScript(ws: WorkspaceContext, source: CloneSource, originUrl: string, gitEnv: Record<string, string> | undefined): string {
  const branch = ws.ref ? `--branch ${shellQuote(ws.ref)} ` : '';
  const from =
    source.kind === 'bundle'
      ? [
          'rm -f "$B/checkout.bundle" "$B/checkout.bundle.part"',
          `echo ${shellQuote(BUNDLE_WAIT)}`,
          'while [ ! -f "$B/checkout.bundle" ]; do sleep 0.2; done',
          `git clone --progress ${branch}"$B/checkout.bundle" "$B/clone.tmp"`,
          'rm -f "$B/checkout.bundle"',
        ]
      : [`git clone --progress ${branch}"$BERTH_CLONE_URL" "$B/clone.tmp"`];
  return [
    'set -e',
    // Said in one sentence rather than as `git: not found` after the bundle was sent.
    `command -v git >/dev/null 2>&1 || { echo ${shellQuote(NO_GIT)} >&2; exit 127; }`,
    `M=${shellQuote(ws.spec.mountPath)}; B="$M/.berth"`,
    'mkdir -p "$B"',
    `if [ -f "$B/${CHECKOUT_MARKER}" ] && [ -d "$M/work/.git" ]; then echo 'Repository already present in work/, keeping it.'; exit 0; fi`,
    'if [ -e "$M/work" ]; then a="$B/incomplete-checkout-$(date +%s)"; mv "$M/work" "$a"; echo "Moved an incomplete checkout aside to $a."; fi',
    'rm -rf "$B/clone.tmp"',
    `echo ${shellQuote(`Cloning ${ws.project.name}${ws.ref ? ` (${ws.ref})` : ''} into work/`)}`,
    ...from,
    `git -C "$B/clone.tmp" remote set-url origin ${shellQuote(originUrl)}`,
    checkoutConfigScript('$B/clone.tmp', gitEnv).replace(/^set -e\n?/, '').split("'$B/clone.tmp'").join('"$B/clone.tmp"'),
    'mv "$B/clone.tmp" "$M/work"',
    `date > "$B/${CHECKOUT_MARKER}"`,
  ]
    .filter(Boolean)
    .join('\n');
}

/** The checkout script's environment (the workspace token comes from the Secret, never from here). */
export function checkoutEnv(source: CloneSource, gitEnv: Record<string, string> | undefined): Record<string, string> {
  return { HOME: RUN_DIR, GIT_TERMINAL_PROMPT: '0', ...(source.kind === 'url' ? { BERTH_CLONE_URL: source.url, ...gitEnv } : {}) };
}

/** Container limits from the spec, requests from the options (never above the limits). */
function resourcesOf(s: PodSettings, spec: Spec) {
  const limits: Record<string, string> = {};
  if (spec.resources.cpus !== undefined) limits.cpu = `${Math.round(spec.resources.cpus * 1000)}m`;
  if (spec.resources.memory !== undefined) limits.memory = String(spec.resources.memory);
  const requests: Record<string, string> = {};
  if (s.cpuRequest) requests.cpu = s.cpuRequest;
  if (s.memoryRequest) requests.memory = s.memoryRequest;
  // A request above its limit is refused by the apiserver; with a limit, Kubernetes requests exactly the limit.
  for (const k of Object.keys(limits)) delete requests[k];
  return { ...(Object.keys(limits).length ? { limits } : {}), ...(Object.keys(requests).length ? { requests } : {}) };
}

/** What the pod needs beyond the context. */
export interface PodInput {
  image: string;
  user: ContainerUser;
  /** BERTH_SERVER_URL as pods reach it. */
  serverUrl: string | undefined;
  source: CloneSource;
  originUrl: string;
  /** GIT_CONFIG_* of the gateway's credential helper, for the origin pods use. */
  gitEnv: Record<string, string> | undefined;
  pullPolicy: string;
}

/**
 * The workspace pod on the claim, hardened to `restricted`: the workspace container, and with an
 * init image an init container that runs the checkout. Without one the checkout runs by exec in the
 * workspace container once it is ready, as a person would: an init container costs the pod a
 * container start and a kubelet relist (up to a second) on every start, the checkout being kept or not.
 */
export function podFor(s: PodSettings, ws: WorkspaceContext, i: PodInput): V1Pod {
  const n = names(ws.id);
  const spec = ws.spec;
  const mp = spec.mountPath;
  const secretEnv = new Set(['BERTH_WORKSPACE_TOKEN', ...spec.env.filter((e) => e.secret).map((e) => e.name)]);
  const plainEnv: Record<string, string> = {
    ...Object.fromEntries(Object.entries(ws.env).filter(([k]) => !secretEnv.has(k))),
    ...(i.serverUrl ? { BERTH_SERVER_URL: i.serverUrl } : {}),
    BERTH_WORKDIR: `${mp}/work`,
    HOME: i.user.home,
  };
  const env = Object.entries(plainEnv).map(([name, value]) => ({ name, value }));
  const resources = resourcesOf(s, spec);
  const mounts = [
    { name: 'workspace', mountPath: mp },
    { name: 'run', mountPath: RUN_DIR },
  ];
  const token = { name: 'BERTH_WORKSPACE_TOKEN', valueFrom: { secretKeyRef: { name: n.env, key: 'BERTH_WORKSPACE_TOKEN', optional: true } } };
  return {
    metadata: metadata(s, n.pod, ws, { 'berth.image': i.image }),
    spec: {
      restartPolicy: 'Always',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 10,
      ...(s.serviceAccount ? { serviceAccountName: s.serviceAccount } : {}),
      ...(Object.keys(s.nodeSelector).length ? { nodeSelector: s.nodeSelector } : {}),
      ...(s.tolerations.length ? { tolerations: s.tolerations } : {}),
      ...(spec.registryLogins.length ? { imagePullSecrets: [{ name: n.pull }] } : {}),
      securityContext: {
        runAsNonRoot: true,
        runAsUser: i.user.uid,
        runAsGroup: i.user.gid,
        fsGroup: i.user.gid,
        fsGroupChangePolicy: 'OnRootMismatch',
        seccompProfile: { type: 'RuntimeDefault' },
      },
      volumes: [
        { name: 'workspace', persistentVolumeClaim: { claimName: n.pvc } },
        { name: 'run', emptyDir: { sizeLimit: '16Mi' } },
        ...(spec.files.length ? [{ name: 'files', secret: { secretName: n.files, defaultMode: 0o440 } }] : []),
      ],
      ...(s.initImage ? { initContainers: [
        {
          name: INIT,
          image: s.initImage ?? i.image,
          // A separate init image is not the one the registry login is for.
          imagePullPolicy: s.initImage ? s.imagePullPolicy : i.pullPolicy,
          // A team's CA first: the clone from the gateway may be over https (a CA certificate is no secret).
          command: ['/bin/sh', '-c', `${ws.caBundle ? trustScripts(ws.caBundle, mp).user : ''}${initScript(ws, i.source, i.originUrl, i.gitEnv)}`],
          env: [
            ...Object.entries(checkoutEnv(i.source, i.gitEnv)).map(([name, value]) => ({ name, value })),
            ...(i.source.kind === 'url' ? [token] : []),
            ...(ws.caBundle ? [{ name: 'GIT_SSL_CAINFO', value: trustEnv(mp).GIT_SSL_CAINFO }] : []),
          ],
          volumeMounts: mounts,
          securityContext: RESTRICTED,
          resources,
        },
      ] } : {}),
      containers: [
        {
          name: MAIN,
          image: i.image,
          imagePullPolicy: i.pullPolicy,
          command: ['/bin/sh', '-c', KEEPALIVE],
          workingDir: mp,
          env,
          envFrom: [{ secretRef: { name: n.env } }],
          volumeMounts: [...mounts, ...(spec.files.length ? [{ name: 'files', mountPath: FILES_DIR, readOnly: true }] : [])],
          securityContext: RESTRICTED,
          ...(spec.ports.length ? { ports: spec.ports.map((p) => ({ containerPort: p.port, protocol: p.protocol.toUpperCase(), ...(p.name ? { name: p.name.slice(0, 15) } : {}) })) } : {}),
          resources,
        },
      ],
    },
  };
}

/** The script that copies config files from the Secret mount into place (run once the workspace container is up). */
export function filesScript(ws: WorkspaceContext, home: string): string {
  const lines = ['set -e'];
  ws.spec.files.forEach((f, i) => {
    const target = f.path === '~' ? home : f.path.startsWith('~/') ? `${home.replace(/\/+$/, '')}/${f.path.slice(2)}` : f.path;
    const q = shellQuote(target);
    // A secret file is created private: never readable by others, not even until the chmod.
    const write = `cat ${FILES_DIR}/f${i} > ${q}`;
    lines.push(`mkdir -p "$(dirname ${q})"`, f.secret ? `(umask 077; ${write})` : write, `chmod ${f.mode.toString(8)} ${q}`);
  });
  return lines.join('\n');
}
