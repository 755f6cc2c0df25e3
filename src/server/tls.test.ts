import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { InputError } from '../core/errors.ts';
import { loadConfig } from './config.ts';
import { loadCaBundle, loadTlsFiles } from './tls.ts';

const CERT = fs.readFileSync(['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'].find((f) => fs.existsSync(f))!, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)![0];

function dir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'berth-tls-'));
}

test('--tls-cert and --tls-key go together', () => {
  assert.throws(() => loadConfig({ tlsCert: '/x.pem' }, {}), (e: unknown) => e instanceof InputError && /--tls-cert and --tls-key go together/.test(e.message));
  assert.throws(() => loadConfig({}, { BERTH_TLS_KEY: '/x.key' }), /go together/);
  const c = loadConfig({ tlsCert: 'c.pem', tlsKey: 'k.pem' }, {});
  assert.equal(c.tlsCert, path.resolve('c.pem'));
});

test('unreadable or empty files stop the start naming the option', () => {
  const d = dir();
  const logger = pino({ level: 'silent' });
  assert.throws(() => loadTlsFiles({ tlsCert: path.join(d, 'none.pem'), tlsKey: path.join(d, 'none.key') }, logger), /Cannot read --tls-cert .*none\.pem/);
  fs.writeFileSync(path.join(d, 'empty.pem'), 'hello\n');
  assert.throws(() => loadCaBundle({ caBundle: path.join(d, 'empty.pem') }), /--ca-bundle .*empty\.pem holds no PEM certificate/);
  fs.writeFileSync(path.join(d, 'broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  assert.throws(() => loadCaBundle({ caBundle: path.join(d, 'broken.pem') }), /Certificate 1 in --ca-bundle .* cannot be parsed/);
  fs.writeFileSync(path.join(d, 'cert.pem'), CERT);
  fs.writeFileSync(path.join(d, 'key.pem'), 'not a key');
  assert.throws(() => loadTlsFiles({ tlsCert: path.join(d, 'cert.pem'), tlsKey: path.join(d, 'key.pem') }, logger), /--tls-key .* holds no PEM private key/);
  fs.rmSync(d, { recursive: true });
});

test('a key readable by others is warned about; a bundle keeps only its certificates', () => {
  const d = dir();
  const warnings: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
  fs.writeFileSync(path.join(d, 'cert.pem'), CERT);
  fs.writeFileSync(path.join(d, 'key.pem'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', { mode: 0o644 });
  fs.chmodSync(path.join(d, 'key.pem'), 0o644);
  assert.ok(loadTlsFiles({ tlsCert: path.join(d, 'cert.pem'), tlsKey: path.join(d, 'key.pem') }, logger));
  assert.match(warnings.join(''), /readable by other users \(mode 644\); chmod 600 it/);
  fs.writeFileSync(path.join(d, 'bundle.pem'), `# team CA\n${CERT}\ntrailing words\n`);
  assert.equal(loadCaBundle({ caBundle: path.join(d, 'bundle.pem') }), `${CERT}\n`);
  fs.rmSync(d, { recursive: true });
});
