import { DescribeInstancesCommand, DescribeInstanceTypesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListClustersCommand,
  ListServicesCommand,
} from '@aws-sdk/client-ecs';
import { KafkaClient, ListClustersV2Command, ListNodesCommand } from '@aws-sdk/client-kafka';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { discover, stateChangedAt, type TaskSize } from '#utilization/discovery';
import { ec2TypeOf, InstanceTypeCatalog, type InstanceTypeSpec } from '#utilization/instance-types';
import { ResourceRowSchema, type Service } from '#utilization/rows';
import { fixture } from '../fixtures/aws/load.ts';

const ec2Mock = mockClient(EC2Client);
const rdsMock = mockClient(RDSClient);
const ecsMock = mockClient(ECSClient);
const kafkaMock = mockClient(KafkaClient);

const region = 'eu-west-1';
const accountId = '111122223333';
const observedAt = '2024-05-01T11:00:00.000Z';

function clients() {
  return {
    ec2: new EC2Client({ region }),
    rds: new RDSClient({ region }),
    ecs: new ECSClient({ region }),
    kafka: new KafkaClient({ region }),
  };
}

async function run(
  service: Service,
  specs = new Map<string, InstanceTypeSpec>(),
  tds = new Map<string, TaskSize>(),
) {
  const c = clients();
  const catalog = new InstanceTypeCatalog(c.ec2, specs);
  const found = await discover({ accountId, region, service }, c, {
    observedAt,
    instanceTypes: catalog,
    taskDefinitions: tds,
  });
  for (const { resource } of found) ResourceRowSchema.parse(resource);
  return { found, catalog, byName: new Map(found.map((d) => [d.resource.name, d])) };
}

beforeEach(() => {
  ec2Mock.reset();
  rdsMock.reset();
  ecsMock.reset();
  kafkaMock.reset();
});
afterEach(() => {
  ec2Mock.reset();
});

describe('EC2 discovery', () => {
  beforeEach(() => {
    ec2Mock
      .on(DescribeInstancesCommand)
      .callsFake((input) =>
        fixture(
          input.NextToken ? 'ec2/describe-instances-page-2.json' : 'ec2/describe-instances-page-1.json',
        ),
      );
    ec2Mock.on(DescribeInstanceTypesCommand).resolves(fixture('ec2/describe-instance-types.json'));
  });

  it('follows NextToken across pages and keeps untagged and stopped instances', async () => {
    const { found, byName } = await run('ec2');
    const calls = ec2Mock.commandCalls(DescribeInstancesCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.args[0].input.NextToken).toBe(
      'eyJ2IjoiMiIsImMiOiJkRzlyWlc0dE1pMDFPVEF3IiwicyI6IjE3MTQ1NjAwMDAifQ==',
    );
    // Every state is wanted: no state filter is sent.
    expect(calls[0]!.args[0].input.Filters).toBeUndefined();
    expect(found.map((d) => d.resource.state)).toEqual(['running', 'running', 'stopped', 'stopped']);
    const untagged = byName.get('i-0a1b2c3d4e5f60002')!;
    expect(untagged.resource.tags).toEqual({});
    expect(untagged.resource.resourceArn).toBe(
      'arn:aws:ec2:eu-west-1:111122223333:instance/i-0a1b2c3d4e5f60002',
    );
    expect(byName.get('web-1')!.resource.tags).toEqual({ Name: 'web-1', env: 'prod', team: 'storefront' });
    expect(byName.get('web-1')!.resource.attributes).toEqual({
      instanceType: 't3.large',
      platform: 'Linux/UNIX',
      tenancy: 'default',
    });
    expect(byName.get('batch-worker')!.target).toEqual({
      service: 'ec2',
      instanceId: 'i-0a1b2c3d4e5f60003',
      stoppedAt: new Date('2024-04-20T08:15:02Z'),
    });
  });

  it('sizes instances from DescribeInstanceTypes, one call for all types, cached for the next shard', async () => {
    const specs = new Map<string, InstanceTypeSpec>();
    const first = await run('ec2', specs);
    expect(first.byName.get('web-1')!.resource.capacity).toEqual({ vcpu: 2, memoryMiB: 8192 });
    expect(first.byName.get('i-0a1b2c3d4e5f60002')!.resource.capacity).toEqual({ vcpu: 4, memoryMiB: 16384 });
    const typeCalls = ec2Mock.commandCalls(DescribeInstanceTypesCommand);
    expect(typeCalls).toHaveLength(1);
    expect(typeCalls[0]!.args[0].input.InstanceTypes).toEqual(['c6g.medium', 'm5.xlarge', 't3.large']);

    const second = await run('ec2', specs);
    expect(second.catalog.calls).toBe(0);
    expect(ec2Mock.commandCalls(DescribeInstanceTypesCommand)).toHaveLength(1);
    expect(second.byName.get('web-1')!.resource.capacity.vcpu).toBe(2);
  });

  it('reads the stop time from StateTransitionReason and nothing from a running instance', () => {
    expect(stateChangedAt({ StateTransitionReason: 'User initiated (2024-04-20 08:15:02 GMT)' })).toEqual(
      new Date('2024-04-20T08:15:02Z'),
    );
    expect(stateChangedAt({ StateTransitionReason: '' })).toBeUndefined();
  });
});

