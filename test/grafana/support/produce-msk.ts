/**
 * A simulated MSK rollback execution, driven by the project's own replication-loop logic: the example
 * execution input parsed into a plan (`parseRollbackInput`), lag computed from source offsets and MM2's
 * positions (`computeLag`, `summarizeLag`), each poll decided by `decidePoll` (a task stop and restart,
 * convergence, the drain after approval) and turned into samples by `pollSamples`.
 *
 * Alongside, MirrorMaker 2's MBeans (`kafka.connect.mirror:type=MirrorSourceConnector,...` and
 * `MirrorCheckpointConnector`) are run through the JMX exporter rules that ship with the MM2 image
 * (support/jmx-exporter.ts), with the execution labels the ADOT sidecar adds, so the MM2 series carry
 * exactly the names and labels those rules produce.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AllowedCluster,
  parseRollbackInput,
  type RollbackPlan,
} from '../../../lambdas/msk-rollback/input.ts';
import { computeLag, partitionKey, summarizeLag } from '../../../lambdas/msk-rollback/lag.ts';
import { executionLabels, pollSamples } from '../../../lambdas/msk-rollback/metrics.ts';
import {
  decidePoll,
  initialPollState,
  type PollState,
  taskHealth,
} from '../../../lambdas/msk-rollback/poll.ts';
import type { Sample } from '../../../lambdas/shared/remote-write.ts';
import { selfMetricSamples } from '../../../lambdas/shared/self-metrics.ts';
import { applyRules, type JmxExporterConfig, type MBeanAttribute } from './jmx-exporter.ts';

/** The labels the ADOT sidecar puts on every MM2 series: the scrape's job and instance, and its external labels. */
export interface SidecarLabels {
  readonly job: string;
  readonly instance: string;
  /** External label names (their values are the execution's, from RunTask overrides). */
  readonly external: readonly string[];
}

const EXAMPLE_INPUT = join(import.meta.dirname, '../../../lambdas/msk-rollback/example-input.json');
const TOPICS = [
  { topic: 'orders.created', partitions: 3 },
  { topic: 'payments.settled', partitions: 2 },
];
const GROUPS = ['orders-fulfilment', 'billing'];

/** The plan of the simulated execution. */
export function simulatedPlan(startTime: Date): RollbackPlan {
  const raw = JSON.parse(readFileSync(EXAMPLE_INPUT, 'utf8')) as {
    sourceClusterArn: string;
    targetClusterArn: string;
  };
  const clusters: AllowedCluster[] = [
    { name: 'orders-v2', arn: raw.sourceClusterArn },
    { name: 'orders-v3', arn: raw.targetClusterArn },
  ];
  const parsed = parseRollbackInput(raw, {
    clusters,
    execution: {
      executionArn:
        'arn:aws:states:eu-west-1:111111111111:execution:Observatory-MskRollback:orders-to-v3-20250106',
      executionName: 'orders-to-v3-20250106',
      startTime: startTime.toISOString(),
      stateMachineArn: 'arn:aws:states:eu-west-1:111111111111:stateMachine:Observatory-MskRollback',
    },
  });
  if (!parsed.ok) throw new Error(`example input does not parse: ${parsed.problems.join('; ')}`);
  return parsed.plan;
}

/** What the simulation produced. */
export interface MskSimulation {
  readonly samples: Sample[];
  /** The action of every poll, in order. */
  readonly actions: string[];
  /** Names of the MM2 series the exporter rules produced. */
  readonly mm2Names: string[];
}

/**
 * Simulates one execution over `polls` one-minute polls ending at `end`.
 * @param jmx the JMX exporter config of the MM2 image
 */
