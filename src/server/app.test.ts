/** HTTP tests without a socket: the app factory wired to an in-memory store. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ProvisionerRegistry } from '../provisioners/registry.ts';
import { shellPlugin } from '../provisioners/shell/plugin.ts';
import { SqlStore } from '../store/sql-store.ts';
import { buildApp } from './app.ts';
import { AuthService } from './auth.ts';
import { WorkspaceContexts } from './contexts.ts';
import { EventLog } from './events.ts';
import { createLogger } from './logger.ts';
import { ProjectService } from './projects.ts';
import { ProvisionerService } from './provisioners.ts';
import { Reconciler } from './reconciler.ts';
import { SecretBox } from './secrets.ts';
import { TerminalService } from './terminals.ts';
import { SpecCodec, WorkspaceService } from './workspaces.ts';

let app: FastifyInstance;
let store: SqlStore;
let token: string;
let dir: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-app-'));
  store = await SqlStore.create({ kind: 'sqlite', file: ':memory:' });
  const logger = createLogger('silent');
  const box = SecretBox.open(dir);
  const registry = new ProvisionerRegistry({ installation: 'test', dataDir: dir, serverUrl: () => 'http://test', listening: Promise.resolve(), logger });
  registry.register(shellPlugin);
  const provisioners = new ProvisionerService({ store, box, registry, logger });
  await provisioners.restore({ probeBuiltins: false });
  const events = new EventLog(store);
  const codec = new SpecCodec(box);
  const auth = new AuthService(store, 86_400_000);
  const projects = new ProjectService(store);
  const contexts = new WorkspaceContexts({ store, codec, box, serverUrl: () => 'http://test' });
  const reconciler = new Reconciler({ store, registry, events, contexts, logger, intervalMs: 60_000 });
  const workspaces = new WorkspaceService({ store, registry, projects, events, codec, reconciler });
  const terminals = new TerminalService({ logger, bufferBytes: 1024, idleMs: 1000 });
  app = await buildApp({ logger, auth, projects, workspaces, registry, provisioners, contexts, events, terminals, bodyLimit: 1024 * 1024, version: 'test' });
  await app.ready();
  token = (await auth.bootstrap(dir, 'http://test'))!.token;
});
after(async () => {
  await app.close();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

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
