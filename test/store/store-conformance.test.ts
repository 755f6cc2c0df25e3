/**
 * One suite of Store behaviours, run against both dialects: SQLite on a temporary file and
 * PostgreSQL on a fresh database of the test environment's cluster (`testenv/berth-testenv up`).
 * What callers rely on must not depend on the dialect: ids are numbers, timestamps are the strings
 * that were written, duplicates are ConflictErrors, transactions roll back.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { ConflictError, InputError } from '../../src/core/errors.ts';
import { migrations } from '../../src/store/migrations/index.ts';
import { SqlStore, type StoreLocation } from '../../src/store/sql-store.ts';
import { newWorkspaceRow, type Store, type UserRow, type WorkspaceRow } from '../../src/store/store.ts';
import { ROOT, tempDir } from '../harness.ts';
import { createThrowawayDatabase, query } from './databases.ts';

/** An empty database of one dialect, and what the suite needs to look behind the Store. */
interface Fresh {
  location: StoreLocation;
  /** Names of the applied migrations, as Kysely's migrator recorded them. */
  appliedMigrations(): Promise<string[]>;
  cleanup(): Promise<void>;
}

const dialects: { name: 'sqlite' | 'postgres'; fresh(): Promise<Fresh> }[] = [
  {
    name: 'sqlite',
    async fresh() {
      const dir = tempDir('berth-store-');
      const file = path.join(dir, 'berth.db');
      return {
        location: { kind: 'sqlite', file },
        async appliedMigrations() {
          const db = new Database(file, { readonly: true });
          try {
            return (db.prepare('SELECT name FROM kysely_migration ORDER BY name').all() as { name: string }[]).map((r) => r.name);
          } finally {
            db.close();
          }
        },
        async cleanup() {
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    async fresh() {
      const db = await createThrowawayDatabase();
      return {
        location: { kind: 'postgres', url: db.url },
        async appliedMigrations() {
          return (await query<{ name: string }>(db.url, 'SELECT name FROM kysely_migration ORDER BY name')).map((r) => r.name);
        },
        cleanup: () => db.drop(),
      };
    },
  },
];

/** Distinct, increasing ISO timestamps (the form every caller writes). */
let clock = Date.parse('2025-03-04T05:06:07.089Z');
function ts(): string {
  clock += 1001;
  return new Date(clock).toISOString();
}

let seq = 0;
function uid(prefix: string): string {
  seq += 1;
  return `${prefix}_${String(seq).padStart(6, '0')}`;
}

async function makeUser(s: Store, name: string, role: 'admin' | 'user' = 'user'): Promise<UserRow> {
  return s.createUser({ id: uid('usr'), name, role, created_at: ts() });
}

async function makeWorkspace(s: Store, owner: UserRow, projectId: string, name: string, fields: Partial<WorkspaceRow> = {}): Promise<WorkspaceRow> {
  return s.createWorkspace(newWorkspaceRow({ id: uid('ws'), name, owner_id: owner.id, project_id: projectId, provisioner: 'shell', spec_json: '{}', ...fields }, ts()));
}

function tokenRow(userId: string, fields: { workspace_id?: string; kind?: 'user' | 'workspace'; created_at?: string } = {}) {
  const id = uid('tok');
  return {
    id,
    kind: fields.kind ?? ('user' as const),
    user_id: userId,
    workspace_id: fields.workspace_id ?? null,
    name: `token ${id}`,
    hash: `hash-${id}`,
    secret_enc: fields.kind === 'workspace' ? `enc-${id}` : null,
    created_at: fields.created_at ?? ts(),
    expires_at: null,
    revoked_at: null,
  };
}

async function assertConflict(p: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ConflictError, `expected a ConflictError, got ${String(err)}`);
    assert.equal(err.code, 'conflict');
    assert.match(err.message, message);
    return true;
  });
}

