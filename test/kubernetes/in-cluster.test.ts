/**
 * The control plane deployed inside the testenv cluster from deploy/: its image built from this
 * checkout and pushed to the test registry (scripts/build-image.sh), `kubectl apply -k` of an overlay
 * into a namespace that enforces PodSecurity `restricted`, then, through the pod's address on the
 * node's bridge, a kubernetes provisioner added with no option at all (in-cluster config, the pod's
 * own namespace) that creates a workspace, runs a command in it and deletes it.
 *
 * The testenv has no kube-proxy and no DNS, and its apiserver listens on 127.0.0.1 only: the test
 * relays the node's bridge address to it and points the pod's KUBERNETES_SERVICE_HOST/PORT there, and
 * the control plane's public URL is its pod IP instead of the Service's DNS name.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { after, before, test } from 'node:test';
import { BerthClient } from '../../src/sdk/client.ts';
import { ROOT, eventually, git, makeRepo, runCli, tempDir, waitGone } from '../harness.ts';
import { startUpstream, type UpstreamServer } from '../git/upstream-server.ts';
import { env, kubectlIn, kubectlOk } from './env.ts';

/** The node's address on the pod bridge (docs/testenv.md): pods reach this host only there. */
const BRIDGE = '10.218.0.1';
const ns = `berth-incluster-${crypto.randomBytes(4).toString('hex')}`;
const DEPLOY = path.join(ROOT, 'deploy');
/** The relays' listeners and connections, all ended by after(). */
const relays = new Set<net.Server | net.Socket>();
const dirs: string[] = [];
let upstream: UpstreamServer | undefined;
/** What the CLI needs: the control plane's URL, the admin token, a directory for its config. */
let cp: { url: string; adminToken: string; dataDir: string };
let repoUrl = '';

/** What scripts/build-image.sh said: whether it built the image or found it built. */
let buildLog = '';

/** Runs a command; a failure fails the test with its output. */
function run(cmd: string, args: string[], o: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): { stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', input: o.input ?? '', env: { ...process.env, ...o.env }, timeout: o.timeoutMs ?? 60_000 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

/**
 * A TCP relay from the node's bridge to a loopback port; resolves with its port. Its connections are
 * ended with it: a pod that goes with its namespace may never close the ones it holds.
 */
async function relay(port: number): Promise<number> {
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    relays.add(client).add(upstream);
    pipeline(client, upstream, client, () => {
      client.destroy();
      upstream.destroy();
    });
  });
  relays.add(server);
  await new Promise<void>((resolve) => server.listen(0, BRIDGE, resolve));
  return (server.address() as net.AddressInfo).port;
}

/** Builds the image and pushes it to the test registry with a login of the test's own; its reference. */
function buildAndPush(): string {
  const dockerConfig = tempDir('berth-docker-config-');
  dirs.push(dockerConfig);
  run('docker', ['login', '-u', env.BERTH_TEST_REGISTRY_USER, '--password-stdin', env.BERTH_TEST_REGISTRY], { env: { DOCKER_CONFIG: dockerConfig }, input: env.BERTH_TEST_REGISTRY_PASSWORD });
  // dist/ was just built by scripts/test.sh; a second run with the same tree builds nothing.
  const out = run('bash', ['scripts/build-image.sh', '--no-compile', '--push', `${env.BERTH_TEST_REGISTRY}/berth/berth`], { env: { DOCKER_CONFIG: dockerConfig }, timeoutMs: 600_000 });
  buildLog = out.stderr.split('\n').filter((l) => l.startsWith('build-image:')).join('\n');
  return out.stdout.trim().split('\n').at(-1)!;
}

/** An overlay of deploy/base for this cluster, written to a temporary directory. */
function writeOverlay(image: string, apiPort: number): string {
  const dir = tempDir('berth-overlay-');
  dirs.push(dir);
  const colon = image.lastIndexOf(':');
  const patch = [
    { op: 'add', path: '/spec/template/spec/imagePullSecrets', value: [{ name: 'berth-registry' }] },
    // No DNS in the testenv: clients and workspace pods use the pod's address.
    { op: 'add', path: '/spec/template/spec/containers/0/env/0', value: { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } } },
    { op: 'test', path: '/spec/template/spec/containers/0/env/2/name', value: 'BERTH_PUBLIC_URL' },
    { op: 'replace', path: '/spec/template/spec/containers/0/env/2/value', value: 'http://$(POD_IP):7420' },
    // No kube-proxy for the kubernetes Service: the apiserver through the relay on the node's bridge.
    { op: 'add', path: '/spec/template/spec/containers/0/env/-', value: { name: 'KUBERNETES_SERVICE_HOST', value: BRIDGE } },
    { op: 'add', path: '/spec/template/spec/containers/0/env/-', value: { name: 'KUBERNETES_SERVICE_PORT', value: String(apiPort) } },
  ];
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    namespace: ns,
    resources: [path.relative(dir, path.join(DEPLOY, 'base'))],
    images: [{ name: 'berth', newName: image.slice(0, colon), newTag: image.slice(colon + 1) }],
    patches: [{ target: { kind: 'Deployment', name: 'berth' }, patch: JSON.stringify(patch) }],
  };
  // JSON is YAML: kustomize reads it as it is.
  fs.writeFileSync(path.join(dir, 'kustomization.yaml'), JSON.stringify(kustomization, null, 2));
  return dir;
}

