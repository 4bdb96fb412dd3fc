import { PricingClient } from '@aws-sdk/client-pricing';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { metrics } from '#shared/powertools';
import { RemoteWriteClient } from '#shared/remote-write';
import { AwsPriceList, CachedPrices } from '#utilization/pricing';
import type { SampleSink } from '#utilization/report-gauges';
import {
  createReportHandler,
  type ReportDeps,
  s3ReportStore,
  snsNotifier,
  snsSubject,
} from '#utilization/report-handler';
import { storeBatch } from '#utilization/store';
import { UnderUsePolicySchema } from '../../lib/config/schema.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { type LocalPrometheus, startPrometheus } from '../support/prometheus.ts';
import { mockPricing } from './pricing-fixtures.ts';
import { makeBatch } from './store-fixtures.ts';

const s3 = mockClient(S3Client);
const sns = mockClient(SNSClient);
const pricing = mockPricing();
let pg: TestDatabase;
let prom: LocalPrometheus;
// Samples must be recent for Prometheus to take them: the data ends at the last full hour.
const NOW = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 + 5 * 60_000);
const AS_OF = new Date(NOW.getTime() - 5 * 60_000);

const context = {
  getRemainingTimeInMillis: () => 60_000,
  functionName: 'observatory-report',
  awsRequestId: 'req-1',
} as Context;

function deps(sink: SampleSink): ReportDeps {
  return {
    db: pg.db,
    prices: new CachedPrices(new AwsPriceList(new PricingClient({ region: 'us-east-1' }))),
    store: s3ReportStore(new S3Client({ region: 'eu-west-1' }), 'observatory-reports-999988887777'),
    notifier: snsNotifier(
      new SNSClient({ region: 'eu-west-1' }),
      'arn:aws:sns:eu-west-1:999988887777:observatory-reports',
    ),
    sink,
    policy: UnderUsePolicySchema.parse({}),
    prefix: 'reports/',
    location: 's3://observatory-reports-999988887777/',
    now: () => NOW,
  };
}

beforeAll(async () => {
  [pg, prom] = await Promise.all([createTestDatabase(), startPrometheus()]);
  // Two idle m5.large instances with 15 days of hourly data, one stored shard.
  const batch = makeBatch({
    resources: 2,
    periods: 15 * 24,
    periodSeconds: 3600,
    windowStart: new Date(AS_OF.getTime() - 15 * 86_400_000),
    collectedAt: new Date(AS_OF.getTime() - 60_000),
    metrics: [
      { metric: 'CPUUtilization', statistic: 'Average', unit: 'Percent' },
      { metric: 'NetworkIn', statistic: 'Average', unit: 'Bytes' },
    ],
    value: (_r, _p, m) => (m === 0 ? 1.5 : 2000),
  });
  expect((await storeBatch(pg.db, batch)).outcome).toBe('stored');
}, 120_000);
afterAll(async () => {
  pricing.restore();
  s3.restore();
  sns.restore();
  await Promise.allSettled([pg?.drop(), prom?.stop()]);
});
beforeEach(() => {
  s3.reset();
  sns.reset();
  s3.on(PutObjectCommand).resolves({ ETag: '"9b2cf535f27731c974343645a3985328"' });
  sns.on(PublishCommand).resolves({ MessageId: '95df01b4-ee98-5cb9-9903-4c221d41eb5e' });
});

