import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  type ExecuteStatementCommandInput,
  RDSDataClient,
  RollbackTransactionCommand,
} from '@aws-sdk/client-rds-data';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataApiDb, createPgDb, type DbHandle } from '#shared/db/client';
import { createMigrateHandler, MIGRATIONS_RESOURCE_ID, migrationTags } from '#utilization/migrate-handler';
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
    expect(await tables(d)).toEqual([
      'drizzle.__drizzle_migrations',
      'public.batch_ledger',
      'public.metric_rows',
      'public.resources',
    ]);
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
  it('runs every statement of a pending migration inside one Data API transaction and commits', async () => {
    const rds = mockClient(RDSDataClient);
    const TX = 'AQICAHjmigrationtx==';
    rds.on(BeginTransactionCommand).resolves({ transactionId: TX });
    rds.on(CommitTransactionCommand).resolves({ transactionStatus: 'Transaction Committed' });
    rds.on(RollbackTransactionCommand).resolves({ transactionStatus: 'Rollback Complete' });
    rds.on(ExecuteStatementCommand).callsFake(async (input: ExecuteStatementCommandInput) => {
      // No migration recorded yet: the history query returns no records.
      if (input.sql?.startsWith('select id, hash, created_at')) return { records: [], columnMetadata: [] };
      return { numberOfRecordsUpdated: 0 };
    });
    const handle = createDataApiDb(
      {
        resourceArn: 'arn:aws:rds:eu-west-1:999988887777:cluster:observatory',
        secretArn: 'arn:aws:secretsmanager:eu-west-1:999988887777:secret:observatory-db-AbCdEf',
        database: 'observatory',
      },
      new RDSDataClient({ region: 'eu-west-1' }),
    );
    await createMigrateHandler(handle, MIGRATIONS_FOLDER)(cfnEvent('Create'));
    const seen = rds.calls().map((c) => {
      const cmd = c.args[0] as {
        constructor: { name: string };
        input: { sql?: string; transactionId?: string };
      };
      return {
        command: cmd.constructor.name,
        sql: cmd.input.sql?.trim().split('\n')[0],
        tx: cmd.input.transactionId,
      };
    });
    const begin = seen.findIndex((s) => s.command === 'BeginTransactionCommand');
    expect(seen.slice(0, begin).map((s) => s.sql)).toEqual([
      'CREATE SCHEMA IF NOT EXISTS "drizzle"',
      'CREATE TABLE IF NOT EXISTS "drizzle"."__drizzle_migrations" (',
      'select id, hash, created_at from "drizzle"."__drizzle_migrations" order by created_at desc limit 1',
    ]);
    const inTx = seen.slice(begin + 1, -1);
    expect(inTx.every((s) => s.command === 'ExecuteStatementCommand' && s.tx === TX)).toBe(true);
    expect(inTx.map((s) => s.sql)).toEqual(
      expect.arrayContaining([
        'CREATE TABLE "batch_ledger" (',
        'CREATE TABLE "metric_rows" (',
        'CREATE TABLE "resources" (',
      ]),
    );
    expect(inTx.at(-1)!.sql).toMatch(/^insert into "drizzle"."__drizzle_migrations"/);
    expect(seen.at(-1)).toEqual({ command: 'CommitTransactionCommand', sql: undefined, tx: TX });
    rds.restore();
  });
});
