/**
 * Every Lambda asset of the app, as `cdk synth` leaves it in cdk.out, invoked once in Node 22 with a
 * representative event, so an asset that lacks a file it reads at run time (migrations, the probe plan,
 * dashboards, a lazily loaded chunk) fails here rather than in a deployed account.
 *
 * The app is synthesized with Lambda bundling on from the example config, with the probe targets
 * pointed at loopback listeners. Each distinct asset runs in a child process (test/support/lambda-runner.mjs)
 * with the function's synthesized handler, timeout, memory and environment: CloudFormation tokens
 * (a bucket's name, a queue's URL) take the values a deployment gives them ({@link DEPLOYED}), and
 * /var/task is the asset's folder, as the Lambda runtime sees it.
 *
 * AWS is faked over HTTP on loopback (test/support/aws-http.ts, reached through `AWS_ENDPOINT_URL`),
 * not with aws-sdk-client-mock: each bundle carries its own copy of the SDK, which a mock in the test
 * process cannot reach. The fake answers in each protocol's wire format with the documented (and,
 * where test/fixtures/aws has them, recorded) shapes. The RDS Data API is served by the same fake,
 * backed by the real PostgreSQL (test/support/data-api-postgres.ts behind an HTTP front). MSK brokers
 * are loopback TLS listeners reached through the runner's host mapping; no Kafka broker runs here, so
 * the Kafka-reading functions are held to the exact failure that shows they opened a TLS connection
 * and sent a Kafka request.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { GetMetricDataCommandInput } from '@aws-sdk/client-cloudwatch';
import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RDSDataClient,
  RollbackTransactionCommand,
} from '@aws-sdk/client-rds-data';
import snappy from 'snappyjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/loader.ts';
import type { ObservatoryConfig } from '../../lib/config/schema.ts';
import { answerGetMetricData } from '../fixtures/aws/get-metric-data-fake.ts';
import { fixture } from '../fixtures/aws/load.ts';
import { planOf } from '../msk-rollback/plans.ts';
import { makeCert, startTcpServer, type TestCert } from '../probes/support/servers.ts';
import {
  type AwsHttpFake,
  type AwsReply,
  type AwsRequest,
  ec2Xml,
  json,
  jsonError,
  queryXml,
  startAwsHttpFake,
} from '../support/aws-http.ts';
import { EXAMPLE_CONFIG, type SynthResult, synthApp } from '../support/cdk.ts';
import { dataApiOnPostgres } from '../support/data-api-postgres.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { WriteRequest } from '../support/prompb.ts';

const ROOT = join(import.meta.dirname, '../..');
const NODE22 = join(ROOT, 'node_modules/node/bin/node');
const RUNNER = join(ROOT, 'test/support/lambda-runner.mjs');
const BATCH = readFileSync(join(ROOT, 'test/fixtures/batches/ec2-eu-west-1-sample.json'), 'utf8');
const ACCOUNT = '111111111111';
const WORKSPACE_PATH = '/workspaces/ws-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d/';

/** One Lambda function of the synthesized app. */
interface SynthesizedFunction {
  /** Construct path without the trailing `/Resource`, e.g. `Observatory-Utilization/Migrate/Function`. */
  readonly path: string;
  readonly stack: string;
  readonly logicalId: string;
  readonly region: string;
  readonly handler: string;
  readonly timeoutSeconds: number;
  readonly memoryMiB: number;
  /** The asset folder in cdk.out. */
  readonly assetDir: string;
  readonly environment: Record<string, unknown>;
  readonly template: Template;
}

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

/** What an invocation returned. */
interface Invocation {
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: { name: string; message: string };
  /** The function's log lines that parse as JSON (Powertools logs and EMF metrics). */
  readonly logs: Record<string, unknown>[];
}

/** A remote-write request the fake AMP received. */
interface Written {
  readonly signed: boolean;
  readonly series: { labels: Record<string, string>; value: number }[];
}

let synth: SynthResult;
let functions: SynthesizedFunction[];
let aws: AwsHttpFake;
let xray: UdpSocket;
let web: HttpServer;
let tcp: Awaited<ReturnType<typeof startTcpServer>>;
let brokers: { server: TlsServer; port: number; clientIds: string[]; cert: TestCert };
const work = mkdtempSync(join(tmpdir(), 'observatory-lambda-assets-'));
const written: Written[] = [];
const xraySegments: string[] = [];

/**
 * What a deployment gives the environment values the template leaves to CloudFormation (Ref, GetAtt,
 * ImportValue): the function must run with these, and a token without one fails the test.
 */
function deployed(): Record<string, string> {
  return {
    REMOTE_WRITE_URL: `https://aps-workspaces.eu-west-1.amazonaws.com:${aws.tlsPort}${WORKSPACE_PATH}api/v1/remote_write`,
    ECS_CLUSTER_ARN: `arn:aws:ecs:eu-west-1:${ACCOUNT}:cluster/observatory-mm2`,
    CONFIG_BUCKET: 'observatory-mskrollback-configbucket-1a2b3c',
    ALERT_TOPIC_ARN: `arn:aws:sns:eu-west-1:${ACCOUNT}:Observatory-Monitoring-AlertTopic-1A2B3C`,
    REPORT_TOPIC_ARN: `arn:aws:sns:eu-west-1:${ACCOUNT}:Observatory-Monitoring-AlertTopic-1A2B3C`,
    MESH_VPC_ENDPOINT_IDS: 'vpce-0a1b2c3d4e5f6a7b8',
    DB_CLUSTER_ARN: `arn:aws:rds:eu-west-1:${ACCOUNT}:cluster:observatory-utilization-database-1a2b3c`,
    DB_SECRET_ARN: `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:observatory-db-AbCdEf`,
    BATCH_BUCKET: 'observatory-utilization-batches-1a2b3c',
    REPORT_BUCKET: 'observatory-utilization-batches-1a2b3c',
    STORE_QUEUE_URL: `https://sqs.eu-west-1.amazonaws.com:${aws.tlsPort}/${ACCOUNT}/Observatory-Utilization-StoreQueue-1A2B3C`,
  };
}

