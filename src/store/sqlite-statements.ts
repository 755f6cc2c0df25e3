/**
 * Prepared statements kept for reuse on the SQLite connection. Kysely's SQLite driver prepares every
 * query it runs again; under a burst of creates that parse-and-plan step was the store's largest
 * synchronous cost on the event loop. The queries are the same few texts over and over, so each is
 * prepared once. Reuse is safe: Kysely runs one query (or stream) at a time on its single
 * connection, and SQLite re-prepares a kept statement by itself after a schema change.
 */
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** Statements kept at the most; beyond it the least recently used one is dropped. */
export const STATEMENT_CACHE_SIZE = 256;

/** `db` with `prepare` answered from a cache of at most `size` statements (least recently used dropped first). */
export function withStatementCache(db: SqliteDatabase, size = STATEMENT_CACHE_SIZE): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => {
      cache.clear();
      db.close();
    },
    prepare(sql: string): SqliteStatement {
      const kept = cache.get(sql);
      if (kept) {
        // Map order is insertion order: moving the entry to the end keeps the oldest first in line to drop.
        cache.delete(sql);
        cache.set(sql, kept);
        return kept;
      }
      const stmt = db.prepare(sql);
      cache.set(sql, stmt);
      if (cache.size > size) cache.delete(cache.keys().next().value!);
      return stmt;
    },
  };
}
