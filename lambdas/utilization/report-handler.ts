/**
 * Report function: builds the under-use report from the utilization database, writes it to S3 (CSV,
 * Markdown, JSON; dated keys plus `latest.*`), publishes a summary to SNS and pushes gauges to AMP.
 *
 * Event (EventBridge Scheduler input, validated): `{ "mode": "full" | "health", "asOf"?: ISO-8601 }`.
 * - `full` (default; e.g. daily): the whole report, S3, SNS, then every gauge. A failed gauge push is
 *   logged and counted (ReportGaugesFailed) but does not fail the run: the report is already delivered
 *   and a retry would e-mail it twice.
 * - `health` (e.g. every 15 minutes): only the collection-health gauges from the batch ledger, cheap,
 *   no pricing, S3 or SNS; a failed push fails the run. This keeps the "collection stale" alert fed
 *   between daily reports.
 *
 * Environment: database (`DB_CLUSTER_ARN`, `DB_SECRET_ARN`, `DB_NAME` or `DATABASE_URL`);
 * `REPORT_BUCKET`, `REPORT_PREFIX` (default `reports/`), `REPORT_TOPIC_ARN`, `REMOTE_WRITE_URL` (AMP
 * remote-write URL), `UNDERUSE_POLICY` (JSON of `UnderUsePolicySchema`, defaults when absent),
 * `PRICING_REGION` (default us-east-1).
 *
 * Metrics: ReportFindings, ReportMonthlyCostUsd (None), ReportGaugesFailed (Count).
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { PricingClient } from '@aws-sdk/client-pricing';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import {
  type AdvicePolicy,
  AdvicePolicySchema,
  type UnderUsePolicy,
  UnderUsePolicySchema,
} from '#contracts/utilization';
import { type Db, dbFromEnv, retryWhileResuming } from '#shared/db/client';
import { explainError } from '#shared/explain-error';
import { logger, metrics, observed, traced } from '#shared/powertools';
import { RemoteWriteClient } from '#shared/remote-write';
import { AwsPriceList, CachedPrices, type PricePort } from './pricing.ts';
import { buildReport, shardHealth, type UtilizationReport } from './report.ts';
import {
  countResources,
  toCsv,
  toJson,
  toMarkdown,
  totalMonthlyUsd,
  totalSavingUsd,
  usd,
} from './report-format.ts';
import { reportSamples, type SampleSink } from './report-gauges.ts';

/** The report function's event. */
export const ReportEventSchema = z
  .strictObject({
    mode: z.enum(['full', 'health']).default('full'),
    /** End of the judged windows; defaults to the invocation time. */
    asOf: z.iso.datetime({ offset: true }).optional(),
  })
  .default({ mode: 'full' });
export type ReportEvent = z.infer<typeof ReportEventSchema>;

/** Port: stores a rendered report file. */
export interface ReportStore {
  put(key: string, body: string, contentType: string): Promise<void>;
}

/** Port: announces a report. */
export interface Notifier {
  publish(subject: string, message: string): Promise<void>;
}

/** Writes report files to an S3 bucket. */
export function s3ReportStore(s3: S3Client, bucket: string): ReportStore & { bucket: string } {
  return {
    bucket,
    async put(key, body, contentType) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
    },
  };
}

/** Publishes to an SNS topic. */
export function snsNotifier(sns: SNSClient, topicArn: string): Notifier {
  return {
    async publish(subject, message) {
      await sns.send(new PublishCommand({ TopicArn: topicArn, Subject: subject, Message: message }));
    },
  };
}

/** What the report function needs. */
export interface ReportDeps {
  readonly db: Db;
  readonly prices: PricePort;
  readonly store: ReportStore;
  readonly notifier: Notifier;
  readonly sink: SampleSink;
  readonly policy: UnderUsePolicy;
  /** Rightsizing and trend settings. @default AdvicePolicySchema defaults */
  readonly advice?: AdvicePolicy;
  /** Key prefix of report files, ending in `/`. */
  readonly prefix: string;
  /** Where files are described in the summary, e.g. `s3://bucket/`. */
  readonly location: string;
  readonly now?: () => Date;
}

/** What one run did. */
export interface ReportRunResult {
  readonly mode: 'full' | 'health';
  readonly findings: number;
  readonly monthlyUsd: number;
  readonly keys: string[];
  readonly samples: number;
  readonly gaugesOk: boolean;
}

