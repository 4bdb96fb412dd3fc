/**
 * The deployed shape of a probe run: the plan built at synth time by lib/probes/probe-plan.ts is bundled
 * as a file, the schedule sends only the source AZ, and the mesh endpoints come from the environment.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeNetworkInterfacesCommand,
  DescribeVpcEndpointsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeRunRequest, ProbeEventSchema } from '#probes/event';
import { ProbesSchema } from '../../lib/config/schema.ts';
import { buildProbePlan, PROBE_PLAN_FILE } from '../../lib/probes/probe-plan.ts';
import { type LocalPrometheus, startPrometheus } from '../support/prometheus.ts';
import { type Running, startTcpServer } from './support/servers.ts';

const source = { region: 'eu-west-1', az: 'eu-west-1b', azId: 'euw1-az2' };

describe('composeRunRequest', () => {
  const plan = {
    region: 'eu-west-1',
    attempts: 3,
    timeoutMs: 500,
    concurrency: 2,
    targets: [],
    discovery: { cloudMap: [] },
  };

  it('merges the bundled plan, the mesh endpoints and the scheduler payload into a valid request', () => {
    const request = ProbeEventSchema.parse(
      composeRunRequest({ source }, plan, 'vpce-0a1b2c3d4e5f60718, vpce-0a1b2c3d4e5f60719'),
    );
    expect(request).toMatchObject({
      source,
      attempts: 3,
      mesh: { vpcEndpointIds: ['vpce-0a1b2c3d4e5f60718', 'vpce-0a1b2c3d4e5f60719'], port: 443 },
    });
  });

  it('lets the payload override the plan and leaves out an empty mesh', () => {
    const request = ProbeEventSchema.parse(composeRunRequest({ source, attempts: 9 }, plan, ''));
    expect(request.attempts).toBe(9);
    expect(request.mesh).toBeUndefined();
  });

  it('passes a whole payload through when no plan is bundled', () => {
    expect(composeRunRequest({ source, attempts: 1 }, undefined, 'vpce-0a1b2c3d4e5f60718')).toEqual({
      source,
      attempts: 1,
    });
  });
});

describe('probe handler with a bundled plan', () => {
  let prom: LocalPrometheus;
  let server: Running;
  const env = { ...process.env };
  const ec2 = mockClient(EC2Client);

  beforeAll(async () => {
    prom = await startPrometheus();
    server = await startTcpServer();
    const root = mkdtempSync(join(tmpdir(), 'observatory-task-root-'));
    const probes = ProbesSchema.parse({
      attempts: 2,
      timeoutMs: 500,
      regions: [
        {
          region: 'eu-west-1',
          vpcId: 'vpc-0a1b2c3d4e5f60001',
          vpcCidr: '10.0.0.0/16',
          availabilityZones: [{ name: 'eu-west-1b', id: 'euw1-az2', subnetId: 'subnet-0a1b2c3d4e5f61002' }],
        },
        {
          region: 'us-east-1',
          vpcId: 'vpc-0a1b2c3d4e5f60002',
          vpcCidr: '10.1.0.0/16',
          availabilityZones: [{ name: 'us-east-1a', id: 'use1-az1', subnetId: 'subnet-0a1b2c3d4e5f61003' }],
        },
      ],
      targets: [
        { name: 'planned-tcp', kind: 'tcp', host: '127.0.0.1', port: server.port },
        { name: 'other-region-only', kind: 'tcp', host: '127.0.0.1', port: server.port, from: ['us-east-1'] },
      ],
    });
    writeFileSync(join(root, PROBE_PLAN_FILE), JSON.stringify(buildProbePlan(probes, probes.regions[0]!)));
    Object.assign(process.env, {
      LAMBDA_TASK_ROOT: root,
      PROBE_PLAN_FILE,
      MESH_VPC_ENDPOINT_IDS: 'vpce-0a1b2c3d4e5f60718',
      REMOTE_WRITE_URL: prom.remoteWriteUrl,
      AWS_REGION: 'eu-west-1',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      POWERTOOLS_METRICS_NAMESPACE: 'InfraObservatory',
    });
    ec2.on(DescribeVpcEndpointsCommand).resolves({
      VpcEndpoints: [{ VpcEndpointId: 'vpce-0a1b2c3d4e5f60718', NetworkInterfaceIds: ['eni-0a'] }],
    });
    ec2.on(DescribeNetworkInterfacesCommand).resolves({
      NetworkInterfaces: [
        {
          NetworkInterfaceId: 'eni-0a',
          AvailabilityZone: 'eu-west-1a',
          PrivateIpAddress: '127.0.0.1',
          Status: 'in-use',
        },
      ],
    });
  });
  afterAll(async () => {
    process.env = env;
    ec2.restore();
    await server?.close();
    await prom?.stop();
  });

  it('probes the planned targets of its region and the mesh from a source-only payload', async () => {
    const { handler } = await import('#probes/handler');
    const end = Date.now() + 15_000;
    const result = await handler({ source }, {
      getRemainingTimeInMillis: () => end - Date.now(),
      awsRequestId: 'r1',
      functionName: 'probe',
    } as Context);
    // Nothing listens on 443 here: the mesh path (default port 443) is measured, and refused.
    expect(result).toMatchObject({ remoteWriteOk: true, targetsProbed: 2, failed: 1 });
    expect(result.failures).toEqual([
      expect.objectContaining({ target: 'mesh/vpce-0a1b2c3d4e5f60718', reason: 'refused' }),
    ]);
    const targets = (await prom.query('probe_success'))
      .map((s) => [s.metric.target, s.metric.source_az_id])
      .sort();
    expect(targets).toEqual([
      ['mesh/vpce-0a1b2c3d4e5f60718', 'euw1-az2'],
      ['planned-tcp', 'euw1-az2'],
    ]);
    // The run's own health, for the pipeline dashboard.
    const self = await prom.query('observatory_run_success{component="probes"}');
    expect(self.map((s) => [s.metric.function, s.metric.az, s.value[1]])).toEqual([
      ['probe', 'eu-west-1b', '1'],
    ]);
    expect(await prom.query('observatory_samples_written{component="probes"} > 0')).toHaveLength(1);
  });
});
