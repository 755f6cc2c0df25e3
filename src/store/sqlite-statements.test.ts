import assert from 'node:assert/strict';
import { test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { withStatementCache } from './sqlite-statements.ts';

test('each query text is prepared once and the results stay right', async () => {
  const raw = new SqliteDatabase(':memory:');
  let prepared = 0;
  const counting = { close: () => raw.close(), prepare: (q: string) => (prepared++, raw.prepare(q)) };
  const db = new Kysely<{ t: { id: number; v: string } }>({ dialect: new SqliteDialect({ database: withStatementCache(counting) }) });
  await sql`create table t (id integer primary key, v text)`.execute(db);
  for (let i = 0; i < 20; i++) await db.insertInto('t').values({ id: i, v: `v${i}` }).execute();
  const before = prepared;
  for (let i = 0; i < 20; i++) assert.equal((await db.selectFrom('t').select('v').where('id', '=', i).executeTakeFirst())?.v, `v${i}`);
  assert.equal(prepared - before, 1);
  await db.transaction().execute(async (trx) => trx.updateTable('t').set({ v: 'x' }).where('id', '=', 3).execute());
  assert.equal((await db.selectFrom('t').select('v').where('id', '=', 3).executeTakeFirst())?.v, 'x');
  await db.destroy();
});

test('the cache keeps at most its size, dropping the least recently used', () => {
  const raw = new SqliteDatabase(':memory:');
  const prepared: string[] = [];
  const db = withStatementCache({ close: () => raw.close(), prepare: (q: string) => (prepared.push(q), raw.prepare(q)) }, 2);
  db.prepare('select 1');
  db.prepare('select 2');
  db.prepare('select 1');
  db.prepare('select 3'); // drops `select 2`, the least recently used
  db.prepare('select 1');
  db.prepare('select 2');
  assert.deepEqual(prepared, ['select 1', 'select 2', 'select 3', 'select 2']);
  db.close();
});
