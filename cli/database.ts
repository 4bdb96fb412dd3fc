/**
 * The database side every command on the utilization database shares (`store`, `report`, `migrate`):
 * where the URL comes from, one connection, and how a database failure reaches the user.
 */
import { createPgDb, type DbHandle } from '#shared/db/client';
import { explainError } from '#shared/explain-error';

/** The commander flags and description of the database URL option. */
export const DATABASE_URL_OPTION = [
  '--database-url <url>',
  'postgres:// URL (default: $DATABASE_URL)',
] as const;

/**
 * The database URL of a command: `--database-url`, else `$DATABASE_URL`; when neither is set, says so
 * on `out` and returns undefined (the command then exits 2).
 * @param option the `--database-url` value
 * @param out where the error line goes
 */
export function databaseUrl(
  option: string | undefined,
  out: { error: (line: string) => void },
): string | undefined {
  const url = option ?? process.env.DATABASE_URL;
  if (!url) out.error('error: no database: set DATABASE_URL or pass --database-url');
  return url;
}

/**
 * Runs a command's work on one connection to `url` and always closes it. A database error becomes one
 * line naming its root cause (`explainError`) and exit status 2.
 * @param url the database URL
 * @param out where the error line goes
 * @param work the command's work; its result is the exit status
 */
export async function withDatabase(
  url: string,
  out: { error: (line: string) => void },
  work: (handle: DbHandle) => Promise<number>,
): Promise<number> {
  const handle = createPgDb(url, { max: 1 });
  try {
    return await work(handle);
  } catch (err) {
    out.error(`error: ${explainError(err, { databaseUrl: url })}`);
    return 2;
  } finally {
    await handle.close();
  }
}
