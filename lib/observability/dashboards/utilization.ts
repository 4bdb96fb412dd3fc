/**
 * Utilization dashboard: the under-use report's gauges (lambdas/utilization/report-gauges.ts) by service
 * and account, and collection health from the report (per shard) and from each collection run's summary
 * (lambdas/utilization/collection-summary-handler.ts).
 *
 * The report is pushed once a day and the collection summary once a run, so every query reads the
 * latest push with `last_over_time(...[26h])` (a day plus slack for a late schedule) instead of relying
 * on PromQL's 5-minute lookback; time series panels have a one-hour minimum interval.
 */
import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  barGauge,
  baseDashboard,
  type DashboardDefinition,
  finalize,
  labelVariable,
  stat,
  table,
  timeseries,
  warnFrom,
} from './common.ts';

/** UID of the Utilization dashboard. */
export const UTILIZATION_DASHBOARD_UID = 'observatory-utilization';

/** How far back the latest daily push is looked for. */
const LATEST = '26h';
const FINDINGS = 'account=~"$account", service=~"$service"';
const SHARDS = 'account=~"$account", service=~"$service", region=~"$region"';

/** Builds the Utilization dashboard. */
export function utilizationDashboard(): DashboardDefinition {
  const b = baseDashboard(
    UTILIZATION_DASHBOARD_UID,
    'Infra Observatory / Utilization',
    'Under-used resources by service and account with their estimated monthly cost, and the health of the collection that feeds the report.',
  )
    .time({ from: 'now-7d', to: 'now' })
    .withVariable(
      // `.+`, not `.*`: every per-account series has an account, and the run-level gauges have none.
      labelVariable('account', 'utilization_underused_resources', 'account', { label: 'Account' }).allValue(
        '.+',
      ),
    )
    .withVariable(
      labelVariable('service', 'utilization_underused_resources{account=~"$account"}', 'service', {
        label: 'Service',
      }),
    )
    .withVariable(
      labelVariable('region', 'utilization_collection_last_window_end_timestamp_seconds', 'region', {
        label: 'Region',
      }),
    );

  b.withRow(new RowBuilder('Under-used resources'))
    .withPanel(
      stat(
        'Under-used resources',
        'Resources the latest report found idle under the configured policy.',
        [
          {
            expr: `sum(last_over_time(utilization_underused_resources{${FINDINGS}}[${LATEST}]))`,
            instant: true,
          },
        ],
        { unit: 'short' },
      ),
    )
    .withPanel(
      stat(
        'Their monthly cost',
        'Estimated monthly on-demand cost of the under-used resources (AWS Price List, before discounts).',
        [
          {
            expr: `sum(last_over_time(utilization_underused_monthly_cost_usd{${FINDINGS}}[${LATEST}]))`,
            instant: true,
          },
        ],
        { unit: 'currencyUSD', decimals: 0 },
      ),
    )
    .withPanel(
      stat(
        'Unpriced findings',
        'Under-used resources whose price could not be looked up; their cost is not in the total.',
        [
          {
            expr: `sum(last_over_time(utilization_underused_unpriced_resources{${FINDINGS}}[${LATEST}]))`,
            instant: true,
          },
        ],
        { unit: 'short' },
      ),
    )
    .withPanel(
      stat(
        'Report age',
        'Time since the latest under-use report was generated; it runs daily.',
        [
          {
            expr: `time() - max(last_over_time(utilization_report_last_success_timestamp_seconds[${LATEST}]))`,
            instant: true,
          },
        ],
        {
          unit: 's',
          noValue: 'no report in 26 h',
          thresholds: warnFrom(26 * 3600),
        },
      ),
    )
    .withPanel(
      barGauge(
        'Under-used resources by service and account',
        'Findings of the latest report per service and account.',
        [
          {
            expr: `sum by (service, account) (last_over_time(utilization_underused_resources{${FINDINGS}}[${LATEST}]))`,
            legend: '{{service}} {{account}}',
            instant: true,
          },
        ],
        { unit: 'short', min: 0 },
      ),
    )
    .withPanel(
      barGauge(
        'Monthly cost by service and account',
        'Estimated monthly cost of the findings per service and account.',
        [
          {
            expr: `sum by (service, account) (last_over_time(utilization_underused_monthly_cost_usd{${FINDINGS}}[${LATEST}]))`,
            legend: '{{service}} {{account}}',
            instant: true,
          },
        ],
        { unit: 'currencyUSD', decimals: 0, min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Under-used resources over time',
        'Findings of each daily report per service.',
        [
          {
            expr: `sum by (service) (last_over_time(utilization_underused_resources{${FINDINGS}}[${LATEST}]))`,
            legend: '{{service}}',
          },
        ],
        { unit: 'short', min: 0, stacked: true, width: 24 },
      ).interval('1h'),
    );

  b.withRow(new RowBuilder('Collection health'))
    .withPanel(
      stat(
        'Last collection run',
        'Time since the latest collection run ended (any outcome).',
        [
          {
            expr: `time() - max(last_over_time(utilization_collection_last_run_timestamp_seconds[${LATEST}]))`,
            instant: true,
          },
        ],
        { unit: 's', noValue: 'no run in 26 h' },
      ),
    )
    .withPanel(
      stat(
        'Shards in the last run',
        'Account x region x service shards the latest run collected.',
        [{ expr: `max(last_over_time(utilization_collection_shards[${LATEST}]))`, instant: true }],
        { unit: 'short' },
      ),
    )
    .withPanel(
      stat(
        'Shards failed in the last run',
        'Shards the latest run could not collect; the run fails beyond the tolerated percentage.',
        [{ expr: `max(last_over_time(utilization_collection_shards_failed[${LATEST}]))`, instant: true }],
        {
          unit: 'short',
          thresholds: warnFrom(1, 'orange'),
        },
      ),
    )
    .withPanel(
      stat(
        'Rejected batches (24 h)',
        'Batch deliveries the store function rejected in the last 24 hours, all shards.',
        [
          {
            expr: `sum(last_over_time(utilization_batches_rejected_last_24h{${SHARDS}}[${LATEST}]))`,
            instant: true,
          },
        ],
        {
          unit: 'short',
          thresholds: warnFrom(1),
        },
      ),
    )
    .withPanel(
      timeseries(
        'Shards per run',
        'Shards collected and failed by each collection run.',
        [
          { expr: 'max(max_over_time(utilization_collection_shards[$__interval]))', legend: 'shards' },
          { expr: 'max(max_over_time(utilization_collection_shards_failed[$__interval]))', legend: 'failed' },
        ],
        { unit: 'short', min: 0, bars: true },
      ).interval('1h'),
    )
    .withPanel(
      table(
        'Shard freshness',
        'Per account, region and service: time since its newest stored batch was collected, since the end of its newest stored window, and rejected deliveries in 24 hours (from the latest report).',
        [
          {
            expr: `time() - max by (account, region, service) (last_over_time(utilization_collection_last_success_timestamp_seconds{${SHARDS}}[${LATEST}]))`,
            instant: true,
            format: 'table',
          },
          {
            expr: `time() - max by (account, region, service) (last_over_time(utilization_collection_last_window_end_timestamp_seconds{${SHARDS}}[${LATEST}]))`,
            instant: true,
            format: 'table',
          },
          {
            expr: `max by (account, region, service) (last_over_time(utilization_batches_rejected_last_24h{${SHARDS}}[${LATEST}]))`,
            instant: true,
            format: 'table',
          },
        ],
        {
          unit: 's',
          transformations: [
            { id: 'merge', options: {} },
            {
              id: 'organize',
              options: {
                excludeByName: { Time: true },
                renameByName: {
                  'Value #A': 'since last batch',
                  'Value #B': 'since window end',
                  'Value #C': 'rejected 24 h',
                },
              },
            },
          ],
        },
      ).overrideByName('rejected 24 h', [{ id: 'unit', value: 'short' }]),
    )
    .withPanel(
      table(
        'Failed shards',
        'Shards that failed in a collection run of the last 26 hours, with the error.',
        [
          {
            expr: `max by (account, region, service, error) (last_over_time(utilization_collection_shard_failed{${SHARDS}}[${LATEST}]))`,
            instant: true,
            format: 'table',
          },
        ],
        { width: 24, noValue: 'no failed shard' },
      ),
    );

  return finalize(b);
}
