/**
 * One probe run: resolve every target, probe every address with bounded concurrency, finish by the
 * deadline.
 *
 * A name is resolved once per run (getaddrinfo, so /etc/hosts and both families count) and, unless
 * the target sets `allAddresses: false`, every address is probed on its own: a target that is down in
 * one AZ cannot hide behind a healthy address of another. Resolution and each address probe are work
 * items of one queue shared by `concurrency` workers.
 *
 * When the deadline comes, in-flight probes are aborted and every address or target not yet measured
 * is reported as a failure with reason `deadline`, so an overloaded run shows up as failures, never
 * as silence.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { DiscoveredTarget } from './discovery.ts';
import { type DnsResult, probeDns } from './dns.ts';
import type { ProbeTarget } from './event.ts';
import { type HttpProbeOptions, type HttpResult, probeHttp } from './http.ts';
import { probeTcp, type TcpResult } from './tcp.ts';
import type { FailureReason, IpFamily } from './types.ts';

/** A resolved address. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: IpFamily;
}

/** The probe functions and resolver a run uses; replaceable in tests. */
export interface Probers {
  tcp: typeof probeTcp;
  http: typeof probeHttp;
  dns: typeof probeDns;
  /** Every address of a name. */
  resolveAll: (host: string) => Promise<ResolvedAddress[]>;
}

/** The outcome of probing one address of a target (or the target itself, for DNS and unresolved names). */
export interface ProbeOutcome {
  readonly target: ProbeTarget & { readonly origin?: DiscoveredTarget['origin']; readonly azId?: string };
  /** Address probed; empty for DNS targets and names that did not resolve. */
  readonly address: string;
  readonly family?: IpFamily;
  readonly success: 0 | 1;
  readonly reason?: FailureReason;
  readonly error?: string;
  /** Time spent on this address (resolution not included), seconds. */
  readonly durationSeconds: number;
  /** When the outcome was known, ms since the epoch. */
  readonly timestampMs: number;
  readonly tcp?: TcpResult;
  readonly http?: HttpResult;
  readonly dns?: DnsResult;
}

/** Settings of one run. */
export interface RunOptions {
  targets: readonly (ProbeTarget & { readonly origin?: DiscoveredTarget['origin'] })[];
  /** TCP attempts per address. */
  attempts: number;
  /** Timeout of one TCP attempt, of a whole HTTP probe, of a DNS query. */
  timeoutMs: number;
  /** Work items (resolutions and address probes) in flight at once. */
  concurrency: number;
  /** Wall-clock time by which the run must have returned, ms since the epoch. */
  deadline: number;
  intervalMs?: number;
  synRetransmitThresholdMs?: number;
  /** TLS trust for HTTPS targets (the CLI's --ca / --insecure). */
  tls?: HttpProbeOptions['tls'];
  /** Resolvers for DNS targets. @default the system resolvers */
  dnsServers?: readonly string[];
  probers?: Partial<Probers>;
}

/** What a run measured. */
export interface RunResult {
  /** One per probed address (or per target for DNS and unresolved names), in target order. */
  readonly outcomes: ProbeOutcome[];
  /** Outcomes that are `deadline` failures. */
  readonly timedOut: number;
  readonly durationSeconds: number;
}

type Item =
  | { kind: 'resolve'; index: number; target: RunOptions['targets'][number]; host: string }
  | {
      kind: 'probe';
      index: number;
      target: RunOptions['targets'][number];
      address?: ResolvedAddress;
      resolvedSeconds?: number;
    };

/**
 * Probes every target by the deadline.
 * @param opts targets, probe settings, concurrency and deadline
 */
export async function runProbes(opts: RunOptions): Promise<RunResult> {
  if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1)
    throw new Error(`concurrency must be a positive integer, got ${opts.concurrency}`);
  const started = process.hrtime.bigint();
  const probers: Probers = {
    tcp: probeTcp,
    http: probeHttp,
    dns: probeDns,
    resolveAll: resolveAllAddresses,
    ...opts.probers,
  };
  const queue: Item[] = opts.targets.map((target, index) => initialItem(target, index));
  const outcomes: (ProbeOutcome & { index: number })[] = [];
  const abort = new AbortController();
  const inFlight = new Set<Item>();
  let expired = false;

  const work = async (item: Item): Promise<void> => {
    if (item.kind === 'resolve') {
      const t = process.hrtime.bigint();
      let addresses: ResolvedAddress[];
      try {
        addresses = await probers.resolveAll(item.host);
        if (addresses.length === 0) throw new Error(`${item.host} has no address`);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (!expired)
          outcomes.push(
            failed(
              item,
              'dns',
              `cannot resolve ${item.host}: ${e.code ?? e.message}`,
              Number(process.hrtime.bigint() - t) / 1e9,
            ),
          );
        return;
      }
      const resolvedSeconds = Number(process.hrtime.bigint() - t) / 1e9;
      const chosen = item.target.allAddresses === false ? addresses.slice(0, 1) : addresses;
      // At the front: a target's addresses are probed close together in time.
      if (!expired)
        queue.unshift(
          ...chosen.map((address) => ({
            kind: 'probe' as const,
            index: item.index,
            target: item.target,
            address,
            resolvedSeconds,
          })),
        );
      return;
    }
    const outcome = await probeItem(item, opts, probers, abort.signal);
    if (!expired) outcomes.push({ ...outcome, index: item.index });
  };

  await new Promise<void>((finish) => {
    let active = 0;
    const timer = setTimeout(
      () => {
        expired = true;
        abort.abort();
        for (const item of inFlight)
          outcomes.push(failed(item, 'deadline', 'run deadline reached while probing', 0));
        inFlight.clear();
        finish();
      },
      Math.max(0, opts.deadline - Date.now()),
    );
    const pump = () => {
      while (!expired && active < opts.concurrency && queue.length > 0) {
        const item = queue.shift()!;
        active++;
        inFlight.add(item);
        work(item)
          .catch((err: Error) => {
            if (!expired) outcomes.push(failed(item, 'error', err.message, 0));
          })
          .finally(() => {
            inFlight.delete(item);
            active--;
            pump();
          });
      }
      if (!expired && active === 0 && queue.length === 0) {
        clearTimeout(timer);
        finish();
      }
    };
    pump();
  });
  for (const item of queue.splice(0))
    outcomes.push(failed(item, 'deadline', 'run deadline reached before this target was probed', 0));

  outcomes.sort((a, b) => a.index - b.index || a.address.localeCompare(b.address));
  return {
    outcomes: outcomes.map(({ index: _, ...o }) => o),
    timedOut: outcomes.filter((o) => o.reason === 'deadline').length,
    durationSeconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}

