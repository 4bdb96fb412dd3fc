/**
 * The probe Lambda end to end: real loopback targets, EC2 faked at the SDK client boundary, samples
 * remote-written (SigV4-signed) to a real Prometheus and read back with PromQL.
 */
import {
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeVpcEndpointsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ProbeEventInput } from '#probes/event';
import { type LocalPrometheus, startPrometheus } from '../support/prometheus.ts';
import { lambdaContext } from './support/lambda-context.ts';
import { type Running, startTcpServer } from './support/servers.ts';

const ec2 = mockClient(EC2Client);
const meta = {
  $metadata: {
    httpStatusCode: 200,
    requestId: '0f1e2d3c-0000-4000-8000-000000000000',
    attempts: 1,
    totalRetryDelay: 0,
  },
};

const context = (remainingMs: number) => lambdaContext('Observatory-Probes-euw1-az1', remainingMs);

describe('probe handler', () => {
  let prom: LocalPrometheus;
  let server: Running;
  let event: ProbeEventInput;
  const env = { ...process.env };

  beforeAll(async () => {
    prom = await startPrometheus();
    server = await startTcpServer();
    Object.assign(process.env, {
      REMOTE_WRITE_URL: prom.remoteWriteUrl,
      AMP_REGION: 'eu-west-1',
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      POWERTOOLS_SERVICE_NAME: 'probes',
      POWERTOOLS_METRICS_NAMESPACE: 'InfraObservatory',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    });
    ec2.on(DescribeVpcEndpointsCommand).resolves({
      ...meta,
      VpcEndpoints: [
        {
          VpcEndpointId: 'vpce-0a1b2c3d4e5f60718',
          VpcEndpointType: 'Interface',
          State: 'Available',
          NetworkInterfaceIds: ['eni-0a', 'eni-0b'],
        },
      ],
    });
    // The mesh interfaces are loopback addresses: 127.0.0.1 answers, 127.0.0.2 refuses (the "AZ b" path is down).
    ec2.on(DescribeNetworkInterfacesCommand).resolves({
      ...meta,
      NetworkInterfaces: [
        {
          NetworkInterfaceId: 'eni-0a',
          AvailabilityZone: 'eu-west-1a',
          PrivateIpAddress: '127.0.0.1',
          InterfaceType: 'vpc_endpoint',
          Status: 'in-use',
        },
        {
          NetworkInterfaceId: 'eni-0b',
          AvailabilityZone: 'eu-west-1b',
          PrivateIpAddress: '127.0.0.2',
          InterfaceType: 'vpc_endpoint',
          Status: 'in-use',
        },
      ],
    });
    ec2
      .on(DescribeInstancesCommand)
      .rejects(Object.assign(new Error('Request limit exceeded.'), { name: 'RequestLimitExceeded' }));
    event = {
      source: { region: 'eu-west-1', az: 'eu-west-1a', azId: 'euw1-az1' },
      targets: [{ kind: 'tcp', name: 'local-tcp', host: '127.0.0.1', port: server.port }],
      discovery: { cloudMap: [], ec2Tags: {} },
      attempts: 3,
      timeoutMs: 1000,
      concurrency: 4,
      intervalMs: 10,
      mesh: { vpcEndpointIds: ['vpce-0a1b2c3d4e5f60718'], port: server.port },
      // as the probe plan carries it; eu-west-1c is not probed from, its interfaces would get no ID
      zoneIds: { 'eu-west-1a': 'euw1-az1', 'eu-west-1b': 'euw1-az2' },
    };
  });
  afterAll(async () => {
    process.env = env;
    ec2.restore();
    await server?.close();
    await prom?.stop();
  });

  it('probes static and mesh targets, writes the samples to Prometheus and flags the cold start', async () => {
    const { handler } = await import('#probes/handler');
    const stdout = vi.spyOn(process.stdout, 'write');
    const first = await handler(event, context(20_000));
    const emf = stdout.mock.calls.map((c) => String(c[0])).filter((line) => line.includes('"_aws"'));
    stdout.mockRestore();

    expect(first).toMatchObject({
      targetsProbed: 3,
      succeeded: 2,
      failed: 1,
      timedOut: 0,
      remoteWriteOk: true,
      samplesFailed: 0,
      coldStart: true,
    });
    expect(first.discovery.failures).toEqual([
      {
        source: 'ec2',
        scope: 'tag observatory:probe',
        error: 'RequestLimitExceeded: Request limit exceeded.',
      },
    ]);
    expect(first.failures).toEqual([
      {
        target: 'mesh/vpce-0a1b2c3d4e5f60718',
        address: '127.0.0.2',
        reason: 'refused',
        error: 'ECONNREFUSED',
      },
    ]);
    expect(first).not.toHaveProperty('outcomes');

    const mesh = await prom.query('probe_success{target="mesh/vpce-0a1b2c3d4e5f60718"}');
    expect(
      mesh
        .map((s) => [
          s.metric.target_az,
          s.metric.target_az_id,
          s.metric.address,
          s.metric.source_az_id,
          s.value[1],
        ])
        .sort(),
    ).toEqual([
      ['eu-west-1a', 'euw1-az1', '127.0.0.1', 'euw1-az1', '1'],
      ['eu-west-1b', 'euw1-az2', '127.0.0.2', 'euw1-az1', '0'],
    ]);
    // a target without a known AZ carries no target_az_id (never an empty label)
    expect((await prom.query('probe_success{target="local-tcp"}'))[0]!.metric).not.toHaveProperty(
      'target_az_id',
    );
    const p50 = await prom.query('probe_tcp_connect_seconds{target="local-tcp",quantile="0.5"}');
    expect(p50).toHaveLength(1);
    expect(Number(p50[0]!.value[1])).toBeGreaterThan(0);
    expect(Number(p50[0]!.value[1])).toBeLessThan(1);
    expect((await prom.query('probe_discovery_failures{origin="ec2"}'))[0]!.value[1]).toBe('1');
    expect((await prom.query('probe_failure_reason{address="127.0.0.2"}'))[0]!.metric.reason).toBe('refused');
    expect((await prom.query('probe_run_cold_start'))[0]!.value[1]).toBe('1');

    const metrics = JSON.parse(emf.find((l) => l.includes('RunDurationMs'))!) as Record<string, unknown>;
    expect(metrics).toMatchObject({
      TargetsProbed: 3,
      TargetsFailed: 1,
      DiscoveryFailures: 1,
      RemoteWriteFailures: 0,
      SourceAzId: 'euw1-az1',
    });

    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = await handler(event, context(20_000));
    expect(second.coldStart).toBe(false);
    expect((await prom.query('probe_run_cold_start'))[0]!.value[1]).toBe('0');
  });

  it('rejects an event that does not match the schema, naming the bad field', async () => {
    const { handler } = await import('#probes/handler');
    await expect(handler({ ...event, attempts: 0 }, context(5_000))).rejects.toThrow(
      /invalid probe event: attempts: /,
    );
  });

  it('reports samples it could not write without failing the run', async () => {
    const { handler } = await import('#probes/handler');
    await prom.stop();
    const r = await handler({ ...event, mesh: undefined, discovery: { cloudMap: [] } }, context(6_000));
    expect(r).toMatchObject({ targetsProbed: 1, succeeded: 1, remoteWriteOk: false });
    expect(r.samplesFailed).toBe(r.samples);
  });
});