describe('RDS discovery', () => {
  it('pages through DB instances, skips DocumentDB, and sizes classes that have an EC2 twin', async () => {
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolvesOnce(fixture('rds/describe-db-instances-page-1.json'))
      .resolvesOnce(fixture('rds/describe-db-instances-page-2.json'));
    ec2Mock.on(DescribeInstanceTypesCommand).resolves(fixture('rds/describe-instance-types.json'));
    const { found, byName } = await run('rds');
    expect(rdsMock.commandCalls(DescribeDBInstancesCommand)[1]!.args[0].input.Marker).toBe(
      'ZGItaW5zdGFuY2UtbWFya2VyLW9yZGVycy1yZXBsaWNh',
    );
    expect(found.map((d) => d.resource.name).sort()).toEqual([
      'catalog-aurora-1',
      'catalog-aurora-serverless',
      'legacy-reporting',
      'orders-db',
    ]);
    expect(byName.get('orders-db')!.resource.capacity).toEqual({ vcpu: 2, memoryMiB: 8192, storageGiB: 200 });
    expect(byName.get('orders-db')!.resource.tags).toEqual({ env: 'prod', team: 'orders' });
    expect(byName.get('orders-db')!.resource.attributes).toEqual({
      instanceClass: 'db.m6g.large',
      engine: 'postgres',
      multiAz: 'true',
    });
    const legacy = byName.get('legacy-reporting')!;
    expect(legacy.resource.state).toBe('stopped');
    expect(legacy.resource.tags).toEqual({});
    expect(legacy.resource.capacity).toEqual({ vcpu: 2, memoryMiB: 1024, storageGiB: 20 });
    // Aurora's AllocatedStorage is a placeholder; db.serverless has no fixed size.
    expect(byName.get('catalog-aurora-1')!.resource.capacity).toEqual({ vcpu: 4, memoryMiB: 32768 });
    expect(byName.get('catalog-aurora-serverless')!.resource.capacity).toEqual({});
    expect(ec2Mock.commandCalls(DescribeInstanceTypesCommand)[0]!.args[0].input.InstanceTypes).toEqual([
      'm6g.large',
      'r6g.xlarge',
      't3.micro',
    ]);
    expect(byName.get('orders-db')!.target).toEqual({ service: 'rds', dbInstanceIdentifier: 'orders-db' });
  });
});

