/** Unit tests of upstream credential validation and how git is handed them. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../core/errors.ts';
import { normalizeCredentials, scrubSecrets, upstreamAuth } from './credentials.ts';

const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n';

test('credentials must fit the repository URL', () => {
  assert.equal(normalizeCredentials('https://git.example.com/a.git', undefined), null);
  assert.deepEqual(normalizeCredentials('https://git.example.com/a.git', { username: 'u', password: 'p' }), { kind: 'password', username: 'u', password: 'p' });
  assert.equal(normalizeCredentials('git@git.example.com:a.git', { sshKey: KEY })?.kind, 'ssh-key');
  for (const [repo, input, re] of [
    ['git@git.example.com:a.git', { username: 'u', password: 'p' }, /only work with an http/],
    ['https://git.example.com/a.git', { sshKey: KEY }, /SSH key only works with an ssh/],
    ['https://git.example.com/a.git', { username: 'u' }, /both a username and a password/],
    ['https://u:secret@git.example.com/a.git', undefined, /URL contains a password/],
    ['https://git.example.com/a.git', { username: 'u', password: 'a\nb' }, /line breaks/],
    ['ssh://git.example.com/a.git', { sshKey: 'not a key' }, /not a PEM\/OpenSSH private key/],
  ] as const) {
    assert.throws(() => normalizeCredentials(repo, input), (e: unknown) => e instanceof InputError && re.test(e.message), repo);
  }
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
