/**
 * Pre-flight checks of the two clusters of a rollback, over facts the adapters gathered. Pure: every
 * problem is returned (the workflow fails listing all of them), nothing is thrown.
 */

/** An inbound rule of a cluster security group. */
export interface IngressRule {
  /** `tcp`, `udp`, `icmp` or `-1` (all). */
  readonly protocol: string;
  readonly fromPort?: number;
  readonly toPort?: number;
  readonly cidrs: readonly string[];
  readonly groupIds: readonly string[];
}

/** What the adapters found out about one cluster. */
export interface ClusterFacts {
  readonly role: 'source' | 'target';
  readonly arn: string;
  readonly name: string;
  readonly found: boolean;
  readonly state?: string;
  readonly clusterType?: 'PROVISIONED' | 'SERVERLESS';
  /** e.g. `3.6.0`, `3.7.x`, `3.7.x.kraft`; absent for serverless clusters. */
  readonly kafkaVersion?: string;
  readonly iamEnabled: boolean;
  /** VPCs of the cluster's client subnets. */
  readonly vpcIds: readonly string[];
  readonly securityGroupIds: readonly string[];
  /** Inbound rules of those security groups. */
  readonly ingress: readonly IngressRule[];
}

/** Where the MM2 task runs (`mskRollback` config). */
export interface TaskNetwork {
  readonly vpcId: string;
  readonly subnetCidrs: readonly string[];
  readonly securityGroupIds: readonly string[];
}

/** Another running execution and the flow it replicates. */
export interface RunningFlow {
  readonly executionArn: string;
  readonly sourceClusterArn: string;
  readonly targetClusterArn: string;
}

/** The MSK IAM listener MM2 connects to. */
export const IAM_PORT = 9098;

/**
 * Oldest broker version MM2's consumer-group offset sync works with: it commits translated offsets with
 * AdminClient.alterConsumerGroupOffsets (KIP-396, Kafka 2.4).
 */
export const MIN_BROKER_VERSION: readonly [number, number] = [2, 4];

/**
 * Parses the major and minor of an MSK Kafka version (`3.6.0`, `3.7.x`, `3.7.x.kraft`, `2.8.2.tiered`).
 * @returns [major, minor] or null when it does not start with `N.N`
 */
export function parseKafkaVersion(version: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)(?:\.|$)/.exec(version);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

function compareVersions(a: readonly [number, number], b: readonly [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

/** True when an IPv4 CIDR contains another (or equals it). */
export function cidrContains(outer: string, inner: string): boolean {
  const parse = (cidr: string): [number, number] | null => {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
    if (!m) return null;
    const octets = m.slice(1, 5).map(Number);
    const bits = Number(m[5]);
    if (octets.some((o) => o > 255) || bits > 32) return null;
    return [octets.reduce((acc, o) => acc * 256 + o, 0), bits];
  };
  const o = parse(outer);
  const i = parse(inner);
  if (!o || !i || i[1] < o[1]) return false;
  const size = 2 ** (32 - o[1]);
  return Math.floor(o[0] / size) === Math.floor(i[0] / size);
}

function allowsIamPortFrom(rule: IngressRule, network: TaskNetwork): boolean {
  const portOk =
    rule.protocol === '-1' ||
    (rule.protocol === 'tcp' && (rule.fromPort ?? 0) <= IAM_PORT && IAM_PORT <= (rule.toPort ?? 65535));
  if (!portOk) return false;
  if (rule.groupIds.some((g) => network.securityGroupIds.includes(g))) return true;
  return (
    network.subnetCidrs.length > 0 &&
    network.subnetCidrs.every((s) => rule.cidrs.some((c) => cidrContains(c, s)))
  );
}

/**
 * Checks both clusters and the flows already running.
 * @param facts source and target facts
 * @param network where the MM2 task runs
 * @param direction the flow's direction
 * @param running other executions currently running (this one excluded)
 * @returns every problem found, empty when the rollback may start
 */
export function checkClusters(
  facts: { source: ClusterFacts; target: ClusterFacts },
  network: TaskNetwork,
  direction: 'forward' | 'reverse',
  running: readonly RunningFlow[],
): string[] {
  const problems: string[] = [];
  const versions: Partial<Record<'source' | 'target', [number, number]>> = {};
  for (const c of [facts.source, facts.target]) {
    const label = `${c.role} cluster ${c.name}`;
    if (!c.found) {
      problems.push(`${label} (${c.arn}) was not found`);
      continue;
    }
    if (c.state !== 'ACTIVE')
      problems.push(`${label} is ${c.state ?? 'in an unknown state'}, expected ACTIVE`);
    if (!c.iamEnabled) {
      problems.push(
        `${label} does not have IAM access control enabled; MM2 authenticates with IAM on port ${IAM_PORT}`,
      );
    }
    if (c.clusterType !== 'SERVERLESS') {
      const v = c.kafkaVersion ? parseKafkaVersion(c.kafkaVersion) : null;
      if (!v) problems.push(`${label} reports an unreadable Kafka version "${c.kafkaVersion ?? ''}"`);
      else if (compareVersions(v, MIN_BROKER_VERSION) < 0) {
        problems.push(
          `${label} runs Kafka ${c.kafkaVersion}; MM2 consumer-group offset sync needs ${MIN_BROKER_VERSION.join('.')} or later`,
        );
      } else versions[c.role] = v;
    }
    if (!c.vpcIds.includes(network.vpcId)) {
      problems.push(
        `${label} has its client subnets in ${c.vpcIds.join(', ') || 'no VPC'}, not in ${network.vpcId} where the MM2 task runs`,
      );
    } else if (!c.ingress.some((r) => allowsIamPortFrom(r, network))) {
      problems.push(
        `${label}: no rule of its security groups (${c.securityGroupIds.join(', ')}) allows TCP ${IAM_PORT} from the MM2 task security groups (${network.securityGroupIds.join(', ')}) or subnets (${network.subnetCidrs.join(', ')})`,
      );
    }
  }
  const { source, target } = versions;
  if (source && target) {
    const cmp = compareVersions(target, source);
    const shown = `${facts.source.kafkaVersion} -> ${facts.target.kafkaVersion}`;
    if (direction === 'forward' && cmp < 0) {
      problems.push(
        `a forward flow goes to an older cluster (${shown}): to move back to an older cluster use direction "reverse", or check the ARNs are not swapped`,
      );
    }
    if (direction === 'reverse' && cmp > 0) {
      problems.push(
        `a reverse flow goes to a newer cluster (${shown}): a move to a newer cluster is "forward", or check the ARNs are not swapped`,
      );
    }
  }
  for (const r of running) {
    if (r.targetClusterArn === facts.target.arn) {
      problems.push(
        `execution ${r.executionArn} already replicates into target cluster ${facts.target.name}`,
      );
    } else if (r.sourceClusterArn === facts.target.arn && r.targetClusterArn === facts.source.arn) {
      problems.push(
        `execution ${r.executionArn} replicates ${facts.target.name} -> ${facts.source.name}: running the opposite flow at the same time would copy records back and forth`,
      );
    }
  }
  return problems;
}
