/**
 * The RDS Data API, faked at the SDK boundary but backed by the real PostgreSQL: each
 * ExecuteStatement/BeginTransaction/CommitTransaction/RollbackTransaction request that reaches the mocked
 * RDSDataClient is carried out on a test database, and answered in the Data API's response shape
 * (`records` of typed fields, `columnMetadata`, `numberOfRecordsUpdated`). So the SQL and parameters the
 * store sends over the Data API are proven on a real database, not only inspected.
 *
 * What it translates, as the Data API does: `:name` placeholders to positional parameters; `typeHint`
 * TIMESTAMP/DATE/JSON/DECIMAL/UUID to casts; `stringValue`, `longValue`, `doubleValue`, `booleanValue`,
 * `isNull` values. Results come back as the Data API sends them: integers as `longValue`, floats as
 * `doubleValue`, booleans as `booleanValue`, everything else (timestamps, json, numeric) as `stringValue`.
 * Every request is also checked against the Data API's limits (SQL text <= 65,536 characters, request
 * body <= 4 MiB) and fails as the service does when it breaks one.
 */
import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  type ExecuteStatementCommandInput,
  type Field,
  RDSDataClient,
  RollbackTransactionCommand,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import { mockClient } from 'aws-sdk-client-mock';
import pg from 'pg';

/** The Data API's documented limits. */
export const DATA_API_LIMITS = { sqlChars: 65_536, requestBytes: 4 * 1024 * 1024 } as const;

const INT_TYPES = new Set([20, 21, 23]); // int8, int2, int4
const FLOAT_TYPES = new Set([700, 701]); // float4, float8
const BOOL_TYPE = 16;
const CASTS: Record<string, string> = {
  TIMESTAMP: 'timestamp',
  DATE: 'date',
  TIME: 'time',
  JSON: 'json',
  DECIMAL: 'numeric',
  UUID: 'uuid',
};

/** One request the fake received, with its size as the SDK would send it. */
export interface SeenRequest {
  readonly command: string;
  readonly sql?: string;
  readonly transactionId?: string;
  /** Bytes of the request's JSON body (the Data API's 4 MiB limit applies to it). */
  readonly requestBytes: number;
}

/** A Data API fake over a PostgreSQL database. */
export interface DataApiOnPostgres {
  /** Requests in the order they arrived. */
  readonly seen: SeenRequest[];
  /** Makes ExecuteStatement requests whose SQL starts with `prefix` fail as a database error would. */
  failOn(prefix: string | undefined): void;
  /** Ends open transactions and restores the real client. */
  close(): Promise<void>;
}

/**
 * Mocks RDSDataClient so that every request runs on the database at `url`.
 * @param url a postgres:// connection string
 */