describe('ECS discovery', () => {
  beforeEach(() => {
    ecsMock.on(ListClustersCommand).resolves(fixture('ecs/list-clusters.json'));
    ecsMock
      .on(ListServicesCommand, { cluster: 'arn:aws:ecs:eu-west-1:111122223333:cluster/prod' })
      .callsFake((input) =>
        fixture(
          input.nextToken ? 'ecs/list-services-prod-page-2.json' : 'ecs/list-services-prod-page-1.json',
        ),
      );
    ecsMock
      .on(ListServicesCommand, { cluster: 'arn:aws:ecs:eu-west-1:111122223333:cluster/batch' })
      .resolves(fixture('ecs/list-services-batch.json'));
    ecsMock
      .on(DescribeServicesCommand, { cluster: 'arn:aws:ecs:eu-west-1:111122223333:cluster/prod' })
      .resolves(fixture('ecs/describe-services-prod.json'));
    ecsMock
      .on(DescribeServicesCommand, { cluster: 'arn:aws:ecs:eu-west-1:111122223333:cluster/batch' })
      .resolves(fixture('ecs/describe-services-batch.json'));
    for (const td of ['checkout:42', 'cart:7', 'thumbnailer:3']) {
      ecsMock
        .on(DescribeTaskDefinitionCommand, {
          taskDefinition: `arn:aws:ecs:eu-west-1:111122223333:task-definition/${td}`,
        })
        .resolves(fixture(`ecs/describe-task-definition-${td.split(':')[0]}.json`));
    }
  });

  it('lists services of every cluster across pages, with tags and task-definition sizes', async () => {
    const { found, byName } = await run('ecs');
    expect(found).toHaveLength(4);
    expect(ecsMock.commandCalls(ListServicesCommand)).toHaveLength(3);
    const describe = ecsMock.commandCalls(DescribeServicesCommand);
    expect(describe.map((c) => c.args[0].input.include)).toEqual([['TAGS'], ['TAGS']]);
    expect(describe[0]!.args[0].input.services).toHaveLength(3);
    const checkout = byName.get('checkout')!;
    expect(checkout.resource.capacity).toEqual({
      vcpu: 1,
      memoryMiB: 2048,
      desiredCount: 3,
      runningCount: 3,
    });
    expect(checkout.resource.tags).toEqual({ env: 'prod', team: 'storefront' });
    expect(checkout.target).toEqual({ service: 'ecs', clusterName: 'prod', serviceName: 'checkout' });
    expect(byName.get('cart')!.resource.tags).toEqual({});
    expect(checkout.resource.attributes).toEqual({ launchType: 'FARGATE', cpuArchitecture: 'X86_64' });
    expect(byName.get('cart')!.resource.attributes).toEqual({
      launchType: 'FARGATE',
      cpuArchitecture: 'ARM64',
      operatingSystemFamily: 'LINUX',
    });
    expect(byName.get('thumbnailer')!.resource.attributes?.launchType).toBe('EC2');
    expect(byName.get('search')!.resource.state).toBe('DRAINING');
    // EC2 launch type without task-level size: the containers' reservations add up.
    expect(byName.get('thumbnailer')!.resource.capacity).toEqual({
      vcpu: 0.625,
      memoryMiB: 1152,
      desiredCount: 1,
      runningCount: 1,
    });
  });

  it('describes a task definition revision once even when two services run it', async () => {
    const cache = new Map<string, TaskSize>();
    await run('ecs', new Map(), cache);
    const tdCalls = ecsMock
      .commandCalls(DescribeTaskDefinitionCommand)
      .map((c) => c.args[0].input.taskDefinition);
    expect(tdCalls.filter((t) => t?.endsWith('checkout:42'))).toHaveLength(1);
    expect(tdCalls).toHaveLength(3);
    await run('ecs', new Map(), cache);
    expect(ecsMock.commandCalls(DescribeTaskDefinitionCommand)).toHaveLength(3);
  });
});

