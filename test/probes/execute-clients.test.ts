/**
 * The discovery clients of a run are made only when a discovery source is configured, so a run of
 * static targets never loads the AWS SDK (the probe function's cold start stays small).
 */
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ProbeEventSchema } from '#probes/event';
import { executeProbeRun } from '#probes/execute';
import { type Running, startTcpServer } from './support/servers.ts';

const ec2 = mockClient(EC2Client);
const source = { region: 'eu-west-1', az: 'eu-west-1a', azId: 'euw1-az1' };

describe('executeProbeRun discovery clients', () => {
  let server: Running;
  beforeAll(async () => {
    server = await startTcpServer();
  });
  afterAll(async () => {
    await server.close();
  });

  const run = (discovery: unknown, clients: Parameters<typeof executeProbeRun>[1]['clients']) =>
    executeProbeRun(
      ProbeEventSchema.parse({
        source,
        targets: [{ kind: 'tcp', name: 'local', host: '127.0.0.1', port: server.port }],
        discovery,
        attempts: 1,
      }),
      { clients, deadline: Date.now() + 10_000, writeReserveMs: 1_000, coldStart: false },
    );

  it('never makes the clients for a run of static targets', async () => {
    const make = vi.fn(async () => {
      throw new Error('clients must not be made without discovery');
    });
    const summary = await run({ cloudMap: [] }, make);
    expect(make).not.toHaveBeenCalled();
    expect(summary.succeeded).toBe(1);
    expect(summary.discovery.failures).toEqual([]);
  });

  it('makes the clients once when EC2 tag discovery is configured and probes what it finds', async () => {
    ec2.reset();
    ec2.on(DescribeInstancesCommand).resolves({
      $metadata: { httpStatusCode: 200, requestId: '5e1f0000-0000-4000-8000-000000000000', attempts: 1 },
      Reservations: [
        {
          Instances: [
            {
              InstanceId: 'i-0123456789abcdef0',
              PrivateIpAddress: '127.0.0.1',
              State: { Name: 'running', Code: 16 },
              Placement: { AvailabilityZone: 'eu-west-1a' },
              Tags: [
                { Key: 'observatory:probe', Value: 'true' },
                { Key: 'observatory:port', Value: String(server.port) },
              ],
            },
          ],
        },
      ],
    });
    const make = vi.fn(async () => ({ ec2: new EC2Client({ region: 'eu-west-1' }) }));
    const summary = await run({ cloudMap: [], ec2Tags: {} }, make);
    expect(make).toHaveBeenCalledTimes(1);
    expect(summary.discovery.counts).toMatchObject({ static: 1, ec2: 1 });
    expect(summary.succeeded).toBe(2);
  });
});
