/**
 * `observatory dashboards`: writes the Grafana dashboards as JSON files, ready to import.
 *
 * ```sh
 * observatory dashboards --out dashboards/
 * observatory dashboards --out dashboards/ --list-metrics
 * ```
 * Exit status: 0 when the files were written, 2 on a usage error.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { buildDashboards, writeDashboards } from '../lib/observability/dashboards/index.ts';
import { dashboardQueries, promqlReferences } from '../lib/observability/dashboards/inspect.ts';

/** Options of `observatory dashboards` as commander parses them. */
export interface DashboardsCliOptions {
  out: string;
  listMetrics?: boolean;
}

/**
 * Writes every dashboard into a directory and describes what was written.
 * @param opts output directory and whether to list the metrics each dashboard reads
 * @returns the lines to print
 */
export function runDashboards(opts: DashboardsCliOptions): string[] {
  const dashboards = buildDashboards();
  const paths = writeDashboards(resolve(opts.out), dashboards);
  const lines: string[] = [];
  dashboards.forEach((d, i) => {
    const queries = dashboardQueries(d.dashboard);
    const panels = new Set(queries.map((q) => q.panelId)).size;
    lines.push(`${paths[i]}  ${d.title} (${panels} panels, ${queries.length} queries)`);
    if (opts.listMetrics) {
      const metrics = new Set(
        queries.flatMap((q) => promqlReferences(q.expr.replace(/\$\w+/g, '5m')).metrics),
      );
      for (const m of [...metrics].sort()) lines.push(`    ${m}`);
    }
  });
  return lines;
}

/**
 * Registers `observatory dashboards` on the CLI program.
 * @param program the commander program
 */
export function register(program: Command): void {
  program
    .command('dashboards')
    .description(
      'write the Grafana dashboards (Network, MSK replication, Utilization, Pipeline health) as JSON files',
    )
    .requiredOption('-o, --out <dir>', 'directory to write <uid>.json files into (created when missing)')
    .option('--list-metrics', 'also list the metric names each dashboard queries')
    .action((opts: DashboardsCliOptions) => {
      for (const line of runDashboards(opts)) console.log(line);
    });
}
