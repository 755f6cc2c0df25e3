/** HTTP tests without a socket: the app factory wired to an in-memory store. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { SqlStore } from '../store/sql-store.ts';
import { startTestApp, type TestApp } from './test-app.ts';

let t: TestApp;
let app: FastifyInstance;
let store: SqlStore;
let token: string;
let dir: string;

before(async () => {
  t = await startTestApp({ prefix: 'berth-app-' });
  ({ app, store, token, dir } = t);
});
after(() => t.close());

test('healthz is the only open route', async () => {
  assert.equal((await app.inject('/healthz')).statusCode, 200);
  for (const url of ['/api/v1/workspaces', '/api/v1/openapi.json', '/api/v1/me', '/api/v1/nope']) {
    const res = await app.inject(url);
    assert.equal(res.statusCode, 401, url);
    assert.equal(res.json().error.code, 'unauthorized');
  }
});

test('the OpenAPI document lists the workspace routes and the error shape', async () => {
  const res = await app.inject({ url: '/api/v1/openapi.json', headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.statusCode, 200);
  const doc = res.json();
  assert.equal(doc.openapi, '3.0.3');
  for (const p of ['/api/v1/workspaces', '/api/v1/workspaces/{ref}', '/api/v1/workspaces/{ref}/start', '/api/v1/projects', '/api/v1/tokens']) {
    assert.ok(doc.paths[p], `${p} documented`);
  }
  assert.ok(doc.paths['/api/v1/workspaces'].post.responses['400'], 'errors documented');
});

test('the admin credentials file is private and holds the token', () => {
  const file = path.join(dir, 'admin-credentials');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.ok(fs.readFileSync(file, 'utf8').includes(token));
});

test('tokens are stored hashed, never in clear', async () => {
  const rows = await store.listTokens((await store.getUserByName('admin'))!.id);
  assert.equal(rows.length, 1);
  assert.notEqual(rows[0]!.hash, token);
  assert.equal(JSON.stringify(rows).includes(token), false);
});
