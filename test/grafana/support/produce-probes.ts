/**
 * Real probe runs, the way the probe function does them (`executeProbeRun`), from several source AZs
 * against loopback servers: a TCP service, an HTTPS endpoint with an openssl certificate, an HTTP
 * endpoint answering 503, a closed port, a DNS server, the AZ mesh (three "interface endpoint"
 * listeners on 127.0.0.1-3, discovered through a faked EC2 API) and Cloud Map (one namespace found,
 * one missing, faked at the ServiceDiscovery client). Every sample goes through the project's
 * remote-write client; each run also pushes its self-monitoring samples.
 */
import { createServer, type Server } from 'node:net';
import {
  DescribeNetworkInterfacesCommand,
  DescribeVpcEndpointsCommand,
  EC2Client,
  GetAwsNetworkPerformanceDataCommand,
} from '@aws-sdk/client-ec2';
import {
  ListInstancesCommand,
  ListNamespacesCommand,
  ListServicesCommand,
  ServiceDiscoveryClient,
} from '@aws-sdk/client-servicediscovery';
import { mockClient } from 'aws-sdk-client-mock';
import { networkPerformancePairs } from '../../../contracts/network-performance.ts';
import { type ProbeEventInput, ProbeEventSchema } from '../../../lambdas/probes/event.ts';
import { executeProbeRun } from '../../../lambdas/probes/execute.ts';
import { collectNetworkPerformance } from '../../../lambdas/probes/network-performance-handler.ts';
import type { SampleSink } from '../../../lambdas/probes/samples.ts';
import type { RemoteWriteClient, Sample, WriteResult } from '../../../lambdas/shared/remote-write.ts';
import { remoteWriteOutcome, selfMetricSamples } from '../../../lambdas/shared/self-metrics.ts';
import {
  closedPort,
  makeCert,
  type Running,
  startDnsServer,
  startHttpServer,
  startHttpsServer,
  startTcpServer,
} from '../../probes/support/servers.ts';

const VPCE = 'vpce-0a1b2c3d4e5f60001';
/** Source AZs the runs measure from: three in eu-west-1, one in us-east-1. */
export const PROBE_SOURCES = [
  { region: 'eu-west-1', az: 'eu-west-1a', azId: 'euw1-az1' },
  { region: 'eu-west-1', az: 'eu-west-1b', azId: 'euw1-az2' },
  { region: 'eu-west-1', az: 'eu-west-1c', azId: 'euw1-az3' },
  { region: 'us-east-1', az: 'us-east-1a', azId: 'use1-az1' },
] as const;

/** AZ name -> AZ ID of the probe AZs, as the probe plan carries it. */
const ZONE_IDS = Object.fromEntries(PROBE_SOURCES.map((s) => [s.az, s.azId]));

