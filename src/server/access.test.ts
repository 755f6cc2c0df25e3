/** The access decision table, and its use with members stored in an in-memory database. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { ConflictError, ForbiddenError, NotFoundError } from '../core/errors.ts';
import type { Database, ProjectRole } from '../store/schema.ts';
import { migrations } from '../store/migrations/index.ts';
import { SqlStore } from '../store/sql-store.ts';
import type { ProjectRow } from '../store/store.ts';
import { decide, PROJECT_ROLES, ProjectAccess, ROLE_NEEDED, type ProjectAction, type Subject } from './access.ts';
import type { Principal } from './auth.ts';
import { ProjectService } from './projects.ts';

const ACTIONS = Object.keys(ROLE_NEEDED) as ProjectAction[];
const user = (role: ProjectRole | undefined, admin = false): Subject => ({ user: 'bob', admin, role });

test('each role may do exactly its actions; read and clone for viewers, push, sync and workspaces for developers, the rest for owners', () => {
  const allowed = (role: ProjectRole) => ACTIONS.filter((a) => decide(user(role), 'web', a).ok).sort();
  assert.deepEqual(allowed('viewer'), ['clone', 'read']);
  assert.deepEqual(allowed('developer'), ['clone', 'createWorkspace', 'push', 'read', 'sync']);
  assert.deepEqual(allowed('owner'), [...ACTIONS].sort());
  for (const a of ACTIONS) assert.ok(decide(user(undefined, true), 'web', a).ok, `admins may ${a}`);
});

test('a non-member gets the same 404 as for a project that does not exist; a member lacking the role gets 403 naming it', () => {
  for (const a of ACTIONS) {
    const d = decide(user(undefined), 'web', a);
    assert.ok(!d.ok && d.error instanceof NotFoundError);
    assert.match(d.error.message, /^No project named "web"\./);
  }
  const d = decide(user('viewer'), 'web', 'push');
  assert.ok(!d.ok && d.error instanceof ForbiddenError);
  assert.equal(d.error.message, 'You are a viewer of project "web"; to push to it you need to be a developer or higher (ask a project owner: berth project member add web bob --role developer).');
  const owner = decide(user('developer'), 'web', 'manageMembers');
  assert.ok(!owner.ok && /you need to be an owner/.test(owner.error.message));
});

test('a workspace token reaches only its own project, with its owner’s role, and never manages it', () => {
  const ws = (role: ProjectRole | undefined, ownProject: boolean, admin = false): Subject => ({ ...user(role, admin), workspaceToken: { ownProject } });
  for (const role of [...PROJECT_ROLES, undefined]) {
    for (const admin of [false, true]) {
      for (const a of ACTIONS) {
        const d = decide(ws(role, false, admin), 'other', a);
        assert.ok(!d.ok && d.error instanceof ForbiddenError && /may only access the repository of its own workspace's project, not "other"/.test(d.error.message));
      }
    }
  }
  assert.ok(decide(ws('developer', true), 'web', 'push').ok);
  assert.ok(decide(ws('viewer', true), 'web', 'clone').ok);
  const push = decide(ws('viewer', true), 'web', 'push');
  assert.ok(!push.ok && /workspace's owner, bob, is a viewer of project "web"; to push to it they need to be a developer/.test(push.error.message));
  const gone = decide(ws(undefined, true), 'web', 'clone');
  assert.ok(!gone.ok && /is no longer a member of project "web"/.test(gone.error.message));
  for (const a of ['sync', 'update', 'delete', 'manageMembers', 'createWorkspace'] as const) {
    const d = decide(ws('owner', true, true), 'web', a);
    assert.ok(!d.ok && /A workspace token cannot .* projects; use a user token\./.test(d.error.message), a);
  }
});

let store: SqlStore;
let projects: ProjectService;
const principals: Record<string, Principal> = {};
let web: ProjectRow;
let other: ProjectRow;

before(async () => {
  store = await SqlStore.create({ kind: 'sqlite', file: ':memory:' });
  projects = new ProjectService(store);
  const now = new Date().toISOString();
  for (const [name, role] of [['admin', 'admin'], ['alice', 'user'], ['bob', 'user'], ['carol', 'user']] as const) {
    const u = await store.createUser({ id: `usr_${name}`, name, role, created_at: now });
    principals[name] = { user: u, tokenId: `tok_${name}`, kind: 'user', workspaceId: null };
  }
  await projects.create(principals.alice!, { name: 'web', repo: 'https://example.com/web.git' });
  await projects.create(principals.admin!, { name: 'other', repo: 'https://example.com/other.git' });
  web = (await store.getProjectByName('web'))!;
  other = (await store.getProjectByName('other'))!;
});
after(async () => {
  await store?.close();
});

test('the creator of a project is its owner; users list only projects they are members of, admins all', async () => {
  assert.deepEqual(await projects.members.list(principals.alice!, 'web').then((ms) => ms.map((m) => [m.user, m.role])), [['alice', 'owner']]);
  assert.deepEqual((await projects.list(principals.alice!)).map((p) => p.name), ['web']);
  assert.deepEqual((await projects.list(principals.bob!)).map((p) => p.name), []);
  assert.deepEqual((await projects.list(principals.admin!)).map((p) => p.name), ['other', 'web']);
  await assert.rejects(projects.find(principals.bob!, 'web', 'read'), NotFoundError);
  await assert.rejects(projects.sync(principals.bob!, 'web'), NotFoundError);
});

test('a workspace token sees its own project only, with its owner’s role', async () => {
  const now = new Date().toISOString();
  await store.setMember(web.id, 'usr_carol', 'viewer', now);
  await store.createWorkspace({ id: 'ws_carol', name: 'c', owner_id: 'usr_carol', project_id: web.id, ref: null, provisioner: 'shell', spec_json: '{}', desired: 'running', phase: 'pending', message: null, status_json: null, attempts: 0, next_attempt_at: null, created_at: now, updated_at: now });
  const token: Principal = { ...principals.carol!, kind: 'workspace', workspaceId: 'ws_carol' };
  const access = new ProjectAccess(store);
  assert.deepEqual((await access.visible(token, [web, other])).map((p) => p.name), ['web']);
  assert.ok((await access.can(token, web, 'clone')).ok);
  assert.ok(!(await access.can(token, web, 'push')).ok);
  await assert.rejects(projects.find(token, 'other', 'clone'), /may only access the repository of its own workspace's project/);
  await assert.rejects(projects.find(token, 'no-such', 'clone'), ForbiddenError, 'no probing for names');
  await store.deleteWorkspace('ws_carol');
  await store.removeMember(web.id, 'usr_carol');
});

test('members: owners and admins manage them; a project always keeps one owner', async () => {
  const m = projects.members;
  await assert.rejects(m.set(principals.bob!, 'web', 'bob', 'owner'), NotFoundError, 'a non-member cannot add himself');
  assert.equal((await m.set(principals.alice!, 'web', 'bob', 'viewer')).role, 'viewer');
  await assert.rejects(m.set(principals.bob!, 'web', 'bob', 'owner'), /You are a viewer of project "web"; to manage the members of it you need to be an owner/);
  await assert.rejects(m.set(principals.alice!, 'web', 'nobody', 'viewer'), /No user named "nobody"/);
  await assert.rejects(m.set(principals.alice!, 'web', 'alice', 'developer'), (err: Error) => err instanceof ConflictError && /alice is the only owner of project "web"/.test(err.message));
  await assert.rejects(m.remove(principals.alice!, 'web', 'alice'), ConflictError);
  await assert.rejects(m.remove(principals.alice!, 'web', 'carol'), /carol is not a member of project "web"/);
  assert.equal((await m.set(principals.admin!, 'web', 'bob', 'owner')).role, 'owner');
  await m.remove(principals.bob!, 'web', 'alice');
  assert.deepEqual((await m.list(principals.bob!, 'web')).map((x) => [x.user, x.role]), [['bob', 'owner']]);
  await m.set(principals.bob!, 'web', 'alice', 'owner');
});

test('removing a user: refused for the only owner of a project, one with workspaces, and the last admin; otherwise tokens and memberships go', async () => {
  const m = projects.members;
  await assert.rejects(m.deleteUser(principals.alice!, 'carol'), ForbiddenError);
  await assert.rejects(m.deleteUser(principals.admin!, 'admin'), /admin is the last admin and cannot be removed/);
  await m.set(principals.alice!, 'web', 'bob', 'viewer');
  await store.createProject({ id: 'prj_solo', name: 'solo', repo_url: '/x', branch: null, owner_id: 'usr_carol', credentials_enc: null, created_at: new Date().toISOString() });
  await store.setMember('prj_solo', 'usr_carol', 'owner', new Date().toISOString());
  await assert.rejects(m.deleteUser(principals.admin!, 'carol'), (err: Error) => err instanceof ConflictError && /carol is the only owner of project solo; give it another owner first/.test(err.message));
  await m.set(principals.admin!, 'solo', 'alice', 'owner');
  await store.createToken({ id: 'tok_c', kind: 'user', user_id: 'usr_carol', workspace_id: null, name: 't', hash: 'h-carol', secret_enc: null, created_at: '', expires_at: null, revoked_at: null });
  await m.deleteUser(principals.admin!, 'carol');
  assert.equal(await store.getUserByName('carol'), undefined);
  assert.equal(await store.findTokenByHash('h-carol'), undefined);
  assert.equal((await store.getProject('prj_solo'))!.owner_id, 'usr_alice', 'the project passes to its other owner');
  assert.deepEqual((await m.list(principals.admin!, 'solo')).map((x) => x.user), ['alice']);
  const now = new Date().toISOString();
  await store.createWorkspace({ id: 'ws_bob', name: 'b', owner_id: 'usr_bob', project_id: web.id, ref: null, provisioner: 'shell', spec_json: '{}', desired: 'running', phase: 'pending', message: null, status_json: null, attempts: 0, next_attempt_at: null, created_at: now, updated_at: now });
  await assert.rejects(m.deleteUser(principals.admin!, 'bob'), /bob still owns 1 workspace \(bob\/b\); delete them first/);
  await store.deleteWorkspace('ws_bob');
  await m.deleteUser(principals.admin!, 'bob');
  assert.deepEqual((await m.list(principals.alice!, 'web')).map((x) => x.user), ['alice']);
});

test('upgrading a database from before roles makes every project\'s creator its owner', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-roles-'));
  const file = path.join(dir, 'berth.db');
  try {
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new SqliteDatabase(file) }) });
    const { error } = await new Migrator({ db, provider: { getMigrations: async () => migrations('sqlite') } }).migrateTo('0002_agents');
    assert.equal(error, undefined);
    await db.insertInto('users').values({ id: 'usr_old', name: 'old', role: 'user', created_at: '2026-01-01T00:00:00.000Z' }).execute();
    await db.insertInto('projects').values({ id: 'prj_old', name: 'legacy', repo_url: '/x', branch: null, owner_id: 'usr_old', credentials_enc: null, created_at: '2026-01-02T00:00:00.000Z' }).execute();
    await db.destroy();
    const upgraded = await SqlStore.create({ kind: 'sqlite', file });
    try {
      assert.deepEqual((await upgraded.listMembers('prj_old')).map((m) => [m.user_name, m.role, m.created_at]), [['old', 'owner', '2026-01-02T00:00:00.000Z']]);
    } finally {
      await upgraded.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
