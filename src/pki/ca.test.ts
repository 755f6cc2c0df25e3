/** The agent CA: created once with private modes, issues certificates that chain to it, certifies the admin's hosts only. */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { InputError } from '../core/errors.ts';
import { CertificateAuthority } from './ca.ts';
import { fingerprint, generateAgentKey, makeCsr, sanOfUrl } from './x509.ts';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'berth-pki-'));
}

test('the CA is created once, key 0600 in a 0700 directory, and loaded again unchanged', async () => {
  const dir = path.join(tempDir(), 'pki');
  const ca = await CertificateAuthority.open(dir);
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  assert.equal(fs.statSync(path.join(dir, 'ca.key')).mode & 0o777, 0o600);
  const again = await CertificateAuthority.open(dir);
  assert.equal(again.certPem, ca.certPem);
  assert.equal(again.fingerprint, ca.fingerprint);
  assert.ok(new X509Certificate(ca.certPem).ca, 'a CA certificate');
});

test('an agent server certificate chains to the CA and names only the host of its URL', async () => {
  const ca = await CertificateAuthority.open(path.join(tempDir(), 'pki'));
  const { keys } = await generateAgentKey();
  const csr = await makeCsr(keys, 'evil.example.com');
  const issued = await ca.signAgentCsr(csr, { agentName: 'edge-1', hosts: [sanOfUrl('https://10.220.0.2:7443').value] });
  const cert = new X509Certificate(issued.cert);
  const caCert = new X509Certificate(ca.certPem);
  assert.ok(cert.checkIssued(caCert));
  assert.ok(cert.verify(caCert.publicKey));
  assert.equal(cert.subjectAltName, 'IP Address:10.220.0.2');
  assert.match(cert.subject, /CN=edge-1/);
  assert.equal(cert.checkIP('10.220.0.2'), '10.220.0.2');
  assert.equal(cert.checkHost('evil.example.com'), undefined, 'the CSR does not choose the names');
  assert.equal(issued.fingerprint, cert.fingerprint256);
  assert.equal(fingerprint(issued.cert), cert.fingerprint256);
  assert.ok(cert.keyUsage?.includes('1.3.6.1.5.5.7.3.1'), 'serverAuth');

  const dns = await ca.signAgentCsr(csr, { agentName: 'edge-2', hosts: [sanOfUrl('https://agent.internal:7443/').value] });
  assert.equal(new X509Certificate(dns.cert).subjectAltName, 'DNS:agent.internal');
  assert.deepEqual(sanOfUrl('https://[fd00::2]:7443'), { type: 'ip', value: 'fd00::2' });
});

test('a client certificate per agent chains to the CA and is for client authentication', async () => {
  const ca = await CertificateAuthority.open(path.join(tempDir(), 'pki'));
  const a = await ca.issueClient('berth control plane for edge-1');
  const b = await ca.issueClient('berth control plane for edge-2');
  assert.notEqual(a.fingerprint, b.fingerprint);
  const cert = new X509Certificate(a.cert);
  assert.ok(cert.checkIssued(new X509Certificate(ca.certPem)));
  assert.ok(cert.keyUsage?.includes('1.3.6.1.5.5.7.3.2'), 'clientAuth');
  assert.ok(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(a.key)));
});

test('another CA does not verify what this one issued', async () => {
  const ca = await CertificateAuthority.open(path.join(tempDir(), 'pki'));
  const other = await CertificateAuthority.open(path.join(tempDir(), 'pki'));
  const cert = new X509Certificate((await ca.issueClient('x')).cert);
  assert.equal(cert.checkIssued(new X509Certificate(other.certPem)), false);
  assert.equal(cert.verify(new X509Certificate(other.certPem).publicKey), false);
});

test('bad requests and URLs are refused in words', async () => {
  const ca = await CertificateAuthority.open(path.join(tempDir(), 'pki'));
  await assert.rejects(ca.signAgentCsr('not a csr', { agentName: 'a', hosts: ['10.0.0.1'] }), InputError);
  assert.throws(() => sanOfUrl('http://10.0.0.1:7443'), /must be https/);
  assert.throws(() => sanOfUrl('nonsense'), InputError);
});

test('certificates are dated by the injected clock', async () => {
  const at = new Date('2030-01-01T00:00:00Z');
  const ca = await CertificateAuthority.open(path.join(tempDir(), 'pki'), { now: () => at });
  const c = await ca.issueClient('x');
  assert.ok(new Date(new X509Certificate(c.cert).validFrom) < at);
  assert.ok(c.notAfter > at);
});
