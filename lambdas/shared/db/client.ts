/**
 * Database clients and migrations for the utilization store.
 *
 * Two drivers, one query surface: node-postgres (`pg` Pool) locally, in tests and from the CLI, and the
 * RDS Data API in Lambda (no VPC attachment, no connection pool to exhaust). Both are drizzle `PgDatabase`s
 * over the same schema, so the store and report code is written once against `Db`.
 */
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { drizzle as drizzleDataApi } from 'drizzle-orm/aws-data-api/pg';
import { migrate as migrateDataApi } from 'drizzle-orm/aws-data-api/pg/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { migrationsFolder } from '#shared/packaged';
import { logger } from '#shared/powertools';
import { type Schema, schema } from './schema.ts';

/** The drizzle database type both drivers satisfy; store and report code take this. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

/** Which driver a `DbHandle` uses; decides defaults such as the upsert chunk size. */
export type DbDriver = 'node-postgres' | 'data-api';

/** A database plus how to close it. */
export interface DbHandle {
  readonly db: Db;
  readonly driver: DbDriver;
  /** Applies the migrations in a folder (idempotent). @default migrationsFolder - the ones shipped with the code */
  migrate(migrationsFolder?: string): Promise<void>;
  /** Releases connections (no-op for the Data API). */
  close(): Promise<void>;
}

/**
 * Opens a node-postgres pool.
 * @param url a postgres:// connection string
 * @param opts.max pool size
 * @default opts.max 4
 */
export function createPgDb(url: string, opts: { max?: number } = {}): DbHandle {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 4 });
  // An idle connection the server closes (restart, failover, admin command) must not crash the process;
  // the pool drops it and the next query opens a fresh one.
  pool.on('error', (err) =>
    logger.warn('idle database connection closed', {
      reason: err.message,
      code: (err as { code?: string }).code,
    }),
  );
  const db = drizzlePg(pool, { schema });
  return {
    db,
    driver: 'node-postgres',
    migrate: (folder) => migratePg(db, { migrationsFolder: folder ?? migrationsFolder() }),
    close: () => pool.end(),
  };
}

/** Where an Aurora cluster's Data API endpoint is and which secret signs in. */
export interface DataApiTarget {
  readonly resourceArn: string;
  readonly secretArn: string;
  readonly database: string;
}

/**
 * Opens an RDS Data API database.
 * @param target cluster ARN, secret ARN and database name
 * @param client an RDSDataClient (inject one instrumented with X-Ray, or a mock in tests)
 * @default client - a new RDSDataClient for the Lambda's region
 */
export function createDataApiDb(
  target: DataApiTarget,
  client: RDSDataClient = new RDSDataClient({}),
): DbHandle {
  const db = drizzleDataApi(client, { ...target, schema });
  return {
    db,
    driver: 'data-api',
    migrate: (folder) => migrateDataApi(db, { migrationsFolder: folder ?? migrationsFolder() }),
    close: async () => {},
  };
}

/**
 * Number of rows an INSERT/UPDATE touched, from either driver's raw result
 * (node-postgres `rowCount`, Data API `numberOfRecordsUpdated`).
 */
export function affectedRows(result: unknown): number {
  const r = result as { rowCount?: number | null; numberOfRecordsUpdated?: number } | undefined;
  return Number(r?.rowCount ?? r?.numberOfRecordsUpdated ?? 0);
}

/** Rows of a raw `db.execute(sql)` result, from either driver (both expose `rows` as objects). */
export function resultRows<T>(result: unknown): T[] {
  return ((result as { rows?: T[] } | undefined)?.rows ?? []) as T[];
}

/**
 * Opens the database the environment points at: `DATABASE_URL` (node-postgres) wins; otherwise
 * `DB_CLUSTER_ARN` + `DB_SECRET_ARN` (+ `DB_NAME`, default `observatory`) select the Data API.
 * @param env the environment
 * @param dataApiClient the RDSDataClient to use for the Data API
 */
export function dbFromEnv(env: NodeJS.ProcessEnv = process.env, dataApiClient?: RDSDataClient): DbHandle {
  if (env.DATABASE_URL) return createPgDb(env.DATABASE_URL);
  if (env.DB_CLUSTER_ARN && env.DB_SECRET_ARN) {
    return createDataApiDb(
      {
        resourceArn: env.DB_CLUSTER_ARN,
        secretArn: env.DB_SECRET_ARN,
        database: env.DB_NAME ?? 'observatory',
      },
      dataApiClient,
    );
  }
  throw new Error('no database configured: set DATABASE_URL, or DB_CLUSTER_ARN and DB_SECRET_ARN');
}

/**
 * Runs `fn`, retrying while an auto-paused Aurora Serverless v2 cluster resumes (the Data API answers
 * `DatabaseResumingException` for up to about 30 seconds after the first call).
 * @param fn the database work
 * @param opts.attempts total attempts
 * @param opts.delayMs wait between attempts
 * @default opts.attempts 6
 * @default opts.delayMs 5000
 */
export async function retryWhileResuming<T>(
  fn: () => Promise<T>,
  opts: { attempts?: number; delayMs?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<T> {
  const attempts = opts.attempts ?? 6;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !isResuming(err)) throw err;
      await sleep(opts.delayMs ?? 5000);
    }
  }
}

function isResuming(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { name?: string }).name === 'DatabaseResumingException') return true;
  }
  return false;
}
