/**
 * TCP connect probe: the Lambda-compatible replacement for ping.
 *
 * Each attempt opens a fresh connection and times it with `process.hrtime.bigint()` from the
 * `connect()` call (the first SYN leaves within the same tick) to the `'connect'` event (SYN-ACK
 * received, ACK sent). The name is resolved once, before the first attempt, so resolver time never
 * leaks into the connect time.
 *
 * Telling a lost first SYN from a slow path: when a SYN (or the SYN-ACK) is lost, Linux retransmits
 * after its initial RTO of 1 s (RFC 6298), so such a connect takes >= ~1 s + RTT. An attempt that
 * completes but took longer than `synRetransmitThresholdMs` (default 900 ms, below the 1 s RTO) is
 * counted as `retransmitted`: LOST for the loss ratio and excluded from the latency statistics, since
 * its time measures the RTO rather than the path. The target was still reachable, so it counts for
 * `success`. For paths with a genuine RTT near or above 900 ms, raise the threshold (or set it to at
 * least `timeoutMs` to turn the classification off).
 *
 * The warm-up attempt: in a fresh process the first connect is not a measurement of the path. Measured
 * in fresh Node 22 processes against a 0.2 ms loopback path (see README, "The first attempt"), the
 * first `connect()` took 1.6-4 ms in plain Node, 7-10 ms when loaded through tsx, and 11-28 ms in the
 * CLI, against 0.2-0.6 ms for every later one. No single cause: the first use of `net`'s connect path
 * (lazy internals, then JIT: ~1 ms synchronous in `connect()` and ~1.5 ms in `internalConnect`), and,
 * while the handshake is in flight, the major garbage collection of everything module loading left
 * behind (4.7 ms in one CLI profile) and the compilation of lazily loaded code (undici's llhttp
 * WebAssembly). None of these is the path, none can be removed from a cold process (a collection runs
 * when V8 decides), and all are one-off. So a run that starts before the process has made any connection
 * first makes one warm-up attempt to the same address: it is reported apart (`warmup`), is not counted
 * in attempts, loss or latency, and also leaves the neighbour and route caches warm for the measured
 * attempts. Later runs in the process (a warm Lambda) make none.
 */
