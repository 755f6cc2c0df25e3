/** The browser session (cookie, CSRF, Origin), the workspace list stream and the UI's static serving, over HTTP without a browser. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { normalizeSpec } from '../../core/spec.ts';
import type { WatchMessage } from '../../sdk/web.ts';
import type { SqlStore } from '../../store/sql-store.ts';
import { newWorkspaceRow } from '../../store/store.ts';
import type { AuthService } from '../auth.ts';
import type { EventLog } from '../events.ts';
import { newId } from '../secrets.ts';
import { startTestApp, type TestApp } from '../test-app.ts';
import { SessionService } from './session.ts';
import type { SpecCodec } from '../workspaces.ts';

let t: TestApp;
let app: FastifyInstance;
let store: SqlStore;
let events: EventLog;
let auth: AuthService;
let codec: SpecCodec;
let adminToken: string;
let webDir: string;

before(async () => {
  t = await startTestApp({ prefix: 'berth-web-', listen: true, web: { 'index.html': '<!doctype html><title>Berth UI</title>', 'assets/app-1234.js': 'console.log(1)' } });
  ({ app, store, events, auth, codec, webDir, token: adminToken } = t);
});
after(() => t.close());

async function signIn(token = adminToken): Promise<{ cookie: string; csrf: string }> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { token } });
  assert.equal(res.statusCode, 201, res.body);
  const set = String(res.headers['set-cookie']);
  return { cookie: set.split(';')[0]!, csrf: res.json().csrf };
}

test('signing in sets an HttpOnly, SameSite=Strict session cookie; a wrong token is refused', async () => {
  const bad = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { token: 'berth_u_' + 'x'.repeat(43) } });
  assert.equal(bad.statusCode, 401);
  assert.equal(bad.headers['set-cookie'], undefined);
  const res = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { token: adminToken } });
  const set = String(res.headers['set-cookie']);
  assert.match(set, /^berth_session=/);
  assert.match(set, /HttpOnly/);
  assert.match(set, /SameSite=Strict/);
  assert.match(set, /Path=\//);
  assert.doesNotMatch(set, /Secure/, 'plain HTTP: a Secure cookie would never come back');
  assert.equal(set.includes(adminToken), false, 'the token is sealed, not in clear');
  assert.equal(res.json().user.name, 'admin');
});

test('over HTTPS the session cookie is Secure', () => {
  const set: { name: string; opts: Record<string, unknown> }[] = [];
  const reply = { setCookie: (name: string, _value: string, opts: Record<string, unknown>) => set.push({ name, opts }) };
  const at = (protocol: string) => ({ protocol }) as unknown as Parameters<typeof SessionService.setCookie>[0];
  SessionService.setCookie(at('https'), reply as unknown as Parameters<typeof SessionService.setCookie>[1], 'v', new Date());
  SessionService.setCookie(at('http'), reply as unknown as Parameters<typeof SessionService.setCookie>[1], 'v', new Date());
  assert.deepEqual(
    set.map((c) => [c.name, c.opts.secure, c.opts.httpOnly, c.opts.sameSite]),
    [
      ['berth_session', true, true, 'strict'],
      ['berth_session', false, true, 'strict'],
    ],
  );
});

test('a cookie request that changes something needs the CSRF header; bearer clients do not', async () => {
  const { cookie, csrf } = await signIn();
  assert.equal((await app.inject({ url: '/api/v1/me', headers: { cookie } })).json().user.name, 'admin');
  const noCsrf = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { cookie }, payload: { name: 'x' } });
  assert.equal(noCsrf.statusCode, 403);
  assert.match(noCsrf.json().error.message, /x-berth-csrf/);
  const wrong = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { cookie, 'x-berth-csrf': csrf.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')) }, payload: { name: 'x' } });
  assert.equal(wrong.statusCode, 403);
  const ok = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { cookie, 'x-berth-csrf': csrf }, payload: { name: 'x' } });
  assert.equal(ok.statusCode, 201);
  const bearer = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { authorization: `Bearer ${adminToken}` }, payload: { name: 'y' } });
  assert.equal(bearer.statusCode, 201);
});

test('a cookie request from another origin is refused, also on a WebSocket upgrade', async () => {
  const { cookie } = await signIn();
  const other = await app.inject({ url: '/api/v1/me', headers: { cookie, origin: 'http://evil.example', host: 'berth.example:7420' } });
  assert.equal(other.statusCode, 403);
  assert.match(other.json().error.message, /evil\.example/);
  const same = await app.inject({ url: '/api/v1/me', headers: { cookie, origin: 'http://berth.example:7420', host: 'berth.example:7420' } });
  assert.equal(same.statusCode, 200);

  // A real WebSocket upgrade (the terminal route) with the cookie: refused from another origin, accepted from this one.
  const url = `${app.listeningOrigin.replace('http', 'ws')}/api/v1/workspaces/nope/exec`;
  const status = (origin: string) =>
    new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url, 'berth.exec.v1', { headers: { cookie, origin } });
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => (ws.close(), resolve(101)));
      ws.once('error', reject);
    });
  assert.equal(await status('http://evil.example'), 403);
  const foreignSignIn = await app.inject({ method: 'POST', url: '/api/v1/session', headers: { origin: 'http://evil.example' }, payload: { token: adminToken } });
  assert.equal(foreignSignIn.statusCode, 403, 'another site cannot sign the browser in');
  assert.equal(await status(app.listeningOrigin), 101);
});

test('signing out ends the session even for a replayed cookie; a revoked token ends its sessions', async () => {
  const { cookie } = await signIn();
  const out = await app.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie } });
  assert.equal(out.statusCode, 204);
  assert.match(String(out.headers['set-cookie']), /berth_session=;/);
  assert.equal((await app.inject({ url: '/api/v1/me', headers: { cookie } })).statusCode, 401);
  assert.equal((await app.inject({ url: '/api/v1/session', headers: { cookie } })).statusCode, 401);

  const admin = (await store.getUserByName('admin'))!;
  const t = await auth.createUserToken(admin.id, 'short');
  const s = await signIn(t.token);
  await app.inject({ method: 'DELETE', url: `/api/v1/tokens/${t.info.id}`, headers: { authorization: `Bearer ${adminToken}` } });
  const res = await app.inject({ url: '/api/v1/me', headers: { cookie: s.cookie } });
  assert.equal(res.statusCode, 401);
  assert.match(res.json().error.message, /revoked/);
});

test('the UI is served at / and deep links, with CSP; API, git and probe paths never get the page', async () => {
  for (const url of ['/', '/workspaces/ws_0123/terminal']) {
    const res = await app.inject(url);
    assert.equal(res.statusCode, 200, url);
    assert.match(res.body, /Berth UI/);
    assert.match(String(res.headers['content-security-policy']), /default-src 'self'.*frame-ancestors 'none'/);
    assert.equal(res.headers['x-frame-options'], 'DENY');
  }
  const asset = await app.inject('/assets/app-1234.js');
  assert.equal(asset.statusCode, 200);
  assert.match(String(asset.headers['cache-control']), /immutable/);
  assert.equal((await app.inject('/assets/missing.js')).statusCode, 404);
  for (const url of ['/api/v2/x', '/git', '/metrics/x', '/healthzz/../api']) {
    const res = await app.inject(url);
    assert.doesNotMatch(res.body, /Berth UI/, url);
  }
  assert.equal((await app.inject('/api/v1/nope')).statusCode, 401);
});

test('without a built UI the page says how to build it', async () => {
  fs.renameSync(path.join(webDir, 'index.html'), path.join(webDir, 'index.off'));
  try {
    const res = await app.inject('/');
    assert.equal(res.statusCode, 500);
    assert.match(res.body, /npm run build/);
  } finally {
    fs.renameSync(path.join(webDir, 'index.off'), path.join(webDir, 'index.html'));
  }
});

test('the workspace stream sends the list, then phase changes and deletions, only of what the caller may see', async () => {
  const admin = (await store.getUserByName('admin'))!;
  const bob = await auth.createUser('bob', 'user');
  const bobId = bob.user.id;
  const project = await store.createProject({ id: newId('prj'), name: 'p1', repo_url: '/nonexistent', branch: null, owner_id: admin.id, credentials_enc: null, created_at: new Date().toISOString() });
  const add = (name: string, owner: string) =>
    store.createWorkspace(newWorkspaceRow({ id: newId('ws'), name, owner_id: owner, project_id: project.id, provisioner: 'shell', spec_json: codec.encode(normalizeSpec(undefined)) }));
  const mine = await add('bob-ws', bobId);
  const ctl = new AbortController();
  const res = await fetch(`${app.listeningOrigin}/api/v1/watch/workspaces`, { headers: { authorization: `Bearer ${bob.token}` }, signal: ctl.signal });
  assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
  const lines = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  const next = async (): Promise<WatchMessage> => {
    for (;;) {
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) return JSON.parse(line) as WatchMessage;
        continue;
      }
      const { value, done } = await lines.read();
      assert.ok(!done, 'stream ended early');
      buf += value;
    }
  };
  const first = await next();
  assert.equal(first.type, 'snapshot');
  assert.deepEqual(first.type === 'snapshot' && first.workspaces.map((w) => w.name), ['bob-ws']);

  // Another user's workspace changing sends nothing; bob's own change arrives.
  const other = await add('admin-ws', admin.id);
  await events.append(other.id, 'phase', 'pending');
  await store.updateWorkspace(mine.id, { phase: 'running', updated_at: new Date().toISOString() });
  await events.append(mine.id, 'phase', 'running');
  const changed = await next();
  assert.equal(changed.type === 'changed' && `${changed.workspace.name} ${changed.workspace.phase}`, 'bob-ws running');

  await store.deleteWorkspace(mine.id);
  events.closed(mine.id);
  assert.deepEqual(await next(), { type: 'deleted', id: mine.id });
  ctl.abort();
});
