/**
 * Pipeline health dashboard: every function's runs, failures, duration and remote-write failures, from
 * the self-monitoring samples each function pushes at the end of a run (lambdas/shared/self-metrics.ts).
 *
 * Those gauges are per run (no `_total`): runs are counted with `count_over_time`, failures as runs
 * minus successes, remote-write failures with `sum_over_time`. A function that stops pushing shows up
 * as a growing "since last run" (its samples stop, so nothing else would).
 */
import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  baseDashboard,
  type DashboardDefinition,
  finalize,
  labelVariable,
  stat,
  table,
  timeseries,
  warnFrom,
} from './common.ts';

/** UID of the Pipeline health dashboard. */
export const PIPELINE_HEALTH_DASHBOARD_UID = 'observatory-pipeline-health';

const SEL = 'component=~"$component", function=~"$function", region=~"$region"';
const BY = 'component, function, region, az';

/** Builds the Pipeline health dashboard. */
export function pipelineHealthDashboard(): DashboardDefinition {
  const b = baseDashboard(
    PIPELINE_HEALTH_DASHBOARD_UID,
    'Infra Observatory / Pipeline health',
    'Every function of the pipeline: runs, failures, duration, and the samples it wrote or failed to write to AMP.',
  )
    .withVariable(labelVariable('region', 'observatory_run_success', 'region', { label: 'Region' }))
    .withVariable(
      labelVariable('component', 'observatory_run_success{region=~"$region"}', 'component', {
        label: 'Component',
      }),
    )
    .withVariable(
      labelVariable(
        'function',
        'observatory_run_success{region=~"$region", component=~"$component"}',
        'function',
        {
          label: 'Function',
        },
      ),
    );

  const failedRuns = (range: string) =>
    `count_over_time(observatory_run_success{${SEL}}[${range}]) - sum_over_time(observatory_run_success{${SEL}}[${range}])`;

  b.withRow(new RowBuilder('Overview'))
    .withPanel(
      stat(
        'Functions reporting',
        'Function instances (component, function, region, AZ) that reported a run in the last 5 minutes.',
        [{ expr: `count(max by (${BY}) (observatory_run_last_timestamp_seconds{${SEL}}))`, instant: true }],
        { unit: 'short' },
      ),
    )
    .withPanel(
      stat(
        'Failed runs',
        'Runs that failed in the time range, all selected functions.',
        [{ expr: `sum(${failedRuns('$__range')})`, instant: true }],
        {
          unit: 'short',
          thresholds: warnFrom(1),
        },
      ),
    )
    .withPanel(
      stat(
        'Remote-write failures',
        'Remote-write requests that failed in the time range (rejected, retries exhausted, or out of time).',
        [{ expr: `sum(sum_over_time(observatory_remote_write_failures{${SEL}}[$__range]))`, instant: true }],
        {
          unit: 'short',
          thresholds: warnFrom(1),
        },
      ),
    )
    .withPanel(
      stat(
        'Longest since last run',
        'The longest time any selected function has gone without reporting a run in the time range.',
        [
          {
            expr: `max(time() - max by (${BY}) (last_over_time(observatory_run_last_timestamp_seconds{${SEL}}[$__range])))`,
            instant: true,
          },
        ],
        { unit: 's' },
      ),
    )
    .withPanel(
      table(
        'Functions',
        'One row per function instance: time since its last run and last successful run, runs, failed runs and remote-write failures in the time range.',
        [
          {
            expr: `time() - max by (${BY}) (last_over_time(observatory_run_last_timestamp_seconds{${SEL}}[$__range]))`,
            instant: true,
            format: 'table',
          },
          {
            expr: `time() - max by (${BY}) (last_over_time(observatory_run_last_success_timestamp_seconds{${SEL}}[$__range]))`,
            instant: true,
            format: 'table',
          },
          {
            expr: `sum by (${BY}) (count_over_time(observatory_run_success{${SEL}}[$__range]))`,
            instant: true,
            format: 'table',
          },
          { expr: `sum by (${BY}) (${failedRuns('$__range')})`, instant: true, format: 'table' },
          {
            expr: `sum by (${BY}) (sum_over_time(observatory_remote_write_failures{${SEL}}[$__range]))`,
            instant: true,
            format: 'table',
          },
        ],
        {
          width: 24,
          transformations: [
            { id: 'merge', options: {} },
            {
              id: 'organize',
              options: {
                excludeByName: { Time: true },
                renameByName: {
                  'Value #A': 'since last run',
                  'Value #B': 'since last success',
                  'Value #C': 'runs',
                  'Value #D': 'failed runs',
                  'Value #E': 'remote-write failures',
                },
              },
            },
          ],
        },
      )
        .overrideByName('since last run', [{ id: 'unit', value: 's' }])
        .overrideByName('since last success', [{ id: 'unit', value: 's' }]),
    );

  b.withRow(new RowBuilder('Runs'))
    .withPanel(
      timeseries(
        'Runs',
        'Runs per function in each interval.',
        [
          {
            expr: `sum by (component, function) (count_over_time(observatory_run_success{${SEL}}[$__rate_interval]))`,
            legend: '{{component}}/{{function}}',
          },
        ],
        { unit: 'short', min: 0, bars: true, stacked: true },
      ),
    )
    .withPanel(
      timeseries(
        'Failed runs',
        'Runs per function that did not do their work, in each interval.',
        [
          {
            expr: `sum by (component, function) (${failedRuns('$__rate_interval')})`,
            legend: '{{component}}/{{function}}',
          },
        ],
        { unit: 'short', min: 0, bars: true, stacked: true },
      ),
    )
    .withPanel(
      timeseries(
        'Run duration',
        'Longest run per function (observatory_run_duration_seconds); compare with the function timeout.',
        [
          {
            expr: `max by (component, function) (observatory_run_duration_seconds{${SEL}})`,
            legend: '{{component}}/{{function}}',
          },
        ],
        { unit: 's', min: 0 },
      ),
    )
    .withPanel(
      timeseries(
        'Cold starts',
        'Runs that were the first of their execution environment.',
        [
          {
            expr: `sum by (component, function) (sum_over_time(observatory_run_cold_start{${SEL}}[$__rate_interval]))`,
            legend: '{{component}}/{{function}}',
          },
        ],
        { unit: 'short', min: 0, bars: true },
      ),
    );

  b.withRow(new RowBuilder('Remote write'))
    .withPanel(
      timeseries(
        'Samples written',
        'Samples acknowledged by AMP per function in each interval.',
        [
          {
            expr: `sum by (component, function) (sum_over_time(observatory_samples_written{${SEL}}[$__rate_interval]))`,
            legend: '{{component}}/{{function}}',
          },
        ],
        { unit: 'short', min: 0, stacked: true },
      ),
    )
    .withPanel(
      timeseries(
        'Remote-write failures',
        'Failed remote-write requests and the samples they carried, per function in each interval.',
        [
          {
            expr: `sum by (component, function) (sum_over_time(observatory_remote_write_failures{${SEL}}[$__rate_interval]))`,
            legend: '{{component}}/{{function}} requests',
          },
          {
            expr: `sum by (component, function) (sum_over_time(observatory_samples_failed{${SEL}}[$__rate_interval]))`,
            legend: '{{component}}/{{function}} samples',
          },
        ],
        { unit: 'short', min: 0, bars: true },
      ),
    );

  return finalize(b);
}
