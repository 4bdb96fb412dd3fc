import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataApiDb, createPgDb, type DbHandle } from '#shared/db/client';
import { createMigrateHandler, MIGRATIONS_RESOURCE_ID, migrationTags } from '#utilization/migrate-handler';
import { dataApiOnPostgres } from '../support/data-api-postgres.ts';
import { createTestDatabase, MIGRATIONS_FOLDER, type TestDatabase } from '../support/postgres.ts';

const cfnEvent = (RequestType: 'Create' | 'Update' | 'Delete', extra: Record<string, unknown> = {}) => ({
  RequestType,
  ServiceToken: 'arn:aws:lambda:eu-west-1:999988887777:function:provider-framework-onEvent',
  ResponseURL: 'https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/x',
  StackId: 'arn:aws:cloudformation:eu-west-1:999988887777:stack/Observatory-Utilization/1a2b',
  RequestId: 'e2f4c6a8-0000-4000-8000-000000000001',
  LogicalResourceId: 'SchemaMigrations',
  ResourceType: 'Custom::SchemaMigrations',
  ResourceProperties: {
    ServiceToken: 'arn:aws:lambda:eu-west-1:999988887777:function:x',
    MigrationsHash: 'abc',
  },
  ...extra,
});

const dbs: TestDatabase[] = [];
const temp: string[] = [];
afterAll(async () => {
  await Promise.all(dbs.map((d) => d.drop()));
  for (const t of temp) rmSync(t, { recursive: true, force: true });
});

async function freshDb(): Promise<TestDatabase> {
  const d = await createTestDatabase({ migrate: false });
  dbs.push(d);
  return d;
}

async function tables(d: TestDatabase): Promise<string[]> {
  const rows = await d.query<{ t: string }>(
    "select table_schema || '.' || table_name as t from information_schema.tables where table_schema in ('public', 'drizzle') order by 1",
  );
  return rows.map((r) => r.t);
}

describe('migrate handler (custom resource)', () => {
  let d: TestDatabase;
  let handle: DbHandle;
  beforeAll(async () => {
    d = await freshDb();
    handle = createPgDb(d.url);
  });
  afterAll(() => handle.close());

  it('applies the committed migrations on Create and again idempotently on Update', async () => {
    const handler = createMigrateHandler(handle, MIGRATIONS_FOLDER);
    const tags = migrationTags(MIGRATIONS_FOLDER);
    expect(tags[0]).toBe('0000_initial');
    expect(await tables(d)).toEqual([]);
    expect(await handler(cfnEvent('Create'))).toEqual({
      PhysicalResourceId: MIGRATIONS_RESOURCE_ID,
      Data: { LatestMigration: tags.at(-1), Migrations: tags.length },
    });
    const all = await tables(d);
    expect(all.filter((t) => !/^public\.metric_rows_p\d{6}$/.test(t))).toEqual([
      'drizzle.__drizzle_migrations',
      'public.batch_ledger',
      'public.metric_rows',
      'public.resources',
    ]);
    // Partition maintenance after migrating: this month's partition and the next two exist.
    const month = (ahead: number) => {
      const now = new Date();
      const m = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + ahead, 1));
      return `public.metric_rows_p${m.getUTCFullYear()}${String(m.getUTCMonth() + 1).padStart(2, '0')}`;
    };
    expect(all).toEqual(expect.arrayContaining([month(0), month(1), month(2)]));
    await handler(cfnEvent('Update', { PhysicalResourceId: MIGRATIONS_RESOURCE_ID }));
    const applied = await d.query('select hash from drizzle.__drizzle_migrations');
    expect(applied).toHaveLength(tags.length);
  });

  it('does nothing on Delete', async () => {
    const untouchable: DbHandle = {
      db: handle.db,
      driver: 'node-postgres',
      migrate: () => Promise.reject(new Error('delete must not migrate')),
      close: async () => {},
    };
    const handler = createMigrateHandler(untouchable, MIGRATIONS_FOLDER);
    expect(await handler(cfnEvent('Delete', { PhysicalResourceId: MIGRATIONS_RESOURCE_ID }))).toEqual({
      PhysicalResourceId: MIGRATIONS_RESOURCE_ID,
    });
  });

  it('fails the deploy on a broken migration and leaves nothing half applied', async () => {
    const broken = mkdtempSync(join(tmpdir(), 'observatory-migrations-'));
    temp.push(broken);
    mkdirSync(join(broken, 'meta'));
    writeFileSync(
      join(broken, 'meta', '_journal.json'),
      JSON.stringify({
        version: '7',
        dialect: 'postgresql',
        entries: [{ idx: 0, version: '7', when: 1, tag: '0000_broken', breakpoints: true }],
      }),
    );
    writeFileSync(
      join(broken, '0000_broken.sql'),
      'CREATE TABLE "half" ("a" int);\n--> statement-breakpoint\nCREATE TABLE "oops" ("a" nosuchtype);\n',
    );
    const other = await freshDb();
    const h = createPgDb(other.url);
    try {
      await expect(createMigrateHandler(h, broken)(cfnEvent('Create'))).rejects.toThrow(/nosuchtype/);
    } finally {
      await h.close();
    }
    expect(await tables(other)).toEqual(['drizzle.__drizzle_migrations']);
  });

  it('rejects an event that is not a custom resource event', async () => {
    await expect(createMigrateHandler(handle, MIGRATIONS_FOLDER)({ RequestType: 'Upsert' })).rejects.toThrow(
      /^invalid custom resource event/,
    );
  });

  it('runs as the deployed Lambda entry point from its environment', async () => {
    const other = await freshDb();
    process.env.DATABASE_URL = other.url;
    process.env.MIGRATIONS_FOLDER = MIGRATIONS_FOLDER;
    try {
      const { handler } = await import('#utilization/migrate-handler');
      const out = await handler(cfnEvent('Create'), {
        getRemainingTimeInMillis: () => 600_000,
        functionName: 'migrate',
        awsRequestId: 'r1',
      } as Context);
      expect(out.PhysicalResourceId).toBe(MIGRATIONS_RESOURCE_ID);
      expect(await tables(other)).toContain('public.metric_rows');
    } finally {
      delete process.env.DATABASE_URL;
      delete process.env.MIGRATIONS_FOLDER;
    }
  });
});

