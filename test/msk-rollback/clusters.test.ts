import { describe, expect, it } from 'vitest';
import {
  type ClusterFacts,
  checkClusters,
  cidrContains,
  parseKafkaVersion,
} from '../../lambdas/msk-rollback/clusters.ts';

const network = {
  vpcId: 'vpc-1',
  subnetCidrs: ['10.10.1.0/24', '10.10.2.0/24'],
  securityGroupIds: ['sg-task'],
};
const fromTaskSg = { protocol: 'tcp', fromPort: 9098, toPort: 9098, cidrs: [], groupIds: ['sg-task'] };
const cluster = (role: 'source' | 'target', over: Partial<ClusterFacts> = {}): ClusterFacts => ({
  role,
  arn: `arn:aws:kafka:eu-west-1:111111111111:cluster/${role}/abc-1`,
  name: role === 'source' ? 'orders-v2' : 'orders-v3',
  found: true,
  state: 'ACTIVE',
  clusterType: 'PROVISIONED',
  kafkaVersion: role === 'source' ? '2.8.1' : '3.6.0',
  iamEnabled: true,
  vpcIds: ['vpc-1'],
  securityGroupIds: [`sg-${role}`],
  ingress: [fromTaskSg],
  ...over,
});

describe('cluster pre-flight checks', () => {
  it('passes two active IAM clusters reachable from the task, upgrading forward', () => {
    expect(
      checkClusters({ source: cluster('source'), target: cluster('target') }, network, 'forward', []),
    ).toEqual([]);
  });

  it('lists every problem of both clusters at once', () => {
    const problems = checkClusters(
      {
        source: cluster('source', { state: 'UPDATING', iamEnabled: false }),
        target: cluster('target', { kafkaVersion: '2.2.1', vpcIds: ['vpc-2'] }),
      },
      network,
      'forward',
      [],
    );
    expect(problems).toEqual([
      'source cluster orders-v2 is UPDATING, expected ACTIVE',
      'source cluster orders-v2 does not have IAM access control enabled; MM2 authenticates with IAM on port 9098',
      'target cluster orders-v3 runs Kafka 2.2.1; MM2 consumer-group offset sync needs 2.4 or later',
      'target cluster orders-v3 has its client subnets in vpc-2, not in vpc-1 where the MM2 task runs',
    ]);
  });

  it('reports a missing cluster by ARN', () => {
    const problems = checkClusters(
      { source: cluster('source'), target: cluster('target', { found: false }) },
      network,
      'forward',
      [],
    );
    expect(problems).toEqual([
      'target cluster orders-v3 (arn:aws:kafka:eu-west-1:111111111111:cluster/target/abc-1) was not found',
    ]);
  });

  it('catches swapped ARNs through the direction and the versions', () => {
    const swapped = {
      source: cluster('source', { kafkaVersion: '3.6.0' }),
      target: cluster('target', { kafkaVersion: '2.8.1' }),
    };
    expect(checkClusters(swapped, network, 'forward', [])[0]).toMatch(
      /^a forward flow goes to an older cluster \(3\.6\.0 -> 2\.8\.1\)/,
    );
    expect(checkClusters(swapped, network, 'reverse', [])).toEqual([]);
    expect(
      checkClusters({ source: cluster('source'), target: cluster('target') }, network, 'reverse', [])[0],
    ).toMatch(/^a reverse flow goes to a newer cluster/);
  });

  it('needs port 9098 open from the task security group or from every task subnet', () => {
    const closed = cluster('target', {
      ingress: [
        { protocol: 'tcp', fromPort: 9092, toPort: 9096, cidrs: ['10.10.0.0/16'], groupIds: ['sg-task'] },
      ],
    });
    expect(checkClusters({ source: cluster('source'), target: closed }, network, 'forward', [])).toEqual([
      'target cluster orders-v3: no rule of its security groups (sg-target) allows TCP 9098 from the MM2 task security groups (sg-task) or subnets (10.10.1.0/24, 10.10.2.0/24)',
    ]);
    const byCidr = cluster('target', {
      ingress: [{ protocol: '-1', cidrs: ['10.10.0.0/16'], groupIds: [] }],
    });
    expect(checkClusters({ source: cluster('source'), target: byCidr }, network, 'forward', [])).toEqual([]);
    const oneSubnet = cluster('target', {
      ingress: [{ protocol: 'tcp', fromPort: 0, toPort: 65535, cidrs: ['10.10.1.0/24'], groupIds: [] }],
    });
    expect(
      checkClusters({ source: cluster('source'), target: oneSubnet }, network, 'forward', []),
    ).toHaveLength(1);
  });

  it('refuses a second flow into the same target and the opposite flow running at once', () => {
    const s = cluster('source');
    const t = cluster('target');
    const problems = checkClusters({ source: s, target: t }, network, 'forward', [
      { executionArn: 'arn:exec:a', sourceClusterArn: 'arn:other', targetClusterArn: t.arn },
      { executionArn: 'arn:exec:b', sourceClusterArn: t.arn, targetClusterArn: s.arn },
      { executionArn: 'arn:exec:c', sourceClusterArn: s.arn, targetClusterArn: 'arn:elsewhere' },
    ]);
    expect(problems).toEqual([
      'execution arn:exec:a already replicates into target cluster orders-v3',
      'execution arn:exec:b replicates orders-v3 -> orders-v2: running the opposite flow at the same time would copy records back and forth',
    ]);
  });

  it('skips version checks for serverless clusters', () => {
    const serverless = cluster('target', { clusterType: 'SERVERLESS', kafkaVersion: undefined });
    expect(checkClusters({ source: cluster('source'), target: serverless }, network, 'forward', [])).toEqual(
      [],
    );
  });

  it('parses MSK version strings and CIDR containment', () => {
    expect(['3.6.0', '3.7.x', '3.7.x.kraft', '2.8.2.tiered', 'x'].map(parseKafkaVersion)).toEqual([
      [3, 6],
      [3, 7],
      [3, 7],
      [2, 8],
      null,
    ]);
    expect(cidrContains('10.10.0.0/16', '10.10.2.0/24')).toBe(true);
    expect(cidrContains('10.10.1.0/24', '10.10.2.0/24')).toBe(false);
    expect(cidrContains('0.0.0.0/0', '192.168.1.0/24')).toBe(true);
    expect(cidrContains('10.10.2.0/24', '10.10.0.0/16')).toBe(false);
  });
});
