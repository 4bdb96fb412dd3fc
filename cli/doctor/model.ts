/**
 * What `observatory doctor` reports: one row per check with its status, the evidence it saw and what
 * to do about it; and how rows become a table, a JSON document and an exit status.
 */

/** Outcome of one check. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One row of the report. */
export interface CheckResult {
  /** Stable name, e.g. `stack Observatory-Monitoring`, `probes eu-west-1a`. */
  readonly check: string;
  readonly status: CheckStatus;
  /** What was observed, in words, with the figures. */
  readonly evidence: string;
  /** What to do when it is not ok. @default - nothing to do */
  readonly fix?: string;
}

/** Shorthands for building rows. */
export const ok = (check: string, evidence: string): CheckResult => ({ check, status: 'ok', evidence });
export const warn = (check: string, evidence: string, fix: string): CheckResult => ({
  check,
  status: 'warn',
  evidence,
  fix,
});
export const fail = (check: string, evidence: string, fix: string): CheckResult => ({
  check,
  status: 'fail',
  evidence,
  fix,
});

/**
 * Exit status of a report: 0 when nothing failed (warnings pass), 1 when a check failed.
 * @param results every row
 */
export function exitStatus(results: readonly CheckResult[]): 0 | 1 {
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}

/**
 * Renders the rows as an aligned table with the fixes under the rows that need them, and a summary.
 * @param results every row
 */
export function renderTable(results: readonly CheckResult[]): string {
  const label = { ok: 'ok', warn: 'WARN', fail: 'FAIL' } as const;
  const width = Math.max(5, ...results.map((r) => r.check.length));
  const lines = [`${'CHECK'.padEnd(width)}  STATUS  EVIDENCE`];
  for (const r of results) {
    lines.push(`${r.check.padEnd(width)}  ${label[r.status].padEnd(6)}  ${r.evidence}`);
    if (r.status !== 'ok' && r.fix) lines.push(`${''.padEnd(width)}  ${''.padEnd(6)}  fix: ${r.fix}`);
  }
  const count = (s: CheckStatus) => results.filter((r) => r.status === s).length;
  lines.push(`${results.length} checks: ${count('ok')} ok, ${count('warn')} warn, ${count('fail')} fail`);
  return lines.join('\n');
}

/**
 * The JSON document of `--json`.
 * @param results every row
 * @param meta config file and version checked
 */
export function renderJson(
  results: readonly CheckResult[],
  meta: { config: string; version: string; checkedAt: string },
): string {
  return JSON.stringify({ ...meta, ok: exitStatus(results) === 0, checks: results }, null, 2);
}
