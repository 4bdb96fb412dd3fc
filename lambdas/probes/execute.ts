/**
 * One probe invocation end to end, with every dependency injected: discover targets, probe them by
 * the deadline, map the outcomes to samples and write them to the sink.
 *
 * Time budget (all from the caller's deadline, i.e. the Lambda's remaining time):
 *   [ discovery <= 25% of the probe budget ][ probes until probeDeadline ][ write until deadline ]
 * Discovery that overruns its share is abandoned: the run goes on with the static targets and
 * every configured discovery source is counted as failed.
 */
import {
  type DiscoveryClients,
  type DiscoveryFailure,
  type DiscoveryResult,
  discoverTargets,
} from './discovery.ts';
import type { ProbeEvent } from './event.ts';
import { type ProbeOutcome, type Probers, type RunOptions, runProbes } from './run.ts';
import { runSamples, type SampleSink } from './samples.ts';

/** Ports of an invocation. */
export interface ExecutePorts {
  /**
   * Discovery clients, or a function that makes them: called only when the run has a discovery
   * source, so a run of static targets never loads the AWS SDK.
   */
  clients: DiscoveryClients | (() => Promise<DiscoveryClients>);
  /** Where samples go; none in a dry run. */
  sink?: SampleSink;
  /** Epoch ms by which everything, the write included, must be done. */
  deadline: number;
  /** Time kept for the write at the end. */
  writeReserveMs: number;
  coldStart: boolean;
  probers?: Partial<Probers>;
  /** Engine settings the event does not carry (the CLI's --ca, --insecure, --dns-server). */
  engine?: Pick<RunOptions, 'tls' | 'dnsServers'>;
}

/** What one invocation did. */
export interface ProbeRunSummary {
  readonly source: ProbeEvent['source'];
  /** Outcomes measured (addresses, or targets for DNS and unresolved names). */
  readonly targetsProbed: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Outcomes reported as `deadline` failures. */
  readonly timedOut: number;
  readonly discovery: Pick<DiscoveryResult, 'counts' | 'failures' | 'skipped'>;
  readonly samples: number;
  /** Samples the sink could not write (0 without a sink). */
  readonly samplesFailed: number;
  readonly remoteWriteOk: boolean;
  /** Why the sink threw, when it did. */
  readonly writeError?: string;
  readonly durationMs: number;
  readonly coldStart: boolean;
  /** Every failed outcome: target, address, reason, error. */
  readonly failures: { target: string; address: string; reason: string; error: string }[];
  /** The outcomes themselves (for the CLI and tests; the handler does not return them). */
  readonly outcomes: ProbeOutcome[];
}

/**
 * Runs one probe invocation.
 * @param event the validated run request
 * @param ports clients, sink and time budget
 */
export async function executeProbeRun(event: ProbeEvent, ports: ExecutePorts): Promise<ProbeRunSummary> {
  const started = Date.now();
  const probeDeadline = ports.deadline - ports.writeReserveMs;
  const discoveryBudget = Math.max(0, (probeDeadline - started) * 0.25);
  const configured = configuredSources(event);

  const discovering = (async () =>
    discoverTargets({
      sourceRegion: event.source.region,
      targets: event.targets,
      discovery: event.discovery,
      ...(event.mesh ? { mesh: event.mesh } : {}),
      clients:
        typeof ports.clients !== 'function'
          ? ports.clients
          : configured.length > 0
            ? await ports.clients()
            : {},
    }))();
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<'overrun'>((resolve) => {
    timer = setTimeout(() => resolve('overrun'), discoveryBudget);
  });
  const raced = await Promise.race([discovering, overrun]);
  clearTimeout(timer);
  const discovery: DiscoveryResult =
    raced === 'overrun'
      ? {
          targets: event.targets
            .filter((t) => t.from === undefined || t.from.includes(event.source.region))
            .map((t) => ({ ...t, origin: 'static' as const })),
          failures: configured.map(
            (source): DiscoveryFailure => ({
              source,
              scope: 'all',
              error: `discovery took longer than ${Math.round(discoveryBudget)} ms`,
            }),
          ),
          counts: {},
          skipped: [],
        }
      : raced;

  const zoneIds = event.zoneIds ?? {};
  const run = await runProbes({
    targets: discovery.targets.map((t) => {
      const azId = t.az === undefined ? undefined : zoneIds[t.az];
      return azId === undefined ? t : { ...t, azId };
    }),
    attempts: event.attempts,
    timeoutMs: event.timeoutMs,
    concurrency: event.concurrency,
    deadline: probeDeadline,
    ...(event.intervalMs !== undefined ? { intervalMs: event.intervalMs } : {}),
    ...(event.synRetransmitThresholdMs !== undefined
      ? { synRetransmitThresholdMs: event.synRetransmitThresholdMs }
      : {}),
    ...(ports.probers ? { probers: ports.probers } : {}),
    ...ports.engine,
  });

  const failuresBySource: Record<string, number> = Object.fromEntries(configured.map((s) => [s, 0]));
  for (const f of discovery.failures) failuresBySource[f.source] = (failuresBySource[f.source] ?? 0) + 1;
  const samples = runSamples(
    event.source,
    run.outcomes,
    {
      durationSeconds: (Date.now() - started) / 1000,
      coldStart: ports.coldStart,
      timedOut: run.timedOut,
      discovered: {
        static: discovery.targets.filter((t) => t.origin === 'static').length,
        ...withoutStatic(discovery.counts),
      },
      discoveryFailures: failuresBySource,
    },
    Date.now(),
  );

  let write: { samplesFailed: number; remoteWriteOk: boolean; writeError?: string } = {
    samplesFailed: 0,
    remoteWriteOk: true,
  };
  if (ports.sink) {
    try {
      const written = await ports.sink.write(samples, { deadline: ports.deadline });
      write = { samplesFailed: written.samplesFailed, remoteWriteOk: written.ok };
    } catch (err) {
      // An invalid sample or a client bug: the probes' results must still be reported.
      write = { samplesFailed: samples.length, remoteWriteOk: false, writeError: (err as Error).message };
    }
  }
  const failed = run.outcomes.filter((o) => o.success === 0);
  return {
    source: event.source,
    targetsProbed: run.outcomes.length,
    succeeded: run.outcomes.length - failed.length,
    failed: failed.length,
    timedOut: run.timedOut,
    discovery: { counts: discovery.counts, failures: discovery.failures, skipped: discovery.skipped },
    samples: samples.length,
    ...write,
    durationMs: Date.now() - started,
    coldStart: ports.coldStart,
    failures: failed.map((o) => ({
      target: o.target.name,
      address: o.address,
      reason: o.reason ?? 'error',
      error: o.error ?? '',
    })),
    outcomes: run.outcomes,
  };
}

function configuredSources(event: ProbeEvent): DiscoveryFailure['source'][] {
  const out: DiscoveryFailure['source'][] = [];
  if (event.discovery.cloudMap.length > 0) out.push('cloudmap');
  if (event.discovery.ec2Tags) out.push('ec2');
  if (event.mesh && event.mesh.vpcEndpointIds.length > 0) out.push('mesh');
  return out;
}

function withoutStatic(counts: DiscoveryResult['counts']): Partial<Record<string, number>> {
  const { static: _, ...rest } = counts;
  return rest;
}
