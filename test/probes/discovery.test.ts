import {
  DescribeInstancesCommand,
  type DescribeInstancesCommandOutput,
  DescribeNetworkInterfacesCommand,
  DescribeVpcEndpointsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  ListInstancesCommand,
  type ListInstancesCommandOutput,
  ListNamespacesCommand,
  ListServicesCommand,
  ServiceDiscoveryClient,
} from '@aws-sdk/client-servicediscovery';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { discoverTargets } from '#probes/discovery';
import type { ProbeTarget } from '#probes/event';

const ec2 = mockClient(EC2Client);
const sd = mockClient(ServiceDiscoveryClient);
const meta = {
  $metadata: {
    httpStatusCode: 200,
    requestId: 'b1e7c0de-0000-4000-8000-000000000000',
    attempts: 1,
    totalRetryDelay: 0,
  },
};

const STATIC: ProbeTarget[] = [
  { kind: 'tcp', name: 'db', host: 'db.internal', port: 5432, allAddresses: true },
  { kind: 'tcp', name: 'us-only', host: 'us.internal', port: 443, allAddresses: true, from: ['us-east-1'] },
  {
    kind: 'http',
    name: 'web',
    url: 'https://web.internal/health',
    method: 'GET',
    expectStatus: [200],
    followRedirects: false,
    certMinDays: 14,
    allAddresses: true,
    from: ['eu-west-1'],
  },
];

function ecsInstance(id: string, ip: string, az: string, port?: string) {
  return {
    Id: id,
    Attributes: {
      AWS_INSTANCE_IPV4: ip,
      ...(port ? { AWS_INSTANCE_PORT: port } : {}),
      AVAILABILITY_ZONE: az,
      AWS_INIT_HEALTH_STATUS: 'HEALTHY',
      ECS_CLUSTER_NAME: 'prod',
      ECS_SERVICE_NAME: 'orders',
      ECS_TASK_DEFINITION_FAMILY: 'orders',
      REGION: 'eu-west-1',
    },
  };
}

// Inputs as sent: the SDK paginators reuse one input object across pages, so the mock's recorded
// calls all show the last page's token; copy each input when it is made.
let sent: { command: string; input: Record<string, unknown> }[] = [];
const record = (command: string, input: object) =>
  sent.push({ command, input: JSON.parse(JSON.stringify(input)) });

function mockCloudMap() {
  sd.on(ListNamespacesCommand).callsFake((input: { NextToken?: string }) =>
    input.NextToken === undefined
      ? {
          ...meta,
          Namespaces: [
            {
              Id: 'ns-aaaaaaaaaaaaaaaa',
              Arn: 'arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-aaaaaaaaaaaaaaaa',
              Name: 'other.local',
              Type: 'DNS_PRIVATE',
            },
          ],
          NextToken: 'ns-page-2',
        }
      : {
          ...meta,
          Namespaces: [
            {
              Id: 'ns-bbbbbbbbbbbbbbbb',
              Arn: 'arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-bbbbbbbbbbbbbbbb',
              Name: 'prod.local',
              Type: 'DNS_PRIVATE',
              ServiceCount: 3,
            },
          ],
        },
  );
  sd.on(ListServicesCommand).callsFake((input: { NextToken?: string }) =>
    record('ListServices', input) && input.NextToken === undefined
      ? {
          ...meta,
          Services: [
            { Id: 'srv-orders0000000001', Name: 'orders', Type: 'DNS_HTTP', InstanceCount: 3 },
            { Id: 'srv-billing000000001', Name: 'billing', Type: 'DNS_HTTP', InstanceCount: 1 },
          ],
          NextToken: 'srv-page-2',
        }
      : {
          ...meta,
          Services: [{ Id: 'srv-legacy0000000001', Name: 'legacy', Type: 'HTTP', InstanceCount: 1 }],
        },
  );
  const pages: Record<string, Record<string, Partial<ListInstancesCommandOutput>>> = {
    'srv-orders0000000001': {
      first: {
        Instances: [
          ecsInstance('4f1c0d2e9a8b4c7d', '10.0.1.23', 'eu-west-1a', '8080'),
          ecsInstance('7a6b5c4d3e2f1a0b', '10.0.2.31', 'eu-west-1b', '8080'),
        ],
        NextToken: 'inst-page-2',
      },
      'inst-page-2': { Instances: [ecsInstance('0c9d8e7f6a5b4c3d', '10.0.3.17', 'eu-west-1c', '8080')] },
    },
    'srv-billing000000001': {
      first: { Instances: [ecsInstance('1b2c3d4e5f6a7b8c', '10.0.1.99', 'eu-west-1a')] },
    },
    'srv-legacy0000000001': {
      first: {
        Instances: [
          {
            Id: 'legacy-1',
            Attributes: { AWS_INSTANCE_CNAME: 'legacy.example.com', AWS_INSTANCE_PORT: '80' },
          },
        ],
      },
    },
  };
  sd.on(ListInstancesCommand).callsFake((input: { ServiceId: string; NextToken?: string }) => {
    record('ListInstances', input);
    return { ...meta, ...pages[input.ServiceId]![input.NextToken ?? 'first'] };
  });
}