describe('MSK discovery', () => {
  it('pages through ListClustersV2 and takes broker IDs from ListNodes', async () => {
    kafkaMock
      .on(ListClustersV2Command)
      .resolvesOnce(fixture('kafka/list-clusters-v2-page-1.json'))
      .resolvesOnce(fixture('kafka/list-clusters-v2-page-2.json'));
    kafkaMock.on(ListNodesCommand).resolves(fixture('kafka/list-nodes-orders-events.json'));
    ec2Mock.on(DescribeInstanceTypesCommand).resolves(fixture('kafka/describe-instance-types.json'));
    const { found, byName } = await run('msk');
    expect(found).toHaveLength(2);
    const orders = byName.get('orders-events')!;
    expect(orders.resource.capacity).toEqual({ brokers: 3, vcpu: 2, memoryMiB: 8192, storageGiB: 1000 });
    expect(orders.resource.tags).toEqual({ env: 'prod', team: 'orders' });
    expect(orders.resource.attributes).toEqual({ brokerType: 'kafka.m5.large' });
    expect(orders.target).toEqual({
      service: 'msk',
      clusterName: 'orders-events',
      brokerIds: ['1', '2', '4'],
    });
    const serverless = byName.get('analytics-serverless')!;
    expect(serverless.resource.resourceType).toBe('serverless-cluster');
    expect(serverless.target).toEqual({ service: 'msk', clusterName: 'analytics-serverless', brokerIds: [] });
    // Only the provisioned cluster has nodes to list.
    expect(kafkaMock.commandCalls(ListNodesCommand)).toHaveLength(1);
  });
});

describe('MSK discovery without kafka:ListNodes', () => {
  it('falls back to broker IDs 1..N and says so', async () => {
    kafkaMock
      .on(ListClustersV2Command)
      .callsFake((input) =>
        fixture(
          input.NextToken ? 'kafka/list-clusters-v2-page-2.json' : 'kafka/list-clusters-v2-page-1.json',
        ),
      );
    kafkaMock.on(ListNodesCommand).rejects(
      Object.assign(new Error('User is not authorized to perform: kafka:ListNodes'), {
        name: 'ForbiddenException',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    ec2Mock.on(DescribeInstanceTypesCommand).resolves(fixture('kafka/describe-instance-types.json'));
    const c = clients();
    const notes: string[] = [];
    const found = await discover({ accountId, region, service: 'msk' }, c, {
      observedAt,
      instanceTypes: new InstanceTypeCatalog(c.ec2, new Map()),
      onNote: (n) => notes.push(n),
    });
    const orders = found.find((d) => d.resource.name === 'orders-events')!;
    expect(orders.target).toEqual({
      service: 'msk',
      clusterName: 'orders-events',
      brokerIds: ['1', '2', '3'],
    });
    expect(notes).toEqual(['kafka:ListNodes denied for cluster orders-events; assuming broker IDs 1..3']);
  });
});

describe('instance type catalog', () => {
  it('maps RDS classes and MSK broker types to EC2 types and rejects classes with no twin', () => {
    expect(ec2TypeOf('db.m6g.large')).toBe('m6g.large');
    expect(ec2TypeOf('kafka.m5.large')).toBe('m5.large');
    expect(ec2TypeOf('db.serverless')).toBeUndefined();
    expect(ec2TypeOf('db.r5.large.tpc2.mem4x')).toBeUndefined();
  });

  it('keeps the known types when one name in the request is invalid', async () => {
    const invalid = Object.assign(
      new Error('The following supplied instance types do not exist: [x9.huge]'),
      {
        name: 'InvalidInstanceType',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      },
    );
    ec2Mock
      .on(DescribeInstanceTypesCommand, { InstanceTypes: ['t3.large', 'x9.huge'] as never[] })
      .rejects(invalid)
      .on(DescribeInstanceTypesCommand, { InstanceTypes: ['x9.huge'] as never[] })
      .rejects(invalid)
      .on(DescribeInstanceTypesCommand, { InstanceTypes: ['t3.large'] })
      .resolves({
        InstanceTypes: [
          { InstanceType: 't3.large', VCpuInfo: { DefaultVCpus: 2 }, MemoryInfo: { SizeInMiB: 8192 } },
        ],
      });
    const catalog = new InstanceTypeCatalog(new EC2Client({ region }), new Map());
    const specs = await catalog.resolve(['t3.large', 'x9.huge']);
    expect([...specs.entries()]).toEqual([['t3.large', { vcpu: 2, memoryMiB: 8192 }]]);
    // The unknown name is not asked for again.
    await catalog.resolve(['x9.huge']);
    expect(ec2Mock.commandCalls(DescribeInstanceTypesCommand)).toHaveLength(3);
  });
});
