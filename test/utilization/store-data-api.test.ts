/**
 * The RDS Data API path cannot reach a database here: these tests prove the drizzle wiring at the SDK
 * boundary (transactions begun, every statement inside them, committed or rolled back, parameter type
 * hints) with responses shaped like the real ExecuteStatement/BeginTransaction/CommitTransaction ones.
 */
import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  type ExecuteStatementCommandInput,
  RDSDataClient,
  RollbackTransactionCommand,
} from '@aws-sdk/client-rds-data';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createDataApiDb } from '#shared/db/client';
import { storeBatch } from '#utilization/store';
import { validateBatch } from '#utilization/validate';
import { makeBatch } from './store-fixtures.ts';

const rds = mockClient(RDSDataClient);
const target = {
  resourceArn: 'arn:aws:rds:eu-west-1:999988887777:cluster:observatory',
  secretArn: 'arn:aws:secretsmanager:eu-west-1:999988887777:secret:observatory-db-AbCdEf',
  database: 'observatory',
};
const TX = 'AQICAHiq8ZbDgx0kTs1Sp2bOXJ2sS1fM7x1example==';

/** What the mocked Data API saw, in order. */
function calls(): {
  command: string;
  sql?: string;
  transactionId?: string;
  input: Record<string, unknown>;
}[] {
  return rds.calls().map((c) => {
    const cmd = c.args[0] as unknown as { constructor: { name: string }; input: Record<string, unknown> };
    const input = cmd.input;
    return {
      command: cmd.constructor.name.replace('Command', ''),
      ...(typeof input.sql === 'string' ? { sql: input.sql.slice(0, 40) } : {}),
      ...(typeof input.transactionId === 'string' ? { transactionId: input.transactionId } : {}),
      input,
    };
  });
}

function respondTo(opts: {
  ledgerInserted: boolean;
  existing?: { status: string; checksum: string };
  failOn?: string;
}) {
  rds.on(BeginTransactionCommand).resolves({ transactionId: TX, $metadata: { httpStatusCode: 200 } });
  rds.on(CommitTransactionCommand).resolves({ transactionStatus: 'Transaction Committed' });
  rds.on(RollbackTransactionCommand).resolves({ transactionStatus: 'Rollback Complete' });
  rds.on(ExecuteStatementCommand).callsFake(async (input: ExecuteStatementCommandInput) => {
    const sql = input.sql ?? '';
    if (opts.failOn && sql.startsWith(opts.failOn)) {
      const err = new Error('ERROR: canceling statement due to statement timeout; SQLState: 57014');
      err.name = 'DatabaseErrorException';
      throw err;
    }
    if (sql.startsWith('insert into "batch_ledger"')) {
      const id = input.parameters?.[0]?.value?.stringValue;
      return {
        numberOfRecordsUpdated: opts.ledgerInserted ? 1 : 0,
        records: opts.ledgerInserted ? [[{ stringValue: id }]] : [],
      };
    }
    if (sql.startsWith('select')) {
      const e = opts.existing!;
      return {
        numberOfRecordsUpdated: 0,
        records: [[{ stringValue: e.status }, { stringValue: e.checksum }]],
      };
    }
    if (sql.startsWith('insert into "metric_rows"') || sql.startsWith('insert into "resources"')) {
      const rows = (sql.match(/\), \(/g)?.length ?? 0) + 1;
      return { numberOfRecordsUpdated: rows, generatedFields: [] };
    }
    return { numberOfRecordsUpdated: 1 };
  });
}

beforeEach(() => {
  rds.reset();
});

