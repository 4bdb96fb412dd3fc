/**
 * DNS probe: one query of one record type through a c-ares resolver (node:dns `Resolver`), timed.
 *
 * Success needs a NOERROR answer with at least one record (an empty answer, NXDOMAIN, SERVFAIL,
 * REFUSED or no answer in time fail with reason `dns`, or `timeout`/`refused`), and, when
 * `expectAnswers` is given, every expected value among the answers (compared case-insensitively,
 * without a trailing dot).
 */
import { Resolver } from 'node:dns/promises';
import type { FailureReason } from './types.ts';

/** Record types the DNS probe can query. */
export type DnsRecordType = 'A' | 'AAAA' | 'CNAME' | 'TXT' | 'SRV';

/** Options of one DNS probe. */
export interface DnsProbeOptions {
  /** Name to look up. */
  query: string;
  /** @default 'A' */
  recordType?: DnsRecordType;
  /** Values that must all be among the answers (A/AAAA: addresses; CNAME: names; TXT: joined strings; SRV: "priority weight port target"). */
  expectAnswers?: readonly string[];
  /** Resolvers as `ip` or `ip:port` (`[ipv6]:port`). @default the system resolvers */
  servers?: readonly string[];
  /** Timeout of the query (one try). */
  timeoutMs: number;
  /** Aborts the query (the run's deadline). */
  signal?: AbortSignal;
}

/** Result of one DNS probe. */
export interface DnsResult {
  readonly query: string;
  readonly recordType: DnsRecordType;
  /** Resolvers used. */
  readonly servers: readonly string[];
  readonly success: 0 | 1;
  readonly reason?: FailureReason;
  readonly error?: string;
  /** Time from sending the query to the answer (or the error), seconds. */
  readonly lookupSeconds: number;
  /** Answers, normalised as described in `DnsProbeOptions.expectAnswers`. */
  readonly answers: readonly string[];
}

/**
 * Looks a name up once and checks the answers.
 * Never throws for resolver outcomes; they are reported in the result.
 * @param opts the query, record type, expected answers and resolvers
 */
export async function probeDns(opts: DnsProbeOptions): Promise<DnsResult> {
  const recordType = opts.recordType ?? 'A';
  const resolver = new Resolver({ timeout: opts.timeoutMs, tries: 1 });
  if (opts.servers?.length) resolver.setServers([...opts.servers]);
  const servers = resolver.getServers();
  const onAbort = () => resolver.cancel();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  // c-ares may retry once more than `tries` says; the probe's timeout is a hard bound.
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    resolver.cancel();
  }, opts.timeoutMs);
  const base = { query: opts.query, recordType, servers };
  const t = process.hrtime.bigint();
  let answers: string[];
  try {
    answers = await resolve(resolver, opts.query, recordType);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const lookupSeconds = Number(process.hrtime.bigint() - t) / 1e9;
    const reason: FailureReason = opts.signal?.aborted
      ? 'deadline'
      : timedOut || code === 'ETIMEOUT'
        ? 'timeout'
        : code === 'ECONNREFUSED'
          ? 'refused'
          : 'dns';
    const detail =
      reason === 'timeout'
        ? `no answer within ${opts.timeoutMs} ms`
        : reason === 'deadline'
          ? 'run deadline reached'
          : code;
    return {
      ...base,
      success: 0,
      reason,
      error: `${recordType} ${opts.query}: ${detail}`,
      lookupSeconds,
      answers: [],
    };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  const lookupSeconds = Number(process.hrtime.bigint() - t) / 1e9;
  if (answers.length === 0) {
    return {
      ...base,
      success: 0,
      reason: 'dns',
      error: `${recordType} ${opts.query}: no answer`,
      lookupSeconds,
      answers,
    };
  }
  const have = new Set(answers.map(normalize));
  const missing = (opts.expectAnswers ?? []).filter((a) => !have.has(normalize(a)));
  if (missing.length > 0) {
    return {
      ...base,
      success: 0,
      reason: 'answers',
      error: `${recordType} ${opts.query}: missing ${missing.join(', ')}`,
      lookupSeconds,
      answers,
    };
  }
  return { ...base, success: 1, lookupSeconds, answers };
}

async function resolve(resolver: Resolver, name: string, type: DnsRecordType): Promise<string[]> {
  switch (type) {
    case 'A':
      return resolver.resolve4(name);
    case 'AAAA':
      return resolver.resolve6(name);
    case 'CNAME':
      return resolver.resolveCname(name);
    case 'TXT':
      return (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''));
    case 'SRV':
      return (await resolver.resolveSrv(name)).map((r) => `${r.priority} ${r.weight} ${r.port} ${r.name}`);
  }
}

function normalize(value: string): string {
  return value.trim().toLowerCase().replace(/\.$/, '');
}