for (const dialect of dialects) {
  describe(`Store on ${dialect.name}`, () => {
    let fresh: Fresh;
    let store: SqlStore;
    let owner: UserRow;
    let projectId: string;

    before(async () => {
      fresh = await dialect.fresh();
      store = await SqlStore.create(fresh.location);
      owner = await makeUser(store, 'owner', 'admin');
      projectId = (await store.createProject({ id: uid('prj'), name: 'base', repo_url: '/srv/base.git', branch: null, owner_id: owner.id, credentials_enc: null, created_at: ts() })).id;
    });
    after(async () => {
      await store?.close();
      await fresh?.cleanup();
    });

    test('project members: set, change, list by name, remove; deleting a user passes projects they created to another owner', async () => {
      const alice = await makeUser(store, 'm-alice');
      const bob = await makeUser(store, 'm-bob');
      const p = await store.createProject({ id: uid('prj'), name: 'members', repo_url: '/srv/m.git', branch: null, owner_id: alice.id, credentials_enc: null, created_at: ts() });
      await store.setMember(p.id, alice.id, 'owner', ts());
      await store.setMember(p.id, bob.id, 'viewer', ts());
      await store.setMember(p.id, bob.id, 'owner', ts());
      assert.equal(await store.getMemberRole(p.id, bob.id), 'owner');
      assert.equal(await store.getMemberRole(projectId, bob.id), undefined);
      assert.deepEqual((await store.listMembers(p.id)).map((m) => [m.user_name, m.role]), [['m-alice', 'owner'], ['m-bob', 'owner']]);
      assert.deepEqual(await store.listMemberProjectIds(bob.id), [p.id]);
      await store.createToken({ id: uid('tok'), kind: 'user', user_id: alice.id, workspace_id: null, name: 't', hash: uid('hash'), secret_enc: null, created_at: ts(), expires_at: null, revoked_at: null });
      await store.deleteUser(alice.id);
      assert.equal(await store.getUser(alice.id), undefined);
      assert.equal((await store.getProject(p.id))!.owner_id, bob.id);
      assert.deepEqual((await store.listMembers(p.id)).map((m) => m.user_name), ['m-bob']);
      assert.equal(await store.removeMember(p.id, bob.id), true);
      assert.equal(await store.removeMember(p.id, bob.id), false);
      await store.setMember(p.id, bob.id, 'owner', ts());
      await store.deleteProject(p.id);
      assert.deepEqual(await store.listMemberProjectIds(bob.id), []);
      await store.deleteUser(bob.id);
    });

    test('quotas: absent, set, replaced with large byte counts and fractions of CPUs; project provisioners: set, replaced, cleared, gone with the project', async () => {
      const u = await makeUser(store, 'q-user');
      assert.equal(await store.getQuota('user', u.id), undefined);
      const row = { scope: 'user' as const, subject_id: u.id, max_workspaces: 3, max_cpus: 1.5, max_memory: 8 * 1024 ** 3, max_storage: null, updated_at: ts() };
      await store.setQuota(row);
      await store.setQuota({ ...row, max_cpus: 0.25, max_storage: 50 * 1024 ** 4 });
      assert.deepEqual(await store.getQuota('user', u.id), { ...row, max_cpus: 0.25, max_storage: 50 * 1024 ** 4 });
      assert.equal(await store.getQuota('project', u.id), undefined);
      const p = await store.createProject({ id: uid('prj'), name: 'limited', repo_url: '/srv/l.git', branch: null, owner_id: owner.id, credentials_enc: null, created_at: ts() });
      await store.setProjectProvisioners(p.id, ['shell', 'docker']);
      assert.deepEqual(await store.listProjectProvisioners(p.id), ['docker', 'shell']);
      await store.setProjectProvisioners(p.id, ['kubernetes']);
      assert.deepEqual(await store.listProjectProvisioners(p.id), ['kubernetes']);
      await store.setProjectProvisioners(p.id, []);
      assert.deepEqual(await store.listProjectProvisioners(p.id), []);
      await store.setProjectProvisioners(p.id, ['docker']);
      await store.setQuota({ ...row, scope: 'project', subject_id: p.id });
      await store.deleteProject(p.id);
      assert.deepEqual(await store.listProjectProvisioners(p.id), []);
      assert.equal(await store.getQuota('project', p.id), undefined);
      await store.deleteUser(u.id);
      assert.equal(await store.getQuota('user', u.id), undefined);
    });

    test('quarantine records keep their first sighting; event retention prunes in batches, spares the newest phase event and counts what went; backup works on SQLite only', async () => {
      await store.addQuarantine({ workspace_id: 'ws_q', provisioner: 'docker', first_seen: '2026-01-01T00:00:00.000Z', reason: 'r' });
      await store.addQuarantine({ workspace_id: 'ws_q', provisioner: 'docker', first_seen: '2026-02-01T00:00:00.000Z', reason: 'r' });
      assert.deepEqual(await store.listQuarantine(), [{ workspace_id: 'ws_q', provisioner: 'docker', first_seen: '2026-01-01T00:00:00.000Z', reason: 'r' }]);
      await store.deleteQuarantine('ws_q', 'docker');
      assert.deepEqual(await store.listQuarantine(), []);

      const w = await store.createWorkspace(newWorkspaceRow({ id: uid('ws'), name: 'retention', owner_id: owner.id, project_id: projectId, provisioner: 'shell', spec_json: '{}' }));
      await store.appendEvents(w.id, [{ kind: 'phase', message: 'running', ts: '2026-01-01T00:00:00.000Z' }]);
      await store.appendEvents(w.id, Array.from({ length: 12 }, (_, i) => ({ kind: 'output', message: `l${i}`, ts: '2026-01-01T00:00:01.000Z' })));
      const policy = { keep: 5, olderThan: '2025-01-01T00:00:00.000Z', limit: 4 };
      assert.equal(await store.pruneEvents(w.id, policy, ts()), 4);
      assert.equal(await store.pruneEvents(w.id, policy, ts()), 3);
      assert.equal(await store.pruneEvents(w.id, policy, ts()), 0, 'the phase event is spared');
      const kept = await store.listEvents(w.id, 0, 100);
      assert.deepEqual(kept.map((e) => e.message), ['running', 'l7', 'l8', 'l9', 'l10', 'l11']);
      assert.deepEqual(await store.eventsDropped(w.id), { dropped: 7, lastDroppedId: kept[1]!.id - 1 });
      assert.deepEqual((await store.eventsBefore(w.id, kept[3]!.id, 2)).map((e) => e.message), ['l7', 'l8']);
      assert.equal(await store.pruneEvents(w.id, { keep: 100, olderThan: '2026-01-01T00:00:00.500Z', limit: 100 }, ts()), 0, 'the newest phase event is spared by age too');
      await store.deleteWorkspace(w.id);
      assert.deepEqual(await store.eventsDropped(w.id), { dropped: 0, lastDroppedId: 0 });
      await store.appendEvents(w.id, [{ kind: 'output', message: 'landed after the delete', ts: ts() }]);
      assert.ok((await store.pruneEventsWithoutWorkspace(100)) >= 1);
      assert.deepEqual(await store.listEvents(w.id, 0, 10), []);

      const file = path.join(tempDir('berth-backup-'), 'copy.db');
      if (dialect.name === 'sqlite') {
        await store.backup(file);
        const copy = new Database(file, { readonly: true });
        assert.ok((copy.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n > 0);
        copy.close();
      } else {
        await assert.rejects(store.backup(file), (err: unknown) => err instanceof ConflictError && /pg_dump/.test(err.message));
      }
    });

    test('migrations apply to an empty database, and opening it again changes nothing', async () => {
      const other = await dialect.fresh();
      try {
        const first = await SqlStore.create(other.location);
        assert.equal(first.dialect, dialect.name);
        const u = await makeUser(first, 'survivor');
        await first.close();
        const all = Object.keys(migrations(dialect.name)).sort();
        assert.deepEqual(all.slice(0, 3), ['0001_initial', '0002_agents', '0003_members']);
        assert.deepEqual(await other.appliedMigrations(), all);

        const second = await SqlStore.create(other.location);
        try {
          assert.deepEqual(await second.getUser(u.id), u, 'data written before the reopen is intact');
          assert.deepEqual(await other.appliedMigrations(), all, 'nothing applied twice');
        } finally {
          await second.close();
        }
      } finally {
        await other.cleanup();
      }
    });

    test('users: create, get by id and name, list by name; a duplicate name is a ConflictError', async () => {
      const zed = await makeUser(store, 'zed');
      const amy = await makeUser(store, 'amy');
      assert.deepEqual(await store.getUser(zed.id), zed);
      assert.deepEqual(await store.getUserByName('amy'), amy);
      assert.equal(await store.getUser('usr_missing'), undefined);
      assert.equal(await store.getUserByName('nobody'), undefined);
      assert.deepEqual(
        (await store.listUsers()).map((u) => u.name),
        ['amy', 'owner', 'zed'],
      );
      await assertConflict(makeUser(store, 'zed'), /A user named "zed" already exists\./);
      await assertConflict(store.createUser({ ...amy, name: 'amy-2' }), /already exists/);
    });

    test('tokens: find by hash, list user tokens, revoke once, workspace tokens rotate', async () => {
      const u = await makeUser(store, 'token-holder');
      const t1 = tokenRow(u.id);
      const t2 = tokenRow(u.id);
      await store.createToken(t1);
      await store.createToken(t2);
      assert.deepEqual(await store.findTokenByHash(t1.hash), t1);
      assert.deepEqual(await store.getToken(t2.id), t2);
      assert.equal(await store.findTokenByHash('no-such-hash'), undefined);
      await assertConflict(store.createToken({ ...tokenRow(u.id), hash: t1.hash }), /That token already exists\./);

      const revokedAt = ts();
      await store.revokeToken(t1.id, revokedAt);
      await store.revokeToken(t1.id, ts());
      assert.equal((await store.getToken(t1.id))?.revoked_at, revokedAt, 'a second revoke keeps the first time');

      const ws = await makeWorkspace(store, u, projectId, 'tokened');
      const w1 = tokenRow(u.id, { kind: 'workspace', workspace_id: ws.id });
      await store.createToken(w1);
      assert.equal((await store.currentWorkspaceToken(ws.id))?.id, w1.id);
      await store.revokeWorkspaceTokens(ws.id, ts());
      const revoked = await store.getToken(w1.id);
      assert.ok(revoked?.revoked_at);
      assert.equal(revoked.secret_enc, null, 'the encrypted secret of a revoked workspace token is dropped');
      assert.equal(await store.currentWorkspaceToken(ws.id), undefined);
      const w2 = tokenRow(u.id, { kind: 'workspace', workspace_id: ws.id });
      await store.createToken(w2);
      assert.equal((await store.currentWorkspaceToken(ws.id))?.id, w2.id);

      assert.deepEqual(
        (await store.listTokens(u.id)).map((t) => t.id),
        [t1.id, t2.id],
        'user tokens only, oldest first',
      );
    });

    test('projects: create, get, list, update; a duplicate name is a ConflictError', async () => {
      const p = await store.createProject({ id: uid('prj'), name: 'web', repo_url: 'https://example.com/web.git', branch: null, owner_id: owner.id, credentials_enc: null, created_at: ts() });
      assert.deepEqual(await store.getProject(p.id), p);
      assert.deepEqual(await store.getProjectByName('web'), p);
      assert.deepEqual(
        (await store.listProjects()).map((r) => r.name),
        ['base', 'web'],
      );
      assert.deepEqual(await store.updateProject(p.id, {}), p, 'an empty patch changes nothing');
      const updated = await store.updateProject(p.id, { branch: 'release', credentials_enc: 'enc' });
      assert.deepEqual(updated, { ...p, branch: 'release', credentials_enc: 'enc' });
      assert.equal(await store.updateProject('prj_missing', { branch: 'x' }), undefined);
      await assertConflict(
        store.createProject({ id: uid('prj'), name: 'web', repo_url: '/x', branch: null, owner_id: owner.id, credentials_enc: null, created_at: ts() }),
        /A project named "web" already exists\./,
      );
      await store.deleteProject(p.id);
      assert.equal(await store.getProjectByName('web'), undefined, 'a deleted project is gone');
    });

    test('provisioners: create and list; a duplicate name is a ConflictError', async () => {
      const row = { name: 'docker-b', type: 'docker', config_enc: 'enc', created_at: ts() };
      await store.createProvisioner(row);
      await store.createProvisioner({ ...row, name: 'docker-a' });
      assert.deepEqual(
        (await store.listProvisioners()).map((p) => p.name),
        ['docker-a', 'docker-b'],
      );
      await assertConflict(store.createProvisioner(row), /A provisioner named "docker-b" already exists\./);
      assert.equal(await store.updateProvisioner('docker-a', 'enc2'), true);
      assert.equal((await store.listProvisioners()).find((p) => p.name === 'docker-a')?.config_enc, 'enc2');
      assert.equal(await store.updateProvisioner('missing', 'x'), false);
      assert.equal(await store.deleteProvisioner('docker-a'), true);
      assert.equal(await store.deleteProvisioner('docker-a'), false, 'deleting twice reports that nothing was there');
      assert.deepEqual((await store.listProvisioners()).map((p) => p.name), ['docker-b']);
    });

    test('workspaces: create, get, list and filter; names are unique per owner', async () => {
      const alice = await makeUser(store, 'alice');
      const bob = await makeUser(store, 'bob');
      const a1 = await makeWorkspace(store, alice, projectId, 'dev');
      const b1 = await makeWorkspace(store, bob, projectId, 'dev');
      assert.deepEqual(await store.getWorkspace(a1.id), a1);
      assert.deepEqual(await store.getWorkspaceByName(bob.id, 'dev'), b1);
      assert.equal(await store.getWorkspaceByName(alice.id, 'nope'), undefined);
      assert.equal(a1.attempts, 0);
      assert.equal(typeof a1.attempts, 'number');
      assert.deepEqual(
        (await store.listWorkspaces({ ownerId: alice.id })).map((w) => w.id),
        [a1.id],
      );
      assert.deepEqual(
        (await store.listWorkspaces({ name: 'dev' })).map((w) => w.id),
        [a1.id, b1.id],
      );
      assert.deepEqual((await store.listWorkspaces({ projectId, provisioner: a1.provisioner, ownerId: bob.id })).map((w) => w.id), [b1.id]);
      assert.deepEqual(await store.listWorkspaces({ projectId: 'prj_none' }), []);
      assert.deepEqual(await store.listWorkspaces({ provisioner: 'no-such-provisioner' }), []);
      await makeWorkspace(store, bob, projectId, 'elsewhere', { provisioner: 'docker-x' });
      const expected = new Map<string, number>();
      for (const w of await store.listWorkspaces()) expected.set(w.provisioner, (expected.get(w.provisioner) ?? 0) + 1);
      assert.equal(expected.get('docker-x'), 1);
      assert.deepEqual(await store.countWorkspacesByProvisioner(), expected, 'the counts agree with the rows');
      await assertConflict(makeWorkspace(store, alice, projectId, 'dev'), /A workspace named "dev" already exists\./);
      // A project deleted while a workspace of it was being created: the foreign key refuses the row, in a sentence.
      await assertConflict(makeWorkspace(store, alice, 'prj_missing', 'orphan'), /^A workspace named "orphan" cannot be created: its owner or project was removed meanwhile\.$/);
      assert.equal(await store.getWorkspaceByName(alice.id, 'orphan'), undefined);
    });

    test('updateWorkspace: a patch applies; with unlessDesired it applies only when desired differs', async () => {
      const ws = await makeWorkspace(store, owner, projectId, 'guarded');
      const later = ts();
      const running = await store.updateWorkspace(ws.id, { phase: 'running', attempts: 3, message: 'ok', status_json: '{"a":1}', updated_at: later });
      assert.deepEqual(running, { ...ws, phase: 'running', attempts: 3, message: 'ok', status_json: '{"a":1}', updated_at: later });

      // The reconciler writes its observations unless the owner asked for deletion meanwhile.
      const observed = await store.updateWorkspace(ws.id, { phase: 'stopped' }, { unlessDesired: 'deleted' });
      assert.equal(observed?.phase, 'stopped');
      await store.updateWorkspace(ws.id, { desired: 'deleted', phase: 'deleting' });
      const refused = await store.updateWorkspace(ws.id, { phase: 'running', desired: 'running' }, { unlessDesired: 'deleted' });
      assert.equal(refused, undefined, 'guarded update refused');
      const row = await store.getWorkspace(ws.id);
      assert.equal(row?.phase, 'deleting', 'row unchanged by the refused update');
      assert.equal(row?.desired, 'deleted');

      assert.equal(await store.updateWorkspace('ws_missing', { phase: 'running' }), undefined);
      assert.equal(await store.updateWorkspace('ws_missing', { phase: 'running' }, { unlessDesired: 'deleted' }), undefined);
    });

    test('events: append, list after an id, last n; ids are increasing numbers', async () => {
      const ws = await makeWorkspace(store, owner, projectId, 'eventful');
      const other = await makeWorkspace(store, owner, projectId, 'other');
      assert.deepEqual(await store.appendEvents(ws.id, []), []);
      const first = await store.appendEvents(ws.id, [
        { kind: 'phase', message: 'provisioning', ts: ts() },
        { kind: 'output', message: 'line 1', ts: ts() },
      ]);
      await store.appendEvents(other.id, [{ kind: 'phase', message: 'elsewhere', ts: ts() }]);
      const second = await store.appendEvents(ws.id, [{ kind: 'phase', message: 'running', ts: ts() }]);
      const all = [...first, ...second];

      for (const e of all) {
        assert.equal(typeof e.id, 'number', `appendEvents id ${JSON.stringify(e.id)} is a number`);
        assert.equal(e.workspace_id, ws.id);
      }
      assert.deepEqual(
        first.map((e) => e.message),
        ['provisioning', 'line 1'],
        'rows come back in the order given',
      );
      for (let i = 1; i < all.length; i++) assert.ok(all[i]!.id > all[i - 1]!.id, 'ids increase');

      const listed = await store.listEvents(ws.id, 0, 100);
      assert.deepEqual(listed, all);
      for (const e of listed) assert.equal(typeof e.id, 'number', `listEvents id ${JSON.stringify(e.id)} is a number`);
      assert.deepEqual(await store.listEvents(ws.id, all[0]!.id, 100), all.slice(1));
      assert.deepEqual(await store.listEvents(ws.id, 0, 2), all.slice(0, 2));
      assert.deepEqual(await store.listEvents(ws.id, all[2]!.id, 100), []);

      const last = await store.lastEvents(ws.id, 2);
      assert.deepEqual(last, all.slice(1), 'the newest two, oldest first');
      for (const e of last) assert.equal(typeof e.id, 'number', `lastEvents id ${JSON.stringify(e.id)} is a number`);
      assert.deepEqual(await store.lastEvents(ws.id, 10), all);

      // What a follower does: resume after the last id it saw, as the wire carries it (JSON).
      const resumed = JSON.parse(JSON.stringify(all[1])) as { id: unknown };
      assert.equal(typeof resumed.id, 'number');
      assert.deepEqual(await store.listEvents(ws.id, resumed.id as number, 100), all.slice(2));
    });

    test('appends of one workspace made at once take ids in call order', async () => {
      // What the reconciler's progress callback does: one append per output line, not awaited.
      const ws = await makeWorkspace(store, owner, projectId, 'chatty');
      const lines = Array.from({ length: 60 }, (_, i) => `line ${i}`);
      const returned = await Promise.all(lines.map((message) => store.appendEvents(ws.id, [{ kind: 'output', message, ts: ts() }])));
      assert.deepEqual(
        (await store.listEvents(ws.id, 0, 1000)).map((e) => e.message),
        lines,
        'the log reads in the order the lines were written',
      );
      const ids = returned.map((r) => r[0]!.id);
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'each append got a higher id than the one called before it');
    });

    test('deleteWorkspace after appends still in flight leaves no event behind', async () => {
      // The reconciler's last progress line of a destroy is not awaited before the delete; other
      // requests (a client polling the workspace) keep connections busy meanwhile.
      const left: string[] = [];
      for (let round = 0; round < 30; round++) {
        const ws = await makeWorkspace(store, owner, projectId, `racing-${round}`);
        const polls = Array.from({ length: 8 }, () => store.getWorkspace(ws.id));
        const appends = Array.from({ length: 3 }, (_, i) => store.appendEvents(ws.id, [{ kind: 'info', message: `teardown ${i}`, ts: ts() }]));
        await Promise.all([...polls, ...appends, store.deleteWorkspace(ws.id)]);
        for (const e of await store.listEvents(ws.id, 0, 1000)) left.push(`${ws.name}: ${e.message}`);
      }
      assert.deepEqual(left, [], 'no event of a deleted workspace');
    });

    test('deleteWorkspace removes the row, its events and its tokens', async () => {
      const ws = await makeWorkspace(store, owner, projectId, 'doomed');
      await store.appendEvents(ws.id, [{ kind: 'info', message: 'hello', ts: ts() }]);
      const t = tokenRow(owner.id, { kind: 'workspace', workspace_id: ws.id });
      await store.createToken(t);
      await store.deleteWorkspace(ws.id);
      assert.equal(await store.getWorkspace(ws.id), undefined);
      assert.deepEqual(await store.listEvents(ws.id, 0, 100), []);
      assert.equal(await store.getToken(t.id), undefined);
      await store.deleteWorkspace(ws.id); // idempotent
    });

    test('transactions commit together, and roll back entirely on a throw', async () => {
      const result = await store.transaction(async (tx) => {
        const u = await makeUser(tx, 'committed');
        assert.deepEqual(await tx.getUserByName('committed'), u, 'visible inside the transaction');
        // A nested transaction joins the outer one.
        await tx.transaction(async (inner) => inner.createToken(tokenRow(u.id)));
        return u.id;
      });
      assert.ok(await store.getUser(result));
      assert.equal((await store.listTokens(result)).length, 1);

      await assert.rejects(
        store.transaction(async (tx) => {
          const u = await makeUser(tx, 'rolled-back');
          await tx.createToken(tokenRow(u.id));
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await store.getUserByName('rolled-back'), undefined);

      // A constraint violation inside a transaction: the ConflictError reaches the caller and the
      // writes before it are undone.
      await assertConflict(
        store.transaction(async (tx) => {
          await makeUser(tx, 'before-conflict');
          await makeUser(tx, 'owner');
        }),
        /A user named "owner" already exists\./,
      );
      assert.equal(await store.getUserByName('before-conflict'), undefined);

      // The store is still usable after the rollbacks.
      assert.ok(await makeUser(store, 'after-rollback'));
    });

    test('timestamps come back as the strings written, and order as strings', async () => {
      const stamps = ['2025-12-01T00:00:00.000Z', '2025-02-10T10:00:00.000Z', '2025-02-09T23:59:59.999Z'];
      const u = await makeUser(store, 'clocked');
      const made: WorkspaceRow[] = [];
      for (const [i, created] of stamps.entries()) {
        made.push(await makeWorkspace(store, u, projectId, `t${i}`, { created_at: created, updated_at: created, next_attempt_at: created }));
      }
      // Same instant, written with an offset instead of Z: a different string, kept as written.
      const offset = await makeWorkspace(store, u, projectId, 'offset', { created_at: '2025-02-10T11:00:00.000+01:00' });
      for (const w of [...made, offset]) {
        const back = await store.getWorkspace(w.id);
        assert.equal(typeof back?.created_at, 'string');
        assert.equal(back?.created_at, w.created_at);
        assert.equal(back?.next_attempt_at, w.next_attempt_at);
      }
      assert.deepEqual(
        (await store.listWorkspaces({ ownerId: u.id })).map((w) => w.name),
        ['t2', 't1', 'offset', 't0'],
        'ordered by created_at as text (then name), not by instant',
      );

      const older = tokenRow(u.id, { created_at: '2025-01-01T00:00:00.000Z' });
      const newer = tokenRow(u.id, { created_at: '2025-01-01T00:00:00.001Z' });
      await store.createToken(newer);
      await store.createToken(older);
      assert.deepEqual(
        (await store.listTokens(u.id)).map((t) => t.id),
        [older.id, newer.id],
      );
    });

    test('agents: create, list by name, update, a duplicate name is a ConflictError, delete takes its enrollments', async () => {
      const row = (name: string) => ({
        name,
        url: `https://${name}.internal:7443`,
        labels_json: '{"zone":"a"}',
        certificate: null,
        fingerprint: null,
        client_cert: null,
        client_key_enc: null,
        client_fingerprint: null,
        created_at: ts(),
        enrolled_at: null,
        revoked_at: null,
      });
      const b = await store.createAgent(row('agent-b'));
      const a = await store.createAgent(row('agent-a'));
      assert.deepEqual(await store.getAgent('agent-b'), b);
      assert.equal(await store.getAgent('agent-none'), undefined);
      assert.deepEqual(
        (await store.listAgents()).map((x) => x.name),
        ['agent-a', 'agent-b'],
      );
      await assertConflict(store.createAgent(row('agent-a')), /An agent named "agent-a" already exists\./);
      const enrolledAt = ts();
      const updated = await store.updateAgent('agent-a', { fingerprint: 'AB:CD', enrolled_at: enrolledAt });
      assert.deepEqual(updated, { ...a, fingerprint: 'AB:CD', enrolled_at: enrolledAt });

      await store.createAgentEnrollment({ token_hash: 'enroll-hash-b', agent_name: 'agent-b', created_at: ts(), expires_at: '2025-03-04T06:00:00.000Z', used_at: null });
      assert.equal(await store.deleteAgent('agent-b'), true);
      assert.equal(await store.deleteAgent('agent-b'), false);
      assert.equal(await store.getAgentEnrollment('enroll-hash-b'), undefined, 'its enrollment tokens went with it');
    });

    test('agent enrollments: used once, never after they expire', async () => {
      await store.createAgent({ name: 'agent-e', url: 'https://10.0.0.1:7443', labels_json: '{}', certificate: null, fingerprint: null, client_cert: null, client_key_enc: null, client_fingerprint: null, created_at: ts(), enrolled_at: null, revoked_at: null });
      const created = ts();
      await store.createAgentEnrollment({ token_hash: 'enroll-1', agent_name: 'agent-e', created_at: created, expires_at: '2025-03-04T09:00:00.000Z', used_at: null });
      await store.createAgentEnrollment({ token_hash: 'enroll-2', agent_name: 'agent-e', created_at: created, expires_at: '2025-03-04T06:00:00.000Z', used_at: null });
      await assertConflict(store.createAgentEnrollment({ token_hash: 'enroll-1', agent_name: 'agent-e', created_at: created, expires_at: created, used_at: null }), /That enrollment token already exists\./);
      const [first, second] = await Promise.all([store.useAgentEnrollment('enroll-1', '2025-03-04T08:00:00.000Z'), store.useAgentEnrollment('enroll-1', '2025-03-04T08:00:00.000Z')]);
      assert.deepEqual([first, second].sort(), [false, true], 'one of two concurrent uses wins');
      assert.equal((await store.getAgentEnrollment('enroll-1'))?.used_at, '2025-03-04T08:00:00.000Z');
      assert.equal(await store.useAgentEnrollment('enroll-2', '2025-03-04T06:00:00.000Z'), false, 'expired at that instant');
      assert.equal((await store.getAgentEnrollment('enroll-2'))?.used_at, null);
      assert.equal(await store.useAgentEnrollment('enroll-none', '2025-03-04T06:00:00.000Z'), false);
    });

    test('workspace pins: set, replace, list per agent, removed with the workspace', async () => {
      const ws1 = await makeWorkspace(store, owner, projectId, 'pinned-1');
      const ws2 = await makeWorkspace(store, owner, projectId, 'pinned-2');
      assert.equal(await store.getAgentPin(ws1.id), undefined);
      await store.setAgentPin(ws1.id, 'pin-a', ts());
      await store.setAgentPin(ws2.id, 'pin-a', ts());
      await store.setAgentPin(ws2.id, 'pin-b', ts());
      assert.equal(await store.getAgentPin(ws2.id), 'pin-b');
      assert.deepEqual(await store.listAgentPins('pin-a'), [ws1.id]);
      await store.deleteAgentPin(ws2.id);
      assert.deepEqual(await store.listAgentPins('pin-b'), []);
      await store.deleteWorkspace(ws1.id);
      assert.equal(await store.getAgentPin(ws1.id), undefined);
      assert.deepEqual(await store.listAgentPins('pin-a'), []);
    });

    test('meta: absent, set, overwritten', async () => {
      assert.equal(await store.getMeta('installation_id'), undefined);
      await store.setMeta('installation_id', 'abc');
      await store.setMeta('installation_id', 'def');
      assert.equal(await store.getMeta('installation_id'), 'def');
    });

    if (dialect.name === 'postgres') {
      test('a database that cannot be used is one sentence naming it, without the password', async () => {
        const good = new URL((fresh.location as { url: string }).url);
        const cases: [string, RegExp][] = [
          [Object.assign(new URL(good), { password: 'wrong-secret' }).toString(), /password authentication failed/],
          [Object.assign(new URL(good), { port: '1' }).toString(), /ECONNREFUSED/],
          [Object.assign(new URL(good), { pathname: '/berth_no_such_db' }).toString(), /does not exist/],
        ];
        for (const [url, reason] of cases) {
          await assert.rejects(SqlStore.create({ kind: 'postgres', url }), (err: unknown) => {
            assert.ok(err instanceof InputError, String(err));
            assert.match(err.message, /^Cannot use the PostgreSQL database postgres:\/\/berth:\*\*\*@127\.0\.0\.1:\d+\/\w+: /);
            assert.match(err.message, reason);
            assert.doesNotMatch(err.message, /wrong-secret|berth-test-password/);
            return true;
          });
        }
      });

      test('a pooled connection ended by the server does not crash the process; the next query reconnects', async () => {
        // A child process, because an unhandled pool error would end the process that owns the pool.
        const other = await dialect.fresh();
        try {
          const script = `
            import { SqlStore } from ${JSON.stringify(path.join(ROOT, 'src/store/sql-store.ts'))};
            const store = await SqlStore.create(${JSON.stringify(other.location)});
            await store.setMeta('k', 'before');
            console.log('ready');
            await new Promise((resolve) => process.stdin.once('data', resolve));
            await new Promise((resolve) => setTimeout(resolve, 300));
            await store.setMeta('k', 'after');
            console.log('value ' + (await store.getMeta('k')));
            await store.close();
          `;
          const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
          let out = '';
          let err = '';
          child.stdout.on('data', (d: Buffer) => (out += d.toString()));
          child.stderr.on('data', (d: Buffer) => (err += d.toString()));
          const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
          const deadline = Date.now() + 20_000;
          while (!out.includes('ready')) {
            if (child.exitCode !== null || Date.now() > deadline) assert.fail(`child did not get ready:\n${out}\n${err}`);
            await new Promise((r) => setTimeout(r, 50));
          }
          // What a PostgreSQL restart or an administrator's pg_terminate_backend does to idle connections.
          const ended = await query<{ n: string }>(
            (other.location as { url: string }).url,
            'SELECT count(pg_terminate_backend(pid))::text AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
          );
          assert.notEqual(ended[0]?.n, '0', 'the child had an idle pooled connection');
          child.stdin.end('go\n');
          const code = await exited;
          assert.equal(code, 0, `child exited with ${code}:\n${out}\n${err.split('\n').slice(0, 30).join('\n')}`);
          assert.match(out, /value after/);
        } finally {
          await other.cleanup();
        }
      });
    }
  });
}