describe('report handler', () => {
  it('writes CSV, Markdown and JSON to S3, mails a summary and pushes gauges that Prometheus stores', async () => {
    const handler = createReportHandler(
      deps(new RemoteWriteClient({ url: prom.remoteWriteUrl, sigv4: false })),
    );
    const result = await handler({ mode: 'full', asOf: AS_OF.toISOString() }, context);
    expect(result).toMatchObject({ mode: 'full', findings: 2, monthlyUsd: 156.22, gaugesOk: true });

    const day = NOW.toISOString().slice(0, 10).replace(/-/g, '/');
    const stamp = NOW.toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}Z$/, 'Z');
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => [p.Key, p.ContentType])).toEqual([
      [`reports/${day}/utilization-${stamp}.csv`, 'text/csv; charset=utf-8'],
      ['reports/latest.csv', 'text/csv; charset=utf-8'],
      [`reports/${day}/utilization-${stamp}.md`, 'text/markdown; charset=utf-8'],
      ['reports/latest.md', 'text/markdown; charset=utf-8'],
      [`reports/${day}/utilization-${stamp}.json`, 'application/json'],
      ['reports/latest.json', 'application/json'],
    ]);
    expect(puts.every((p) => p.Bucket === 'observatory-reports-999988887777')).toBe(true);
    expect(JSON.parse(String(puts[4]!.Body)).findings).toHaveLength(2);

    const [publish] = sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
    expect(publish!.TopicArn).toBe('arn:aws:sns:eu-west-1:999988887777:observatory-reports');
    expect(publish!.Subject).toBe('Utilization report: 2 under-used resources, $156.22/month');
    expect(publish!.Message).toContain('1. $78.11/month  ec2 111122223333 eu-west-1 web-0');
    expect(publish!.Message).toContain(
      `- s3://observatory-reports-999988887777/reports/${day}/utilization-${stamp}.md`,
    );

    const count = await prom.query('utilization_underused_resources', NOW);
    expect(count.map((s) => [s.metric, s.value[1]])).toEqual([
      [{ __name__: 'utilization_underused_resources', service: 'ec2', account: '111122223333' }, '2'],
    ]);
    const cost = await prom.query('utilization_underused_monthly_cost_usd', NOW);
    expect(cost[0]!.value[1]).toBe('156.22');
    const last = await prom.query('utilization_collection_last_success_timestamp_seconds', NOW);
    expect(Number(last[0]!.value[1])).toBe((AS_OF.getTime() - 60_000) / 1000);
  });

  it('pushes only health gauges in health mode, and fails when they cannot be written', async () => {
    const written: string[] = [];
    const ok = createReportHandler(
      deps({
        write: async (samples) => {
          written.push(...samples.map((s) => s.name));
          return { ok: true };
        },
      }),
    );
    expect(await ok({ mode: 'health' }, context)).toMatchObject({ mode: 'health', samples: 3 });
    expect(written.sort()).toEqual([
      'utilization_batches_rejected_last_24h',
      'utilization_collection_last_success_timestamp_seconds',
      'utilization_collection_last_window_end_timestamp_seconds',
    ]);
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
    const failing = createReportHandler(deps({ write: async () => ({ ok: false, samplesFailed: 3 }) }));
    await expect(failing({ mode: 'health' }, context)).rejects.toThrow(
      'health gauges not written: 3 samples failed',
    );
  });

  it('delivers the report even when the gauge push fails, and counts the failure', async () => {
    const added: string[] = [];
    const spy = vi.spyOn(metrics, 'addMetric').mockImplementation((name) => {
      added.push(name);
      return metrics;
    });
    try {
      const handler = createReportHandler(
        deps({ write: () => Promise.reject(new Error('connect ECONNREFUSED')) }),
      );
      expect(await handler({}, context)).toMatchObject({ mode: 'full', gaugesOk: false });
    } finally {
      spy.mockRestore();
    }
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(6);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    expect(added).toEqual(['ReportFindings', 'ReportMonthlyCostUsd', 'ReportGaugesFailed']);
  });

  it('rejects an unknown event shape', async () => {
    const handler = createReportHandler(deps({ write: async () => ({ ok: true }) }));
    await expect(handler({ mode: 'weekly' }, context)).rejects.toThrow(/^invalid report event/);
  });

  it('keeps SNS subjects within 100 printable ASCII characters', () => {
    expect(snsSubject(`Report — ${'x'.repeat(200)}`)).toHaveLength(100);
    expect(snsSubject('a\nb')).toBe('ab');
  });
});
