/**
 * Renderings of a utilization report: CSV (one row per idle finding, rightsizing recommendation and
 * capacity forecast, for spreadsheets), Markdown (for e-mail, tickets and S3 browsing), JSON (the
 * whole report, for tools) and a plain-text table (CLI).
 */
import { type Finding, formatBytes, type UtilizationReport } from './report.ts';
import type { CapacityForecast, RightsizingEntry } from './report-advice.ts';

/** The report formats. */
export const REPORT_FORMATS = ['table', 'csv', 'markdown', 'json'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/**
 * CSV columns, in order: one table for the three sections, told apart by `section` (`idle`,
 * `rightsizing`, `forecast`; `rank` counts within a section). The idle columns come first, as before
 * the other sections existed; a field a section does not have is left empty.
 */
export const CSV_COLUMNS = [
  'rank',
  'service',
  'account_id',
  'region',
  'resource_arn',
  'name',
  'resource_type',
  'state',
  'monthly_usd',
  'cost_basis',
  'reason',
  'days',
  'coverage',
  'cpu_p95_percent',
  'cpu_max_percent',
  'memory_p95_percent',
  'network_bytes_per_day',
  'max_connections',
  'bytes_in_per_sec_p95',
  'section',
  'current_option',
  'recommended_option',
  'current_monthly_usd',
  'recommended_monthly_usd',
  'monthly_saving_usd',
  'projected_cpu_p95_percent',
  'projected_memory_p95_percent',
  'memory_known',
  'risks',
  'cpu_peak_days',
  'memory_used_gib_p95',
  'network_max_bytes_per_sec',
  'bytes_in_max_per_sec',
  'bytes_out_max_per_sec',
  'metric',
  'threshold_percent',
  'days_to_cross',
  'crosses_at',
  'last_p95_percent',
  'slope_per_day',
  'intercept',
  'r2',
  'residual',
  'fit_days',
] as const;

const EVIDENCE_COLUMNS: Record<string, string> = {
  coverage: 'coverage',
  cpuP95Percent: 'cpu_p95_percent',
  cpuMaxPercent: 'cpu_max_percent',
  memoryP95Percent: 'memory_p95_percent',
  networkBytesPerDay: 'network_bytes_per_day',
  maxConnections: 'max_connections',
  bytesInPerSecP95: 'bytes_in_per_sec_p95',
  cpuPeakDays: 'cpu_peak_days',
  memoryUsedGiBP95: 'memory_used_gib_p95',
  networkMaxBytesPerSec: 'network_max_bytes_per_sec',
  bytesInMaxPerSec: 'bytes_in_max_per_sec',
  bytesOutMaxPerSec: 'bytes_out_max_per_sec',
};

/** Quotes a CSV field when it needs it (RFC 4180). */
function csvField(value: unknown): string {
  const text = value === undefined || value === null ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const round = (v: number, digits = 4) => Number(v.toFixed(digits));

/** The report as CSV with a header row, CRLF line ends (RFC 4180). */
export function toCsv(report: UtilizationReport): string {
  const lines = [CSV_COLUMNS.join(',')];
  const push = (row: Record<string, unknown>, evidence: Readonly<Record<string, number>>) => {
    for (const [key, value] of Object.entries(evidence)) {
      const column = EVIDENCE_COLUMNS[key];
      if (column) row[column] = round(value);
    }
    lines.push(CSV_COLUMNS.map((c) => csvField(row[c])).join(','));
  };
  const resource = (r: {
    service: string;
    accountId: string;
    region: string;
    resourceArn: string;
    name: string;
  }) => ({
    service: r.service,
    account_id: r.accountId,
    region: r.region,
    resource_arn: r.resourceArn,
    name: r.name,
  });
  report.findings.forEach((f, i) => {
    push(
      {
        rank: i + 1,
        ...resource(f),
        resource_type: f.resourceType,
        state: f.state,
        monthly_usd: f.monthlyUsd?.toFixed(2),
        cost_basis: f.costBasis,
        reason: f.reason,
        days: f.days,
        section: 'idle',
      },
      f.evidence,
    );
  });
  report.rightsizing.forEach((r, i) => {
    push(
      {
        rank: i + 1,
        ...resource(r),
        resource_type: r.resourceType,
        monthly_usd: r.current.monthlyUsd.toFixed(2),
        cost_basis: r.priceBasis,
        reason: r.rule,
        days: r.days,
        section: 'rightsizing',
        current_option: r.current.option,
        recommended_option: r.recommended.option,
        current_monthly_usd: r.current.monthlyUsd.toFixed(2),
        recommended_monthly_usd: r.recommended.monthlyUsd.toFixed(2),
        monthly_saving_usd: r.monthlySavingUsd.toFixed(2),
        projected_cpu_p95_percent: round(r.projectedCpuP95Percent),
        projected_memory_p95_percent:
          r.projectedMemoryP95Percent === undefined ? undefined : round(r.projectedMemoryP95Percent),
        memory_known: r.memoryKnown,
        risks: r.risks.join('; '),
      },
      r.evidence,
    );
  });
  report.forecasts.forEach((f, i) => {
    push(
      {
        rank: i + 1,
        ...resource(f),
        reason: forecastReason(f),
        days: report.advice.trends.days,
        section: 'forecast',
        metric: f.metric,
        threshold_percent: f.thresholdPercent,
        days_to_cross: round(f.daysToCross, 2),
        crosses_at: f.crossesAt,
        last_p95_percent: round(f.lastP95Percent),
        slope_per_day: round(f.fit.slope),
        intercept: round(f.fit.intercept),
        r2: round(f.fit.r2),
        residual: f.fit.residual === undefined ? undefined : round(f.fit.residual),
        fit_days: f.fit.n,
      },
      {},
    );
  });
  return `${lines.join('\r\n')}\r\n`;
}

const METRIC_WORDS: Record<string, string> = { cpu: 'CPU', storage: 'storage used' };

/** "CPU daily p95 rising 1.00 points/day (R² 0.98): 80% on 2025-02-19, in 30 days". */
export function forecastReason(f: CapacityForecast): string {
  const when =
    f.daysToCross === 0
      ? 'already reached'
      : `on ${f.crossesAt.slice(0, 10)}, in ${Math.ceil(f.daysToCross)} days`;
  return `${METRIC_WORDS[f.metric] ?? f.metric} daily p95 rising ${f.fit.slope.toFixed(2)} points/day (R² ${f.fit.r2.toFixed(2)}, last ${f.lastP95Percent.toFixed(1)}%): ${f.thresholdPercent}% ${when}`;
}

/** Sum of the rightsizing savings. */
export function totalSavingUsd(report: UtilizationReport): number {
  return Math.round(report.rightsizing.reduce((sum, r) => sum + r.monthlySavingUsd, 0) * 100) / 100;
}

/** The sentence on series without a forecast. */
function trendNote(report: UtilizationReport): string {
  const t = report.trends;
  return (
    `${t.series} resource metrics fitted over ${report.advice.trends.days} days: ${t.forecasts} forecast within ${report.advice.trends.horizonDays} days, ` +
    `${t.tooLittleHistory} with too little history (< ${report.advice.trends.minDays} days, no forecast), ` +
    `${t.noForecast} not rising, without a clear trend or further out.`
  );
}

/** The whole report as pretty JSON. */
export function toJson(report: UtilizationReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** US dollars with thousands separators, or "n/a". */
export function usd(value: number | undefined): string {
  return value === undefined
    ? 'n/a'
    : `$${value.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

const mdCell = (text: string) => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** "1 under-used resource", "2 under-used resources". */
export function countResources(n: number): string {
  return `${n} under-used ${n === 1 ? 'resource' : 'resources'}`;
}

/** Sum of the priced findings. */
export function totalMonthlyUsd(report: UtilizationReport): number {
  return Math.round(report.findings.reduce((sum, f) => sum + (f.monthlyUsd ?? 0), 0) * 100) / 100;
}

/** The report as Markdown: summary, per-service totals, ranked findings, collection health. */
export function toMarkdown(report: UtilizationReport): string {
  const out: string[] = [];
  const priced = report.findings.filter((f) => f.monthlyUsd !== undefined).length;
  out.push('# Under-used resources', '');
  out.push(
    `${countResources(report.findings.length)}, about **${usd(totalMonthlyUsd(report))} a month** at on-demand list prices` +
      (priced < report.findings.length ? ` (${report.findings.length - priced} could not be priced)` : '') +
      '.',
    '',
    `Data up to ${report.asOf}; generated ${report.generatedAt}.`,
    '',
  );
  const withFindings = report.totals.filter((t) => t.findings > 0);
  if (withFindings.length) {
    out.push('| Service | Account | Findings | Monthly cost |', '| --- | --- | ---: | ---: |');
    for (const t of withFindings)
      out.push(`| ${t.service} | ${t.accountId} | ${t.findings} | ${usd(t.monthlyUsd)} |`);
    out.push('');
  }
  out.push('## Findings', '');
  if (report.findings.length === 0) {
    out.push('No resource meets the under-use policy.', '');
  } else {
    out.push(
      '| # | Service | Account | Region | Resource | Monthly cost | Why |',
      '| ---: | --- | --- | --- | --- | ---: | --- |',
    );
    report.findings.forEach((f, i) => {
      out.push(
        `| ${i + 1} | ${f.service} | ${f.accountId} | ${f.region} | ${mdCell(f.name)} (\`${mdCell(f.resourceArn)}\`) | ${usd(f.monthlyUsd)} | ${mdCell(f.reason)} |`,
      );
    });
    out.push('');
  }
  out.push('## Rightsizing', '');
  if (report.rightsizing.length === 0) {
    out.push('No cheaper option fits any resource judged.', '');
  } else {
    out.push(
      `${report.rightsizing.length} ${report.rightsizing.length === 1 ? 'change' : 'changes'} saving about **${usd(totalSavingUsd(report))} a month** ` +
        `(projected CPU p95 <= ${report.advice.rightsizing.cpuTargetPercent}%, memory headroom ${report.advice.rightsizing.memoryHeadroomPercent}%).`,
      '',
      '| # | Service | Account | Resource | Current | Recommended | Projected CPU p95 | Saving/month | Risks |',
      '| ---: | --- | --- | --- | --- | --- | ---: | ---: | --- |',
    );
    report.rightsizing.forEach((r: RightsizingEntry, i) => {
      const memory =
        r.projectedMemoryP95Percent === undefined
          ? ' (CPU only)'
          : `, memory ${r.projectedMemoryP95Percent.toFixed(0)}%`;
      out.push(
        `| ${i + 1} | ${r.service} | ${r.accountId} | ${mdCell(r.name)} (\`${mdCell(r.resourceArn)}\`) | ${mdCell(r.current.option)} (${usd(r.current.monthlyUsd)}) | ${mdCell(r.recommended.option)} (${usd(r.recommended.monthlyUsd)}) | ${r.projectedCpuP95Percent.toFixed(1)}%${memory} | ${usd(r.monthlySavingUsd)} | ${mdCell(r.risks.join('; ') || 'none')} |`,
      );
    });
    out.push('');
  }
  out.push('## Running out', '');
  if (report.forecasts.length === 0) {
    out.push('No resource is forecast to cross a threshold.', '');
  } else {
    out.push(
      '| # | Service | Account | Resource | Metric | Last p95 | Threshold | Crosses | Days | R² | Residual |',
      '| ---: | --- | --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: |',
    );
    report.forecasts.forEach((f, i) => {
      out.push(
        `| ${i + 1} | ${f.service} | ${f.accountId} | ${mdCell(f.name)} (\`${mdCell(f.resourceArn)}\`) | ${METRIC_WORDS[f.metric]} | ${f.lastP95Percent.toFixed(1)}% | ${f.thresholdPercent}% | ${f.crossesAt.slice(0, 10)} | ${Math.ceil(f.daysToCross)} | ${f.fit.r2.toFixed(2)} | ${f.fit.residual?.toFixed(2) ?? 'n/a'} |`,
      );
    });
    out.push('');
  }
  out.push(trendNote(report), '');
  out.push('## Collection', '');
  if (report.shards.length === 0) {
    out.push('No batch has been stored yet.', '');
  } else {
    out.push(
      '| Account | Region | Service | Last collected | Rejected (24 h) |',
      '| --- | --- | --- | --- | ---: |',
    );
    for (const s of report.shards) {
      const last =
        s.lastSuccessSeconds === undefined ? 'never' : new Date(s.lastSuccessSeconds * 1000).toISOString();
      out.push(`| ${s.accountId} | ${s.region} | ${s.service} | ${last} | ${s.rejectedLast24h} |`);
    }
    out.push('');
  }
  out.push(
    '_Costs: compute (instance, broker or Fargate task) hours at on-demand list price x 730 h from the AWS Price List API; ' +
      'storage, data transfer and discounts are not included._',
    '',
  );
  return out.join('\n');
}

