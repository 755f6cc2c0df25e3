/**
 * The provisioner conformance suite (conformance.ts) against the testenv's Kubernetes cluster:
 * the namespace, storage class and registry of `testenv/berth-testenv up`, checkouts from bundles
 * (the pods cannot see this host's files). Run twice: with the default checkout by exec in the
 * workspace container, and with an init container (`initImage`, for images without git, such as the
 * busybox one here). Objects are listed with kubectl by this run's installation label. Fails, never
 * skips, without the environment.
 */
import crypto from 'node:crypto';
import { describe } from 'node:test';
import { loadK8sTestEnv } from '../testenv/env.ts';
import { kubectl } from '../kubernetes/kubectl.ts';
import { tempDir } from '../harness.ts';
import { provisionerConformance, type BackendObject } from './conformance.ts';
import { buildProvisioner, bundleProject } from './fixtures.ts';

const env = loadK8sTestEnv();
const ns = env.BERTH_TEST_K8S_NAMESPACE;
const installation = `conf${crypto.randomBytes(6).toString('hex')}`;
const label = `berth.installation=${installation}`;

interface Item {
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: string };
  status?: { phase?: string };
}

function items(kinds: string): Item[] {
  return (JSON.parse(kubectl(['get', kinds, '-l', label, '-o', 'json'])) as { items: Item[] }).items;
}

const login = { registry: env.BERTH_TEST_REGISTRY, username: env.BERTH_TEST_REGISTRY_USER, password: env.BERTH_TEST_REGISTRY_PASSWORD };
const variants = [
  { how: 'checkout by exec', options: {}, privateImage: env.BERTH_TEST_IMAGE_PRIVATE },
  { how: 'checkout in an init container', options: { initImage: env.BERTH_TEST_IMAGE }, privateImage: env.BERTH_TEST_IMAGE_BUSYBOX_PRIVATE },
];

for (const v of variants) describe(`kubernetes provisioner conformance (testenv cluster, PVC storage, bundle checkouts, ${v.how})`, () => {
  const dataDir = tempDir('berth-conf-k8s-');
  provisionerConformance({
    label: `kubernetes, ${v.how}`,
    build: () =>
      buildProvisioner(
        'kubernetes',
        { kubeconfig: env.KUBECONFIG, namespace: ns, storageClass: env.BERTH_TEST_K8S_STORAGE_CLASS, pvcSize: '256Mi', ...v.options },
        dataDir,
        installation,
      ),
    baseSpec: { image: env.BERTH_TEST_IMAGE },
    project: bundleProject,
    image: { cmd: ['cat', '/etc/os-release'], expect: /VERSION_CODENAME=bookworm/ },
    user: 'dev',
    privateImage: { image: v.privateImage, login },
    async objects(): Promise<BackendObject[]> {
      return items('pods,persistentvolumeclaims,secrets').map((o) => {
        const ws = o.metadata.labels?.['berth.workspace'];
        const gone = o.metadata.deletionTimestamp ? ' terminating' : '';
        const kind: BackendObject['kind'] = o.kind === 'Pod' ? (o.metadata.labels?.['berth.kind'] === 'workspace' ? 'runtime' : 'temp') : o.kind === 'PersistentVolumeClaim' ? 'storage' : 'other';
        // Secrets belong with the workspace's storage: they live exactly as long as it does.
        return { kind: kind === 'other' && ws ? 'storage' : kind, ...(ws ? { workspace: ws } : {}), what: `${o.kind.toLowerCase()} ${o.metadata.name} ${o.status?.phase ?? ''}${gone}`.trim() };
      });
    },
    async filesContaining(id: string, needle: string): Promise<string[]> {
      const pod = `berth-${id.replace('_', '-')}`;
      const out = kubectl(['exec', pod, '-c', 'workspace', '--', 'grep', '-rlF', '--', needle, '/workspace'], true);
      return out.split('\n').filter(Boolean).map((f) => f.replace(/^\/workspace\//, '')).sort();
    },
    async metadata(id: string) {
      const name = `berth-${id.replace('_', '-')}`;
      const all = kubectl(['get', `pod/${name}`, `pvc/${name}`, '-o', 'json'], true);
      const parsed = all ? (JSON.parse(all) as { items: Item[] }).items : [];
      const pub = JSON.stringify(parsed.map((o) => [o.metadata.name, o.metadata.labels, o.metadata.annotations]));
      const secrets = JSON.stringify(items('secrets').filter((s) => s.metadata.labels?.['berth.workspace'] === id).map((s) => [s.metadata.name, s.metadata.labels]));
      return { public: pub + secrets, all: all + secrets };
    },
    async cleanup() {
      kubectl(['delete', 'pods,persistentvolumeclaims,secrets', '-l', label, '--grace-period=0', '--wait=false'], true);
    },
  });
});
