/**
 * Errors a person can act on: turns a database error (node-postgres, the RDS Data API, drizzle's
 * `Failed query: <the whole SQL> params: <every value>` wrapper) into at most three short lines that
 * name the root cause and what to do about it. The SQL text and parameters are never repeated: a
 * failed 100,000-row insert used to print one 185 KB line and drop the cause.
 *
 * Written by hand because no library maps SQLSTATE codes to advice; the codes are PostgreSQL's
 * (https://www.postgresql.org/docs/current/errcodes-appendix.html).
 */

/** Where the command was connecting, to name it in the explanation. */
export interface ExplainContext {
  /** The postgres:// URL in use (its password is never printed). */
  readonly databaseUrl?: string;
}

/** Longest line an explanation prints. */
const MAX_LINE = 240;
const MIGRATE_HINT = 'run `observatory migrate` (or `observatory store --migrate`) against this database';

interface Found {
  readonly code?: string;
  readonly message: string;
  readonly error: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * The most specific error in a chain: follows `cause` and `AggregateError.errors` (a connect to
 * `localhost` tries ::1 and 127.0.0.1) to the first error with a code, or the innermost one.
 */
function rootCause(error: unknown): Found {
  const seen = new Set<unknown>();
  let current: unknown = error;
  let innermost: Found | undefined;
  while (isObject(current) && !seen.has(current)) {
    seen.add(current);
    const message = str(current.message) ?? String(current);
    // The Data API reports PostgreSQL's code inside its message: `...; SQLState: 42P01`.
    const code = str(current.code) ?? /SQLState: (\w{5})/.exec(message)?.[1];
    const found: Found = { ...(code ? { code } : {}), message, error: current };
    if (code) return found;
    innermost = found;
    const errors = current.errors;
    current = current.cause ?? (Array.isArray(errors) ? errors[0] : undefined);
  }
  return innermost ?? { message: String(error), error: {} };
}

/** host:port and database name of a postgres:// URL, when it is one. */
function target(url: string | undefined): { where?: string; database?: string } {
  if (!url) return {};
  try {
    const u = new URL(url);
    const host = decodeURIComponent(u.hostname || 'localhost');
    return { where: `${host}:${u.port || '5432'}`, database: decodeURIComponent(u.pathname.slice(1)) };
  } catch {
    return {};
  }
}

const clip = (line: string) => (line.length > MAX_LINE ? `${line.slice(0, MAX_LINE - 3)}...` : line);
/** First line of a driver message, without the Data API's `; SQLState` tail. */
const firstLine = (message: string) =>
  message
    .split('\n')[0]!
    .replace(/;\s*SQLState: \w{5}.*$/, '')
    .trim();

/**
 * Explains an error in at most three lines, the first naming the root cause.
 * @param error anything thrown by a database call (or any other error)
 * @param context the database URL in use, to name the server and database
 * @returns the explanation, lines joined with `\n`
 */
export function explainError(error: unknown, context: ExplainContext = {}): string {
  const root = rootCause(error);
  const e = root.error;
  const { where: urlWhere, database } = target(context.databaseUrl);
  const address = str(e.address);
  const where = address ? `${address}:${String(e.port ?? '5432')}` : (urlWhere ?? 'the database server');
  const text = firstLine(root.message);
  const lines: string[] = [];
  switch (root.code) {
    case 'ECONNREFUSED':
      lines.push(
        `connection refused at ${where}`,
        'is PostgreSQL running and listening there? check the URL',
      );
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      lines.push(`cannot resolve the database host ${str(e.hostname) ?? urlWhere ?? ''}`.trimEnd());
      break;
    case 'ETIMEDOUT':
      lines.push(`connection to ${where} timed out`, 'check the host, the port and any firewall in between');
      break;
    case '3D000':
      lines.push(
        `database ${database ? `"${database}"` : ''} does not exist on ${urlWhere ?? where}`.replace(
          '  ',
          ' ',
        ),
        `create it (createdb ${database || 'NAME'}) or fix the database name in the URL`,
      );
      break;
    case '28P01':
    case '28000':
      lines.push(`the server at ${urlWhere ?? where} refused the login: ${text}`);
      break;
    case '42P01':
    case '3F000':
      lines.push(`the database schema is not migrated (${text})`, MIGRATE_HINT);
      break;
    case '42703':
      lines.push(`the database schema is older than this version (${text})`, MIGRATE_HINT);
      break;
    case '53300':
    case '57P03':
      lines.push(
        `the server at ${urlWhere ?? where} accepts no connection now: ${text}`,
        'retry in a moment',
      );
      break;
    default:
      if (root.code?.startsWith('23')) {
        const constraint = str(e.constraint);
        const table = str(e.table);
        lines.push(
          `constraint ${constraint ? `"${constraint}" ` : ''}failed${table ? ` on table ${table}` : ''}: ${text}`,
        );
        const detail = str(e.detail);
        if (detail) lines.push(detail);
      } else if (root.code && /^(?!E[A-Z]+$)[0-9A-Z]{5}$/.test(root.code)) {
        lines.push(`database error ${root.code}: ${text}`);
      } else if (text.startsWith('Failed query:')) {
        // drizzle's wrapper without a cause: its message is only the SQL.
        lines.push('a database query failed and the driver gave no reason');
      } else {
        lines.push(text);
      }
  }
  return lines.slice(0, 3).map(clip).join('\n');
}
