/** The agent registry as the `agent` provisioner sees it: TLS material that works for one agent, pins, and revocation that ends it at once. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, test } from 'node:test';
import { ConflictError, UnauthorizedError } from '../core/errors.ts';
import { CertificateAuthority } from '../pki/ca.ts';
import { generateAgentKey, makeCsr } from '../pki/x509.ts';
import { SqlStore } from '../store/sql-store.ts';
import type { AgentTlsMaterial } from '../provisioners/agent/directory.ts';
import { AgentService, AgentUnavailableError } from './agents.ts';
import { SecretBox } from './secrets.ts';

let dir: string;
let store: SqlStore;
let agents: AgentService;
let clock = new Date();

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-agents-'));
  store = await SqlStore.create({ kind: 'sqlite', file: path.join(dir, 'berth.db') });
  const ca = await CertificateAuthority.open(path.join(dir, 'pki'));
  agents = new AgentService({ store, box: SecretBox.open(dir), ca, serverUrl: () => 'http://cp.example:8080', now: () => clock });
});
after(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Adds and enrolls an agent at 127.0.0.1; returns its key and certificate as the host would hold them. */
async function enrolled(name: string) {
  const { token } = await agents.add({ name, url: 'https://127.0.0.1:7443' });
  const { keys, keyPem } = await generateAgentKey();
  const r = await agents.enroll({ token, csr: await makeCsr(keys, 'host') });
  return { key: keyPem, cert: r.certificate, ca: r.ca, clientFingerprint: r.clientFingerprint };
}

/** A mutual-TLS server as the agent runs one, accepting only the pinned client; resolves with the client's fingerprint. */
async function handshake(host: Awaited<ReturnType<typeof enrolled>>, tls: AgentTlsMaterial): Promise<string> {
  const server = https.createServer({ key: host.key, cert: host.cert, ca: host.ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    res.end(peer.fingerprint256 === host.clientFingerprint ? peer.fingerprint256 : 'not pinned');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise<string>((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          key: tls.key,
          cert: tls.cert,
          ca: tls.ca,
          checkServerIdentity: (_h, c) => (c.fingerprint256 === tls.fingerprint ? undefined : new Error('not the enrolled certificate')),
        },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve(body));
        },
      );
      req.on('error', reject);
      req.end();
    });
  } finally {
    server.close();
  }
}

test("an enrolled agent's TLS material makes a mutual-TLS connection that each side pins", async () => {
  const host = await enrolled('edge-1');
  const tls = await agents.tlsFor('edge-1');
  assert.equal(await handshake(host, tls), host.clientFingerprint);
  assert.deepEqual(
    (await agents.list()).map((a) => a.name),
    ['edge-1'],
  );
  assert.equal((await agents.get('edge-1'))?.url, 'https://127.0.0.1:7443');

  // Another agent's material is refused by this one: the client certificate is per agent.
  const other = await enrolled('edge-2');
  assert.notEqual(other.clientFingerprint, host.clientFingerprint);
  assert.equal(await handshake(host, { ...(await agents.tlsFor('edge-2')), fingerprint: tls.fingerprint }), 'not pinned');
});

test('a pending agent is not listed and has no TLS material yet', async () => {
  await agents.add({ name: 'pending', url: 'https://10.0.0.3:7443' });
  assert.equal(await agents.get('pending'), undefined);
  await assert.rejects(agents.tlsFor('pending'), (e: unknown) => e instanceof AgentUnavailableError && /has not enrolled yet/.test(e.message));
});

test('revoking ends the use of an agent at once; removing is refused while a workspace is pinned to it', async () => {
  await enrolled('edge-3');
  await agents.pin('ws_abc', 'edge-3');
  assert.equal(await agents.pinOf('ws_abc'), 'edge-3');
  await agents.revoke('edge-3');
  await assert.rejects(agents.tlsFor('edge-3'), (e: unknown) => e instanceof AgentUnavailableError && /was revoked/.test(e.message));
  assert.equal(await agents.get('edge-3'), undefined);
  assert.ok(!(await agents.list()).some((a) => a.name === 'edge-3'));
  assert.equal((await store.getAgent('edge-3'))?.client_key_enc, null, 'its client key is destroyed');

  await assert.rejects(agents.remove('edge-3'), (e: unknown) => e instanceof ConflictError && /still holds 1 workspace\(s\) \(ws_abc\)/.test(e.message));
  await agents.unpin('ws_abc');
  assert.equal(await agents.pinOf('ws_abc'), undefined);
  await agents.remove('edge-3');
  await assert.rejects(agents.tlsFor('edge-3'), (e: unknown) => e instanceof AgentUnavailableError && /not registered/.test(e.message));
});

test('a token is spent once, expires by the clock, and a bad CSR leaves it usable', async () => {
  const { token, expiresAt } = await agents.add({ name: 'edge-4', url: 'https://10.0.0.4:7443' });
  assert.equal(expiresAt, new Date(clock.getTime() + 15 * 60_000).toISOString());
  await assert.rejects(agents.enroll({ token, csr: 'garbage' }), /not a PEM PKCS#10 request/);
  const { keys } = await generateAgentKey();
  const csr = await makeCsr(keys, 'host');
  await agents.enroll({ token, csr });
  await assert.rejects(agents.enroll({ token, csr }), (e: unknown) => e instanceof UnauthorizedError && /already used/.test(e.message));

  const late = await agents.add({ name: 'edge-5', url: 'https://10.0.0.5:7443', ttl: '1m' });
  clock = new Date(clock.getTime() + 61_000);
  await assert.rejects(agents.enroll({ token: late.token, csr }), (e: unknown) => e instanceof UnauthorizedError && /expired/.test(e.message));
});

test('expired certificates make the agent unusable until rotated, in words', async () => {
  await enrolled('edge-6');
  const expiresAt = (await agents.listAll()).find((a) => a.name === 'edge-6')?.expiresAt;
  assert.ok(expiresAt);
  const saved = clock;
  clock = new Date(Date.parse(expiresAt) + 1000);
  try {
    await assert.rejects(agents.tlsFor('edge-6'), (e: unknown) => e instanceof AgentUnavailableError && /expired at .*berth agent add edge-6 --url https:\/\/127\.0\.0\.1:7443/.test(e.message));
  } finally {
    clock = saved;
  }
});