/** The example config with loopback probe targets (no probe may leave the machine). */
function testConfig(): ObservatoryConfig {
  const config = loadConfig(EXAMPLE_CONFIG);
  const web80 = (web.address() as AddressInfo).port;
  return {
    ...config,
    probes: {
      ...config.probes,
      targets: [
        { name: 'loopback-tcp', kind: 'tcp', host: '127.0.0.1', port: tcp.port },
        { name: 'loopback-http', kind: 'http', url: `http://127.0.0.1:${web80}/healthz` },
      ],
    } as ObservatoryConfig['probes'],
  };
}

/** Every Node.js function the project bundles (the CDK's own provider functions are not ours). */
function synthesizedFunctions(outdir: string): SynthesizedFunction[] {
  const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; environment?: string; properties?: { templateFile?: string } }>;
  };
  const found: SynthesizedFunction[] = [];
  for (const [stack, artifact] of Object.entries(manifest.artifacts)) {
    if (artifact.type !== 'aws:cloudformation:stack') continue;
    const region = artifact.environment!.split('/').at(-1)!;
    const template = JSON.parse(
      readFileSync(join(outdir, artifact.properties!.templateFile!), 'utf8'),
    ) as Template;
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      const meta = (resource as { Metadata?: Record<string, string> }).Metadata ?? {};
      const p = resource.Properties ?? {};
      if (resource.Type !== 'AWS::Lambda::Function' || p.Runtime !== 'nodejs22.x') continue;
      found.push({
        path: meta['aws:cdk:path']!.replace(/\/Resource$/, ''),
        stack,
        logicalId,
        region,
        handler: p.Handler as string,
        timeoutSeconds: Number(p.Timeout ?? 3),
        memoryMiB: Number(p.MemorySize ?? 128),
        assetDir: join(outdir, meta['aws:asset:path']!),
        environment: (p.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {},
        template,
      });
    }
  }
  return found;
}

/** The functions with distinct code: one per asset (the per-AZ probe functions of a region share one). */
function byAsset(all: SynthesizedFunction[]): Map<string, SynthesizedFunction> {
  const out = new Map<string, SynthesizedFunction>();
  for (const f of all) if (![...out.values()].some((g) => g.assetDir === f.assetDir)) out.set(caseName(f), f);
  return out;
}

/** The name of a function's case: its construct path without the per-AZ suffix and `Function` tails. */
function caseName(f: SynthesizedFunction): string {
  return f.path.replace(/(\/Function)+$/, '').replace(/\/Probe-[a-z0-9]+-az\d+$/, '/Probe');
}

/** The function's environment as deployed: tokens resolved, /var/task being the asset folder. */
function environmentOf(f: SynthesizedFunction): Record<string, string> {
  const values = deployed();
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(f.environment)) {
    const resolved = typeof value === 'string' ? value : values[key];
    if (resolved === undefined)
      throw new Error(
        `${f.path}: ${key} is a CloudFormation token (${JSON.stringify(value)}) with no deployed value`,
      );
    env[key] = resolved.replace(/^\/var\/task(?=\/|$)/, f.assetDir);
  }
  return env;
}

