/**
 * Renders the MirrorMaker 2 dedicated-mode properties of one rollback flow.
 *
 * Choices, each for a reason a reviewer should be able to check against the MM2 docs:
 * - one flow (`source->target.enabled`), heartbeats off globally: with heartbeats on, MM2 also starts a
 *   herder for the disabled reverse pair and writes heartbeats and Connect internal topics into the source;
 * - `IdentityReplicationPolicy`: topic names stay the same, so consumers switch clusters without renames;
 * - `offset-syncs.topic.location = target`: MM2 writes nothing to the source, which is only read;
 * - checkpoints and consumer-group offset sync on, every {@link OFFSET_SYNC_INTERVAL_SECONDS} s, so groups
 *   can resume on the target where they stopped on the source;
 * - the source consumer's `auto.offset.reset`: `earliest` forward (copy the retained history), `latest` in
 *   reverse (the old cluster already holds that history; replaying it would duplicate every record);
 * - topic ACL sync off: with MSK IAM auth, access is IAM policy, not Kafka ACLs;
 * - MSK IAM (SASL_SSL, AWS_MSK_IAM) for both clusters, credentials from the task role.
 */
import {
  type NameFilter,
  REQUIRED_GROUP_EXCLUDES,
  REQUIRED_TOPIC_EXCLUDES,
  withRequiredExcludes,
} from './filters.ts';
import { OFFSET_SYNC_INTERVAL_SECONDS, type RollbackPlan } from './input.ts';

/** What the renderer needs from a plan. */
export type Mm2Plan = Pick<
  RollbackPlan,
  'name' | 'direction' | 'source' | 'target' | 'topics' | 'groups' | 'mm2'
>;

/** Bootstrap broker strings (IAM listener, port 9098) of both clusters. */
export interface BootstrapBrokers {
  readonly source: string;
  readonly target: string;
}

/** Checks a bootstrap string is `host:9098[,host:9098...]` (the MSK IAM listener). */
export function checkIamBootstrap(value: string, which: string): string {
  const hosts = value.split(',').map((h) => h.trim());
  if (hosts.length === 0 || hosts.some((h) => !/^[A-Za-z0-9.-]+:9098$/.test(h))) {
    throw new Error(`${which} bootstrap brokers "${value}" are not host:9098 pairs of the MSK IAM listener`);
  }
  return hosts.join(',');
}

/** The consumer `auto.offset.reset` MM2 uses on the source for a direction. */
export function offsetResetFor(direction: RollbackPlan['direction']): 'earliest' | 'latest' {
  return direction === 'forward' ? 'earliest' : 'latest';
}

/**
 * Renders `mm2.properties` for `connect-mirror-maker.sh`.
 * @param plan the validated plan
 * @param brokers IAM bootstrap brokers of both clusters
 * @returns the file content, deterministic for the same input
 */
export function renderMm2Properties(plan: Mm2Plan, brokers: BootstrapBrokers): string {
  const src = plan.source.alias;
  const tgt = plan.target.alias;
  const flow = `${src}->${tgt}`;
  const topics = withRequiredExcludes(plan.topics, REQUIRED_TOPIC_EXCLUDES);
  const groups = withRequiredExcludes(plan.groups, REQUIRED_GROUP_EXCLUDES);
  const rf = plan.mm2.replicationFactor;
  const list = (f: NameFilter, key: 'include' | 'exclude') => f[key].join(', ');

  const lines: (string | [string, string | number | boolean])[] = [
    `# MirrorMaker 2 (dedicated mode) for rollback "${plan.name}": ${plan.source.name} -> ${plan.target.name} (${plan.direction})`,
    '# Rendered by Infra Observatory from the execution input; to change it, start a new execution.',
    '',
    ['clusters', `${src}, ${tgt}`],
    [`${src}.bootstrap.servers`, checkIamBootstrap(brokers.source, 'source')],
    [`${tgt}.bootstrap.servers`, checkIamBootstrap(brokers.target, 'target')],
    '',
    '# MSK IAM authentication on both clusters (credentials: the ECS task role)',
    ...[src, tgt].flatMap((alias): [string, string][] => [
      [`${alias}.security.protocol`, 'SASL_SSL'],
      [`${alias}.sasl.mechanism`, 'AWS_MSK_IAM'],
      [`${alias}.sasl.jaas.config`, 'software.amazon.msk.auth.iam.IAMLoginModule required;'],
      [
        `${alias}.sasl.client.callback.handler.class`,
        'software.amazon.msk.auth.iam.IAMClientCallbackHandler',
      ],
    ]),
    '',
    '# One flow; no heartbeats, so MM2 starts no herder for the reverse pair and writes nothing to the source',
    [`${flow}.enabled`, true],
    [`${tgt}->${src}.enabled`, false],
    ['emit.heartbeats.enabled', false],
    '',
    '# Topic names stay the same on the target',
    ['replication.policy.class', 'org.apache.kafka.connect.mirror.IdentityReplicationPolicy'],
    [`${flow}.topics`, list(topics, 'include')],
    [`${flow}.topics.exclude`, list(topics, 'exclude')],
    [`${flow}.groups`, list(groups, 'include')],
    [`${flow}.groups.exclude`, list(groups, 'exclude')],
    [`${flow}.refresh.topics.interval.seconds`, 60],
    [`${flow}.refresh.groups.interval.seconds`, 60],
    [`${flow}.sync.topic.configs.enabled`, true],
    '# MSK IAM auth: access is IAM policy, there are no Kafka ACLs to copy',
    [`${flow}.sync.topic.acls.enabled`, false],
    '',
    '# Offset syncs and checkpoints live on the target: the source is only read',
    [`${flow}.offset-syncs.topic.location`, 'target'],
    [`${flow}.emit.checkpoints.enabled`, true],
    [`${flow}.emit.checkpoints.interval.seconds`, OFFSET_SYNC_INTERVAL_SECONDS],
    [`${flow}.sync.group.offsets.enabled`, true],
    [`${flow}.sync.group.offsets.interval.seconds`, OFFSET_SYNC_INTERVAL_SECONDS],
    '',
    plan.direction === 'forward'
      ? '# Forward: copy the history the source retains'
      : '# Reverse: start at the end of the source; the old cluster already holds the history',
    [`${src}.consumer.auto.offset.reset`, offsetResetFor(plan.direction)],
    '',
    '# Sizing and durability of what MM2 creates on the target',
    ['tasks.max', plan.mm2.tasks],
    ['replication.factor', rf],
    ['checkpoints.topic.replication.factor', rf],
    ['heartbeats.topic.replication.factor', rf],
    ['offset-syncs.topic.replication.factor', rf],
    ['offset.storage.replication.factor', rf],
    ['status.storage.replication.factor', rf],
    ['config.storage.replication.factor', rf],
  ];
  return `${lines.map((l) => (typeof l === 'string' ? l : `${l[0]} = ${escapeValue(String(l[1]))}`)).join('\n')}\n`;
}

/** Escapes a value for a Java properties file (backslashes are the regex's own and must survive). */
function escapeValue(value: string): string {
  return value.replace(/\\/g, '\\\\');
}

/**
 * The connector-offsets topic MM2 keeps on the target in dedicated mode (`mm2-offsets.<source>.internal`):
 * the lag checker reads MM2's replicated positions from it.
 */
export function connectOffsetsTopic(plan: Pick<RollbackPlan, 'source'>): string {
  return `mm2-offsets.${plan.source.alias}.internal`;
}