function instance(
  id: string,
  ip: string,
  az: string,
  tags: Record<string, string>,
): NonNullable<NonNullable<DescribeInstancesCommandOutput['Reservations']>[number]['Instances']>[number] {
  return {
    InstanceId: id,
    InstanceType: 't3.micro',
    PrivateIpAddress: ip,
    Placement: { AvailabilityZone: az, Tenancy: 'default' },
    State: { Code: 16, Name: 'running' },
    SubnetId: 'subnet-0abc12345678def01',
    VpcId: 'vpc-0abc1234def567890',
    Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
  };
}

function mockEc2Tags() {
  ec2.on(DescribeInstancesCommand).callsFake((input: { NextToken?: string }) =>
    record('DescribeInstances', input) && input.NextToken === undefined
      ? {
          ...meta,
          Reservations: [
            {
              ReservationId: 'r-0a1',
              OwnerId: '123456789012',
              Instances: [
                instance('i-0aaa1111bbbb2222c', '10.0.1.50', 'eu-west-1a', {
                  'observatory:probe': '',
                  'observatory:port': '8443',
                  Name: 'api-1',
                }),
              ],
            },
            {
              ReservationId: 'r-0a2',
              OwnerId: '123456789012',
              Instances: [
                instance('i-0ddd3333eeee4444f', '10.0.2.50', 'eu-west-1b', {
                  'observatory:probe': 'true',
                  'observatory:port': 'https',
                }),
              ],
            },
          ],
          NextToken: 'ec2-page-2',
        }
      : {
          ...meta,
          Reservations: [
            {
              ReservationId: 'r-0a3',
              OwnerId: '123456789012',
              Instances: [
                instance('i-0fff5555aaaa6666b', '10.0.3.50', 'eu-west-1c', { 'observatory:probe': '' }),
              ],
            },
          ],
        },
  );
}

function mockMesh() {
  ec2.on(DescribeVpcEndpointsCommand).resolves({
    ...meta,
    VpcEndpoints: [
      {
        VpcEndpointId: 'vpce-0a1b2c3d4e5f60718',
        VpcEndpointType: 'Interface',
        VpcId: 'vpc-0abc1234def567890',
        ServiceName: 'com.amazonaws.eu-west-1.aps-workspaces',
        State: 'Available',
        SubnetIds: ['subnet-0aaa', 'subnet-0bbb', 'subnet-0ccc'],
        NetworkInterfaceIds: ['eni-0c3', 'eni-0a1', 'eni-0b2'],
        PrivateDnsEnabled: true,
        RequesterManaged: false,
      },
    ],
  });
  ec2.on(DescribeNetworkInterfacesCommand).resolves({
    ...meta,
    NetworkInterfaces: ['a1:eu-west-1a:10.0.1.77', 'b2:eu-west-1b:10.0.2.77', 'c3:eu-west-1c:10.0.3.77'].map(
      (s) => {
        const [id, az, ip] = s.split(':') as [string, string, string];
        return {
          NetworkInterfaceId: `eni-0${id}`,
          AvailabilityZone: az,
          InterfaceType: 'vpc_endpoint',
          PrivateIpAddress: ip,
          Status: 'in-use',
          RequesterManaged: true,
          Description: 'VPC Endpoint Interface vpce-0a1b2c3d4e5f60718',
          VpcId: 'vpc-0abc1234def567890',
        };
      },
    ),
  });
}