function hostOf(target: ProbeTarget): string | undefined {
  if (target.kind === 'tcp') return target.host;
  if (target.kind === 'http') return new URL(target.url).hostname.replace(/^\[(.*)\]$/, '$1');
  return undefined;
}

function initialItem(target: RunOptions['targets'][number], index: number): Item {
  const host = hostOf(target);
  if (host === undefined) return { kind: 'probe', index, target };
  const literal = isIP(host);
  if (literal !== 0)
    return {
      kind: 'probe',
      index,
      target,
      address: { address: host, family: literal as IpFamily },
      resolvedSeconds: 0,
    };
  return { kind: 'resolve', index, target, host };
}

function failed(
  item: Item,
  reason: FailureReason,
  error: string,
  durationSeconds: number,
): ProbeOutcome & { index: number } {
  const address = item.kind === 'probe' ? item.address : undefined;
  return {
    index: item.index,
    target: item.target,
    address: address?.address ?? '',
    ...(address ? { family: address.family } : {}),
    success: 0,
    reason,
    error,
    durationSeconds,
    timestampMs: Date.now(),
  };
}

async function probeItem(
  item: Extract<Item, { kind: 'probe' }>,
  opts: RunOptions,
  probers: Probers,
  signal: AbortSignal,
): Promise<ProbeOutcome> {
  const { target, address } = item;
  const base = { target, address: address?.address ?? '', ...(address ? { family: address.family } : {}) };
  switch (target.kind) {
    case 'tcp': {
      const r = await probers.tcp({
        host: address!.address,
        port: target.port,
        attempts: opts.attempts,
        timeoutMs: opts.timeoutMs,
        ...(opts.intervalMs !== undefined ? { intervalMs: opts.intervalMs } : {}),
        ...(opts.synRetransmitThresholdMs !== undefined
          ? { synRetransmitThresholdMs: opts.synRetransmitThresholdMs }
          : {}),
        signal,
      });
      return {
        ...base,
        success: r.success,
        ...failure(r),
        durationSeconds: r.durationMs / 1000,
        timestampMs: Date.now(),
        tcp: r,
      };
    }
    case 'http': {
      const r = await probers.http({
        url: target.url,
        method: target.method,
        expectStatus: target.expectStatus,
        ...(target.bodyRegex !== undefined ? { bodyRegex: target.bodyRegex } : {}),
        ...(target.headers !== undefined ? { headers: target.headers } : {}),
        followRedirects: target.followRedirects,
        certMinDays: target.certMinDays,
        timeoutMs: opts.timeoutMs,
        address: address!.address,
        addressResolvedSeconds: item.resolvedSeconds ?? 0,
        ...(opts.tls ? { tls: opts.tls } : {}),
        signal,
      });
      return {
        ...base,
        success: r.success,
        ...failure(r),
        durationSeconds: r.durationSeconds,
        timestampMs: Date.now(),
        http: r,
      };
    }
    case 'dns': {
      const r = await probers.dns({
        query: target.query,
        recordType: target.recordType,
        ...(target.expectAnswers !== undefined ? { expectAnswers: target.expectAnswers } : {}),
        ...(opts.dnsServers ? { servers: opts.dnsServers } : {}),
        timeoutMs: opts.timeoutMs,
        signal,
      });
      return {
        ...base,
        success: r.success,
        ...failure(r),
        durationSeconds: r.lookupSeconds,
        timestampMs: Date.now(),
        dns: r,
      };
    }
  }
}

function failure(r: { reason?: FailureReason; error?: string }): { reason?: FailureReason; error?: string } {
  return {
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
    ...(r.error !== undefined ? { error: r.error } : {}),
  };
}

/**
 * Every address of a name through getaddrinfo (both families, /etc/hosts included), deduplicated.
 * @param host a host name
 */
export async function resolveAllAddresses(host: string): Promise<ResolvedAddress[]> {
  const found = await lookup(host, { all: true, family: 0 });
  const seen = new Set<string>();
  return found
    .filter((a) => !seen.has(a.address) && seen.add(a.address))
    .map((a) => ({ address: a.address, family: a.family as IpFamily }));
}