export function dataApiOnPostgres(url: string): DataApiOnPostgres {
  const rds = mockClient(RDSDataClient);
  // Raw text values: the Data API returns timestamps and json as strings, and so does this fake.
  const types = { getTypeParser: () => (value: string) => value };
  // Aurora's Data API sessions run in UTC; so do these.
  const pool = new pg.Pool({ connectionString: url, max: 8, types, options: '-c TimeZone=UTC' });
  pool.on('error', () => {});
  const open = new Map<string, pg.PoolClient>();
  const seen: SeenRequest[] = [];
  let failPrefix: string | undefined;
  let nextTx = 1;

  const record = (command: string, input: object) => {
    const requestBytes = Buffer.byteLength(JSON.stringify(input));
    const { sql, transactionId } = input as { sql?: string; transactionId?: string };
    seen.push({
      command,
      ...(sql === undefined ? {} : { sql }),
      ...(transactionId === undefined ? {} : { transactionId }),
      requestBytes,
    });
    if (requestBytes > DATA_API_LIMITS.requestBytes) {
      throw serviceError('BadRequestException', `Request size ${requestBytes} exceeds the 4 MiB limit`);
    }
    if (sql !== undefined && sql.length > DATA_API_LIMITS.sqlChars) {
      throw serviceError('BadRequestException', `SQL statement length ${sql.length} exceeds the limit`);
    }
  };

  rds.on(BeginTransactionCommand).callsFake(async (input) => {
    record('BeginTransaction', input);
    const client = await pool.connect();
    await client.query('begin');
    const transactionId = `tx-${nextTx++}`;
    open.set(transactionId, client);
    return { transactionId };
  });
  const finish = (verb: 'commit' | 'rollback') => async (input: { transactionId?: string }) => {
    record(verb === 'commit' ? 'CommitTransaction' : 'RollbackTransaction', input);
    const client = open.get(input.transactionId ?? '');
    if (!client) throw serviceError('NotFoundException', `Transaction ${input.transactionId} is not found`);
    open.delete(input.transactionId!);
    try {
      await client.query(verb);
    } finally {
      client.release();
    }
    return { transactionStatus: verb === 'commit' ? 'Transaction Committed' : 'Rollback Complete' };
  };
  rds.on(CommitTransactionCommand).callsFake(finish('commit'));
  rds.on(RollbackTransactionCommand).callsFake(finish('rollback'));

  rds.on(ExecuteStatementCommand).callsFake(async (input: ExecuteStatementCommandInput) => {
    record('ExecuteStatement', input);
    const sql = input.sql ?? '';
    if (failPrefix && sql.startsWith(failPrefix)) {
      throw serviceError(
        'DatabaseErrorException',
        'ERROR: canceling statement due to statement timeout; SQLState: 57014',
      );
    }
    const { text, values } = positional(sql, input.parameters ?? []);
    const client = input.transactionId ? open.get(input.transactionId) : undefined;
    if (input.transactionId && !client) {
      throw serviceError('NotFoundException', `Transaction ${input.transactionId} is not found`);
    }
    let result: pg.QueryResult;
    try {
      result = await (client ?? pool).query({ text, values, rowMode: 'array' });
    } catch (err) {
      throw serviceError('DatabaseErrorException', `ERROR: ${(err as Error).message}`);
    }
    const isSelect = result.command === 'SELECT';
    return {
      numberOfRecordsUpdated: isSelect ? 0 : (result.rowCount ?? 0),
      records: (result.rows as unknown[][]).map((row) =>
        row.map((v, i) => field(v, result.fields[i]!.dataTypeID)),
      ),
      ...(input.includeResultMetadata
        ? {
            columnMetadata: result.fields.map((f) => ({
              name: f.name,
              label: f.name,
              typeName: String(f.dataTypeID),
            })),
          }
        : {}),
      generatedFields: [],
    };
  });

  return {
    seen,
    failOn: (prefix) => {
      failPrefix = prefix;
    },
    close: async () => {
      for (const client of open.values()) {
        await client.query('rollback').catch(() => {});
        client.release();
      }
      open.clear();
      await pool.end();
      rds.restore();
    },
  };
}

/** Replaces `:name` placeholders (outside quotes) by `$n`, with the cast a type hint asks for. */
function positional(sql: string, parameters: SqlParameter[]): { text: string; values: unknown[] } {
  const byName = new Map(parameters.map((p) => [p.name!, p]));
  const order: string[] = [];
  const text = sql.replace(/'(?:[^']|'')*'|"(?:[^"])*"|(?<!:):([A-Za-z0-9_]+)/g, (match, name?: string) => {
    if (!name) return match;
    const p = byName.get(name);
    if (!p) throw serviceError('BadRequestException', `Parameter ${name} is not provided`);
    let index = order.indexOf(name);
    if (index < 0) index = order.push(name) - 1;
    const cast = p.typeHint ? CASTS[p.typeHint] : undefined;
    return cast ? `$${index + 1}::${cast}` : `$${index + 1}`;
  });
  return { text, values: order.map((name) => value(byName.get(name)!.value)) };
}

function value(v: Field | undefined): unknown {
  if (!v || v.isNull) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.longValue !== undefined) return v.longValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.booleanValue !== undefined) return v.booleanValue;
  throw serviceError('BadRequestException', `unsupported parameter value ${JSON.stringify(v)}`);
}

function field(v: unknown, type: number): Field {
  if (v === null || v === undefined) return { isNull: true };
  const text = String(v);
  if (INT_TYPES.has(type)) return { longValue: Number(text) };
  if (FLOAT_TYPES.has(type)) return { doubleValue: Number(text) };
  if (type === BOOL_TYPE) return { booleanValue: text === 't' || text === 'true' };
  return { stringValue: text };
}

function serviceError(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}
