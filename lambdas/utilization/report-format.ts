/**
 * Renderings of a utilization report: CSV (one row per finding, for spreadsheets), Markdown (for
 * e-mail, tickets and S3 browsing), JSON (the whole report, for tools) and a plain-text table (CLI).
 */
import { type Finding, formatBytes, type UtilizationReport } from './report.ts';

/** The report formats. */
export const REPORT_FORMATS = ['table', 'csv', 'markdown', 'json'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** CSV columns, in order; evidence fields absent for a service are left empty. */
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
] as const;

const EVIDENCE_COLUMNS: Record<string, string> = {
  coverage: 'coverage',
  cpuP95Percent: 'cpu_p95_percent',
  cpuMaxPercent: 'cpu_max_percent',
  memoryP95Percent: 'memory_p95_percent',
  networkBytesPerDay: 'network_bytes_per_day',
  maxConnections: 'max_connections',
  bytesInPerSecP95: 'bytes_in_per_sec_p95',
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
  report.findings.forEach((f, i) => {
    const row: Record<string, unknown> = {
      rank: i + 1,
      service: f.service,
      account_id: f.accountId,
      region: f.region,
      resource_arn: f.resourceArn,
      name: f.name,
      resource_type: f.resourceType,
      state: f.state,
      monthly_usd: f.monthlyUsd?.toFixed(2),
      cost_basis: f.costBasis,
      reason: f.reason,
      days: f.days,
    };
    for (const [key, value] of Object.entries(f.evidence)) {
      const column = EVIDENCE_COLUMNS[key];
      if (column) row[column] = round(value);
    }
    lines.push(CSV_COLUMNS.map((c) => csvField(row[c])).join(','));
  });
  return `${lines.join('\r\n')}\r\n`;
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

/** The findings as an aligned plain-text table (CLI). */
export function toTable(report: UtilizationReport): string {
  const header = ['#', 'SERVICE', 'ACCOUNT', 'REGION', 'NAME', '$/MONTH', 'WHY'];
  const rows = report.findings.map((f: Finding, i) => [
    String(i + 1),
    f.service,
    f.accountId,
    f.region,
    f.name,
    f.monthlyUsd === undefined ? 'n/a' : f.monthlyUsd.toFixed(2),
    f.reason,
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) =>
        c === 5 || c === 0
          ? cell.padStart(widths[c]!)
          : c === cells.length - 1
            ? cell
            : cell.padEnd(widths[c]!),
      )
      .join('  ');
  const unpriced = report.findings.filter((f) => f.monthlyUsd === undefined).length;
  const summary =
    `${countResources(report.findings.length)}, ${usd(totalMonthlyUsd(report))}/month at on-demand list prices` +
    `${unpriced ? ` (${unpriced} not priced)` : ''} (data up to ${report.asOf})`;
  return [line(header), ...rows.map(line), '', summary, ''].join('\n');
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
