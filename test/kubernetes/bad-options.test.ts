/**
 * Bad options and specs on the kubernetes provisioner, through a real `berth server` and the real
 * CLI: each gives one clear sentence and leaves no pod, claim or Secret behind. An unknown storage
 * class (refused at `provisioner add` with credentials that may read storage classes, at create with
 * the minimal Role of the docs), a namespace the credentials may not use, a missing image, limits a
 * namespace's ResourceQuota refuses.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT, eventually, makeRepo, runCli, tempDir, waitGone, waitPhase } from '../harness.ts';
import { K8sSuite, NS, env, kubectlIn, kubectlOk, objectsOf } from './env.ts';

let suite: K8sSuite;
let dir: string;
/** A ServiceAccount bound to the Role of docs/provisioners/kubernetes.md in the test namespace, and a kubeconfig for it. */
let limited: { account: string; kubeconfig: string };
/** Namespaces this file creates, deleted in `after`. */
const namespaces: string[] = [];

/** The Role the docs give, read from docs/provisioners/kubernetes.md so that what is tested is what is documented. */
function documentedRole(name: string): string {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/provisioners/kubernetes.md'), 'utf8');
  const yaml = /```yaml\n(apiVersion: rbac[\s\S]*?kind: Role\n[\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(yaml, 'docs/provisioners/kubernetes.md shows the Role as a yaml block');
  return yaml.replace(/metadata: \{[^}]*\}/, `metadata: { name: ${name}, namespace: ${NS} }`);
}

/** A kubeconfig for `account` in the test namespace: the admin kubeconfig's cluster, a token of the account. */
function kubeconfigFor(account: string): string {
  const admin = JSON.parse(kubectlOk(NS, ['config', 'view', '--raw', '--minify', '-o', 'json'])) as { clusters: { name: string; cluster: Record<string, string> }[] };
  const token = kubectlOk(NS, ['create', 'token', account, '--duration', '1h']).trim();
  const file = path.join(dir, `${account}.kubeconfig`);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: admin.clusters[0]!.cluster }],
    users: [{ name: account, user: { token } }],
    contexts: [{ name: 'limited', context: { cluster: 'test', user: account, namespace: NS } }],
    'current-context': 'limited',
  };
  fs.writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
  return file;
}

before(async () => {
  suite = await K8sSuite.start();
  dir = tempDir('berth-k8s-bad-');
  await suite.addProject('demo', makeRepo({ 'README.md': '# bad options\n' }));
  const account = `berth-limited-${suite.run}`;
  kubectlOk(NS, ['create', 'serviceaccount', account]);
  kubectlOk(NS, ['apply', '-f', '-'], documentedRole(account));
  kubectlOk(NS, ['create', 'rolebinding', account, `--role=${account}`, `--serviceaccount=${NS}:${account}`]);
  limited = { account, kubeconfig: kubeconfigFor(account) };
});

after(async () => {
  await suite?.close();
  if (limited) kubectlIn(NS, ['delete', `serviceaccount/${limited.account}`, `role/${limited.account}`, `rolebinding/${limited.account}`, '--wait=false']);
  for (const ns of namespaces) kubectlIn(ns, ['delete', 'namespace', ns, '--wait=false']);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** `berth provisioner add NAME --type kubernetes` with the limited account's kubeconfig. */
function addLimited(name: string, extra: string[]) {
  return runCli(suite.server, ['provisioner', 'add', name, '--type', 'kubernetes', '--kubeconfig', limited.kubeconfig, '--pvc-size', '64Mi', '--labels', suite.selector, ...extra]);
}

/** Creates a workspace from a spec file without waiting; returns its id. */
async function create(name: string, provisioner: string, spec: Record<string, unknown>): Promise<string> {
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(spec));
  const r = await runCli(suite.server, ['ws', 'create', name, '--project', 'demo', '--provisioner', provisioner, '--spec', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { id: string }).id;
}

/** The workspace fails with a message matching `re`, nothing of it is left, and rm removes it. */
async function failsCleanly(name: string, id: string, re: RegExp, namespace = NS): Promise<void> {
  const c = suite.server.client();
  const w = await waitPhase(c, name, 'failed', 180_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${suite.logs()}`);
  });
  assert.match(w.message ?? '', re);
  assert.deepEqual(objectsOf(id, 'pods,persistentvolumeclaims,secrets', namespace), [], 'the failed provision removed what it created');
  assert.deepEqual(suite.leftovers(namespace), [], 'no probe pod either');
  const r = await runCli(suite.server, ['ws', 'rm', name, '--yes'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  await waitGone(c, name, 120_000);
  assert.deepEqual(suite.leftovers(namespace), []);
}

test('an unknown storage class is refused at provisioner add in one sentence', async () => {
  const cls = `no-such-class-${suite.run}`;
  const r = await runCli(suite.server, ['provisioner', 'add', 'bad-class', '--type', 'kubernetes', '--kubeconfig', env.KUBECONFIG, '--namespace', NS, '--storage-class', cls]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(`The storage class ${cls} does not exist in the cluster of namespace ${NS}`));
  const list = await runCli(suite.server, ['provisioner', 'list']);
  assert.doesNotMatch(list.stdout, /bad-class/);
});

test('a namespace the credentials may not use is refused at provisioner add, naming the namespace and the verb', async () => {
  const other = `berth-forbidden-${suite.run}`;
  const r = await addLimited('elsewhere', ['--namespace', other]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(`may not list pods in namespace ${other}`));
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  // The same credentials in their own namespace are fine: the documented Role is enough to add it.
  const ok = await addLimited('limited', ['--namespace', NS]);
  assert.equal(ok.code, 0, ok.stderr);
});

test('an unknown storage class that the credentials cannot look up fails the create once the claim says so, leaving nothing', async () => {
  const cls = `missing-class-${suite.run}`;
  const r = await addLimited('limited-class', ['--namespace', NS, '--storage-class', cls]);
  assert.equal(r.code, 0, `the minimal Role cannot read storage classes, so add cannot tell: ${r.stderr}`);
  const id = await create('class', 'limited-class', { image: env.BERTH_TEST_IMAGE });
  await failsCleanly('class', id, new RegExp(`the storage class ${cls} does not exist in the cluster`));
});

test('a missing image fails the create with "not found", leaving nothing', async () => {
  await suite.addProvisioner('k8s');
  const image = `${env.BERTH_TEST_REGISTRY}/berth/no-such-image:${suite.run}`;
  const login = { registry: env.BERTH_TEST_REGISTRY, username: env.BERTH_TEST_REGISTRY_USER, password: env.BERTH_TEST_REGISTRY_PASSWORD };
  const id = await create('noimage', 'k8s', { image, registryLogins: [login] });
  await failsCleanly('noimage', id, new RegExp(`the image ${image.replace(/[.]/g, '\\.')} cannot be pulled: not found in its registry`, 'i'));
});

test('limits the namespace ResourceQuota refuses fail the create naming the quota, leaving nothing', async () => {
  const ns = `berth-quota-${suite.run}`;
  namespaces.push(ns);
  kubectlOk(NS, ['create', 'namespace', ns]);
  kubectlOk(ns, ['create', 'quota', 'berth-small', '--hard=limits.memory=64Mi']);
  // Pods are refused until the namespace's default ServiceAccount exists, which a controller adds shortly after.
  await eventually(() => kubectlIn(ns, ['get', 'serviceaccount', 'default']).code === 0, `the default ServiceAccount of ${ns}`, 60_000, 250);
  await suite.addProvisioner('quota', [], ns);
  const id = await create('big', 'quota', { image: env.BERTH_TEST_IMAGE, resources: { memory: '256Mi' } });
  await failsCleanly('big', id, new RegExp(`The ResourceQuota berth-small of namespace ${ns} refuses creating pod berth-${id.replace('_', '-')}: it asks for limits\\.memory=256MiB where`), ns);
});
