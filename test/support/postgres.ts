/**
 * A fresh PostgreSQL database per test file on the machine's real server (127.0.0.1:5432, user postgres,
 * trust auth; override with `TEST_PG_ADMIN_URL`), with the committed drizzle migrations applied.
 *
 * ```ts
 * let pg: TestDatabase;
 * beforeAll(async () => { pg = await createTestDatabase(); });
 * afterAll(() => pg?.drop());
 * ```
 * A server that is not running fails the test file loudly; nothing is skipped.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import pg from 'pg';
import { createPgDb, type Db, type DbHandle } from '#shared/db/client';

/** Admin connection used to create and drop test databases. */
export const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** The committed migrations, applied to every test database. */
export const MIGRATIONS_FOLDER = resolve(import.meta.dirname, '../../drizzle');

/** A database owned by one test file. */
export interface TestDatabase {
  /** Connection string of the test database. */
  readonly url: string;
  readonly name: string;
  /** drizzle over a node-postgres pool. */
  readonly db: Db;
  readonly handle: DbHandle;
  /** Runs plain SQL on a separate pool (for assertions that must not go through the code under test). */
  query<T extends pg.QueryResultRow = Record<string, unknown>>(
    text: string,
    params?: unknown[],
  ): Promise<T[]>;
  /** Empties every table (between tests of one file). */
  truncate(): Promise<void>;
  /** Closes the pools and drops the database. */
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * Creates `observatory_test_<random>`, applies the migrations and returns handles to it.
 * @param opts.migrate apply the migrations
 * @param opts.poolSize connections of the drizzle pool (concurrency tests need several)
 * @default opts.migrate true
 * @default opts.poolSize 10
 */
export async function createTestDatabase(
  opts: { migrate?: boolean; poolSize?: number } = {},
): Promise<TestDatabase> {
  const name = `observatory_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(
      `cannot reach PostgreSQL at ${ADMIN_URL} (start it: service postgresql start): ${(err as Error).message}`,
    );
  }
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(ADMIN_URL, name);
  const handle = createPgDb(url, { max: opts.poolSize ?? 10 });
  const plain = new pg.Pool({ connectionString: url, max: 2 });
  // DROP DATABASE ... WITH (FORCE) terminates connections still open; an idle one must not crash the run.
  plain.on('error', () => {});
  const drop = async () => {
    await Promise.allSettled([handle.close(), plain.end()]);
    const c = new pg.Client({ connectionString: ADMIN_URL });
    await c.connect();
    try {
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } finally {
      await c.end();
    }
  };
  try {
    if (opts.migrate ?? true) await handle.migrate(MIGRATIONS_FOLDER);
  } catch (err) {
    await drop();
    throw err;
  }
  return {
    url,
    name,
    db: handle.db,
    handle,
    query: async (text, params) => (await plain.query(text, params)).rows,
    truncate: async () => {
      await plain.query('TRUNCATE metric_rows, resources, batch_ledger');
    },
    drop,
  };
}
