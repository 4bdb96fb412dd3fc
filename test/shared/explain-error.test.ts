import { createServer } from 'node:net';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgDb } from '#shared/db/client';
import { explainError } from '#shared/explain-error';
import { storeBatch } from '#utilization/store';
import { ADMIN_URL, createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { makeBatch } from '../utilization/store-fixtures.ts';

/** What a command would print for the error a query on `url` raises. */
async function explainQuery(url: string, run: (h: ReturnType<typeof createPgDb>) => Promise<unknown>) {
  const handle = createPgDb(url, { max: 1 });
  try {
    await run(handle);
  } catch (err) {
    return explainError(err, { databaseUrl: url });
  } finally {
    await handle.close();
  }
  throw new Error('expected the query to fail');
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const withPath = (url: string, path: string, port?: number) => {
  const u = new URL(url);
  u.pathname = `/${path}`;
  if (port) u.port = String(port);
  return u.toString();
};

const expectShort = (text: string) => {
  expect(text.split('\n').length).toBeLessThanOrEqual(3);
  for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(240);
};

describe('explainError against a real PostgreSQL', () => {
  let pg: TestDatabase;
  let bare: TestDatabase;
  beforeAll(async () => {
    [pg, bare] = await Promise.all([createTestDatabase(), createTestDatabase({ migrate: false })]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([pg?.drop(), bare?.drop()]);
  });

  it('names a database that does not exist, the server, and how to create it', async () => {
    const url = withPath(ADMIN_URL, 'observatory_no_such_db');
    const text = await explainQuery(url, (h) => h.db.execute(sql`select 1`));
    const port = new URL(ADMIN_URL).port || '5432';
    expect(text).toBe(
      `database "observatory_no_such_db" does not exist on 127.0.0.1:${port}\n` +
        'create it (createdb observatory_no_such_db) or fix the database name in the URL',
    );
  });

  it('names the host and port that refused the connection', async () => {
    const port = await closedPort();
    const text = await explainQuery(withPath(ADMIN_URL, 'observatory', port), (h) =>
      h.db.execute(sql`select 1`),
    );
    expect(text.split('\n')[0]).toBe(`connection refused at 127.0.0.1:${port}`);
    expectShort(text);
  });

  it('says the schema is not migrated and how to migrate it', async () => {
    const text = await explainQuery(bare.url, (h) => storeBatch(h.db, makeBatch()));
    expect(text).toMatch(/^the database schema is not migrated \(relation "\w+" does not exist\)\n/);
    expect(text).toContain('observatory migrate');
    expectShort(text);
  });

  it('summarises a constraint failure of a huge statement without the SQL or its parameters', async () => {
    await pg.query('create table gauge (id int primary key, v int check (v >= 0))');
    const values = Array.from({ length: 20_000 }, (_, i) => sql`(${i}, ${i === 19_999 ? -1 : i})`);
    const text = await explainQuery(pg.url, (h) =>
      h.db.execute(sql`insert into gauge (id, v) values ${sql.join(values, sql`, `)}`),
    );
    expect(text.split('\n')[0]).toBe(
      'constraint "gauge_v_check" failed on table gauge: new row for relation "gauge" violates check constraint "gauge_v_check"',
    );
    expect(text).not.toContain('insert into');
    expectShort(text);
    await pg.query('insert into gauge values (1, 1)');
    const duplicate = await explainQuery(pg.url, (h) => h.db.execute(sql`insert into gauge values (1, 2)`));
    expect(duplicate).toBe(
      'constraint "gauge_pkey" failed on table gauge: duplicate key value violates unique constraint "gauge_pkey"\n' +
        'Key (id)=(1) already exists.',
    );
  });
});

describe('explainError on other shapes', () => {
  it('reads the SQLSTATE the Data API puts in its message', () => {
    const dataApi = Object.assign(
      new Error('ERROR: relation "batch_ledger" does not exist\n  Position: 15; SQLState: 42P01'),
      { name: 'BadRequestException' },
    );
    expect(explainError(dataApi)).toBe(
      'the database schema is not migrated (ERROR: relation "batch_ledger" does not exist)\n' +
        'run `observatory migrate` (or `observatory store --migrate`) against this database',
    );
  });

  it('never prints the password of the URL', () => {
    const err = Object.assign(new Error('database "x" does not exist'), { code: '3D000' });
    const text = explainError(err, { databaseUrl: 'postgres://app:s3cret@db.internal:6543/x' });
    expect(text).toContain('db.internal:6543');
    expect(text).not.toContain('s3cret');
  });

  it('keeps an ordinary error to its first line, clipped', () => {
    expect(explainError(new Error(`${'x'.repeat(1000)}\nsecond`))).toMatch(/^x{237}\.\.\.$/);
  });
});