/** A repository served with credentials by a stand-in git host that the control plane's pod reaches on the bridge. */
async function serveRepo(): Promise<string> {
  const root = tempDir('berth-upstream-');
  dirs.push(root);
  const work = makeRepo({ 'README.md': '# deployed in the cluster\n' });
  dirs.push(work);
  git(root, 'clone', '-q', '--bare', work, 'demo.git');
  upstream = await startUpstream(root, 'git-user', 'git-secret');
  const port = await relay(Number(new URL(upstream.url).port));
  return `http://${BRIDGE}:${port}/demo.git`;
}

before(async () => {
  const image = buildAndPush();
  const apiPort = await relay(6443);
  repoUrl = await serveRepo();
  kubectlOk('default', ['create', 'namespace', ns]);
  kubectlOk('default', ['label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=restricted']);
  kubectlOk(ns, ['create', 'secret', 'docker-registry', 'berth-registry', `--docker-server=${env.BERTH_TEST_REGISTRY}`, `--docker-username=${env.BERTH_TEST_REGISTRY_USER}`, `--docker-password=${env.BERTH_TEST_REGISTRY_PASSWORD}`]);
  const applied = kubectlIn(ns, ['apply', '-k', writeOverlay(image, apiPort)]);
  assert.equal(applied.code, 0, applied.stderr);
  assert.doesNotMatch(applied.stderr, /violate PodSecurity/, 'the control plane passes PodSecurity restricted');
  const rollout = kubectlIn(ns, ['rollout', 'status', 'deployment/berth', '--timeout=300s']);
  assert.equal(rollout.code, 0, `${rollout.stderr}\n${kubectlIn(ns, ['describe', 'pods']).stdout.slice(-3000)}`);
  const ip = kubectlOk(ns, ['get', 'pods', '-l', 'app.kubernetes.io/name=berth', '-o', 'jsonpath={.items[0].status.podIP}']).trim();
  // The first start prints the admin's login line once, as for any install.
  const logs = kubectlOk(ns, ['logs', 'deployment/berth']);
  const token = /--token (berth_u_\S+)/.exec(logs)?.[1];
  assert.ok(token, `the first start prints the admin token:\n${logs.slice(-2000)}`);
  const cliDir = tempDir('berth-cli-');
  dirs.push(cliDir);
  cp = { url: `http://${ip}:7420`, adminToken: token, dataDir: cliDir };
}, { timeout: 15 * 60_000 });

after(async () => {
  // Deleting the namespace takes the Deployment, the claims and every workspace object with it. It is
  // waited for: pods still being torn down on the node's bridge disturbed the next suite's pods.
  kubectlIn('default', ['delete', 'namespace', ns, '--wait=true', '--timeout=180s']);
  for (const r of relays) {
    if (r instanceof net.Server) r.close();
    else r.destroy();
  }
  await upstream?.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test('the control plane in the cluster provisions a workspace with in-cluster config', { timeout: 10 * 60_000 }, async (t) => {
  t.diagnostic(buildLog);
  let r = await runCli(cp, ['project', 'add', 'demo', '--repo', repoUrl, '--username', 'git-user', '--password-stdin'], { input: 'git-secret\n' });
  assert.equal(r.code, 0, r.stderr);
  // No kubeconfig, context or namespace: the pod's service account and namespace.
  r = await runCli(cp, ['provisioner', 'add', 'k8s', '--type', 'kubernetes', '--pvc-size', '256Mi']);
  assert.equal(r.code, 0, r.stderr);

  r = await runCli(cp, ['ws', 'create', 'inside', '--project', 'demo', '--provisioner', 'k8s', '--image', env.BERTH_TEST_IMAGE, '--wait'], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, `${r.stderr}\n${kubectlIn(ns, ['logs', 'deployment/berth', '--tail=40']).stdout}`);
  const c = new BerthClient(cp.url, cp.adminToken);
  const w = await c.getWorkspace('inside');
  assert.equal(w.phase, 'running');
  const pods = kubectlOk(ns, ['get', 'pods', '-l', `berth.workspace=${w.id}`, '-o', 'name']).trim();
  assert.equal(pods, `pod/berth-${w.id.replace('_', '-')}`, "the workspace's pod is in the control plane's namespace");

  r = await runCli(cp, ['ws', 'exec', 'inside', '--', 'sh', '-c', 'cat README.md; git remote get-url origin; id -u']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['# deployed in the cluster', `${cp.url}/git/demo.git`, '1000']);

  r = await runCli(cp, ['ws', 'rm', 'inside', '--yes'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  await waitGone(c, 'inside', 120_000);
  await eventually(() => kubectlOk(ns, ['get', 'pods,persistentvolumeclaims,secrets', '-l', `berth.workspace=${w.id}`, '-o', 'name']).trim() === '', 'the workspace objects to be gone', 60_000, 500);
});

test('the PostgreSQL component gives the server its database URL from a Secret', () => {
  const dir = tempDir('berth-overlay-');
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, 'kustomization.yaml'), JSON.stringify({
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    namespace: 'team',
    resources: [path.relative(dir, path.join(DEPLOY, 'base'))],
    components: [path.relative(dir, path.join(DEPLOY, 'postgres'))],
  }));
  const out = run(env.BERTH_TEST_KUBECTL ?? 'kubectl', ['kustomize', dir]).stdout;
  assert.match(out, /- name: BERTH_DATABASE_URL\n\s+valueFrom:\n\s+secretKeyRef:\n\s+key: url\n\s+name: berth-database/);
  assert.match(out, /kind: RoleBinding[\s\S]*subjects:\n- kind: ServiceAccount\n  name: berth\n  namespace: team/);
});
