/**
 * Agent enrollment through the CLI against a real control plane: `agent add` prints a one-time
 * token and the command; `agent enroll` on the "host" (a temporary root) writes its key, its
 * certificate, the CA and the pinned client fingerprint; a token works once and not after it
 * expires; revoke and rm say what they did.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Agent, NewAgent } from '../../src/sdk/agents.ts';
import { TestServer, eventually, rejectsWith, runCli, tempDir } from '../harness.ts';

let server: TestServer;

before(async () => {
  server = await TestServer.start();
});
after(async () => {
  await server?.stop();
});

/** `berth agent add … --json`, parsed. */
async function add(name: string, url: string, ...more: string[]): Promise<NewAgent> {
  const r = await runCli(server, ['agent', 'add', name, '--url', url, '--json', ...more]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as NewAgent;
}

function enroll(token: string, root: string) {
  return runCli(server, ['agent', 'enroll', '--server', server.url, '--token', token, '--root', root], { token: '' });
}

test('add prints the token and the enroll command; enroll writes the key, certificate, CA and pinned client on the host', async () => {
  const human = await runCli(server, ['agent', 'add', 'edge-1', '--url', 'https://10.220.0.2:7443', '--label', 'zone=a']);
  assert.equal(human.code, 0, human.stderr);
  const token = /^\s+(berth_e_\S+)$/m.exec(human.stdout)?.[1];
  assert.ok(token, human.stdout);
  assert.match(human.stdout, new RegExp(`berth agent enroll --server ${server.url} --token ${token}`));
  assert.doesNotMatch(server.logs, new RegExp(token), 'the token is never logged');

  const root = path.join(tempDir('berth-agent-root-'), 'agent');
  const r = await enroll(token, root);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Enrolled as agent edge-1/);
  const keys = path.join(root, 'keys');
  const mode = (f: string) => fs.statSync(path.join(keys, f)).mode & 0o777;
  assert.equal(fs.statSync(keys).mode & 0o777, 0o700);
  assert.equal(mode('agent.key'), 0o600);
  assert.equal(mode('clients'), 0o600);

  const cert = new X509Certificate(fs.readFileSync(path.join(keys, 'agent.crt')));
  const ca = new X509Certificate(fs.readFileSync(path.join(keys, 'ca.crt')));
  assert.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey), 'the certificate chains to the CA');
  assert.equal(cert.subjectAltName, 'IP Address:10.220.0.2', 'it names the host of the URL given at add');
  assert.ok(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(fs.readFileSync(path.join(keys, 'agent.key')))), 'for the key made on the host');

  const [listed] = (await server.client().request<Agent[]>('GET', '/api/v1/agents')).filter((a) => a.name === 'edge-1');
  assert.equal(listed?.state, 'enrolled');
  assert.deepEqual(listed?.labels, { zone: 'a' });
  assert.equal(listed?.fingerprint, cert.fingerprint256);
  assert.equal(fs.readFileSync(path.join(keys, 'clients'), 'utf8').trim(), listed?.clientFingerprint);

  const again = await enroll(token, path.join(tempDir('berth-agent-root-'), 'agent'));
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^berth: The control plane refused the enrollment: The enrollment token was already used/m);

  const list = await runCli(server, ['agent', 'list']);
  assert.match(list.stdout, /^edge-1\s+enrolled\s+https:\/\/10\.220\.0\.2:7443\s+0\s+zone=a$/m);
  // Rotation: adding the same agent again gives a new token; enrolling replaces both certificates.
  const rotated = await add('edge-1', 'https://10.220.0.2:7443');
  assert.deepEqual(rotated.agent.labels, { zone: 'a' }, 'labels are kept unless given');
  const re = await enroll(rotated.token, root);
  assert.equal(re.code, 0, re.stderr);
  const newCert = new X509Certificate(fs.readFileSync(path.join(keys, 'agent.crt')));
  assert.notEqual(newCert.fingerprint256, cert.fingerprint256);
  const [after] = (await server.client().request<Agent[]>('GET', '/api/v1/agents')).filter((a) => a.name === 'edge-1');
  assert.equal(after?.fingerprint, newCert.fingerprint256);
  assert.notEqual(after?.clientFingerprint, listed?.clientFingerprint);
  assert.equal(fs.readFileSync(path.join(keys, 'clients'), 'utf8').trim(), after?.clientFingerprint);
});

test('an expired token is refused, and a bad one is refused in words', async () => {
  const a = await add('late', 'https://agent.internal:7443', '--ttl', '1s');
  await eventually(() => Date.now() > Date.parse(a.expiresAt) + 50, 'the token to expire');
  const r = await enroll(a.token, path.join(tempDir('berth-agent-root-'), 'agent'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /The enrollment token expired at/);

  const bad = await enroll(`berth_e_${'x'.repeat(43)}`, path.join(tempDir('berth-agent-root-'), 'agent'));
  assert.match(bad.stderr, /The enrollment token is not valid/);
  const status = await fetch(`${server.url}/api/v1/agents/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'nope', csr: 'x' }) });
  assert.equal(status.status, 401, 'no bearer token needed, the enrollment token is checked');
});

test('add refuses a URL that is not https://HOST:PORT, the name of a revoked agent and a non-admin', async () => {
  await rejectsWith(server.client().request('POST', '/api/v1/agents', { name: 'plain', url: 'http://10.0.0.1:7443' }), 400, /must be https/);
  await rejectsWith(server.client().request('POST', '/api/v1/agents', { name: 'plain', url: 'https://10.0.0.1:7443/x' }), 400, /no path/);
  await add('dup', 'https://10.0.0.9:7443');
  await server.client().request('POST', '/api/v1/agents/dup/revoke');
  await rejectsWith(server.client().request('POST', '/api/v1/agents', { name: 'dup', url: 'https://10.0.0.9:7443' }), 409, /was revoked; remove it \(berth agent rm dup\)/);
  const { token } = await server.client().createUser('bob', 'user');
  await rejectsWith(server.client(token).request('GET', '/api/v1/agents'), 403, /Only an admin/);
});

test('revoke makes the token void and marks the agent; rm removes it', async () => {
  const a = await add('gone', 'https://10.0.0.7:7443');
  const rv = await runCli(server, ['agent', 'revoke', 'gone']);
  assert.equal(rv.code, 0, rv.stderr);
  const r = await enroll(a.token, path.join(tempDir('berth-agent-root-'), 'agent'));
  assert.match(r.stderr, /Agent "gone" was removed or revoked/);
  const list = await runCli(server, ['agent', 'list', '--json']);
  assert.equal((JSON.parse(list.stdout) as Agent[]).find((x) => x.name === 'gone')?.state, 'revoked');
  const rm = await runCli(server, ['agent', 'rm', 'gone']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.match(rm.stdout, /Agent gone removed/);
  const missing = await runCli(server, ['agent', 'rm', 'gone']);
  assert.match(missing.stderr, /No agent named "gone"/);
});