function listenOn(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((s) => {
      s.on('error', () => {});
      s.end();
    });
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

/**
 * Runs `rounds` probe runs from every source AZ and writes everything they produce.
 * @param client the remote-write client (to the test Prometheus)
 * @param rounds runs per source AZ
 * @returns every sample written
 */
export async function produceProbeSamples(client: RemoteWriteClient, rounds = 2): Promise<Sample[]> {
  const closers: (() => Promise<void>)[] = [];
  const ec2 = mockClient(EC2Client);
  const sd = mockClient(ServiceDiscoveryClient);
  try {
    const tcp = await startTcpServer();
    closers.push(tcp.close);
    const cert = makeCert(45);
    const https = await startHttpsServer(cert, (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"status":"ok"}');
    });
    closers.push(https.close);
    const degraded = await startHttpServer((_req, res) => {
      res.writeHead(503);
      res.end('maintenance');
    });
    closers.push(degraded.close);
    const dns: Running = await startDnsServer({ 'api.internal.test': { A: ['10.0.0.10'] } });
    closers.push(dns.close);
    const refused = await closedPort();
    // The mesh: one listener per AZ's endpoint interface, all on one port as a VPC endpoint is.
    const first = await listenOn('127.0.0.1', 0);
    const meshPort = (first.address() as { port: number }).port;
    const mesh = [first, await listenOn('127.0.0.2', meshPort), await listenOn('127.0.0.3', meshPort)];
    for (const s of mesh) closers.push(() => new Promise((r) => s.close(() => r())));

    ec2.on(DescribeVpcEndpointsCommand).resolves({
      VpcEndpoints: [
        {
          VpcEndpointId: VPCE,
          VpcEndpointType: 'Interface',
          ServiceName: 'com.amazonaws.eu-west-1.aps-workspaces',
          NetworkInterfaceIds: ['eni-0a000000000000001', 'eni-0b000000000000002', 'eni-0c000000000000003'],
        },
      ],
    });
    ec2.on(DescribeNetworkInterfacesCommand).resolves({
      NetworkInterfaces: ['a', 'b', 'c'].map((az, i) => ({
        NetworkInterfaceId: `eni-0${az}00000000000000${i + 1}`,
        AvailabilityZone: `eu-west-1${az}`,
        PrivateIpAddress: `127.0.0.${i + 1}`,
        InterfaceType: 'vpc_endpoint',
        Status: 'in-use',
      })),
    });
    sd.on(ListNamespacesCommand).resolves({
      Namespaces: [{ Id: 'ns-abcdefgh12345678', Name: 'apps.local', Type: 'DNS_PRIVATE' }],
    });
    sd.on(ListServicesCommand).resolves({ Services: [{ Id: 'srv-abcdefgh12345678', Name: 'orders' }] });
    sd.on(ListInstancesCommand).resolves({
      Instances: [
        {
          Id: 'task-0123456789abcdef',
          Attributes: {
            AWS_INSTANCE_IPV4: '127.0.0.1',
            AWS_INSTANCE_PORT: String(tcp.port),
            AVAILABILITY_ZONE: 'eu-west-1c',
            REGION: 'eu-west-1',
          },
        },
      ],
    });

    const written: Sample[] = [];
    let last: WriteResult | undefined;
    const sink: SampleSink = {
      write: async (samples, opts) => {
        written.push(...samples);
        last = await client.write(samples, opts);
        return last;
      },
    };
    for (let round = 0; round < rounds; round++) {
      for (const source of PROBE_SOURCES) {
        const home = source.region === 'eu-west-1';
        const input: ProbeEventInput = {
          source,
          targets: [
            {
              name: 'orders-api',
              kind: 'tcp',
              host: '127.0.0.1',
              port: tcp.port,
              region: 'eu-west-1',
              az: 'eu-west-1b',
            },
            {
              name: 'web-health',
              kind: 'http',
              url: `https://127.0.0.1:${https.port}/health`,
              region: 'eu-west-1',
            },
            {
              name: 'legacy-portal',
              kind: 'http',
              url: `http://127.0.0.1:${degraded.port}/`,
              expectStatus: [200],
            },
            { name: 'payments-db', kind: 'tcp', host: '127.0.0.1', port: refused },
            { name: 'internal-dns', kind: 'dns', query: 'api.internal.test', expectAnswers: ['10.0.0.10'] },
          ],
          discovery: { cloudMap: home ? [{ namespace: 'apps.local' }, { namespace: 'missing.local' }] : [] },
          attempts: 3,
          timeoutMs: 1000,
          concurrency: 8,
          intervalMs: 5,
          ...(home ? { mesh: { vpcEndpointIds: [VPCE], port: meshPort } } : {}),
          zoneIds: ZONE_IDS,
        };
        const event = ProbeEventSchema.parse(input);
        const startedAtMs = Date.now();
        last = undefined;
        const summary = await executeProbeRun(event, {
          clients: {
            ec2: new EC2Client({ region: source.region }),
            serviceDiscovery: new ServiceDiscoveryClient({ region: source.region }),
          },
          sink,
          deadline: Date.now() + 15_000,
          writeReserveMs: 5_000,
          coldStart: round === 0,
          engine: { tls: { ca: cert.cert }, dnsServers: [`127.0.0.1:${dns.port}`] },
        });
        if (!summary.remoteWriteOk)
          throw new Error(`probe samples were not written: ${summary.writeError ?? ''}`);
        const self = selfMetricSamples({
          component: 'probes',
          function: 'probe',
          region: source.region,
          az: source.az,
          success: summary.remoteWriteOk,
          startedAtMs,
          endedAtMs: Date.now(),
          coldStart: round === 0,
          ...(last ? { remoteWrite: remoteWriteOutcome(last) } : {}),
        });
        const selfResult = await client.write(self, { deadline: Date.now() + 10_000 });
        if (!selfResult.ok) throw new Error('self-metrics of a probe run were not written');
        written.push(...self);
      }
    }
    // AWS's reference for the same AZ-ID and region pairs, as the reader function writes it.
    ec2.on(GetAwsNetworkPerformanceDataCommand).callsFake((input) => {
      const end = new Date(Math.floor(Date.now() / 300_000) * 300_000);
      return {
        DataResponses: (input.DataQueries ?? []).map(
          (q: { Id: string; Source: string; Destination: string }) => ({
            ...q,
            MetricPoints: [
              {
                StartDate: new Date(end.getTime() - 300_000),
                EndDate: end,
                Value: q.Source.includes('-az') ? 0.42 : 68.2,
                Status: 'OK',
              },
            ],
          }),
        ),
      };
    });
    for (const region of ['eu-west-1', 'us-east-1']) {
      const pairs = networkPerformancePairs(
        ['eu-west-1', 'us-east-1'].map((r) => ({
          region: r,
          azIds: PROBE_SOURCES.filter((s) => s.region === r).map((s) => s.azId),
        })),
      ).filter((p) => (p.scope === 'az' ? p.region === region : p.source === region));
      const summary = await collectNetworkPerformance(pairs, {
        ec2: new EC2Client({ region }),
        sink,
        now: Date.now(),
        deadline: Date.now() + 10_000,
      });
      if (!summary.remoteWriteOk) throw new Error('AWS network performance samples were not written');
    }
    return written;
  } finally {
    ec2.restore();
    sd.restore();
    for (const close of closers.reverse()) await close();
  }
}
