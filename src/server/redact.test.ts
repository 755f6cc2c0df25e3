import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { createLogger } from './logger.ts';
import { MASK, Redactor, SecretRedactors, contextSecrets } from './redact.ts';
import { normalizeSpec } from '../core/spec.ts';

test('a secret is replaced in its plain, JSON-escaped, URL-encoded and base64 forms', () => {
  const secret = 'p@ss "w/rd"';
  const r = new Redactor([secret]);
  assert.equal(r.redact(`a ${secret} b`), `a ${MASK} b`);
  assert.equal(r.redact(JSON.stringify({ msg: `x${secret}y` })), `{"msg":"x${MASK}y"}`);
  assert.equal(r.redact(`u=${encodeURIComponent(secret)}`), `u=${MASK}`);
  assert.equal(r.redact(Buffer.from(secret).toString('base64')), MASK);
});

test('values shorter than four characters are left alone, so text stays readable', () => {
  const r = new Redactor(['abc', 'x']);
  assert.equal(r.redact('abc x abcx'), 'abc x abcx');
});

test('each long line of a multi-line secret is replaced, as output arrives line by line', () => {
  const key = '-----BEGIN KEY-----\nAAAAB3NzaC1yc2EAAAADAQAB\nQQQQQQQQQQQQQQQQ\n-----END KEY-----\n';
  const r = new Redactor([key]);
  assert.equal(r.redact('AAAAB3NzaC1yc2EAAAADAQAB'), MASK);
  assert.equal(r.redact(key), MASK);
});

test('a longer secret containing a shorter one is replaced whole', () => {
  const r = new Redactor(['secret', 'secret-and-more']);
  assert.equal(r.redact('[secret-and-more]'), `[${MASK}]`);
});

test('any Berth token is replaced even when not known', () => {
  const token = `berth_w_${'A'.repeat(43)}`;
  assert.equal(new Redactor([]).redact(`token=${token}`), `token=${MASK}`);
});

test('regex characters in a secret are matched literally', () => {
  const r = new Redactor(['a.b*c']);
  assert.equal(r.redact('aXbbc a.b*c'), `aXbbc ${MASK}`);
});

test('a context names its token, secret env, registry passwords and secret files, not plain values', () => {
  const spec = normalizeSpec({
    env: [{ name: 'A', value: 'plain-value' }, { name: 'B', value: 'env-secret', secret: true }],
    files: [{ path: '/workspace/a', content: 'open file' }, { path: '/workspace/b', content: 'file-secret', secret: true }],
    registryLogins: [{ registry: 'r.example', username: 'u', password: 'reg-secret' }],
  });
  const got = contextSecrets({ spec, env: { BERTH_WORKSPACE_TOKEN: 'tok-secret' } });
  assert.deepEqual(got.sort(), ['env-secret', 'file-secret', 'reg-secret', 'tok-secret']);
});

test('workspaces redact only their own secrets; log lines redact all of them', async () => {
  const loaded: string[] = [];
  const s = new SecretRedactors();
  s.loadWith(async (id) => {
    loaded.push(id);
    return id === 'ws1' ? ['one-secret'] : ['two-secret'];
  });
  assert.equal(await s.redact('ws1', 'one-secret two-secret'), `${MASK} two-secret`);
  assert.equal(await s.redact('ws2', 'one-secret two-secret'), `one-secret ${MASK}`);
  assert.equal(s.redactAll('one-secret two-secret'), `${MASK} ${MASK}`);
  await s.redact('ws1', 'again');
  assert.deepEqual(loaded, ['ws1', 'ws2'], 'secrets are loaded once per workspace');
  s.forget('ws1');
  assert.equal(s.redactAll('one-secret'), 'one-secret');
});

test('a loader that fails still leaves Berth tokens scrubbed', async () => {
  const s = new SecretRedactors();
  s.loadWith(async () => {
    throw new Error('key lost');
  });
  assert.equal(await s.redact('ws', `berth_u_${'b'.repeat(43)}`), MASK);
});

test('the logger rewrites whole lines: messages, objects and errors', () => {
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  const s = new SecretRedactors();
  s.learn('ws', ['log-canary-1234']);
  const logger = createLogger('info', sink, (line) => s.redactAll(line));
  logger.info({ detail: { nested: 'log-canary-1234' }, err: new Error('failed with log-canary-1234') }, 'said log-canary-1234');
  assert.match(out, /said \[secret\]/);
  assert.doesNotMatch(out, /log-canary-1234/);
});
