import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../lib/config/loader.ts';
import { buildProbePlan, egressPorts } from '../../../lib/probes/probe-plan.ts';
import { EXAMPLE_CONFIG, synthApp } from '../../support/cdk.ts';

const config = loadConfig(EXAMPLE_CONFIG);

describe('ProbeStack', () => {
  const result = synthApp();
  afterAll(() => result.cleanup());
  const [euw1, use1] = result.stacks.probes;
  const t = Template.fromStack(euw1!);

  it('creates one VPC-attached probe function per AZ, each in its own subnet and security group', () => {
    const fns = t.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { SOURCE_AZ: Match.anyValue() } } },
    });
    const byAz = Object.values(fns).map((f) => ({
      az: f.Properties.Environment.Variables.SOURCE_AZ,
      azId: f.Properties.Environment.Variables.SOURCE_AZ_ID,
      subnets: f.Properties.VpcConfig.SubnetIds,
      sgs: f.Properties.VpcConfig.SecurityGroupIds.length,
    }));
    expect(byAz).toEqual(
      config.probes!.regions[0]!.availabilityZones.map((az) => ({
        az: az.name,
        azId: az.id,
        subnets: [az.subnetId],
        sgs: 1,
      })),
    );
    // one per AZ + the AMP endpoint's + the AWS network performance reader's
    t.resourceCountIs('AWS::EC2::SecurityGroup', 3 + 1 + 1);
  });

  it('schedules every probe function every minute with its source AZ as input', () => {
    const input = new Capture();
    t.resourcePropertiesCountIs('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(1 minute)' }, 3);
    t.hasResourceProperties('AWS::Scheduler::Schedule', {
      Target: { Input: input, RetryPolicy: { MaximumRetryAttempts: 0 } },
    });
    expect(JSON.parse(input.asString())).toEqual({
      source: { region: 'eu-west-1', az: 'eu-west-1a', azId: 'euw1-az1' },
    });
  });

  it('allows remote-write to the one AMP workspace and nothing else of aps', () => {
    const statements = Object.values(t.findResources('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement,
    );
    const aps = statements.filter((s: { Action: string | string[] }) =>
      JSON.stringify(s.Action).includes('aps:'),
    );
    expect(aps.length).toBe(3 + 1); // the probes and the AWS network performance reader
    for (const s of aps) {
      expect(s.Action).toBe('aps:RemoteWrite');
      expect(JSON.stringify(s.Resource)).toContain('Workspace');
    }
  });

  it('opens egress only to probe ports and the VPC resolver', () => {
    const sg = Object.values(t.findResources('AWS::EC2::SecurityGroup')).find((r) =>
      String(r.Properties.GroupDescription).includes('eu-west-1a'),
    );
    const rules = sg!.Properties.SecurityGroupEgress as {
      IpProtocol: string;
      FromPort: number;
      CidrIp: string;
    }[];
    const plan = buildProbePlan(config.probes!, config.probes!.regions[0]!);
    expect(
      rules
        .filter((r) => r.CidrIp === '0.0.0.0/0')
        .map((r) => r.FromPort)
        .sort((a, b) => a - b),
    ).toEqual(egressPorts(plan));
    expect(rules.filter((r) => r.FromPort === 53).every((r) => r.CidrIp === '10.10.0.0/16')).toBe(true);
  });

  it('creates a private AMP interface endpoint and meshes over it when configured', () => {
    t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: 'com.amazonaws.eu-west-1.aps-workspaces',
      PrivateDnsEnabled: true,
      VpcEndpointType: 'Interface',
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { MESH_VPC_ENDPOINT_IDS: { Ref: Match.stringLikeRegexp('AmpEndpoint') } } },
    });
    const u = Template.fromStack(use1!);
    u.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    u.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { MESH_VPC_ENDPOINT_IDS: 'vpce-0a1b2c3d4e5f62001' } },
    });
  });

  it('alarms when a probe function stops running or keeps failing to write', () => {
    t.resourcePropertiesCountIs(
      'AWS::CloudWatch::Alarm',
      { MetricName: 'Invocations', ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching' },
      3,
    );
    t.resourcePropertiesCountIs(
      'AWS::CloudWatch::Alarm',
      { MetricName: 'RemoteWriteFailures', Namespace: 'InfraObservatory' },
      3,
    );
  });

  it('gives a region outside home its own encrypted alert topic', () => {
    Template.fromStack(use1!).hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    t.resourceCountIs('AWS::SNS::Topic', 0);
  });
});

