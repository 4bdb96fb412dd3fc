/**
 * The Prometheus gauges the report function pushes (remote-write to AMP), and the port it pushes through.
 *
 * | metric | labels | value |
 * | --- | --- | --- |
 * | `utilization_underused_resources` | service, account | findings of the last report (0 when none) |
 * | `utilization_underused_monthly_cost_usd` | service, account | their estimated monthly on-demand cost |
 * | `utilization_underused_unpriced_resources` | service, account | findings that could not be priced |
 * | `utilization_collection_last_success_timestamp_seconds` | account, region, service | `collectedAt` of the shard's newest stored batch |
 * | `utilization_collection_last_window_end_timestamp_seconds` | account, region, service | end of the shard's newest stored window |
 * | `utilization_batches_rejected_last_24h` | account, region, service | rejected deliveries in the last 24 hours |
 * | `utilization_report_last_success_timestamp_seconds` | (none) | when this report was generated |
 * | `utilization_rightsizing_savings_monthly_usd` | service, account | monthly saving of the rightsizing recommendations (0 when none) |
 * | `utilization_rightsizing_recommendations` | service, account | recommendations of the last report |
 * | `utilization_capacity_forecast_days` | service, account, resource (ARN), metric (`cpu`, `storage`) | days until the forecast crossing (0: reached) |
 * | `utilization_capacity_forecast_alert_days` | (none) | `utilization.forecastAlertDays`, the rule's threshold |
 *
 * Every sample is stamped with the report's generation time. The alert rules in
 * lib/observability/rules/utilization.yml read them with `last_over_time(...)`, because a gauge pushed
 * once an hour is older than PromQL's 5-minute lookback between pushes.
 */
import type { UtilizationReport } from './report.ts';

/** One sample (the shape of `Sample` in #shared/remote-write). */
export interface GaugeSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestampMs: number;
}

/** Port: writes samples (RemoteWriteClient from #shared/remote-write satisfies it). */
export interface SampleSink {
  write(
    samples: GaugeSample[],
    options: { deadline: number },
  ): Promise<{ ok: boolean; samplesFailed?: number }>;
}

/** Metric names, exported so rules, dashboards and tests share one spelling. */
export const GAUGES = {
  underusedResources: 'utilization_underused_resources',
  underusedMonthlyCostUsd: 'utilization_underused_monthly_cost_usd',
  underusedUnpricedResources: 'utilization_underused_unpriced_resources',
  collectionLastSuccess: 'utilization_collection_last_success_timestamp_seconds',
  collectionLastWindowEnd: 'utilization_collection_last_window_end_timestamp_seconds',
  batchesRejectedLast24h: 'utilization_batches_rejected_last_24h',
  reportLastSuccess: 'utilization_report_last_success_timestamp_seconds',
  rightsizingSavingsMonthlyUsd: 'utilization_rightsizing_savings_monthly_usd',
  rightsizingRecommendations: 'utilization_rightsizing_recommendations',
  capacityForecastDays: 'utilization_capacity_forecast_days',
  capacityForecastAlertDays: 'utilization_capacity_forecast_alert_days',
} as const;

/**
 * The gauges of a report.
 * @param report the report
 * @param options.findings include the finding gauges and the report timestamp (false for a health-only push)
 * @default options.findings true
 */
export function reportSamples(
  report: UtilizationReport,
  options: { findings?: boolean } = {},
): GaugeSample[] {
  const timestampMs = Date.parse(report.generatedAt);
  const samples: GaugeSample[] = [];
  const add = (name: string, labels: Record<string, string>, value: number) =>
    samples.push({ name, labels, value, timestampMs });
  if (options.findings ?? true) {
    for (const t of report.totals) {
      const labels = { service: t.service, account: t.accountId };
      add(GAUGES.underusedResources, labels, t.findings);
      add(GAUGES.underusedMonthlyCostUsd, labels, t.monthlyUsd);
      add(GAUGES.underusedUnpricedResources, labels, t.unpriced);
    }
    // Every service and account of the totals gets a value, 0 without recommendations.
    const savings = new Map(report.totals.map((t) => [`${t.service}\u0000${t.accountId}`, { usd: 0, n: 0 }]));
    for (const r of report.rightsizing) {
      const key = `${r.service}\u0000${r.accountId}`;
      const s = savings.get(key) ?? { usd: 0, n: 0 };
      s.usd = Math.round((s.usd + r.monthlySavingUsd) * 100) / 100;
      s.n++;
      savings.set(key, s);
    }
    for (const [key, s] of savings) {
      const [service, account] = key.split('\u0000') as [string, string];
      add(GAUGES.rightsizingSavingsMonthlyUsd, { service, account }, s.usd);
      add(GAUGES.rightsizingRecommendations, { service, account }, s.n);
    }
    for (const f of report.forecasts) {
      add(
        GAUGES.capacityForecastDays,
        { service: f.service, account: f.accountId, resource: f.resourceArn, metric: f.metric },
        Math.round(f.daysToCross * 100) / 100,
      );
    }
    add(GAUGES.capacityForecastAlertDays, {}, report.advice.forecastAlertDays);
  }
  for (const s of report.shards) {
    const labels = { account: s.accountId, region: s.region, service: s.service };
    if (s.lastSuccessSeconds !== undefined) add(GAUGES.collectionLastSuccess, labels, s.lastSuccessSeconds);
    if (s.lastWindowEndSeconds !== undefined)
      add(GAUGES.collectionLastWindowEnd, labels, s.lastWindowEndSeconds);
    add(GAUGES.batchesRejectedLast24h, labels, s.rejectedLast24h);
  }
  if (options.findings ?? true) add(GAUGES.reportLastSuccess, {}, timestampMs / 1000);
  return samples;
}
