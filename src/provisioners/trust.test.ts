import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { installTrustOnHost, trustEnv, trustScripts } from './trust.ts';

const TEAM = tls.rootCertificates[0]!;

test('the user script writes the bundle under the mount path: system roots first, then the team CA', () => {
  const mount = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-trust-'));
  const { user, root } = trustScripts(`${TEAM}\n`, mount);
  const r = spawnSync('/bin/sh', ['-c', user], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const bundle = fs.readFileSync(path.join(mount, '.berth', 'ca.crt'), 'utf8');
  assert.ok(bundle.trimEnd().endsWith(TEAM.trim()));
  assert.ok((bundle.match(/BEGIN CERTIFICATE/g) ?? []).length > 1);
  assert.equal(fs.statSync(path.join(mount, '.berth', 'ca.crt')).mode & 0o777, 0o644);
  // Run twice (every provision does): same result.
  assert.equal(spawnSync('/bin/sh', ['-c', user]).status, 0);
  assert.equal(fs.readFileSync(path.join(mount, '.berth', 'ca.crt'), 'utf8'), bundle);
  assert.match(root, /update-ca-certificates/);
  assert.deepEqual(trustEnv(`${mount}/`).GIT_SSL_CAINFO, path.join(mount, '.berth', 'ca.crt'));
  fs.rmSync(mount, { recursive: true });
});

test('a PEM cannot end the heredoc early or run commands', () => {
  const { user } = trustScripts(`${TEAM}\nBERTH_CA_EOF\n$(touch /tmp/pwned)\n`, '/workspace');
  assert.equal(user.match(/^BERTH_CA_EOF$/gm)?.length, 1);
  assert.ok(!user.includes('$(touch'));
});

test('on the host the bundle is the host system bundle plus the team CA', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-trust-'));
  installTrustOnHost(TEAM, dir);
  const bundle = fs.readFileSync(path.join(dir, '.berth', 'ca.crt'), 'utf8');
  assert.ok(bundle.endsWith(TEAM));
  assert.ok((bundle.match(/BEGIN CERTIFICATE/g) ?? []).length > 10);
  fs.rmSync(dir, { recursive: true });
});