describe('AWS network performance (probes.awsNetworkPerformance)', () => {
  const result = synthApp();
  afterAll(() => result.cleanup());
  const [euw1, use1] = result.stacks.probes.map((s) => Template.fromStack(s));
  const subscriptions = (t: Template) =>
    Object.values(t.findResources('AWS::EC2::NetworkPerformanceMetricSubscription')).map(
      (r) =>
        `${r.Properties.Source}>${r.Properties.Destination} ${r.Properties.Metric}/${r.Properties.Statistic}`,
    );

  it('subscribes each region to its own AZ-ID pairs and to the pairs from it to every other probe region', () => {
    expect(subscriptions(euw1!).sort()).toEqual(
      [
        'euw1-az1>euw1-az2',
        'euw1-az1>euw1-az3',
        'euw1-az2>euw1-az1',
        'euw1-az2>euw1-az3',
        'euw1-az3>euw1-az1',
        'euw1-az3>euw1-az2',
        'eu-west-1>us-east-1',
      ]
        .map((p) => `${p} aggregate-latency/p50`)
        .sort(),
    );
    // us-east-1: every ordered pair of its configured AZ IDs, and the pair to eu-west-1
    const ids = config.probes!.regions[1]!.availabilityZones.map((az) => az.id);
    expect(subscriptions(use1!).sort()).toEqual(
      [...ids.flatMap((a) => ids.filter((b) => b !== a).map((b) => `${a}>${b}`)), 'us-east-1>eu-west-1']
        .map((p) => `${p} aggregate-latency/p50`)
        .sort(),
    );
    expect(subscriptions(use1!)).toHaveLength(ids.length * (ids.length - 1) + 1);
  });

  it('reads them every 5 minutes from a function in the first probe subnet, https egress only, that may write to AMP and read the data', () => {
    const [fn] = Object.values(
      euw1!.findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: { NETWORK_PERFORMANCE_PAIRS_FILE: Match.anyValue() } } },
      }),
    );
    expect(fn!.Properties.VpcConfig.SubnetIds).toEqual([
      config.probes!.regions[0]!.availabilityZones[0]!.subnetId,
    ]);
    const sg = Object.values(euw1!.findResources('AWS::EC2::SecurityGroup')).find((r) =>
      String(r.Properties.GroupDescription).includes('network performance'),
    );
    expect(sg!.Properties.SecurityGroupEgress).toEqual([
      expect.objectContaining({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '0.0.0.0/0' }),
    ]);
    euw1!.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(5 minutes)',
      Description: 'AWS network performance of eu-west-1',
    });
    const statements = Object.values(euw1!.findResources('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
    );
    expect(
      statements.filter((s) => JSON.stringify(s.Action).includes('GetAwsNetworkPerformanceData')),
    ).toEqual([expect.objectContaining({ Action: 'ec2:GetAwsNetworkPerformanceData', Resource: '*' })]);
  });

  it('creates neither subscriptions nor the reader when disabled (the default)', () => {
    const off = structuredClone(config);
    off.probes!.awsNetworkPerformance.enabled = false;
    const r = synthApp(off);
    try {
      for (const s of r.stacks.probes) {
        const t = Template.fromStack(s);
        t.resourceCountIs('AWS::EC2::NetworkPerformanceMetricSubscription', 0);
        expect(
          Object.keys(
            t.findResources('AWS::Lambda::Function', {
              Properties: {
                Environment: { Variables: { NETWORK_PERFORMANCE_PAIRS_FILE: Match.anyValue() } },
              },
            }),
          ),
        ).toEqual([]);
      }
    } finally {
      r.cleanup();
    }
  });
});

describe('buildProbePlan', () => {
  it('maps every probe AZ name to its AZ ID, for target_az_id', () => {
    const plan = buildProbePlan(config.probes!, config.probes!.regions[1]!);
    expect(plan.zoneIds).toEqual(
      Object.fromEntries(
        config.probes!.regions.flatMap((r) => r.availabilityZones.map((az) => [az.name, az.id])),
      ),
    );
    expect(plan.zoneIds['eu-west-1b']).toBe('euw1-az2');
  });

  it('keeps only the targets whose from includes the region', () => {
    const use1 = buildProbePlan(config.probes!, config.probes!.regions[1]!);
    expect(use1.targets.map((t) => t.name)).not.toContain('redis-sessions');
    expect(use1.targets.map((t) => t.name)).not.toContain('dns-internal');
    expect(use1.targets).toHaveLength(10);
  });
});