describe('storeBatch over the RDS Data API', () => {
  it('begins a transaction, runs every statement inside it with typed parameters, and commits', async () => {
    respondTo({ ledgerInserted: true });
    const { db } = createDataApiDb(target, new RDSDataClient({ region: 'eu-west-1' }));
    const batch = makeBatch({ resources: 2, periods: 10 }); // 40 rows
    const result = await storeBatch(db, batch, { chunkRows: 15 });
    expect(result).toMatchObject({ outcome: 'stored', rows: 40, rowsChanged: 40 });

    const seen = calls();
    expect(seen.map((c) => [c.command, c.sql?.split(' (')[0]])).toEqual([
      ['BeginTransaction', undefined],
      ['ExecuteStatement', 'insert into "batch_ledger"'],
      ['ExecuteStatement', 'insert into "resources"'],
      ['ExecuteStatement', 'insert into "metric_rows"'],
      ['ExecuteStatement', 'insert into "metric_rows"'],
      ['ExecuteStatement', 'insert into "metric_rows"'],
      ['CommitTransaction', undefined],
    ]);
    for (const c of seen.slice(1)) {
      expect(c.transactionId).toBe(TX);
      expect(c.input).toMatchObject({ resourceArn: target.resourceArn, secretArn: target.secretArn });
    }
    expect(seen[0]!.input).toMatchObject({ ...target });

    const metricInsert = seen[3]!.input as unknown as ExecuteStatementCommandInput;
    expect(metricInsert.sql).toMatch(
      /on conflict \("resource_arn","metric","statistic","period_start","period_seconds"\) do update set/,
    );
    expect(metricInsert.parameters).toHaveLength(15 * 13);
    expect(metricInsert.parameters![3]).toEqual({
      name: '4',
      typeHint: 'TIMESTAMP',
      value: { stringValue: '2025-01-06 10:00:00.000' },
    });
    const resourceInsert = seen[2]!.input as unknown as ExecuteStatementCommandInput;
    const tags = resourceInsert.parameters!.find((p) => p.value?.stringValue?.includes('"team"'));
    expect(tags).toEqual({
      name: '8',
      typeHint: 'JSON',
      value: { stringValue: '{"Name":"web-0","team":"platform"}' },
    });
  });

  it('rolls the transaction back when a statement fails mid-batch', async () => {
    respondTo({ ledgerInserted: true, failOn: 'insert into "metric_rows"' });
    const { db } = createDataApiDb(target, new RDSDataClient({ region: 'eu-west-1' }));
    const failure = await storeBatch(db, makeBatch({ resources: 1, periods: 4 })).catch((e: Error) => e);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(/^Failed query: insert into "metric_rows"/);
    expect(((failure as Error).cause as Error).name).toBe('DatabaseErrorException');
    const names = calls().map((c) => c.command);
    expect(names).toEqual([
      'BeginTransaction',
      'ExecuteStatement',
      'ExecuteStatement',
      'ExecuteStatement',
      'RollbackTransaction',
    ]);
    expect(rds.commandCalls(RollbackTransactionCommand)[0]!.args[0].input).toMatchObject({
      ...target,
      transactionId: TX,
    });
    expect(rds.commandCalls(CommitTransactionCommand)).toHaveLength(0);
  });

  it('reads the existing ledger row under lock and commits without writing rows for a duplicate', async () => {
    const batch = makeBatch({ resources: 1, periods: 4 });
    const v = validateBatch(batch);
    if (!v.ok) throw new Error(v.reason);
    respondTo({ ledgerInserted: false, existing: { status: 'stored', checksum: v.checksum } });
    const { db } = createDataApiDb(target, new RDSDataClient({ region: 'eu-west-1' }));
    expect(await storeBatch(db, batch)).toMatchObject({ outcome: 'duplicate', rowsChanged: 0 });
    const seen = calls();
    expect(seen.map((c) => c.command)).toEqual([
      'BeginTransaction',
      'ExecuteStatement',
      'ExecuteStatement',
      'ExecuteStatement',
      'CommitTransaction',
    ]);
    expect((seen[2]!.input as { sql: string }).sql).toMatch(
      /^select "status", "checksum" from "batch_ledger" where .* for update$/,
    );
    expect((seen[3]!.input as { sql: string }).sql).toMatch(
      /^update "batch_ledger" set .*"attempts" = "batch_ledger"."attempts" \+ 1 where/,
    );
  });

  it('records a rejected batch with one auto-committed statement and no transaction', async () => {
    respondTo({ ledgerInserted: true });
    const { db } = createDataApiDb(target, new RDSDataClient({ region: 'eu-west-1' }));
    const bad = { ...makeBatch({ resources: 1, periods: 1 }), version: 7 };
    expect((await storeBatch(db, bad)).outcome).toBe('rejected');
    const seen = calls();
    expect(seen.map((c) => c.command)).toEqual(['ExecuteStatement']);
    expect(seen[0]!.transactionId).toBeUndefined();
    expect((seen[0]!.input as { sql: string }).sql).toMatch(
      /^insert into "batch_ledger" .* on conflict \("batch_id"\) do update set .* where "batch_ledger"."status" = 'rejected'$/s,
    );
  });
});