import { lookup } from 'node:dns/promises';
import { isIP, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { jitter, latencyStats } from './stats.ts';
import type { FailureReason, IpFamily } from './types.ts';

/** Default connect time above which an attempt is taken for a SYN retransmission. */
export const DEFAULT_SYN_RETRANSMIT_THRESHOLD_MS = 900;
/** Default pause between the end of one attempt and the start of the next. */
export const DEFAULT_TCP_INTERVAL_MS = 100;

/** Options of one TCP probe run against one host and port. */
export interface TcpProbeOptions {
  /** Host name or IP literal; a name is resolved once (first address of `family`, if given). */
  host: string;
  port: number;
  /** Fresh connections to open, one after another. */
  attempts: number;
  /** Timeout of one attempt, from the connect() call. */
  timeoutMs: number;
  /**
   * Pause between attempts.
   * @default 100
   */
  intervalMs?: number;
  /** Address family to resolve and connect with. */
  family?: IpFamily;
  /**
   * A connect slower than this is counted as a SYN retransmission (lost, not a latency sample).
   * @default 900
   */
  synRetransmitThresholdMs?: number;
  /** Aborts the remaining attempts (the run's deadline). */
  signal?: AbortSignal;
  /**
   * Make one unmeasured connect first (see the module comment).
   * @default - only while the process has not completed a connect yet
   */
  warmup?: boolean;
}

/** Outcome of one connection attempt. */
export type TcpAttemptOutcome =
  | 'ok'
  | 'retransmitted'
  | 'refused'
  | 'timeout'
  | 'unreachable'
  | 'reset'
  | 'error'
  | 'aborted';

/** One connection attempt. */
export interface TcpAttempt {
  readonly outcome: TcpAttemptOutcome;
  /** Time from connect() to the outcome, in milliseconds. */
  readonly ms: number;
  /** The socket error code or message, when there was one. */
  readonly error?: string;
}

/** Connect-time distribution of the clean attempts, in milliseconds. */
export interface TcpLatencyStats {
  readonly minMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

/** Result of one TCP probe run. */
export interface TcpResult {
  readonly host: string;
  readonly port: number;
  /** The address connected to; empty when the name did not resolve. */
  readonly address: string;
  /** IP family of `address`; undefined when the name did not resolve. */
  readonly family: IpFamily | undefined;
  /** Attempts requested. */
  readonly attempts: number;
  /** Clean handshakes: completed within the retransmit threshold (these are the latency samples). */
  readonly successes: number;
  /** Handshakes completed only after a SYN retransmission (slower than the threshold). */
  readonly retransmitted: number;
  /** Attempts that never completed a handshake (refused, timed out, unreachable, reset, error). */
  readonly failed: number;
  /** 1 - successes / attempts: retransmitted and failed attempts both count as lost. */
  readonly lossRatio: number;
  /** Connect times of the clean attempts, in measurement order, milliseconds. */
  readonly latenciesMs: readonly number[];
  /** Distribution of `latenciesMs`; null when there was no clean attempt. */
  readonly stats: TcpLatencyStats | null;
  /** Mean absolute difference of consecutive clean connect times, milliseconds (0 with fewer than two). */
  readonly jitterMs: number;
  /** 1 when at least one attempt completed a handshake (clean or retransmitted), else 0. */
  readonly success: 0 | 1;
  /** Why the probe failed; set only when `success` is 0. */
  readonly reason?: FailureReason;
  /** Detail of the failure (error code of the most common failed outcome, or the resolver error). */
  readonly error?: string;
  /** Wall time of the whole run, milliseconds. */
  readonly durationMs: number;
  /** Every attempt, in order. */
  readonly attemptLog: readonly TcpAttempt[];
  /** The unmeasured warm-up attempt made before `attemptLog`, when the run made one. */
  readonly warmup?: TcpAttempt;
}

/** Set once a connect of this process got an answer: the cold-process costs are paid. */
let processWarm = false;

/**
 * Probes a TCP endpoint with fresh connections and reports loss, latency distribution and jitter.
 * Never throws for network outcomes; they are reported in the result.
 * @param opts host, port, attempts, per-attempt timeout and spacing
 * @returns the run's figures
 */
export async function probeTcp(opts: TcpProbeOptions): Promise<TcpResult> {
  const started = process.hrtime.bigint();
  const threshold = opts.synRetransmitThresholdMs ?? DEFAULT_SYN_RETRANSMIT_THRESHOLD_MS;
  const interval = opts.intervalMs ?? DEFAULT_TCP_INTERVAL_MS;
  if (!Number.isInteger(opts.attempts) || opts.attempts < 1)
    throw new Error(`attempts must be a positive integer, got ${opts.attempts}`);
  if (!(opts.timeoutMs > 0)) throw new Error(`timeoutMs must be positive, got ${opts.timeoutMs}`);

  let address: string;
  let family: IpFamily;
  try {
    ({ address, family } = await resolveOne(opts.host, opts.family));
  } catch (err) {
    return summarize(opts, '', undefined, [], started, { reason: 'dns', error: errorText(err) });
  }

  let warmup: TcpAttempt | undefined;
  if (opts.warmup ?? !processWarm) {
    warmup = await connectOnce(address, family, opts.port, opts.timeoutMs, opts.signal);
  }
  const log: TcpAttempt[] = [];
  for (let i = 0; i < opts.attempts; i++) {
    if (opts.signal?.aborted) break;
    if ((i > 0 || warmup) && interval > 0) {
      try {
        await sleep(interval, undefined, { signal: opts.signal });
      } catch {
        break;
      }
    }
    const attempt = await connectOnce(address, family, opts.port, opts.timeoutMs, opts.signal);
    if (attempt.outcome === 'aborted') break;
    log.push(
      attempt.outcome === 'ok' && attempt.ms > threshold ? { ...attempt, outcome: 'retransmitted' } : attempt,
    );
  }
  const result = summarize(opts, address, family, log, started);
  return warmup ? { ...result, warmup } : result;
}

async function resolveOne(host: string, family?: IpFamily): Promise<{ address: string; family: IpFamily }> {
  const literal = isIP(host);
  if (literal !== 0) {
    if (family !== undefined && literal !== family) throw new Error(`address ${host} is not IPv${family}`);
    return { address: host, family: literal as IpFamily };
  }
  const found = await lookup(host, { family: family ?? 0 });
  return { address: found.address, family: found.family as IpFamily };
}

/**
 * Opens one connection and closes it as soon as the handshake completes.
 * @returns the outcome and the time from connect() to it
 */
export function connectOnce(
  address: string,
  family: IpFamily,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<TcpAttempt> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let start = 0n;
    let done = false;
    const elapsedMs = () => Number(process.hrtime.bigint() - start) / 1e6;
    const finish = (attempt: TcpAttempt) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      // An answer from the network ran the whole connect path once: the process is warm.
      if (attempt.outcome !== 'aborted' && attempt.outcome !== 'timeout') processWarm = true;
      resolve(attempt);
    };
    const onAbort = () => finish({ outcome: 'aborted', ms: elapsedMs() });
    const timer = setTimeout(
      () => finish({ outcome: 'timeout', ms: elapsedMs(), error: `no handshake within ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.once('connect', () => {
      const ms = elapsedMs();
      finish({ outcome: 'ok', ms });
    });
    socket.once('error', (err: NodeJS.ErrnoException) =>
      finish({ outcome: classify(err.code), ms: elapsedMs(), error: err.code ?? err.message }),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    start = process.hrtime.bigint();
    // An IP literal skips the resolver: connect(2) is issued on the next tick.
    socket.connect({ host: address, port, family, autoSelectFamily: false });
  });
}

function classify(code: string | undefined): TcpAttemptOutcome {
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ETIMEDOUT':
      return 'timeout';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
      return 'unreachable';
    case 'ECONNRESET':
      return 'reset';
    default:
      return 'error';
  }
}

function summarize(
  opts: { host: string; port: number; attempts: number },
  address: string,
  family: IpFamily | undefined,
  log: TcpAttempt[],
  started: bigint,
  resolveFailure?: { reason: FailureReason; error: string },
): TcpResult {
  const latencies = log.filter((a) => a.outcome === 'ok').map((a) => a.ms);
  const retransmitted = log.filter((a) => a.outcome === 'retransmitted').length;
  const successes = latencies.length;
  const failed = opts.attempts - successes - retransmitted;
  const s = latencyStats(latencies);
  const success: 0 | 1 = successes + retransmitted > 0 ? 1 : 0;
  const result: TcpResult = {
    host: opts.host,
    port: opts.port,
    address,
    family,
    attempts: opts.attempts,
    successes,
    retransmitted,
    failed,
    lossRatio: 1 - successes / opts.attempts,
    latenciesMs: latencies,
    stats: s && { minMs: s.min, p50Ms: s.p50, p90Ms: s.p90, maxMs: s.max, meanMs: s.mean },
    jitterMs: jitter(latencies),
    success,
    durationMs: Number(process.hrtime.bigint() - started) / 1e6,
    attemptLog: log,
  };
  if (success === 1) return result;
  if (resolveFailure) return { ...result, ...resolveFailure };
  const worst = mostCommonFailure(log);
  return {
    ...result,
    reason: worst?.reason ?? 'deadline',
    error: worst?.error ?? 'no attempt completed before the run was aborted',
  };
}

function mostCommonFailure(log: TcpAttempt[]): { reason: FailureReason; error: string } | undefined {
  const counts = new Map<TcpAttemptOutcome, { n: number; error: string }>();
  for (const a of log) {
    const c = counts.get(a.outcome) ?? { n: 0, error: a.error ?? a.outcome };
    c.n++;
    counts.set(a.outcome, c);
  }
  let best: [TcpAttemptOutcome, { n: number; error: string }] | undefined;
  for (const entry of counts) if (!best || entry[1].n > best[1].n) best = entry;
  if (!best) return undefined;
  const [outcome, { error }] = best;
  const reason: FailureReason =
    outcome === 'refused' || outcome === 'timeout' || outcome === 'unreachable' || outcome === 'reset'
      ? outcome
      : 'error';
  return { reason, error };
}

function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { hostname?: string };
  return e.code ? `${e.code} ${e.hostname ?? ''}`.trim() : String(e.message ?? err);
}