/** Aligns rows under a header; `right` columns are right-aligned, the last column is not padded. */
function aligned(header: string[], rows: string[][], right: ReadonlySet<number>): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) =>
        right.has(c) ? cell.padStart(widths[c]!) : c === cells.length - 1 ? cell : cell.padEnd(widths[c]!),
      )
      .join('  ');
  return [line(header), ...rows.map(line)];
}

/** The findings, then the rightsizing and running-out sections, as aligned plain-text tables (CLI). */
export function toTable(report: UtilizationReport): string {
  const rows = report.findings.map((f: Finding, i) => [
    String(i + 1),
    f.service,
    f.accountId,
    f.region,
    f.name,
    f.monthlyUsd === undefined ? 'n/a' : f.monthlyUsd.toFixed(2),
    f.reason,
  ]);
  const unpriced = report.findings.filter((f) => f.monthlyUsd === undefined).length;
  const summary =
    `${countResources(report.findings.length)}, ${usd(totalMonthlyUsd(report))}/month at on-demand list prices` +
    `${unpriced ? ` (${unpriced} not priced)` : ''} (data up to ${report.asOf})`;
  const sizing = aligned(
    ['#', 'SERVICE', 'ACCOUNT', 'NAME', 'CURRENT', 'RECOMMENDED', 'CPU P95', 'SAVING/MONTH', 'RISKS'],
    report.rightsizing.map((r, i) => [
      String(i + 1),
      r.service,
      r.accountId,
      r.name,
      r.current.option,
      r.recommended.option,
      `${r.projectedCpuP95Percent.toFixed(1)}%${r.memoryKnown ? '' : ' (CPU only)'}`,
      r.monthlySavingUsd.toFixed(2),
      r.risks.join('; ') || '-',
    ]),
    new Set([0, 6, 7]),
  );
  const running = aligned(
    ['#', 'SERVICE', 'ACCOUNT', 'NAME', 'METRIC', 'LAST P95', 'THRESHOLD', 'CROSSES', 'DAYS', 'R2'],
    report.forecasts.map((f, i) => [
      String(i + 1),
      f.service,
      f.accountId,
      f.name,
      METRIC_WORDS[f.metric] ?? f.metric,
      `${f.lastP95Percent.toFixed(1)}%`,
      `${f.thresholdPercent}%`,
      f.crossesAt.slice(0, 10),
      String(Math.ceil(f.daysToCross)),
      f.fit.r2.toFixed(2),
    ]),
    new Set([0, 5, 6, 8, 9]),
  );
  return [
    ...aligned(['#', 'SERVICE', 'ACCOUNT', 'REGION', 'NAME', '$/MONTH', 'WHY'], rows, new Set([0, 5])),
    '',
    summary,
    '',
    'RIGHTSIZING',
    ...(report.rightsizing.length ? sizing : []),
    `${report.rightsizing.length} recommended, ${usd(totalSavingUsd(report))}/month saved`,
    '',
    'RUNNING OUT',
    ...(report.forecasts.length ? running : []),
    trendNote(report),
    '',
  ].join('\n');
}

/** Renders a report in one format. */
export function formatReport(report: UtilizationReport, format: ReportFormat): string {
  switch (format) {
    case 'csv':
      return toCsv(report);
    case 'markdown':
      return toMarkdown(report);
    case 'json':
      return toJson(report);
    case 'table':
      return toTable(report);
  }
}

export { formatBytes };