/** SNS subjects: at most 100 printable ASCII characters, no line breaks. */
export function snsSubject(text: string): string {
  const ascii = text.replace(/[^\x20-\x7e]/g, '');
  return ascii.length <= 100 ? ascii : `${ascii.slice(0, 99)}~`;
}

/** The plain-text summary mailed through SNS: totals, the top findings, where the files are. */
export function summaryMessage(report: UtilizationReport, files: string[], top = 10): string {
  const lines = [
    `${countResources(report.findings.length)}, about ${usd(totalMonthlyUsd(report))} a month at on-demand list prices.`,
    `Data up to ${report.asOf}.`,
    '',
  ];
  report.findings.slice(0, top).forEach((f, i) => {
    lines.push(
      `${i + 1}. ${usd(f.monthlyUsd)}/month  ${f.service} ${f.accountId} ${f.region} ${f.name}`,
      `   ${f.reason}`,
      `   ${f.resourceArn}`,
    );
  });
  if (report.findings.length > top)
    lines.push(`... and ${report.findings.length - top} more in the full report.`);
  if (report.rightsizing.length)
    lines.push(
      '',
      `Rightsizing: ${report.rightsizing.length} changes, about ${usd(totalSavingUsd(report))} a month saved (largest: ${report.rightsizing[0]!.name}, ${report.rightsizing[0]!.current.option} -> ${report.rightsizing[0]!.recommended.option}).`,
    );
  if (report.forecasts.length) {
    const f = report.forecasts[0]!;
    lines.push(
      '',
      `Running out: ${report.forecasts.length} forecasts; soonest ${f.name} ${f.metric} ${f.thresholdPercent}% on ${f.crossesAt.slice(0, 10)}.`,
    );
  }
  const stale = report.shards.filter((s) => s.rejectedLast24h > 0);
  if (stale.length) {
    lines.push('', 'Rejected batches in the last 24 hours:');
    for (const s of stale) lines.push(`- ${s.accountId} ${s.region} ${s.service}: ${s.rejectedLast24h}`);
  }
  lines.push('', 'Full report:', ...files.map((f) => `- ${f}`));
  return lines.join('\n');
}

/**
 * One run of the report function.
 * @param event validated event
 * @param deps ports and settings
 * @param deadline epoch ms by which the gauge push must finish
 */
export async function runReport(
  event: ReportEvent,
  deps: ReportDeps,
  deadline: number,
): Promise<ReportRunResult> {
  const now = deps.now ?? (() => new Date());
  const asOf = event.asOf ? new Date(event.asOf) : now();

  if (event.mode === 'health') {
    const shards = await retryWhileResuming(() => shardHealth(deps.db, now()));
    const report: UtilizationReport = {
      generatedAt: now().toISOString(),
      asOf: asOf.toISOString(),
      policy: deps.policy,
      findings: [],
      totals: [],
      shards,
      advice: deps.advice ?? AdvicePolicySchema.parse({}),
      rightsizing: [],
      forecasts: [],
      trends: { series: 0, forecasts: 0, tooLittleHistory: 0, noForecast: 0 },
    };
    const samples = reportSamples(report, { findings: false });
    const result = await deps.sink.write(samples, { deadline });
    if (!result.ok)
      throw new Error(`health gauges not written: ${result.samplesFailed ?? samples.length} samples failed`);
    logger.info('health gauges pushed', { shards: shards.length, samples: samples.length });
    return { mode: 'health', findings: 0, monthlyUsd: 0, keys: [], samples: samples.length, gaugesOk: true };
  }

  const report = await retryWhileResuming(() =>
    buildReport(deps.db, deps.prices, deps.policy, {
      asOf,
      now,
      ...(deps.advice ? { advice: deps.advice } : {}),
    }),
  );
  const stamp = report.generatedAt.replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  const day = report.generatedAt.slice(0, 10).replace(/-/g, '/');
  const files = [
    { ext: 'csv', type: 'text/csv; charset=utf-8', body: toCsv(report) },
    { ext: 'md', type: 'text/markdown; charset=utf-8', body: toMarkdown(report) },
    { ext: 'json', type: 'application/json', body: toJson(report) },
  ];
  const keys: string[] = [];
  for (const f of files) {
    for (const key of [
      `${deps.prefix}${day}/utilization-${stamp}.${f.ext}`,
      `${deps.prefix}latest.${f.ext}`,
    ]) {
      await deps.store.put(key, f.body, f.type);
      keys.push(key);
    }
  }
  const monthlyUsd = totalMonthlyUsd(report);
  await deps.notifier.publish(
    snsSubject(`Utilization report: ${countResources(report.findings.length)}, ${usd(monthlyUsd)}/month`),
    summaryMessage(
      report,
      keys.filter((k) => !k.includes('/latest.')).map((k) => `${deps.location}${k}`),
    ),
  );
  metrics.addMetric('ReportFindings', MetricUnit.Count, report.findings.length);
  metrics.addMetric('ReportMonthlyCostUsd', MetricUnit.NoUnit, monthlyUsd);

  const samples = reportSamples(report);
  let gaugesOk = false;
  try {
    const result = await deps.sink.write(samples, { deadline });
    gaugesOk = result.ok;
    if (!result.ok) logger.error('report gauges not written', { samplesFailed: result.samplesFailed });
  } catch (err) {
    logger.error('report gauges not written', { reason: explainError(err), error: err as Error });
  }
  if (!gaugesOk) metrics.addMetric('ReportGaugesFailed', MetricUnit.Count, 1);
  logger.info('report delivered', {
    findings: report.findings.length,
    monthlyUsd,
    keys,
    samples: samples.length,
    gaugesOk,
  });
  return {
    mode: 'full',
    findings: report.findings.length,
    monthlyUsd,
    keys,
    samples: samples.length,
    gaugesOk,
  };
}

