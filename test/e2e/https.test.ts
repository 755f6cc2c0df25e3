/**
 * E2E: a control plane serving HTTPS with a certificate from a team's own CA (--tls-cert/--tls-key)
 * and that CA given with --ca-bundle. Workspaces on shell, on the real Docker engine, on the
 * testenv's Kubernetes and on a remote agent host trust it: git fetches and pushes through the
 * gateway over HTTPS, TLS clients verify the server through the bundle Berth installs (and, in a
 * root-capable container, the system store), and the CLI works with BERTH_CA_BUNDLE.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { HOST_ALIAS } from '../../src/provisioners/docker/reach.ts';
import { trustCaFile } from '../../src/sdk/trust.ts';
import type { BerthClient } from '../../src/sdk/client.ts';
import { issue, selfSigned } from '../agent/certs.ts';
import { agentRoot, agentTestEnv, enrollAgent, type RunningAgent } from '../agent/fixtures.ts';
import { cleanupEngines, installationOf, removeWorkspaces, testEnv } from '../docker/env.ts';
import { git, runCli, tempDir, TestServer, waitPhase } from '../harness.ts';
import { BRIDGE, K8sSuite } from '../kubernetes/env.ts';
import { bareUpstream, revParse, wsCommit, wsRun } from '../git/fixtures.ts';

const env = testEnv();
const dir = tempDir('berth-https-');
const files = { ca: path.join(dir, 'team-ca.pem'), cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key') };
let server: TestServer;
let bare: string;
let installation = '';

/**
 * Every IPv4 address of this host: workspaces reach the server on loopback (shell), on a bridge's
 * address or its alias (Docker), the pod bridge (Kubernetes) or the agent's veth. Those two are
 * named: Node lists only interfaces that are up and running, and a bridge without pods is not.
 */
function hostAddresses(): string[] {
  return [...new Set(['127.0.0.1', BRIDGE, agentTestEnv().BERTH_TEST_AGENT_HOST_IP, ...Object.values(os.networkInterfaces()).flatMap((l) => (l ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address))])];
}

before(async () => {
  const ca = await selfSigned('Berth test team CA');
  const leaf = await issue(ca, 'berth-server', { server: { ips: hostAddresses(), dns: ['localhost', HOST_ALIAS] } });
  fs.writeFileSync(files.ca, ca.cert);
  fs.writeFileSync(files.cert, leaf.cert);
  fs.writeFileSync(files.key, leaf.key, { mode: 0o600 });
  // This test process and the CLI it runs talk to the server too: they trust the team's CA as a user's client would.
  trustCaFile(files.ca);
  process.env.BERTH_CA_BUNDLE = files.ca;
  server = await TestServer.start({ args: ['--tls-cert', files.cert, '--tls-key', files.key, '--ca-bundle', files.ca] });
  installation = installationOf(server);
  bare = bareUpstream(dir, 'app', { 'README.md': '# over https\n' });
  await server.client().createProject({ name: 'app', repo: bare });
});

after(async () => {
  await server?.stop();
  if (installation) cleanupEngines(installation);
  fs.rmSync(dir, { recursive: true, force: true });
});

