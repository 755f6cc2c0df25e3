/** Unit tests of upstream credential validation and how git is handed them. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../core/errors.ts';
import { assertNoCredentialsInUrl, normalizeCredentials, scrubSecrets, upstreamAuth, upstreamEndpoint } from './credentials.ts';

const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n';

test('credentials must fit the repository URL', () => {
  assert.equal(normalizeCredentials('https://git.example.com/a.git', undefined), null);
  assert.deepEqual(normalizeCredentials('https://git.example.com/a.git', { username: 'u', password: 'p' }), { kind: 'password', username: 'u', password: 'p' });
  assert.equal(normalizeCredentials('git@git.example.com:a.git', { sshKey: KEY })?.kind, 'ssh-key');
  for (const [repo, input, re] of [
    ['git@git.example.com:a.git', { username: 'u', password: 'p' }, /only work with an http/],
    ['https://git.example.com/a.git', { sshKey: KEY }, /SSH key only works with an ssh/],
    ['https://git.example.com/a.git', { username: 'u' }, /both a username and a password/],
    ['https://u:secret@git.example.com/a.git', undefined, /Put credentials in --username\/--password-stdin, not in the URL\./],
    ['ssh://git:secret@git.example.com/a.git', undefined, /URL contains a password/],
    ['https://git.example.com/a.git', { username: 'u', password: 'a\nb' }, /line breaks/],
    ['ssh://git.example.com/a.git', { sshKey: 'not a key' }, /not a PEM\/OpenSSH private key/],
  ] as const) {
    assert.throws(() => normalizeCredentials(repo, input), (e: unknown) => e instanceof InputError && re.test(e.message), repo);
  }
});

test('an http(s) URL may carry no user info at all; an ssh user name is fine', () => {
  const hint = /Put credentials in --username\/--password-stdin, not in the URL\./;
  for (const repo of ['https://ghp_token@github.com/o/r.git', 'http://oauth2:tok@127.0.0.1:8080/r.git', 'https://@h/r.git', 'HTTPS://user@h/r.git', 'https://user@h:8443/r.git']) {
    assert.throws(() => assertNoCredentialsInUrl(repo), (e: unknown) => e instanceof InputError && hint.test(e.message), repo);
    assert.throws(() => normalizeCredentials(repo, { username: 'u', password: 'p' }), InputError, repo);
  }
  for (const repo of ['https://github.com/o/r.git', 'https://h/path@with-at', 'https://h/r.git?x=a@b', 'ssh://git@h:2222/r.git', 'git@h:team/r.git', '/srv/r.git']) {
    assert.doesNotThrow(() => assertNoCredentialsInUrl(repo), repo);
  }
});

test('the upstream endpoint is scheme, host and port, with default ports filled in', () => {
  assert.equal(upstreamEndpoint('https://Git.Example.com/a.git'), 'https://git.example.com:443');
  assert.equal(upstreamEndpoint('https://git.example.com:443/b.git'), 'https://git.example.com:443');
  assert.equal(upstreamEndpoint('http://127.0.0.1:8080/a.git'), 'http://127.0.0.1:8080');
  assert.equal(upstreamEndpoint('ssh://git@host:2222/x.git'), 'ssh://host:2222');
  assert.equal(upstreamEndpoint('git@host:team/a.git'), 'ssh://host:22');
  assert.equal(upstreamEndpoint('ssh://host/team/a.git'), 'ssh://host:22');
  assert.equal(upstreamEndpoint('/srv/a.git'), null);
  assert.equal(upstreamEndpoint('file:///srv/a.git'), null);
  assert.notEqual(upstreamEndpoint('http://h/a.git'), upstreamEndpoint('https://h/a.git'));
});

test('a password reaches git only through the environment; an SSH key through a 0600 file removed afterwards', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cred-'));
  try {
    const pw = upstreamAuth({ kind: 'password', username: 'u', password: 'hunter2' }, tmp, path.join(tmp, 'kh'));
    assert.ok(!JSON.stringify(pw.config).includes('hunter2'), 'not in the configuration');
    assert.equal(pw.env.BERTH_GIT_PASSWORD, 'hunter2');
    const ssh = upstreamAuth({ kind: 'ssh-key', privateKey: KEY }, tmp, path.join(tmp, 'kh'));
    const file = /-i' '([^']+)'/.exec(ssh.env.GIT_SSH_COMMAND!)![1]!;
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(file, 'utf8'), KEY);
    ssh.cleanup();
    assert.equal(fs.existsSync(file), false);
    assert.equal(scrubSecrets('fatal: hunter2 rejected', { kind: 'password', username: 'u', password: 'hunter2' }), 'fatal: [redacted] rejected');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