export function simulateRollback(
  jmx: JmxExporterConfig,
  sidecar: SidecarLabels,
  end: number,
  polls = 40,
): MskSimulation {
  const start = end - (polls - 1) * 60_000;
  const plan = simulatedPlan(new Date(start - 120_000));
  const execution = executionLabels(plan);
  const unknown = sidecar.external.filter((l) => !(l in execution));
  if (unknown.length > 0)
    throw new Error(`the sidecar's external labels ${unknown.join(', ')} are not execution labels`);
  const external: Record<string, string> = { job: sidecar.job, instance: sidecar.instance };
  for (const l of sidecar.external) external[l] = execution[l]!;
  const partitions = TOPICS.flatMap((t) =>
    Array.from({ length: t.partitions }, (_, p) => ({ topic: t.topic, partition: p })),
  );
  // Source log-end offsets and MM2's next offsets: MM2 starts 6000 records behind per partition and
  // catches up at 700 records a minute while producers add 250; producers stop once approval is given.
  const endOffsets = new Map(partitions.map((p) => [partitionKey(p.topic, p.partition), 50_000]));
  const positions = new Map(partitions.map((p) => [partitionKey(p.topic, p.partition), 44_000]));
  let state: PollState = initialPollState('converge');
  const samples: Sample[] = [];
  const actions: string[] = [];
  const mm2Names = new Set<string>();
  let producing = true;

  for (let i = 0; i < polls; i++) {
    const ts = start + i * 60_000;
    const stopped = i === 6; // the MM2 task stopped once: the loop restarts it
    const task = taskHealth(
      stopped
        ? {
            lastStatus: 'STOPPED',
            desiredStatus: 'STOPPED',
            stoppedReason: 'Essential container in task exited',
          }
        : { lastStatus: 'RUNNING', desiredStatus: 'RUNNING' },
    );
    const replicated = new Map<string, number>();
    for (const p of partitions) {
      const key = partitionKey(p.topic, p.partition);
      if (producing) endOffsets.set(key, endOffsets.get(key)! + 250);
      const next = positions.get(key)!;
      const moved = stopped ? 0 : Math.min(700, endOffsets.get(key)! - next);
      positions.set(key, next + moved);
      replicated.set(key, moved);
    }
    const source = partitions.map((p) => ({
      ...p,
      start: 0,
      end: endOffsets.get(partitionKey(p.topic, p.partition))!,
    }));
    const lags = task.alive ? computeLag(source, positions) : null;
    state = decidePoll(plan, state, task, lags ? summarizeLag(lags) : null, new Date(ts));
    actions.push(state.action ?? 'wait');
    const polled = pollSamples(plan, state, lags, ts);
    samples.push(...polled);
    samples.push(
      ...selfMetricSamples({
        component: 'msk-rollback',
        function: 'poll-replication',
        region: 'eu-west-1',
        success: true,
        startedAtMs: ts - 1500,
        endedAtMs: ts,
        coldStart: i === 0,
      }),
    );

    if (lags) {
      for (const bean of mm2Beans(plan, lags, replicated)) {
        const exported = applyRules(jmx, bean);
        if (!exported) continue;
        mm2Names.add(exported.name);
        samples.push({
          name: exported.name,
          labels: { ...exported.labels, ...external },
          value: exported.value,
          timestampMs: ts,
        });
      }
    }
    if (state.action === 'converged') {
      // Approval given at once: the drain phase starts with producers stopped.
      state = initialPollState('drain', state.restarts);
      producing = false;
    }
    if (state.action === 'drained' || state.action === 'timed_out' || state.action === 'give_up') break;
  }
  return { samples, actions, mm2Names: [...mm2Names].sort() };
}

/** The MBean attributes MM2 exposes in one poll's minute, with values consistent with the lag. */
function mm2Beans(
  plan: RollbackPlan,
  lags: ReturnType<typeof computeLag>,
  replicated: ReadonlyMap<string, number>,
): MBeanAttribute[] {
  const beans: MBeanAttribute[] = [];
  for (const l of lags) {
    const moved = replicated.get(partitionKey(l.topic, l.partition)) ?? 0;
    // Kafka 3.7 (the image's default) names the source first; the rules also take the older form.
    const properties = [
      ['type', 'MirrorSourceConnector'],
      ['source', plan.source.alias],
      ['target', plan.target.alias],
      ['topic', l.topic],
      ['partition', String(l.partition)],
    ] as const;
    const latency = 35 + l.lag * 0.4;
    const age = 20 + l.lag * 0.35;
    const attributes: Record<string, number> = {
      'record-count': l.next ?? 0,
      'record-rate': moved / 60,
      'byte-count': (l.next ?? 0) * 512,
      'byte-rate': (moved * 512) / 60,
      'record-age-ms': age,
      'record-age-ms-min': age * 0.5,
      'record-age-ms-max': age * 1.8,
      'record-age-ms-avg': age,
      'replication-latency-ms': latency,
      'replication-latency-ms-min': latency * 0.6,
      'replication-latency-ms-max': latency * 2.2,
      'replication-latency-ms-avg': latency,
    };
    for (const [attribute, value] of Object.entries(attributes)) {
      beans.push({ domain: 'kafka.connect.mirror', properties, attribute, value });
    }
    beans.push({
      domain: 'kafka.consumer',
      properties: [
        ['type', 'consumer-fetch-manager-metrics'],
        [
          'client-id',
          `${plan.source.alias}->${plan.target.alias}|MirrorSourceConnector-0|replication-consumer`,
        ],
        ['topic', l.topic],
        ['partition', String(l.partition)],
      ],
      attribute: 'records-lag',
      value: l.lag,
    });
    for (const group of GROUPS) {
      const checkpoint = [
        ['type', 'MirrorCheckpointConnector'],
        ['source', plan.source.alias],
        ['target', plan.target.alias],
        ['group', group],
        ['topic', l.topic],
        ['partition', String(l.partition)],
      ] as const;
      for (const [attribute, value] of Object.entries({
        'checkpoint-latency-ms': 12 + l.lag * 0.01,
        'checkpoint-latency-ms-min': 5,
        'checkpoint-latency-ms-max': 30 + l.lag * 0.02,
        'checkpoint-latency-ms-avg': 12 + l.lag * 0.01,
      })) {
        beans.push({ domain: 'kafka.connect.mirror', properties: checkpoint, attribute, value });
      }
    }
  }
  const worker = [['type', 'connect-worker-metrics']] as const;
  for (const [attribute, value] of Object.entries({
    'connector-count': 3,
    'task-count': plan.mm2.tasks + 2,
    'connector-startup-failure-total': 0,
    'task-startup-failure-total': 0,
  })) {
    beans.push({ domain: 'kafka.connect', properties: worker, attribute, value });
  }
  for (let task = 0; task < plan.mm2.tasks; task++) {
    const properties = [
      ['type', 'task-error-metrics'],
      ['connector', 'MirrorSourceConnector'],
      ['task', String(task)],
    ] as const;
    beans.push({ domain: 'kafka.connect', properties, attribute: 'total-record-errors', value: 0 });
    beans.push({ domain: 'kafka.connect', properties, attribute: 'total-record-failures', value: 0 });
  }
  return beans;
}