/**
 * The handler before the Middy chain.
 * @param deps ports and settings, or a function that creates them on first use
 */
export function createReportHandler(deps: ReportDeps | (() => ReportDeps)) {
  const resolve = typeof deps === 'function' ? deps : () => deps;
  return async (raw: unknown, context: Context): Promise<ReportRunResult> => {
    const parsed = ReportEventSchema.safeParse(raw ?? undefined);
    if (!parsed.success) throw new Error(`invalid report event: ${z.prettifyError(parsed.error)}`);
    // Keep two seconds to log and return after the push.
    const deadline = Date.now() + context.getRemainingTimeInMillis() - 2_000;
    try {
      return await runReport(parsed.data, resolve(), deadline);
    } catch (err) {
      // The root cause in a few lines; the thrown error keeps the whole story for the runtime's log.
      logger.error('report failed', { reason: explainError(err) });
      throw err;
    }
  };
}

const EnvSchema = z.object({
  REPORT_BUCKET: z.string().min(3, 'REPORT_BUCKET must name the report bucket'),
  REPORT_PREFIX: z.string().default('reports/'),
  REPORT_TOPIC_ARN: z.string().regex(/^arn:aws[a-z-]*:sns:/, 'REPORT_TOPIC_ARN must be an SNS topic ARN'),
  REMOTE_WRITE_URL: z.url({ error: 'REMOTE_WRITE_URL must be the AMP remote-write URL' }),
  UNDERUSE_POLICY: z.string().default('{}'),
  ADVICE_POLICY: z.string().default('{}'),
  PRICING_REGION: z.enum(['us-east-1', 'eu-central-1', 'ap-south-1']).default('us-east-1'),
});

let envDeps: ReportDeps | undefined;

function depsFromEnv(): ReportDeps {
  if (!envDeps) {
    const env = EnvSchema.parse(process.env);
    const policy = UnderUsePolicySchema.parse(JSON.parse(env.UNDERUSE_POLICY));
    const advice = AdvicePolicySchema.parse(JSON.parse(env.ADVICE_POLICY));
    const prefix =
      env.REPORT_PREFIX.endsWith('/') || env.REPORT_PREFIX === ''
        ? env.REPORT_PREFIX
        : `${env.REPORT_PREFIX}/`;
    envDeps = {
      db: dbFromEnv(process.env, traced(new RDSDataClient({}))).db,
      prices: new CachedPrices(new AwsPriceList(traced(new PricingClient({ region: env.PRICING_REGION })))),
      store: s3ReportStore(traced(new S3Client({})), env.REPORT_BUCKET),
      notifier: snsNotifier(traced(new SNSClient({})), env.REPORT_TOPIC_ARN),
      sink: new RemoteWriteClient({ url: env.REMOTE_WRITE_URL, sigv4: {} }),
      policy,
      advice,
      prefix,
      location: `s3://${env.REPORT_BUCKET}/`,
    };
  }
  return envDeps;
}

/** Lambda entry point of the report function. */
export const handler = observed(createReportHandler(depsFromEnv));