/** git fetch, then a commit pushed through the gateway, over HTTPS from inside the workspace; the upstream gets it. */
async function fetchAndPush(ws: string, file: string, c = server.client(), upstream = bare): Promise<void> {
  const origin = (await wsRun(c, ws, ['git', 'remote', 'get-url', 'origin'])).stdout.trim();
  assert.match(origin, /^https:\/\//, 'origin is the gateway over HTTPS');
  await wsRun(c, ws, ['git', 'fetch', 'origin']);
  await wsCommit(c, ws, file, `written in ${ws}`, `add ${file}`);
  const push = await wsRun(c, ws, ['git', 'push', 'origin', 'HEAD:main']);
  assert.match(push.stderr, /-> main/);
  assert.equal(git(dir, '--git-dir', upstream, 'log', '-1', '--format=%s', 'main').trim(), `add ${file}`);
  assert.equal(revParse(upstream, 'main'), (await wsRun(c, ws, ['git', 'rev-parse', 'HEAD'])).stdout.trim());
}

/** Whether `openssl s_client` inside the workspace verifies the server at BERTH_SERVER_URL against `caFile` (a shell expression). */
async function verifiesServer(c: BerthClient, ws: string, caFile: string): Promise<void> {
  const url = (await wsRun(c, ws, ['printenv', 'BERTH_SERVER_URL'])).stdout.trim();
  assert.match(url, /^https:\/\//);
  const { hostname, port } = new URL(url);
  const check = /^[\d.]+$/.test(hostname) ? '-verify_ip' : '-verify_hostname';
  const r = await wsRun(c, ws, ['sh', '-c', `openssl s_client -connect ${hostname}:${port} -verify_return_error ${check} ${hostname} -CAfile ${caFile} </dev/null 2>&1 | grep -E "Verify return code"`]);
  assert.match(r.stdout, /Verify return code: 0 \(ok\)/);
}

/** The four TLS variables, all naming the bundle under the workspace's mount path. */
async function trustVariables(c: BerthClient, ws: string): Promise<void> {
  const vars = (await wsRun(c, ws, ['sh', '-c', 'echo "$GIT_SSL_CAINFO|$NODE_EXTRA_CA_CERTS|$SSL_CERT_FILE|$CURL_CA_BUNDLE"'])).stdout.trim().split('|');
  assert.deepEqual(vars, Array(4).fill('/workspace/.berth/ca.crt'));
}

test('the server listens on HTTPS, refuses clients without the CA, and the CLI works with BERTH_CA_BUNDLE', async () => {
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const health = await fetch(`${server.url}/healthz`);
  assert.equal(health.status, 200);
  // A client that does not trust the team's CA is refused by TLS, not answered in clear.
  const plain = await runCli(server, ['ws', 'list'], { env: { BERTH_CA_BUNDLE: '' } });
  assert.notEqual(plain.code, 0);
  assert.match(plain.stderr, /certificate/i);
  const cli = await runCli(server, ['ws', 'list'], { env: { BERTH_CA_BUNDLE: files.ca } });
  assert.equal(cli.code, 0, cli.stderr);
  const missing = await runCli(server, ['ws', 'list'], { env: { BERTH_CA_BUNDLE: path.join(dir, 'absent.pem') } });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Cannot read the CA bundle .*absent\.pem \(BERTH_CA_BUNDLE\)/);
});

test('shell: git fetch and push over HTTPS, curl verifies the server through the installed bundle', async () => {
  const c = server.client();
  await c.createWorkspace({ name: 'sh1', project: 'app', provisioner: 'shell' });
  await waitPhase(c, 'sh1', 'running');
  const vars = (await wsRun(c, 'sh1', ['sh', '-c', 'echo "$GIT_SSL_CAINFO|$NODE_EXTRA_CA_CERTS|$SSL_CERT_FILE|$CURL_CA_BUNDLE"'])).stdout.trim().split('|');
  const w = await c.getWorkspace('sh1');
  assert.ok(vars.every((v) => v === vars[0] && v.endsWith(`/${w.id}/.berth/ca.crt`)), `every TLS variable names the workspace's bundle: ${vars.join(' ')}`);
  const bundle = fs.readFileSync(vars[0]!, 'utf8');
  assert.ok(bundle.includes(fs.readFileSync(files.ca, 'utf8').trim()), 'the bundle holds the team CA');
  assert.ok((bundle.match(/BEGIN CERTIFICATE/g) ?? []).length > 10, 'and the system roots, so public sites keep working');
  const curl = await wsRun(c, 'sh1', ['sh', '-c', 'curl -fsS "$BERTH_SERVER_URL/healthz"']);
  assert.match(curl.stdout, /"status":"ok"/);
  await fetchAndPush('sh1', 'from-shell.txt');
  await removeWorkspaces(c, 'sh1');
});

test('docker: the CA is in the system store and the bundle; git fetch and push over HTTPS as a non-root user', async () => {
  const c = server.client();
  await c.createWorkspace({ name: 'dk1', project: 'app', provisioner: 'docker', spec: { image: env.BERTH_TEST_IMAGE, user: 'dev' } });
  await waitPhase(c, 'dk1', 'running', 120_000);
  await trustVariables(c, 'dk1');
  assert.equal((await wsRun(c, 'dk1', ['id', '-un'])).stdout.trim(), 'dev');
  // TLS verification through SSL_CERT_FILE (the bundle), then through the system store alone (the image has no curl).
  await verifiesServer(c, 'dk1', '"$SSL_CERT_FILE"');
  await verifiesServer(c, 'dk1', '/etc/ssl/certs/ca-certificates.crt');
  await fetchAndPush('dk1', 'from-docker.txt');
  // A new container (stop, start) gets the CA into its system store again.
  await c.stopWorkspace('dk1');
  await waitPhase(c, 'dk1', 'stopped', 60_000);
  await c.startWorkspace('dk1');
  await waitPhase(c, 'dk1', 'running', 120_000);
  await verifiesServer(c, 'dk1', '/etc/ssl/certs/ca-certificates.crt');
  await wsRun(c, 'dk1', ['git', 'fetch', 'origin']);
  await removeWorkspaces(c, 'dk1');
});

test('kubernetes: the checkout in the pod (by exec or init container), git fetch and push over HTTPS through the bridge', async () => {
  const suite = await K8sSuite.start({ args: ['--tls-cert', files.cert, '--tls-key', files.key, '--ca-bundle', files.ca] });
  try {
    assert.match(suite.podUrl, /^https:\/\//);
    const upstream = bareUpstream(tempDir('berth-https-k8s-'), 'app', { 'README.md': '# pod over https\n' });
    await suite.addProject('app', upstream, path.dirname(upstream));
    await suite.addProvisioner('k8s');
    await suite.addProvisioner('k8s-init', ['--init-image', env.BERTH_TEST_IMAGE]);
    const c = suite.server.client();
    // The checkout by exec in the workspace container, and by an init container before it runs.
    for (const [ws, provisioner] of [['kp', 'k8s'], ['ki', 'k8s-init']] as const) {
      await c.createWorkspace({ name: ws, project: 'app', provisioner, spec: { image: env.BERTH_TEST_IMAGE } });
      await waitPhase(c, ws, 'running', 180_000).catch((err: Error) => assert.fail(`${err.message}\n${suite.logs()}`));
      await trustVariables(c, ws);
      await verifiesServer(c, ws, '"$SSL_CERT_FILE"');
      await fetchAndPush(ws, `from-${ws}.txt`, c, upstream);
    }
    await removeWorkspaces(c, 'kp', 'ki');
  } finally {
    await suite.close();
  }
});

test('agent: a workspace on a remote host trusts the server; git fetch and push over HTTPS', async () => {
  const aenv = agentTestEnv();
  const root = agentRoot();
  const agentServer = await TestServer.start({
    args: ['--listen', `${aenv.BERTH_TEST_AGENT_HOST_IP}:0`, '--local-docker', 'off', '--tls-cert', files.cert, '--tls-key', files.key, '--ca-bundle', files.ca],
  });
  let agent: RunningAgent | undefined;
  try {
    const c = agentServer.client();
    // Enrolment speaks HTTPS to the control plane: the CLI trusts the team's CA through BERTH_CA_BUNDLE.
    agent = await enrollAgent(aenv, agentServer, root);
    const upstream = bareUpstream(tempDir('berth-https-agent-'), 'app', { 'README.md': '# agent over https\n' });
    await c.createProject({ name: 'app', repo: upstream });
    await c.createWorkspace({ name: 'ag', project: 'app', provisioner: 'remote', spec: { image: env.BERTH_TEST_IMAGE } });
    await waitPhase(c, 'ag', 'running', 180_000);
    await trustVariables(c, 'ag');
    await verifiesServer(c, 'ag', '"$SSL_CERT_FILE"');
    await verifiesServer(c, 'ag', '/etc/ssl/certs/ca-certificates.crt');
    await fetchAndPush('ag', 'from-agent.txt', c, upstream);
    await removeWorkspaces(c, 'ag');
  } finally {
    await agent?.stop();
    await agentServer.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