describe('migrations over the RDS Data API', () => {
  it('applies every migration inside one Data API transaction on a real database, then maintains partitions', async () => {
    const fresh = await freshDb();
    const api = dataApiOnPostgres(fresh.url);
    try {
      const handle = createDataApiDb(
        {
          resourceArn: 'arn:aws:rds:eu-west-1:999988887777:cluster:observatory',
          secretArn: 'arn:aws:secretsmanager:eu-west-1:999988887777:secret:observatory-db-AbCdEf',
          database: 'observatory',
        },
        new RDSDataClient({ region: 'eu-west-1' }),
      );
      await createMigrateHandler(handle, MIGRATIONS_FOLDER)(cfnEvent('Create'));
      const seen = api.seen.map((s) => ({
        command: s.command,
        sql: s.sql?.trim().split('\n')[0],
        tx: s.transactionId,
      }));
      const begin = seen.findIndex((s) => s.command === 'BeginTransaction');
      const commit = seen.findIndex((s) => s.command === 'CommitTransaction');
      expect(seen.slice(0, begin).map((s) => s.sql)).toEqual([
        'CREATE SCHEMA IF NOT EXISTS "drizzle"',
        'CREATE TABLE IF NOT EXISTS "drizzle"."__drizzle_migrations" (',
        'select id, hash, created_at from "drizzle"."__drizzle_migrations" order by created_at desc limit 1',
      ]);
      const inTx = seen.slice(begin + 1, commit);
      expect(inTx.every((s) => s.command === 'ExecuteStatement' && s.tx === seen[begin + 1]!.tx)).toBe(true);
      expect(inTx.map((s) => s.sql)).toEqual(
        expect.arrayContaining([
          'CREATE TABLE "batch_ledger" (',
          'CREATE TABLE "metric_rows" (',
          'INSERT INTO "metric_rows" SELECT * FROM "metric_rows_unpartitioned";',
        ]),
      );
      expect(seen.slice(commit + 1).map((s) => s.sql?.split('(')[0])).toEqual([
        'select observatory_ensure_metric_partitions',
        'select observatory_drop_metric_partitions',
      ]);
      expect(await tables(fresh)).toEqual(
        expect.arrayContaining(['public.metric_rows', 'public.batch_ledger']),
      );
      expect(await fresh.query('select count(*)::int as n from drizzle.__drizzle_migrations')).toEqual([
        { n: migrationTags(MIGRATIONS_FOLDER).length },
      ]);
    } finally {
      await api.close();
    }
  });
});
