import { DescribeSecurityGroupsCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeTasksCommand, ECSClient, ListTasksCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { DescribeClusterV2Command, KafkaClient, NotFoundException } from '@aws-sdk/client-kafka';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { ecsApi, executionsApi, mskApi, networkApi } from '../../lambdas/msk-rollback/adapters/aws.ts';
import { createKafkaAdmin } from '../../lambdas/msk-rollback/adapters/kafka-admin.ts';
import { handler as stopHandler } from '../../lambdas/msk-rollback/stop-replication-handler.ts';

const kafka = mockClient(KafkaClient);
const ec2 = mockClient(EC2Client);
const sfn = mockClient(SFNClient);
const ecs = mockClient(ECSClient);
afterEach(() => {
  kafka.reset();
  ec2.reset();
  sfn.reset();
  ecs.reset();
});

const ARN = 'arn:aws:kafka:eu-west-1:111111111111:cluster/orders-v3/6d5c4b3a-2f1e-0d9c-8b7a-6f5e4d3c2b1a-3';

describe('MSK adapter', () => {
  it('reads state, version, IAM and network of a provisioned cluster', async () => {
    kafka.on(DescribeClusterV2Command, { ClusterArn: ARN }).resolves({
      ClusterInfo: {
        ClusterArn: ARN,
        ClusterName: 'orders-v3',
        ClusterType: 'PROVISIONED',
        State: 'ACTIVE',
        Provisioned: {
          BrokerNodeGroupInfo: {
            ClientSubnets: ['subnet-a', 'subnet-b'],
            SecurityGroups: ['sg-msk'],
            InstanceType: 'kafka.m7g.large',
          },
          CurrentBrokerSoftwareInfo: { KafkaVersion: '3.6.0' },
          ClientAuthentication: { Sasl: { Iam: { Enabled: true }, Scram: { Enabled: false } } },
          NumberOfBrokerNodes: 3,
        },
      },
    });
    expect(await mskApi(new KafkaClient({ region: 'eu-west-1' })).describeCluster(ARN)).toEqual({
      found: true,
      state: 'ACTIVE',
      clusterType: 'PROVISIONED',
      kafkaVersion: '3.6.0',
      iamEnabled: true,
      subnetIds: ['subnet-a', 'subnet-b'],
      securityGroupIds: ['sg-msk'],
    });
  });

  it('reads a serverless cluster and reports a missing one as not found', async () => {
    kafka
      .on(DescribeClusterV2Command, { ClusterArn: ARN })
      .resolves({
        ClusterInfo: {
          ClusterType: 'SERVERLESS',
          State: 'ACTIVE',
          Serverless: {
            VpcConfigs: [{ SubnetIds: ['subnet-a'], SecurityGroupIds: ['sg-1'] }],
            ClientAuthentication: { Sasl: { Iam: { Enabled: true } } },
          },
        },
      })
      .on(DescribeClusterV2Command, { ClusterArn: 'arn:gone' })
      .rejects(new NotFoundException({ message: 'The specified cluster was not found', $metadata: {} }));
    const api = mskApi(new KafkaClient({ region: 'eu-west-1' }));
    expect(await api.describeCluster(ARN)).toMatchObject({
      found: true,
      clusterType: 'SERVERLESS',
      iamEnabled: true,
      subnetIds: ['subnet-a'],
    });
    expect((await api.describeCluster('arn:gone')).found).toBe(false);
  });
});

describe('EC2 adapter', () => {
  it('maps subnets and security group ingress rules', async () => {
    ec2
      .on(DescribeSubnetsCommand)
      .resolves({ Subnets: [{ SubnetId: 'subnet-a', VpcId: 'vpc-1', CidrBlock: '10.10.1.0/24' }] });
    ec2.on(DescribeSecurityGroupsCommand).resolves({
      SecurityGroups: [
        {
          GroupId: 'sg-msk',
          IpPermissions: [
            {
              IpProtocol: 'tcp',
              FromPort: 9098,
              ToPort: 9098,
              UserIdGroupPairs: [{ GroupId: 'sg-task' }],
              IpRanges: [],
            },
            { IpProtocol: '-1', IpRanges: [{ CidrIp: '10.10.0.0/16' }] },
          ],
        },
      ],
    });
    const api = networkApi(new EC2Client({ region: 'eu-west-1' }));
    expect(await api.describeSubnets(['subnet-a'])).toEqual([
      { id: 'subnet-a', vpcId: 'vpc-1', cidr: '10.10.1.0/24' },
    ]);
    expect(await api.describeIngress(['sg-msk'])).toEqual([
      { protocol: 'tcp', fromPort: 9098, toPort: 9098, cidrs: [], groupIds: ['sg-task'] },
      { protocol: '-1', fromPort: undefined, toPort: undefined, cidrs: ['10.10.0.0/16'], groupIds: [] },
    ]);
    expect(await api.describeIngress([])).toEqual([]);
  });
});

describe('Step Functions adapter', () => {
  it('lists the flows of other running executions across pages', async () => {
    const sm = 'arn:aws:states:eu-west-1:111111111111:stateMachine:ObservatoryMskRollback';
    const exec = (n: string) => `arn:aws:states:eu-west-1:111111111111:execution:ObservatoryMskRollback:${n}`;
    const start = new Date('2026-03-02T09:00:00Z');
    sfn
      .on(ListExecutionsCommand, {
        stateMachineArn: sm,
        statusFilter: 'RUNNING',
        maxResults: 100,
        nextToken: undefined,
      })
      .resolves({
        executions: [
          {
            executionArn: exec('self'),
            stateMachineArn: sm,
            name: 'self',
            status: 'RUNNING',
            startDate: start,
          },
        ],
        nextToken: 'p2',
      })
      .on(ListExecutionsCommand, {
        stateMachineArn: sm,
        statusFilter: 'RUNNING',
        maxResults: 100,
        nextToken: 'p2',
      })
      .resolves({
        executions: [
          {
            executionArn: exec('other'),
            stateMachineArn: sm,
            name: 'other',
            status: 'RUNNING',
            startDate: start,
          },
        ],
      });
    sfn.on(DescribeExecutionCommand, { executionArn: exec('other') }).resolves({
      executionArn: exec('other'),
      stateMachineArn: sm,
      status: 'RUNNING',
      startDate: start,
      input: JSON.stringify({ sourceClusterArn: 'arn:a', targetClusterArn: 'arn:b', name: 'x' }),
    });
    expect(
      await executionsApi(new SFNClient({ region: 'eu-west-1' })).runningFlows(sm, exec('self')),
    ).toEqual([{ executionArn: exec('other'), sourceClusterArn: 'arn:a', targetClusterArn: 'arn:b' }]);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(1);
  });
});

describe('ECS adapter and the stop function', () => {
  const cluster = 'arn:aws:ecs:eu-west-1:111111111111:cluster/observatory-msk-rollback';
  const execution = 'arn:aws:states:eu-west-1:111111111111:execution:ObservatoryMskRollback:run-1';
  const task = (id: string, exec: string) => ({
    taskArn: `arn:aws:ecs:eu-west-1:111111111111:task/observatory-msk-rollback/${id}`,
    lastStatus: 'RUNNING',
    desiredStatus: 'RUNNING',
    tags: [
      { key: 'observatory:execution-arn', value: exec },
      { key: 'observatory:rollback', value: 'orders-to-v3' },
    ],
  });

  it('stops only the tasks tagged with an aborted execution (EventBridge event)', async () => {
    process.env.ECS_CLUSTER_ARN = cluster;
    ecs
      .on(ListTasksCommand)
      .resolves({ taskArns: [task('a', execution).taskArn, task('b', 'arn:other').taskArn] });
    ecs
      .on(DescribeTasksCommand)
      .resolves({ tasks: [task('a', execution), task('b', 'arn:other')], failures: [] });
    ecs.on(StopTaskCommand).resolves({
      task: { taskArn: task('a', execution).taskArn, lastStatus: 'RUNNING', desiredStatus: 'STOPPED' },
    });
    const event = {
      version: '0',
      id: 'e7c1b2a0-0000-4000-8000-000000000001',
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      account: '111111111111',
      time: '2026-03-02T10:00:00Z',
      region: 'eu-west-1',
      resources: [execution],
      detail: {
        executionArn: execution,
        stateMachineArn: 'arn:sm',
        name: 'run-1',
        status: 'ABORTED',
        startDate: 1,
        stopDate: 2,
      },
    };
    const result = await stopHandler(event, {
      getRemainingTimeInMillis: () => 30_000,
      functionName: 'stop',
      awsRequestId: 'r1',
    } as never);
    expect(result).toEqual({ executionArn: execution, stopped: [task('a', execution).taskArn] });
    expect(ecs.commandCalls(StopTaskCommand).map((c) => c.args[0].input)).toEqual([
      { cluster, task: task('a', execution).taskArn, reason: 'msk rollback: execution aborted' },
    ]);
    expect(ecs.commandCalls(DescribeTasksCommand)[0]!.args[0].input.include).toEqual(['TAGS']);
  });

  it('describes one task with its status', async () => {
    ecs.on(DescribeTasksCommand).resolves({
      tasks: [
        {
          ...task('a', execution),
          lastStatus: 'STOPPED',
          stoppedReason: 'Essential container in task exited',
        },
      ],
    });
    expect(
      await ecsApi(new ECSClient({ region: 'eu-west-1' })).describeTask(
        cluster,
        task('a', execution).taskArn,
      ),
    ).toMatchObject({
      lastStatus: 'STOPPED',
      stoppedReason: 'Essential container in task exited',
    });
  });
});

describe('Kafka admin adapter', () => {
  it('refuses brokers that are not MSK endpoints before any network access', async () => {
    await expect(createKafkaAdmin('b-1.x:9098')).rejects.toThrow(/cannot derive the region from broker/);
  });
});
