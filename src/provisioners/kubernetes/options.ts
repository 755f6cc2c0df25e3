/** Options of a `kubernetes` provisioner instance: schema, defaults and the checks that need no cluster. */
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { InputError } from '../../core/errors.ts';
import { assertServerUrl } from '../../core/urls.ts';

const IMAGE = '^[A-Za-z0-9][A-Za-z0-9._/:@-]*$';
/** A Kubernetes resource quantity (`10Gi`, `500m`, `1.5`). */
const QUANTITY = '^[0-9]+(\\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$';
const DNS_LABEL = '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$';

/** What `berth provisioner add NAME --type kubernetes …` stores (encrypted) for the instance. */
export const KubernetesOptionsSchema = Type.Object(
  {
    kubeconfig: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'Path of a kubeconfig file (default: in-cluster config in a pod, else $KUBECONFIG or ~/.kube/config)' })),
    context: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'Context of the kubeconfig to use (default: its current context)' })),
    inCluster: Type.Optional(Type.Boolean({ description: "Use the pod's service account (the control plane runs in the cluster)" })),
    namespace: Type.Optional(Type.String({ pattern: DNS_LABEL, description: "Namespace of workspace pods, claims and secrets (default: the pod's own in-cluster, else default)" })),
    storageClass: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: "StorageClass of workspace claims (default: the cluster's default class)" })),
    pvcSize: Type.Optional(Type.String({ pattern: QUANTITY, description: 'Size each workspace claim requests, e.g. 10Gi (default 10Gi)' })),
    accessMode: Type.Optional(Type.Union([Type.Literal('ReadWriteOnce'), Type.Literal('ReadWriteOncePod'), Type.Literal('ReadWriteMany')], { description: 'Access mode of workspace claims (default ReadWriteOnce)' })),
    cpuRequest: Type.Optional(Type.String({ pattern: QUANTITY, description: 'CPU each workspace pod requests, e.g. 250m (default: none)' })),
    memoryRequest: Type.Optional(Type.String({ pattern: QUANTITY, description: 'Memory each workspace pod requests, e.g. 256Mi (default: none)' })),
    nodeSelector: Type.Optional(Type.String({ maxLength: 4096, description: 'Node labels pods must match: key=value,key=value' })),
    tolerations: Type.Optional(Type.String({ maxLength: 8192, description: 'Taints pods tolerate: key[=value]:Effect,… (Effect NoSchedule, PreferNoSchedule or NoExecute)' })),
    serviceAccount: Type.Optional(Type.String({ pattern: DNS_LABEL, description: 'Service account of workspace pods (its token is never mounted)' })),
    imagePullPolicy: Type.Optional(Type.Union([Type.Literal('IfNotPresent'), Type.Literal('Always'), Type.Literal('Never')], { description: 'Image pull policy (default IfNotPresent; Always for images with a registry login)' })),
    serverUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'BERTH_SERVER_URL as pods must use it to reach the control plane' })),
    defaultImage: Type.Optional(Type.String({ minLength: 1, maxLength: 512, pattern: IMAGE, description: 'Image for workspaces whose spec names none' })),
    initImage: Type.Optional(Type.String({ minLength: 1, maxLength: 512, pattern: IMAGE, description: "Image with sh and git for the init container that clones (default: the workspace's image)" })),
    defaultUser: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,9}(:[0-9]{1,10})?$', description: 'uid[:gid] of workspaces whose spec names no user; pods never run as root (default 1000)' })),
    labels: Type.Optional(Type.String({ maxLength: 4096, description: 'Extra labels on everything created: key=value,key=value' })),
    annotations: Type.Optional(Type.String({ maxLength: 8192, description: 'Extra annotations on everything created: key=value,key=value' })),
  },
  { additionalProperties: false },
);
/** Stored options. */
export type KubernetesOptions = Static<typeof KubernetesOptionsSchema>;

/** A toleration as the pod spec takes it. */
export interface Toleration {
  key: string;
  operator: 'Equal' | 'Exists';
  value?: string;
  effect: string;
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** Parses `key=value,key=value`; `values` says whether values must be valid label values. */
export function parsePairs(text: string | undefined, flag: string, values: 'label' | 'any'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (text ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const i = part.indexOf('=');
    const [k, v] = i < 0 ? [part, ''] : [part.slice(0, i), part.slice(i + 1)];
    if (i < 0 || !LABEL_KEY.test(k)) throw new InputError(`${flag} "${part}" must be key=value with a Kubernetes label key (letters, digits, - _ . and an optional prefix/).`);
    if (values === 'label' && !LABEL_VALUE.test(v)) throw new InputError(`${flag} value "${v}" is not a valid label value (up to 63 letters, digits, - _ .).`);
    out[k] = v;
  }
  return out;
}

/** Parses `key[=value]:Effect,…` into tolerations. */
export function parseTolerations(text: string | undefined): Toleration[] {
  const out: Toleration[] = [];
  for (const part of (text ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(part);
    if (!m || !LABEL_KEY.test(m[1]!)) throw new InputError(`--tolerations "${part}" must read key[=value]:Effect, with Effect NoSchedule, PreferNoSchedule or NoExecute.`);
    out.push(m[2] === undefined ? { key: m[1]!, operator: 'Exists', effect: m[3]! } : { key: m[1]!, operator: 'Equal', value: m[2], effect: m[3]! });
  }
  return out;
}

/** Checks of options that the schema cannot express (the registry has validated them against the schema first). */
export function checkKubernetesOptions(o: KubernetesOptions): void {
  if (o.inCluster && (o.kubeconfig || o.context)) throw new InputError('--in-cluster uses the pod\'s service account; leave out --kubeconfig and --context.');
  if (o.kubeconfig && !path.isAbsolute(o.kubeconfig)) throw new InputError('--kubeconfig must be an absolute file path.');
  parsePairs(o.nodeSelector, '--node-selector', 'label');
  parsePairs(o.labels, '--labels', 'label');
  parsePairs(o.annotations, '--annotations', 'any');
  parseTolerations(o.tolerations);
  if (o.serverUrl) assertServerUrl(o.serverUrl, '--server-url');
}
