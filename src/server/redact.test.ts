import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { ProvisionerError } from '../core/errors.ts';
import { normalizeSpec } from '../core/spec.ts';
import type { Provisioner } from '../provisioners/provisioner.ts';
import { ProvisionerRegistry } from '../provisioners/registry.ts';
import { SqlStore } from '../store/sql-store.ts';
import { newWorkspaceRow } from '../store/store.ts';
import { WorkspaceContexts } from './contexts.ts';
import { EventLog } from './events.ts';
import { createLogger } from './logger.ts';
import { Reconciler } from './reconciler.ts';
import { MASK, Redactor, SecretRedactors, contextSecrets, storeLoader } from './redact.ts';
import { SecretBox } from './secrets.ts';
import { SpecCodec } from './workspaces.ts';

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

test('a failed provision that quotes secrets leaves them out of the workspace message and events, also after a restart', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-redact-'));
  const store = await SqlStore.create({ kind: 'sqlite', file: ':memory:' });
  try {
    const box = SecretBox.open(dir);
    const codec = new SpecCodec(box);
    const now = new Date().toISOString();
    const user = await store.createUser({ id: 'usr_1', name: 'u', role: 'user', created_at: now });
    const creds = box.encrypt(JSON.stringify({ kind: 'password', username: 'git', password: 'git-canary-pw' }));
    const project = await store.createProject({ id: 'prj_1', name: 'p', repo_url: 'https://example.com/p.git', branch: null, owner_id: user.id, credentials_enc: creds, created_at: now });
    const spec = normalizeSpec({ env: [{ name: 'S', value: 'env-canary-value', secret: true }], files: [{ path: '/workspace/f', content: 'file-canary-value', secret: true }] });
    const id = 'ws_00000000000000000001';
    await store.createWorkspace(newWorkspaceRow({ id, name: 'w', owner_id: user.id, project_id: project.id, provisioner: 'failing', spec_json: codec.encode(spec) }));
    assert.doesNotMatch(JSON.stringify(await store.getWorkspace(id)), /canary/, 'secret env and file contents are stored encrypted');

    const quoted = 'env-canary-value file-canary-value git-canary-pw';
    const failing: Provisioner = {
      name: 'failing',
      type: 'failing',
      capabilities: { runsOnHost: false, image: false, user: false, resources: false, registryLogins: false, needsServerUrl: false, fork: false },
      validate: async () => undefined,
      provision: async (_ws, opts) => {
        opts.progress(`output: ${quoted}`);
        throw new ProvisionerError(`Setup failed: ${quoted}`, { retryable: false });
      },
      stop: async () => undefined,
      destroy: async () => undefined,
      inspect: async () => ({ state: 'absent', storage: false }),
      exec: async () => assert.fail('not used'),
      list: async () => [],
      close: async () => undefined,
    };
    const registry = new ProvisionerRegistry({ installation: 'test', dataDir: dir, serverUrl: () => 'http://x', listening: Promise.resolve(), logger: createLogger('silent') });
    registry.add(failing);
    // A fresh SecretRedactors, as after a restart: the values are read back from the store.
    const secrets = new SecretRedactors();
    secrets.loadWith(storeLoader({ store, codec, box }));
    const events = new EventLog(store, secrets);
    const rec = new Reconciler({ store, registry, events, contexts: new WorkspaceContexts({ store, codec, box, serverUrl: () => 'http://x' }), logger: createLogger('silent'), intervalMs: 60_000 });
    rec.kick(id);
    await rec.idle(id);
    const row = (await store.getWorkspace(id))!;
    assert.equal(row.phase, 'failed');
    assert.equal(row.message, `Setup failed: ${MASK} ${MASK} ${MASK}`);
    const text = (await events.list(id)).map((e) => e.message).join('\n');
    assert.match(text, /output: \[secret\] \[secret\] \[secret\]/);
    assert.doesNotMatch(text, /canary/);
    await rec.shutdown();
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('after a spec change the new secrets are read again, and the old ones stay redacted', async () => {
  let current = ['first-secret'];
  const s = new SecretRedactors();
  s.loadWith(async () => current);
  assert.equal(await s.redact('ws', 'first-secret second-secret'), `${MASK} second-secret`);
  current = ['second-secret'];
  await s.refresh('ws');
  assert.equal(await s.redact('ws', 'first-secret second-secret'), `${MASK} ${MASK}`);
});