const EC2_TAGS = { tagKey: 'observatory:probe', portTagKey: 'observatory:port', defaultPort: 443 };
const clients = () => ({
  ec2: new EC2Client({ region: 'eu-west-1' }),
  serviceDiscovery: new ServiceDiscoveryClient({ region: 'eu-west-1' }),
});

describe('discoverTargets', () => {
  beforeEach(() => {
    ec2.reset();
    sd.reset();
    sent = [];
  });

  it('keeps static targets meant for the source region only', async () => {
    const r = await discoverTargets({
      sourceRegion: 'eu-west-1',
      targets: STATIC,
      discovery: { cloudMap: [] },
      clients: {},
    });
    expect(r.targets.map((t) => [t.name, t.origin])).toEqual([
      ['db', 'static'],
      ['web', 'static'],
    ]);
    expect(r.failures).toEqual([]);
    expect(r.counts).toEqual({ static: 2 });
  });

  it('finds Cloud Map instances across pages of namespaces, services and instances', async () => {
    mockCloudMap();
    const r = await discoverTargets({
      sourceRegion: 'eu-west-1',
      targets: [],
      discovery: { cloudMap: [{ namespace: 'prod.local', services: ['orders', 'billing'] }] },
      clients: clients(),
    });
    expect(r.targets.map((t) => (t.kind === 'tcp' ? [t.name, t.host, t.port, t.az, t.region] : []))).toEqual([
      ['cloudmap/prod.local/orders', '10.0.1.23', 8080, 'eu-west-1a', 'eu-west-1'],
      ['cloudmap/prod.local/orders', '10.0.2.31', 8080, 'eu-west-1b', 'eu-west-1'],
      ['cloudmap/prod.local/orders', '10.0.3.17', 8080, 'eu-west-1c', 'eu-west-1'],
    ]);
    // billing registers no port and none is configured: skipped with a reason, not guessed.
    expect(r.skipped).toEqual([
      {
        source: 'cloudmap',
        id: 'billing/1b2c3d4e5f6a7b8c',
        why: 'no usable port (AWS_INSTANCE_PORT absent, none configured)',
      },
    ]);
    const filters = [{ Name: 'NAMESPACE_ID', Values: ['ns-bbbbbbbbbbbbbbbb'], Condition: 'EQ' }];
    expect(sent).toEqual([
      { command: 'ListServices', input: { Filters: filters } },
      { command: 'ListServices', input: { Filters: filters, NextToken: 'srv-page-2' } },
      { command: 'ListInstances', input: { ServiceId: 'srv-orders0000000001' } },
      { command: 'ListInstances', input: { ServiceId: 'srv-orders0000000001', NextToken: 'inst-page-2' } },
      { command: 'ListInstances', input: { ServiceId: 'srv-billing000000001' } },
    ]);
    expect(r.counts.cloudmap).toBe(3);
  });

  it('uses the configured port for Cloud Map instances without one and skips instances without an IP', async () => {
    mockCloudMap();
    const r = await discoverTargets({
      sourceRegion: 'eu-west-1',
      targets: [],
      discovery: { cloudMap: [{ namespace: 'ns-bbbbbbbbbbbbbbbb', port: 9000 }] },
      clients: clients(),
    });
    expect(sd.commandCalls(ListNamespacesCommand)).toHaveLength(0);
    expect(
      r.targets.filter((t) => t.name.endsWith('/billing')).map((t) => (t.kind === 'tcp' ? t.port : 0)),
    ).toEqual([9000]);
    expect(r.skipped).toEqual([
      {
        source: 'cloudmap',
        id: 'legacy/legacy-1',
        why: 'no AWS_INSTANCE_IPV4 or AWS_INSTANCE_IPV6 attribute',
      },
    ]);
    expect(r.targets).toHaveLength(4);
  });

  it('finds running tagged EC2 instances across pages with the port from their tag', async () => {
    mockEc2Tags();
    const r = await discoverTargets({
      sourceRegion: 'eu-west-1',
      targets: [],
      discovery: { cloudMap: [], ec2Tags: EC2_TAGS },
      clients: clients(),
    });
    const filters = [
      { Name: 'tag-key', Values: ['observatory:probe'] },
      { Name: 'instance-state-name', Values: ['running'] },
    ];
    expect(sent).toEqual([
      { command: 'DescribeInstances', input: { Filters: filters } },
      { command: 'DescribeInstances', input: { Filters: filters, NextToken: 'ec2-page-2' } },
    ]);
    expect(r.targets.map((t) => (t.kind === 'tcp' ? [t.name, t.host, t.port, t.az] : []))).toEqual([
      ['ec2/i-0aaa1111bbbb2222c', '10.0.1.50', 8443, 'eu-west-1a'],
      ['ec2/i-0fff5555aaaa6666b', '10.0.3.50', 443, 'eu-west-1c'],
    ]);
    expect(r.skipped).toEqual([
      { source: 'ec2', id: 'i-0ddd3333eeee4444f', why: 'tag observatory:port is not a port: "https"' },
    ]);
  });

  it('makes one TCP target per VPC endpoint interface with its AZ, for the AZ mesh', async () => {
    mockMesh();
    const r = await discoverTargets({
      sourceRegion: 'eu-west-1',
      targets: [],
      discovery: { cloudMap: [] },
      mesh: { vpcEndpointIds: ['vpce-0a1b2c3d4e5f60718'], port: 443 },
      clients: clients(),
    });
    expect(ec2.commandCalls(DescribeNetworkInterfacesCommand)[0]!.args[0].input).toEqual({
      NetworkInterfaceIds: ['eni-0c3', 'eni-0a1', 'eni-0b2'],
    });
    expect(r.targets.map((t) => (t.kind === 'tcp' ? [t.name, t.host, t.port, t.az, t.origin] : []))).toEqual([
      ['mesh/vpce-0a1b2c3d4e5f60718', '10.0.1.77', 443, 'eu-west-1a', 'mesh'],
      ['mesh/vpce-0a1b2c3d4e5f60718', '10.0.2.77', 443, 'eu-west-1b', 'mesh'],
      ['mesh/vpce-0a1b2c3d4e5f60718', '10.0.3.77', 443, 'eu-west-1c', 'mesh'],
    ]);
  });

  it('records a failing source and still returns the static targets and the other sources', async () => {
    mockCloudMap();
    mockMesh();
    ec2.on(DescribeInstancesCommand).rejects(
      Object.assign(new Error('You are not authorized to perform this operation.'), {
        name: 'UnauthorizedOperation',
      }),
    );
    const r = await discoverTargets({
      sourceRegion: 'eu-west-1',
      targets: STATIC,
      discovery: {
        cloudMap: [{ namespace: 'prod.local', services: ['orders'] }, { namespace: 'missing.local' }],
        ec2Tags: EC2_TAGS,
      },
      mesh: { vpcEndpointIds: ['vpce-0a1b2c3d4e5f60718'], port: 443 },
      clients: clients(),
    });
    expect(r.failures).toEqual([
      {
        source: 'cloudmap',
        scope: 'missing.local',
        error: 'Error: cloud map namespace missing.local not found',
      },
      {
        source: 'ec2',
        scope: 'tag observatory:probe',
        error: 'UnauthorizedOperation: You are not authorized to perform this operation.',
      },
    ]);
    const byOrigin = (o: string) => r.targets.filter((t) => t.origin === o).length;
    expect([byOrigin('static'), byOrigin('cloudmap'), byOrigin('ec2'), byOrigin('mesh')]).toEqual([
      2, 3, 0, 3,
    ]);
  });

  it('counts a configured source without a client as failed', async () => {
    const r = await discoverTargets({
      sourceRegion: 'eu-west-1',
      targets: STATIC,
      discovery: { cloudMap: [], ec2Tags: EC2_TAGS },
      clients: {},
    });
    expect(r.failures).toEqual([
      { source: 'ec2', scope: 'tag observatory:probe', error: 'no ec2 client configured' },
    ]);
    expect(r.targets).toHaveLength(2);
  });

  it('keeps a target found twice once', async () => {
    const dup = STATIC[0]!;
    const r = await discoverTargets({
      sourceRegion: 'eu-west-1',
      targets: [dup, { ...dup }],
      discovery: { cloudMap: [] },
      clients: {},
    });
    expect(r.targets).toHaveLength(1);
  });
});
