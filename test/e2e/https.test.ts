/**
 * E2E: a control plane serving HTTPS with a certificate from a team's own CA (--tls-cert/--tls-key)
 * and that CA given with --ca-bundle. Workspaces on shell and on the real Docker engine trust it:
 * git fetches and pushes through the gateway over HTTPS, TLS clients verify the server through the
 * bundle Berth installs (and, in a container, the system store), and the CLI works with BERTH_CA_BUNDLE.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { HOST_ALIAS } from '../../src/provisioners/docker/reach.ts';
import { trustCaFile } from '../../src/sdk/trust.ts';
import { issue, selfSigned } from '../agent/certs.ts';
import { cleanupEngines, installationOf, removeWorkspaces, testEnv } from '../docker/env.ts';
import { git, runCli, tempDir, TestServer, waitPhase } from '../harness.ts';
import { bareUpstream, revParse, wsCommit, wsRun } from '../git/fixtures.ts';

const env = testEnv();
const dir = tempDir('berth-https-');
const files = { ca: path.join(dir, 'team-ca.pem'), cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key') };
let server: TestServer;
let bare: string;
let installation = '';

/** Every IPv4 address of this host: workspaces reach the server on loopback (shell) or on a bridge's address or its alias (Docker). */
function hostAddresses(): string[] {
  return [...new Set(['127.0.0.1', ...Object.values(os.networkInterfaces()).flatMap((l) => (l ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address))])];
}

before(async () => {
  const ca = await selfSigned('Berth test team CA');
  const leaf = await issue(ca, 'berth-server', { server: { ips: hostAddresses(), dns: ['localhost', HOST_ALIAS] } });
  fs.writeFileSync(files.ca, ca.cert);
  fs.writeFileSync(files.cert, leaf.cert);
  fs.writeFileSync(files.key, leaf.key, { mode: 0o600 });
  // This test process talks to the server too: it trusts the team's CA as a user's client would.
  trustCaFile(files.ca);
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
async function fetchAndPush(ws: string, file: string): Promise<void> {
  const c = server.client();
  const origin = (await wsRun(c, ws, ['git', 'remote', 'get-url', 'origin'])).stdout.trim();
  assert.match(origin, /^https:\/\//, 'origin is the gateway over HTTPS');
  await wsRun(c, ws, ['git', 'fetch', 'origin']);
  await wsCommit(c, ws, file, `written in ${ws}`, `add ${file}`);
  const push = await wsRun(c, ws, ['git', 'push', 'origin', 'HEAD:main']);
  assert.match(push.stderr, /-> main/);
  assert.equal(git(dir, '--git-dir', bare, 'log', '-1', '--format=%s', 'main').trim(), `add ${file}`);
  assert.equal(revParse(bare, 'main'), (await wsRun(c, ws, ['git', 'rev-parse', 'HEAD'])).stdout.trim());
}

test('the server listens on HTTPS, refuses clients without the CA, and the CLI works with BERTH_CA_BUNDLE', async () => {
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const health = await fetch(`${server.url}/healthz`);
  assert.equal(health.status, 200);
  // A client that does not trust the team's CA is refused by TLS, not answered in clear.
  const plain = await runCli(server, ['ws', 'list'], {});
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
  const vars = (await wsRun(c, 'dk1', ['sh', '-c', 'echo "$GIT_SSL_CAINFO|$NODE_EXTRA_CA_CERTS|$SSL_CERT_FILE|$CURL_CA_BUNDLE|$(id -un)"'])).stdout.trim().split('|');
  assert.deepEqual(vars, ['/workspace/.berth/ca.crt', '/workspace/.berth/ca.crt', '/workspace/.berth/ca.crt', '/workspace/.berth/ca.crt', 'dev']);
  const url = (await wsRun(c, 'dk1', ['printenv', 'BERTH_SERVER_URL'])).stdout.trim();
  assert.match(url, /^https:\/\//);
  const { hostname, port } = new URL(url);
  // TLS verification through SSL_CERT_FILE (the bundle), then through the system store alone (the image has no curl).
  const verify = (caFile: string) => `openssl s_client -connect ${hostname}:${port} -verify_return_error ${/^[\d.]+$/.test(hostname) ? '-verify_ip' : '-verify_hostname'} ${hostname} -CAfile ${caFile} </dev/null 2>&1 | grep -E "Verify return code"`;
  assert.match((await wsRun(c, 'dk1', ['sh', '-c', verify('"$SSL_CERT_FILE"')])).stdout, /Verify return code: 0 \(ok\)/);
  assert.match((await wsRun(c, 'dk1', ['sh', '-c', verify('/etc/ssl/certs/ca-certificates.crt')])).stdout, /Verify return code: 0 \(ok\)/);
  await fetchAndPush('dk1', 'from-docker.txt');
  // A new container (stop, start) gets the CA into its system store again.
  await c.stopWorkspace('dk1');
  await waitPhase(c, 'dk1', 'stopped', 60_000);
  await c.startWorkspace('dk1');
  await waitPhase(c, 'dk1', 'running', 120_000);
  assert.match((await wsRun(c, 'dk1', ['sh', '-c', verify('/etc/ssl/certs/ca-certificates.crt')])).stdout, /Verify return code: 0 \(ok\)/);
  await wsRun(c, 'dk1', ['git', 'fetch', 'origin']);
  await removeWorkspaces(c, 'dk1');
});
