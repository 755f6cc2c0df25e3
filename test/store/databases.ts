/**
 * Throwaway PostgreSQL databases on the test environment's cluster (`testenv/berth-testenv up`):
 * each suite gets a fresh, randomly named database owned by the test role, dropped afterwards.
 */
import crypto from 'node:crypto';
import pg from 'pg';
import { loadPostgresTestEnv } from '../testenv/env.ts';

/** A database made for one test run. */
export interface ThrowawayDatabase {
  /** Its name, `berth_t_<random>`. */
  name: string;
  /** postgres://… of the test role on it. */
  url: string;
  /** Drops it, ending any session still connected to it. */
  drop(): Promise<void>;
}

/** Runs `fn` with a client of the test role on its own database (where it may create and drop databases). */
async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: loadPostgresTestEnv().BERTH_TEST_DATABASE_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Creates an empty database with a random name. */
export async function createThrowawayDatabase(): Promise<ThrowawayDatabase> {
  const name = `berth_t_${crypto.randomBytes(6).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(loadPostgresTestEnv().BERTH_TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** Runs one query on a database as the test role; returns its rows. */
export async function query<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(text, values)).rows;
  } finally {
    await c.end();
  }
}