/** Invokes a function's asset once in Node 22, with the Lambda runtime's environment. */
function invoke(
  f: SynthesizedFunction,
  event: unknown,
  extra: Record<string, string> = {},
): Promise<Invocation> {
  const dir = mkdtempSync(join(work, 'invoke-'));
  writeFileSync(join(dir, 'event.json'), JSON.stringify(event));
  const name = `${f.stack}-${f.logicalId}`.slice(0, 64);
  const env: Record<string, string> = {
    PATH: '/usr/bin:/bin',
    HOME: dir,
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
    AWS_REGION: f.region,
    AWS_DEFAULT_REGION: f.region,
    AWS_ACCESS_KEY_ID: 'ASIAFAKEFAKEFAKEFAKE',
    AWS_SECRET_ACCESS_KEY: 'fake/secret/access/key/for/the/loopback/fake',
    AWS_SESSION_TOKEN: 'fake-session-token',
    AWS_ENDPOINT_URL: aws.url,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_LAMBDA_FUNCTION_NAME: name,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(f.memoryMiB),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: '2026/01/01/[$LATEST]0123456789abcdef',
    LAMBDA_TASK_ROOT: f.assetDir,
    LAMBDA_RUNTIME_DIR: '/var/runtime',
    _HANDLER: f.handler,
    _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
    AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${xray.address().port}`,
    // AWS host names that the SDK's endpoint setting does not cover (AMP's remote-write URL, a queue
    // URL, MSK brokers) resolve to the loopback fakes, whose certificate the function trusts.
    RUNNER_HOSTS: JSON.stringify(
      Object.fromEntries(TLS_HOSTS.map((h) => [h.replace(/^\*/, ''), '127.0.0.1'])),
    ),
    NODE_EXTRA_CA_CERTS: join(work, 'loopback-ca.pem'),
    ...environmentOf(f),
    ...extra,
  };
  const resultFile = join(dir, 'result.json');
  return new Promise((resolve, reject) => {
    execFile(
      NODE22,
      [RUNNER, f.assetDir, f.handler, join(dir, 'event.json'), resultFile, String(f.timeoutSeconds * 1000)],
      { cwd: f.assetDir, env, timeout: 90_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        let outcome: Omit<Invocation, 'logs'>;
        try {
          outcome = JSON.parse(readFileSync(resultFile, 'utf8')) as Omit<Invocation, 'logs'>;
        } catch {
          reject(new Error(`${f.path} did not finish: ${err?.message}\n${stderr.slice(-4000)}`));
          return;
        }
        const logs = stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        resolve({ ...outcome, logs });
      },
    );
  });
}

/** The one resource of a type in a function's stack whose properties reference the function. */
function resourceFor(f: SynthesizedFunction, type: string): Record<string, unknown> {
  const hits = Object.values(f.template.Resources).filter(
    (r) => r.Type === type && JSON.stringify(r.Properties).includes(`"${f.logicalId}"`),
  );
  if (hits.length !== 1) throw new Error(`${f.path}: ${hits.length} ${type} reference the function`);
  return hits[0]!.Properties!;
}

/** Serves the RDS Data API (restJson1) from the Data API fake over a PostgreSQL database. */
function serveDataApi(db: TestDatabase) {
  const api = dataApiOnPostgres(db.url);
  const client = new RDSDataClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'fake', secretAccessKey: 'fake' },
  });
  const commands: Record<string, (input: never) => Promise<object>> = {
    '/Execute': (input) => client.send(new ExecuteStatementCommand(input)),
    '/BeginTransaction': (input) => client.send(new BeginTransactionCommand(input)),
    '/CommitTransaction': (input) => client.send(new CommitTransactionCommand(input)),
    '/RollbackTransaction': (input) => client.send(new RollbackTransactionCommand(input)),
  };
  aws.on('rds-data', async (req) => {
    const call = commands[req.path];
    if (!call || req.method !== 'POST') return undefined;
    try {
      return json(await call(JSON.parse(req.body.toString('utf8')) as never));
    } catch (err) {
      return jsonError((err as Error).name, (err as Error).message);
    }
  });
  return api;
}

/** Answers remote writes (AMP's `api/v1/remote_write`) by decoding and keeping them. */
function answerRemoteWrite(req: AwsRequest) {
  if (req.method !== 'POST' || !req.path.endsWith('/api/v1/remote_write')) return undefined;
  const decoded = WriteRequest.toObject(
    WriteRequest.decode(Buffer.from(snappy.uncompress(new Uint8Array(req.body)))),
  ) as { timeseries: { labels: { name: string; value: string }[]; samples: { value: number }[] }[] };
  written.push({
    signed: req.service === 'aps',
    series: decoded.timeseries.map((t) => ({
      labels: Object.fromEntries(t.labels.map((l) => [l.name, l.value])),
      value: t.samples[0]?.value ?? Number.NaN,
    })),
  });
  return { status: 200 };
}

const seriesNamed = (name: string) =>
  written.flatMap((w) =>
    w.series.filter((s) => s.labels.__name__ === name).map((s) => ({ ...s, signed: w.signed })),
  );

const s3Objects = new Map<string, string>();
/** S3 (restXml, path-style on an IP endpoint): PutObject keeps the body, GetObject returns it. */
function answerS3(req: AwsRequest): AwsReply | undefined {
  if (req.method === 'PUT') {
    s3Objects.set(req.path, req.body.toString('utf8'));
    return { headers: { etag: `"${createHash('md5').update(req.body).digest('hex')}"` } };
  }
  if (req.method === 'GET') {
    const body = s3Objects.get(req.path);
    if (body === undefined) return undefined;
    return {
      headers: {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        etag: `"${createHash('md5').update(body).digest('hex')}"`,
        'last-modified': new Date().toUTCString(),
      },
      body,
    };
  }
  return undefined;
}

const published: { topic: string; subject: string; message: string }[] = [];
/** SNS Publish (awsQuery). */
function answerSns(req: AwsRequest) {
  if (req.operation !== 'Publish') return undefined;
  published.push({
    topic: req.form!.get('TopicArn')!,
    subject: req.form!.get('Subject') ?? '',
    message: req.form!.get('Message')!,
  });
  return queryXml(
    'Publish',
    `<MessageId>${published.length}-94f20ce6-13c5-43a0-9a9e-ca52d816e90b</MessageId>`,
    'http://sns.amazonaws.com/doc/2010-03-31/',
  );
}

/** Cases: what each asset is invoked with and what proves its code ran. */
const CASES: Record<string, (f: SynthesizedFunction) => Promise<void>> = {
  async 'Observatory-Monitoring/Dashboards/Publisher'(f) {
    // The custom resource's properties as synthesized, Grafana being a loopback fake.
    const { startFakeGrafana } = await import('../grafana/support/fake-grafana.ts');
    const grafana = await startFakeGrafana('glsa_bundle_token');
    try {
      aws.on('secretsmanager', (req) =>
        req.operation === 'GetSecretValue'
          ? json({
              ARN: req.json!.SecretId,
              Name: 'observatory/grafana-token',
              SecretString: 'glsa_bundle_token',
              VersionId: 'v1',
              VersionStages: ['AWSCURRENT'],
              CreatedDate: new Date('2026-01-01T00:00:00Z'),
            })
          : undefined,
      );
      const properties = resourceForType(f, 'Custom::GrafanaDashboards');
      const resourceProperties = {
        ...properties,
        grafanaUrl: grafana.url,
        workspaceUrl: `https://aps-workspaces.eu-west-1.amazonaws.com${WORKSPACE_PATH}`,
        ServiceToken: 'arn:aws:lambda:eu-west-1:111111111111:function:provider',
      };
      const r = await invoke(f, customResourceEvent('Custom::GrafanaDashboards', resourceProperties));
      expect(r.error).toBeUndefined();
      const uids = properties.dashboardUids as string[];
      expect(uids.length).toBeGreaterThanOrEqual(4);
      expect(r.result).toMatchObject({ Data: { Dashboards: String(uids.length) } });
      expect([...grafana.dashboards.keys()].sort()).toEqual([...uids].sort());
    } finally {
      await grafana.close();
    }
  },

  async 'Observatory-Probes-eu-west-1/Probe'(f) {
    await probeCase(f);
  },

  async 'Observatory-Probes-us-east-1/Probe'(f) {
    await probeCase(f);
  },

  async 'Observatory-Probes-eu-west-1/AwsNetworkPerformance'(f) {
    await networkPerformanceCase(f);
  },

  async 'Observatory-Probes-us-east-1/AwsNetworkPerformance'(f) {
    await networkPerformanceCase(f);
  },

  async 'Observatory-Utilization/Migrate'(f) {
    const db = await createTestDatabase({ migrate: false });
    const api = serveDataApi(db);
    try {
      const properties = resourceForType(f, 'Custom::DrizzleMigration');
      const r = await invoke(f, customResourceEvent('Custom::DrizzleMigration', properties));
      expect(r.error).toBeUndefined();
      const tags = (
        JSON.parse(readFileSync(join(ROOT, 'drizzle/meta/_journal.json'), 'utf8')) as {
          entries: { tag: string }[];
        }
      ).entries.map((e) => e.tag);
      expect(r.result).toEqual({
        PhysicalResourceId: 'observatory-db-migrations',
        Data: { LatestMigration: tags.at(-1), Migrations: tags.length },
      });
      const tables = await db.query<{ t: string }>(
        "select table_name t from information_schema.tables where table_schema = 'public' order by 1",
      );
      expect(tables.map((t) => t.t)).toEqual(
        expect.arrayContaining(['batch_ledger', 'metric_rows', 'resources']),
      );
      expect(api.seen.some((s) => s.command === 'BeginTransaction')).toBe(true);
    } finally {
      await api.close();
      await db.drop();
    }
  },

  async 'Observatory-Utilization/Collect'(f) {
    const member = '222222222222';
    aws.on('sts', (req) => {
      if (req.operation !== 'AssumeRole') return undefined;
      const c = fixture<{ Credentials: Record<string, string | Date> }>('sts/assume-role.json').Credentials;
      return queryXml(
        'AssumeRole',
        `<Credentials><AccessKeyId>${c.AccessKeyId}</AccessKeyId><SecretAccessKey>${c.SecretAccessKey}</SecretAccessKey><SessionToken>${c.SessionToken}</SessionToken><Expiration>${new Date(Date.now() + 3_600_000).toISOString()}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROAFAKE:collector</AssumedRoleId><Arn>arn:aws:sts::${member}:assumed-role/${req.form!.get('RoleArn')!.split('/').at(-1)}/collector</Arn></AssumedRoleUser>`,
        'https://sts.amazonaws.com/doc/2011-06-15/',
      );
    });
    aws.on('ecs', (req) => {
      const input = req.json!;
      switch (req.operation) {
        case 'ListClusters':
          return json(fixture('ecs/list-clusters.json'));
        case 'ListServices':
          return json(
            String(input.cluster).endsWith('/batch')
              ? fixture('ecs/list-services-batch.json')
              : input.nextToken
                ? fixture('ecs/list-services-prod-page-2.json')
                : fixture('ecs/list-services-prod-page-1.json'),
          );
        case 'DescribeServices':
          return json(
            fixture(
              String(input.cluster).endsWith('/batch')
                ? 'ecs/describe-services-batch.json'
                : 'ecs/describe-services-prod.json',
            ),
          );
        case 'DescribeTaskDefinition': {
          const family = String(input.taskDefinition).split('/').at(-1)!.split(':')[0];
          return json(fixture(`ecs/describe-task-definition-${family}.json`));
        }
        default:
          return undefined;
      }
    });
    aws.on('monitoring', (req) => {
      if (req.operation !== 'GetMetricData') return undefined;
      const input = req.json as { StartTime: number; EndTime: number };
      return json(
        answerGetMetricData({
          ...(req.json as unknown as GetMetricDataCommandInput),
          StartTime: new Date(input.StartTime * 1000),
          EndTime: new Date(input.EndTime * 1000),
        }),
        200,
        { 'content-type': 'application/x-amz-json-1.0' },
      );
    });
    const sent: string[] = [];
    aws.on('sqs', (req) => {
      if (req.operation !== 'SendMessage') return undefined;
      const body = String(req.json!.MessageBody);
      sent.push(body);
      return json(
        {
          MessageId: 'a9b8c7d6-0000-4000-8000-000000000001',
          MD5OfMessageBody: createHash('md5').update(body).digest('hex'),
        },
        200,
        { 'content-type': 'application/x-amz-json-1.0' },
      );
    });
    aws.on('s3', answerS3);
    const r = await invoke(f, {
      shard: { accountId: member, region: 'eu-west-1', service: 'ecs' },
      roleName: 'InfraObservatoryReader',
      externalId: 'observatory-7d2f9c',
      lookbackMinutes: 60,
      periodSeconds: 300,
      delayMinutes: 10,
    });
    expect(r.error).toBeUndefined();
    const summary = r.result as { resources: number; rows: number; batches: number };
    expect(summary.resources).toBeGreaterThan(0);
    expect(summary.rows).toBeGreaterThan(0);
    // The claim check points at the object the batch was written to, and the batch is for the shard.
    expect(sent.length).toBeGreaterThan(0);
    const message = JSON.parse(sent[0]!) as { bucket: string; key: string; batchId: string };
    expect(message.bucket).toBe(deployed().BATCH_BUCKET);
    const batch = JSON.parse(s3Objects.get(`/${message.bucket}/${message.key}`)!) as {
      batchId: string;
      shard: { accountId: string; service: string };
    };
    expect(batch.batchId).toBe(message.batchId);
    expect(batch.shard).toMatchObject({ accountId: member, service: 'ecs' });
  },

  async 'Observatory-Utilization/Store'(f) {
    const db = await createTestDatabase();
    const api = serveDataApi(db);
    try {
      aws.on('s3', answerS3);
      const bucket = deployed().BATCH_BUCKET;
      const key = 'batches/111122223333/eu-west-1/ec2/sample.json';
      s3Objects.set(`/${bucket}/${key}`, BATCH);
      const batchId = (JSON.parse(BATCH) as { batchId: string }).batchId;
      const r = await invoke(f, {
        Records: [
          {
            messageId: '059f36b4-87a3-44ab-83d2-661975830a7d',
            receiptHandle: 'AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a',
            body: JSON.stringify({ bucket, key, batchId }),
            attributes: {
              ApproximateReceiveCount: '1',
              SentTimestamp: '1736000000000',
              SenderId: 'AIDAIENQZJOLO23YVJ4VO',
              ApproximateFirstReceiveTimestamp: '1736000000001',
            },
            messageAttributes: {},
            md5OfBody: createHash('md5').update(JSON.stringify({ bucket, key, batchId })).digest('hex'),
            eventSource: 'aws:sqs',
            eventSourceARN: `arn:aws:sqs:eu-west-1:${ACCOUNT}:Observatory-Utilization-StoreQueue-1A2B3C`,
            awsRegion: 'eu-west-1',
          },
        ],
      });
      expect(r.error).toBeUndefined();
      expect(r.result).toEqual({ batchItemFailures: [] });
      const rows = await db.query<{ n: string }>('select count(*) n from metric_rows');
      expect(rows.map((x) => Number(x.n))).toEqual([1344]);
    } finally {
      await api.close();
      await db.drop();
    }
  },

  async 'Observatory-Utilization/Report'(f) {
    const db = await createTestDatabase();
    const api = serveDataApi(db);
    try {
      const { storeBatch } = await import('#utilization/store');
      expect((await storeBatch(db.db, BATCH)).outcome).toBe('stored');
      aws.on('s3', answerS3);
      aws.on('sns', answerSns);
      aws.on('pricing', (req) =>
        req.operation === 'GetProducts' ? json({ FormatVersion: 'aws_v1', PriceList: [] }) : undefined,
      );
      aws.on('aps', answerRemoteWrite);
      const before = written.length;
      const r = await invoke(f, { mode: 'full', asOf: '2025-01-20T00:00:00Z' });
      expect(r.error).toBeUndefined();
      const result = r.result as { mode: string; keys: string[]; gaugesOk: boolean; samples: number };
      expect(result).toMatchObject({ mode: 'full', gaugesOk: true });
      for (const key of result.keys) expect(s3Objects.has(`/${deployed().REPORT_BUCKET}/${key}`)).toBe(true);
      expect(result.keys.some((k) => k.startsWith('reports/'))).toBe(true);
      expect(published.at(-1)?.topic).toBe(deployed().REPORT_TOPIC_ARN);
      expect(written.slice(before).every((w) => w.signed)).toBe(true);
      expect(written.slice(before).flatMap((w) => w.series).length).toBe(result.samples);
    } finally {
      await api.close();
      await db.drop();
    }
  },

  async 'Observatory-Utilization/CollectionSummary'(f) {
    aws.on('unsigned', answerRemoteWrite);
    aws.on('aps', answerRemoteWrite);
    const shard = (accountId: string, service: string) => ({ accountId, region: 'eu-west-1', service });
    const r = await invoke(f, {
      results: [
        { shard: shard('222222222222', 'ec2'), batchId: 'b-1' },
        {
          shard: shard('222222222222', 'rds'),
          status: 'failed',
          error: 'AccessDenied',
          cause: 'not authorized',
        },
        { shard: shard('333333333333', 'ec2'), batchId: 'b-2' },
      ],
      toleratedFailurePercent: 20,
      executionId: 'arn:aws:states:eu-west-1:111111111111:execution:collection:run-1',
    });
    expect(r.error).toBeUndefined();
    expect(r.result).toMatchObject({ shards: 3, withinTolerance: false });
    expect(seriesNamed('utilization_collection_shards_failed').at(-1)?.value).toBe(1);
  },

  async 'Observatory-MskRollback/ValidateInput'(f) {
    const input = JSON.parse(readFileSync(join(ROOT, 'lambdas/msk-rollback/example-input.json'), 'utf8'));
    const r = await invoke(f, {
      input,
      execution: {
        id: planOf().execution.arn,
        name: planOf().execution.name,
        startTime: planOf().execution.startTime,
      },
      stateMachineArn: planOf().stateMachineArn,
    });
    expect(r.error).toBeUndefined();
    // The clusters and defaults come from the function's environment, as synthesized from the config.
    expect(r.result).toEqual(JSON.parse(JSON.stringify(planOf())));
  },

  async 'Observatory-MskRollback/ValidateClusters'(f) {
    const plan = planOf();
    aws.on('kafka', (req) => {
      const arn = decodeURIComponent(req.path.replace(/^\/api\/v2\/clusters\//, ''));
      if (req.method !== 'GET' || !req.path.startsWith('/api/v2/clusters/')) return undefined;
      return json({
        clusterInfo: {
          clusterArn: arn,
          clusterName: arn.split('/')[1],
          clusterType: 'PROVISIONED',
          state: 'ACTIVE',
          currentVersion: 'K3AEGXETSR30VB',
          creationTime: '2025-06-01T10:00:00.000Z',
          provisioned: {
            currentBrokerSoftwareInfo: { kafkaVersion: '3.9.x' },
            numberOfBrokerNodes: 3,
            brokerNodeGroupInfo: {
              clientSubnets: [
                'subnet-0a1b2c3d4e5f61001',
                'subnet-0a1b2c3d4e5f61002',
                'subnet-0a1b2c3d4e5f61003',
              ],
              instanceType: 'kafka.m7g.large',
              securityGroups: ['sg-0f1e2d3c4b5a69788'],
            },
            clientAuthentication: { sasl: { iam: { enabled: true } } },
          },
        },
      });
    });
    const subnetXml = (id: string, i: number) =>
      `<item><subnetId>${id}</subnetId><vpcId>vpc-0a1b2c3d4e5f60001</vpcId><cidrBlock>10.10.${i}.0/24</cidrBlock><availabilityZone>eu-west-1${'abc'[i % 3]}</availabilityZone><state>available</state></item>`;
    aws.on('ec2', (req) => {
      if (req.operation === 'DescribeSubnets') {
        const ids = [...req.form!.entries()].filter(([k]) => k.startsWith('SubnetId.')).map(([, v]) => v);
        return ec2Xml('DescribeSubnets', `<subnetSet>${ids.map(subnetXml).join('')}</subnetSet>`);
      }
      if (req.operation === 'DescribeSecurityGroups') {
        const ids = [...req.form!.entries()].filter(([k]) => k.startsWith('GroupId.')).map(([, v]) => v);
        return ec2Xml(
          'DescribeSecurityGroups',
          `<securityGroupInfo>${ids
            .map(
              (id) =>
                `<item><groupId>${id}</groupId><groupName>${id}</groupName><vpcId>vpc-0a1b2c3d4e5f60001</vpcId><ipPermissions><item><ipProtocol>tcp</ipProtocol><fromPort>9098</fromPort><toPort>9098</toPort><groups><item><groupId>sg-0a1b2c3d4e5f65001</groupId></item></groups><ipRanges/></item></ipPermissions></item>`,
            )
            .join('')}</securityGroupInfo>`,
        );
      }
      return undefined;
    });
    aws.on('states', (req) =>
      req.operation === 'ListExecutions'
        ? json({ executions: [] }, 200, { 'content-type': 'application/x-amz-json-1.0' })
        : undefined,
    );
    const r = await invoke(f, { plan });
    expect(r.error).toBeUndefined();
    expect(r.result).toEqual({
      source: { kafkaVersion: '3.9.x', clusterType: 'PROVISIONED' },
      target: { kafkaVersion: '3.9.x', clusterType: 'PROVISIONED' },
    });
  },

  async 'Observatory-MskRollback/DiscoverTopics'(f) {
    await kafkaCase(f, { plan: planOf(), brokers: brokerList() });
  },

  async 'Observatory-MskRollback/RenderConfig'(f) {
    aws.on('s3', answerS3);
    const r = await invoke(f, { plan: planOf(), brokers: brokerList(9098) });
    expect(r.error).toBeUndefined();
    const rendered = r.result as { s3Uri: string; sha256: string };
    const key = `/${deployed().CONFIG_BUCKET}/executions/${planOf().execution.name}/mm2.properties`;
    expect(rendered.s3Uri).toBe(`s3:/${key}`);
    const properties = s3Objects.get(key)!;
    expect(createHash('sha256').update(properties).digest('hex')).toBe(rendered.sha256);
    expect(properties).toContain(
      'replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy',
    );
  },

  async 'Observatory-MskRollback/PollReplication'(f) {
    // The task has stopped: the poll counts a restart and writes its gauges without reading Kafka.
    const taskArn = `arn:aws:ecs:eu-west-1:${ACCOUNT}:task/observatory-mm2/0a1b2c3d4e5f60718293a4b5c6d7e8f9`;
    aws.on('ecs', (req) =>
      req.operation === 'DescribeTasks'
        ? json({
            tasks: [
              {
                taskArn,
                lastStatus: 'STOPPED',
                desiredStatus: 'STOPPED',
                stopCode: 'EssentialContainerExited',
                stoppedReason: 'Essential container in task exited',
                containers: [{ name: 'mm2', lastStatus: 'STOPPED', exitCode: 137 }],
                tags: [{ key: 'observatory:execution-arn', value: planOf().execution.arn }],
              },
            ],
            failures: [],
          })
        : undefined,
    );
    aws.on('aps', answerRemoteWrite);
    const before = written.length;
    const r = await invoke(f, {
      plan: planOf(),
      brokers: brokerList(),
      taskArn,
      poll: { phase: 'converge', restarts: 0, polls: 3, startedAt: '2026-03-02T09:01:00.000Z', baseline: {} },
    });
    expect(r.error).toBeUndefined();
    expect(r.result).toMatchObject({ phase: 'converge', polls: 4 });
    expect(written.slice(before).length).toBeGreaterThan(0);
    expect(written.slice(before).every((w) => w.signed)).toBe(true);
  },

  async 'Observatory-MskRollback/RequestApproval'(f) {
    aws.on('sns', answerSns);
    const r = await invoke(f, {
      token: 'AQCEAAAAKgAAAAMAAAAAAAAAAfake-task-token',
      plan: planOf(),
      poll: {
        phase: 'converge',
        restarts: 0,
        polls: 12,
        startedAt: '2026-03-02T09:01:00.000Z',
        baseline: {},
      },
    });
    expect(r.error).toBeUndefined();
    const subject = (r.result as { subject: string }).subject;
    expect(published.at(-1)).toMatchObject({ topic: deployed().ALERT_TOPIC_ARN, subject });
    expect(published.at(-1)!.message).toContain('AQCEAAAAKgAAAAMAAAAAAAAAAfake-task-token');
  },

  async 'Observatory-MskRollback/StopReplication'(f) {
    const arn = planOf().execution.arn;
    const task = (id: string, execution: string) => ({
      taskArn: `arn:aws:ecs:eu-west-1:${ACCOUNT}:task/observatory-mm2/${id}`,
      lastStatus: 'RUNNING',
      desiredStatus: 'RUNNING',
      tags: [{ key: 'observatory:execution-arn', value: execution }],
    });
    const tasks = [task('1111aaaa', arn), task('2222bbbb', `${arn}-other`)];
    const stopped: string[] = [];
    aws.on('ecs', (req) => {
      if (req.operation === 'ListTasks') return json({ taskArns: tasks.map((t) => t.taskArn) });
      if (req.operation === 'DescribeTasks') return json({ tasks, failures: [] });
      if (req.operation === 'StopTask') {
        stopped.push(String(req.json!.task));
        return json({ task: { ...tasks[0], desiredStatus: 'STOPPED' } });
      }
      return undefined;
    });
    const r = await invoke(f, { executionArn: arn, reason: 'approved' });
    expect(r.error).toBeUndefined();
    expect(r.result).toEqual({ executionArn: arn, stopped: [tasks[0]!.taskArn] });
    expect(stopped).toEqual([tasks[0]!.taskArn]);
  },

  async 'Observatory-MskRollback/VerifyOffsets'(f) {
    await kafkaCase(f, { plan: planOf(), brokers: brokerList(), stopped: { stopped: [] } });
  },
};

/** MSK broker host names (TLS names; the port is the loopback listener's). */
const BROKER_HOSTS = {
  source: [1, 2, 3].map((b) => `b-${b}.ordersv2.abc123.c2.kafka.eu-west-1.amazonaws.com`),
  target: [1, 2, 3].map((b) => `b-${b}.ordersv3.def456.c3.kafka.eu-west-1.amazonaws.com`),
};

/** The AWS host names served on loopback over TLS, with one certificate for them all. */
const TLS_HOSTS = [
  ...BROKER_HOSTS.source,
  ...BROKER_HOSTS.target,
  'aps-workspaces.eu-west-1.amazonaws.com',
  'sqs.eu-west-1.amazonaws.com',
];

/**
 * Bootstrap brokers named as MSK names them.
 * @param port the loopback broker's (the default), or 9098 (MSK's IAM listener) for code that only renders them
 */
function brokerList(port = brokers.port) {
  const list = (hosts: string[]) => hosts.map((h) => `${h}:${port}`).join(',');
  return { source: list(BROKER_HOSTS.source), target: list(BROKER_HOSTS.target) };
}

/**
 * A Kafka-reading function: its admin client must resolve the MSK broker names, open TLS (verifying the
 * broker's certificate) and send a Kafka request with the project's client ID; the loopback broker then
 * closes the connection, which fails the invocation with the client's connection error.
 */
async function kafkaCase(f: SynthesizedFunction, event: unknown) {
  const before = brokers.clientIds.length;
  const r = await invoke(f, event);
  expect(r.ok).toBe(false);
  expect(r.error!.name).toMatch(/^KafkaJS/);
  expect(brokers.clientIds.slice(before)).toContain('infra-observatory-mm2');
}

/** A probe asset: the schedule's payload as synthesized; targets, discovery and mesh all on loopback. */
async function probeCase(f: SynthesizedFunction) {
  const schedule = resourceFor(f, 'AWS::Scheduler::Schedule') as { Target: { Input: string } };
  const event = JSON.parse(schedule.Target.Input) as { source: { region: string; azId: string } };
  aws.on('aps', answerRemoteWrite);
  aws.on('ec2', (req) => {
    if (req.operation === 'DescribeInstances')
      return ec2Xml(
        'DescribeInstances',
        `<reservationSet><item><reservationId>r-0fake</reservationId><ownerId>${ACCOUNT}</ownerId><instancesSet><item><instanceId>i-0a1b2c3d4e5f60718</instanceId><instanceState><code>16</code><name>running</name></instanceState><privateIpAddress>127.0.0.1</privateIpAddress><placement><availabilityZone>${event.source.region}a</availabilityZone></placement><tagSet><item><key>observatory:probe</key><value>true</value></item><item><key>observatory:port</key><value>${tcp.port}</value></item><item><key>Name</key><value>tagged-loopback</value></item></tagSet></item></instancesSet></item></reservationSet>`,
      );
    if (req.operation === 'DescribeVpcEndpoints')
      return ec2Xml(
        'DescribeVpcEndpoints',
        `<vpcEndpointSet><item><vpcEndpointId>${req.form!.get('VpcEndpointId.1')}</vpcEndpointId><vpcEndpointType>Interface</vpcEndpointType><networkInterfaceIdSet><item>eni-0a1b2c3d4e5f60001</item></networkInterfaceIdSet></item></vpcEndpointSet>`,
      );
    if (req.operation === 'DescribeNetworkInterfaces')
      return ec2Xml(
        'DescribeNetworkInterfaces',
        `<networkInterfaceSet><item><networkInterfaceId>eni-0a1b2c3d4e5f60001</networkInterfaceId><availabilityZone>${event.source.region}b</availabilityZone><privateIpAddress>127.0.0.1</privateIpAddress></item></networkInterfaceSet>`,
      );
    return undefined;
  });
  aws.on('servicediscovery', (req) => {
    switch (req.operation) {
      case 'ListNamespaces':
        return json({ Namespaces: [{ Id: 'ns-fake1', Name: 'prod.internal', Type: 'DNS_PRIVATE' }] });
      case 'ListServices':
        return json({ Services: [{ Id: 'srv-fake1', Name: 'payments' }] });
      case 'ListInstances':
        return json({
          Instances: [
            {
              Id: 'i-cm-1',
              Attributes: { AWS_INSTANCE_IPV4: '127.0.0.1', AWS_INSTANCE_PORT: String(tcp.port) },
            },
          ],
        });
      default:
        return undefined;
    }
  });
  const before = written.length;
  const r = await invoke(f, event);
  expect(r.error).toBeUndefined();
  const summary = r.result as { succeeded: number; failed: number; remoteWriteOk: boolean };
  expect(summary.remoteWriteOk).toBe(true);
  // The two configured targets and the EC2- and Cloud Map-discovered ones answer; the mesh ENI does too.
  expect(summary.succeeded).toBeGreaterThanOrEqual(4);
  const mine = written.slice(before);
  expect(mine.every((w) => w.signed)).toBe(true);
  const targets = new Set(mine.flatMap((w) => w.series.map((s) => s.labels.target)));
  expect([...targets]).toEqual(expect.arrayContaining(['loopback-tcp', 'loopback-http']));
  const probeSeries = mine.flatMap((w) => w.series).filter((s) => s.labels.target !== undefined);
  expect(probeSeries.length).toBeGreaterThan(0);
  expect(new Set(probeSeries.map((s) => s.labels.source_az_id))).toEqual(new Set([event.source.azId]));
}

/**
 * The AWS network performance reader: its bundled pairs read, each answered in the EC2 query
 * protocol's XML, and one sample per pair and gauge remote-written.
 */
async function networkPerformanceCase(f: SynthesizedFunction) {
  const end = new Date(Math.floor(Date.now() / 300_000) * 300_000);
  aws.on('aps', answerRemoteWrite);
  aws.on('ec2', (req) => {
    if (req.operation !== 'GetAwsNetworkPerformanceData') return undefined;
    const items = [...req.form!.keys()]
      .flatMap((k) => /^DataQuer\w*\.(\d+)\.Id$/.exec(k)?.[1] ?? [])
      .map((n) => {
        const q = (field: string) => req.form!.get(`DataQuery.${n}.${field}`) ?? '';
        return `<item><id>${q('Id')}</id><source>${q('Source')}</source><destination>${q('Destination')}</destination><metric>aggregate-latency</metric><statistic>p50</statistic><period>five-minutes</period><metricPointSet><item><startDate>${new Date(end.getTime() - 300_000).toISOString()}</startDate><endDate>${end.toISOString()}</endDate><value>0.41</value><status>OK</status></item></metricPointSet></item>`;
      });
    return ec2Xml('GetAwsNetworkPerformanceData', `<dataResponseSet>${items.join('')}</dataResponseSet>`);
  });
  const pairs = JSON.parse(
    readFileSync(join(f.assetDir, 'network-performance-pairs.json'), 'utf8'),
  ) as unknown[];
  expect(pairs.length).toBeGreaterThan(0);
  const before = written.length;
  const r = await invoke(f, {});
  expect(r.error).toBeUndefined();
  expect(r.result).toMatchObject({
    pairs: pairs.length,
    empty: [],
    samples: pairs.length * 3,
    remoteWriteOk: true,
  });
  const mine = written.slice(before);
  expect(mine.every((w) => w.signed)).toBe(true);
  const latency = mine
    .flatMap((w) => w.series)
    .filter((s) => s.labels.__name__ === 'aws_network_performance_latency_p50_seconds');
  expect(latency.map((s) => s.value)).toEqual(pairs.map(() => 0.00041));
  expect(new Set(latency.map((s) => s.labels.source_region))).toEqual(new Set([f.region]));
}

function resourceForType(f: SynthesizedFunction, type: string): Record<string, unknown> {
  const hits = Object.values(f.template.Resources).filter((r) => r.Type === type);
  if (hits.length !== 1) throw new Error(`${f.stack}: ${hits.length} resources of type ${type}`);
  const { ServiceToken: _token, ...properties } = hits[0]!.Properties!;
  return properties;
}

function customResourceEvent(type: string, properties: Record<string, unknown>) {
  return {
    RequestType: 'Create',
    ServiceToken: 'arn:aws:lambda:eu-west-1:111111111111:function:provider',
    ResponseURL: 'https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/fake',
    StackId: `arn:aws:cloudformation:eu-west-1:${ACCOUNT}:stack/fake/1a2b3c4d`,
    RequestId: 'a1b2c3d4-0000-4000-8000-000000000001',
    LogicalResourceId: 'Resource',
    ResourceType: type,
    ResourceProperties: properties,
  };
}

describe('Lambda assets as synthesized, each invoked once in Node 22', () => {
  beforeAll(async () => {
    const cert = makeCert(30, TLS_HOSTS.map((h) => `DNS:${h}`).join(','), TLS_HOSTS[0]);
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, 'loopback-ca.pem'), cert.cert);
    aws = await startAwsHttpFake(cert);
    xray = createSocket('udp4');
    xray.on('message', (m) => xraySegments.push(m.toString('utf8')));
    await new Promise<void>((resolve) => xray.bind(0, '127.0.0.1', resolve));
    tcp = await startTcpServer();
    web = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    brokers = await startBrokers(cert);
    synth = synthApp(testConfig(), {
      bundle: true,
      context: { 'aws:cdk:enable-asset-metadata': true, 'aws:cdk:enable-path-metadata': true },
    });
    functions = synthesizedFunctions(synth.outdir);
  }, 300_000);
  afterAll(async () => {
    await Promise.allSettled([
      aws?.close(),
      tcp?.close(),
      new Promise<void>((resolve) => (web ? web.close(() => resolve()) : resolve())),
      new Promise<void>((resolve) => (brokers ? brokers.server.close(() => resolve()) : resolve())),
    ]);
    xray?.close();
    synth?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it('has a case for every asset the synth produced, and none for one it did not', () => {
    const names = [...byAsset(functions).keys()].sort();
    expect(names.length).toBeGreaterThanOrEqual(15);
    expect(names).toEqual(Object.keys(CASES).sort());
  });

  for (const [name, run] of Object.entries(CASES)) {
    it(`runs ${name} to its result`, async () => {
      const f = byAsset(functions).get(name);
      expect(f, `no synthesized function for ${name}`).toBeDefined();
      const unansweredBefore = aws.unanswered.length;
      await run(f!);
      expect(aws.unanswered.slice(unansweredBefore)).toEqual([]);
    }, 120_000);
  }
});

/** A TLS listener for the MSK broker names that reads a Kafka request's client ID, then closes. */
async function startBrokers(cert: TestCert): Promise<typeof brokers> {
  const clientIds: string[] = [];
  const server = createTlsServer({ key: cert.key, cert: cert.cert }, (socket) => {
    socket.once('data', (data: Buffer) => {
      // Request header v1+: size INT32, api_key INT16, api_version INT16, correlation_id INT32,
      // client_id STRING (INT16 length + bytes).
      const length = data.readInt16BE(12);
      clientIds.push(data.subarray(14, 14 + length).toString('utf8'));
      socket.destroy();
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, clientIds, cert };
}
