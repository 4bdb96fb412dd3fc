/**
 * The judgement of every doctor check, as pure functions of what was observed: no I/O, so each rule
 * ("a stack in UPDATE_ROLLBACK_COMPLETE is not at this version", "an AZ without a probe sample for
 * 5 minutes is stale") is unit tested on its own.
 */
import type { PlannedStack } from '#contracts/stacks';
import { type CheckResult, fail, ok, warn } from './model.ts';

/** A stack as CloudFormation describes it. */
export interface ObservedStack {
  readonly status: string;
  readonly statusReason?: string;
  /** Value of the version tag, when present. */
  readonly version?: string;
}

/**
 * A stack exists, is in a complete state and was deployed from this version.
 * @param planned the stack the config expects
 * @param observed what CloudFormation returned, or undefined when the stack does not exist
 * @param version this checkout's version
 * @param configFile the config file, for the fix
 */
export function evaluateStack(
  planned: PlannedStack,
  observed: ObservedStack | undefined,
  version: string,
  configFile: string,
): CheckResult {
  const check = `stack ${planned.name}`;
  const deploy = `npx cdk deploy ${planned.name} -c config=${configFile}`;
  if (!observed) return fail(check, `not found in ${planned.account}/${planned.region}`, deploy);
  const { status } = observed;
  const reason = observed.statusReason ? ` (${observed.statusReason})` : '';
  if (status.endsWith('_IN_PROGRESS'))
    return warn(check, `${status}${reason}`, 'wait for the operation to finish and run doctor again');
  if (status.endsWith('_FAILED') || status === 'ROLLBACK_COMPLETE')
    return fail(
      check,
      `${status}${reason}`,
      `read the stack events (aws cloudformation describe-stack-events --stack-name ${planned.name}), fix the cause, then ${deploy}`,
    );
  if (status === 'UPDATE_ROLLBACK_COMPLETE')
    return fail(
      check,
      `${status}: the last update was rolled back${reason}`,
      `read the stack events, fix the cause, then ${deploy}`,
    );
  if (!observed.version)
    return fail(check, `${status}, no version tag: deployed before ${version} or by other means`, deploy);
  if (observed.version !== version)
    return fail(check, `${status}, deployed from ${observed.version}, this checkout is ${version}`, deploy);
  return ok(check, `${status}, version ${version}`);
}

/**
 * Seconds between two runs of an EventBridge Scheduler expression. A cron expression counts as daily:
 * the project's own cron schedules (the report) run once a day.
 * @param expression `rate(N unit)` or `cron(...)`
 */
export function scheduleIntervalSeconds(expression: string): number {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (!m) return 86_400;
  const unit = m[2]!.startsWith('minute') ? 60 : m[2]!.startsWith('hour') ? 3600 : 86_400;
  return Number(m[1]) * unit;
}

/** Renders a duration in seconds as `4m 10s`, `2h 5m`, `3d 4h`. */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** The AMP workspace is ACTIVE. */
export function evaluateWorkspace(workspaceId: string, statusCode: string | undefined): CheckResult {
  const check = 'amp workspace';
  if (statusCode === undefined)
    return fail(
      check,
      `${workspaceId} not found`,
      'deploy the Monitoring stack, or fix monitoring.workspace',
    );
  if (statusCode === 'ACTIVE') return ok(check, `${workspaceId} ACTIVE`);
  return statusCode.endsWith('ING')
    ? warn(check, `${workspaceId} ${statusCode}`, 'wait for AMP to finish and run doctor again')
    : fail(check, `${workspaceId} ${statusCode}`, 'see the workspace status in the AMP console');
}

/**
 * Every rule-groups namespace the project ships exists and is ACTIVE.
 * @param expected namespace names (the rule files)
 * @param observed namespaces AMP lists for the workspace
 */
export function evaluateRuleNamespaces(
  expected: readonly string[],
  observed: readonly { name: string; statusCode: string; statusReason?: string }[],
): CheckResult[] {
  const byName = new Map(observed.map((n) => [n.name, n]));
  return expected.map((name) => {
    const check = `amp rules ${name}`;
    const n = byName.get(name);
    if (!n)
      return fail(
        check,
        'namespace missing',
        'deploy the Monitoring stack (it loads lib/observability/rules/*.yml)',
      );
    if (n.statusCode === 'ACTIVE') return ok(check, 'ACTIVE');
    const evidence = `${n.statusCode}${n.statusReason ? `: ${n.statusReason}` : ''}`;
    return n.statusCode.endsWith('ING')
      ? warn(check, evidence, 'wait for AMP to finish and run doctor again')
      : fail(
          check,
          evidence,
          `check the rule file with promtool check rules lib/observability/rules/${name}.yml`,
        );
  });
}

/** The Alertmanager definition of the workspace is ACTIVE. */
export function evaluateAlertmanager(statusCode: string | undefined, statusReason?: string): CheckResult {
  const check = 'amp alertmanager';
  if (statusCode === undefined)
    return fail(
      check,
      'no alertmanager definition',
      'observatory alertmanager --topic-arn <AlertTopicArn> --region <home region> | aws amp put-alert-manager-definition ...',
    );
  if (statusCode === 'ACTIVE') return ok(check, 'definition ACTIVE');
  const evidence = `${statusCode}${statusReason ? `: ${statusReason}` : ''}`;
  return statusCode.endsWith('ING')
    ? warn(check, evidence, 'wait for AMP to finish and run doctor again')
    : fail(check, evidence, 'fix the definition (observatory alertmanager prints it) and put it again');
}

/** A probe source AZ. */
export interface SourceAz {
  readonly region: string;
  readonly az: string;
}

/**
 * Every configured AZ sent probe samples within the last 5 minutes.
 * @param expected the configured AZs
 * @param fresh `region/az` of the AZs with a sample in the last 5 minutes
 * @param lastRun `region/az` -> unix seconds of the AZ's last probe run in the last day
 * @param nowSeconds the time of the query
 */
export function evaluateProbeFreshness(
  expected: readonly SourceAz[],
  fresh: ReadonlySet<string>,
  lastRun: ReadonlyMap<string, number>,
  nowSeconds: number,
): CheckResult[] {
  return expected.map(({ region, az }) => {
    const key = `${region}/${az}`;
    const check = `probes ${key}`;
    if (fresh.has(key)) return ok(check, 'samples in the last 5 minutes');
    const last = lastRun.get(key);
    return fail(
      check,
      last === undefined
        ? 'no probe sample in the last day'
        : `no probe sample for 5 minutes; last run ${formatAge(nowSeconds - last)} ago`,
      `check the schedule and the errors of the probe function of ${az} in ${region}`,
    );
  });
}

/** One utilization shard. */
export interface Shard {
  readonly account: string;
  readonly region: string;
  readonly service: string;
}

/**
 * Every configured shard stored a batch within its schedule: the interval plus an hour, the threshold of
 * the UtilizationCollectionStale alert for an hourly schedule.
 * @param expected account x region x service of the config
 * @param lastSuccess `account/region/service` -> unix seconds of the shard's newest stored batch
 * @param schedule the collection schedule expression
 * @param nowSeconds the time of the query
 */
export function evaluateCollectionFreshness(
  expected: readonly Shard[],
  lastSuccess: ReadonlyMap<string, number>,
  schedule: string,
  nowSeconds: number,
): CheckResult {
  const check = 'utilization collection';
  const allowed = scheduleIntervalSeconds(schedule) + 3600;
  const late: string[] = [];
  let newest = 0;
  for (const s of expected) {
    const key = `${s.account}/${s.region}/${s.service}`;
    const t = lastSuccess.get(key);
    if (t === undefined) late.push(`${key} never`);
    else {
      newest = Math.max(newest, t);
      if (nowSeconds - t > allowed) late.push(`${key} ${formatAge(nowSeconds - t)} ago`);
    }
  }
  if (late.length === 0)
    return ok(check, `${expected.length} shards stored within ${formatAge(allowed)} (${schedule} + 1h)`);
  return fail(
    check,
    `${late.length} of ${expected.length} shards late (allowed ${formatAge(allowed)}): ${late.slice(0, 5).join(', ')}${late.length > 5 ? ', ...' : ''}`,
    'see the failed collection executions and the store DLQ below; a shard that never stored: check the member role in that account',
  );
}

/**
 * The daily report ran within 26 hours (the UtilizationReportStale threshold).
 * @param lastSuccess unix seconds of the last report, or undefined when none in 7 days
 * @param nowSeconds the time of the query
 */
export function evaluateReportFreshness(lastSuccess: number | undefined, nowSeconds: number): CheckResult {
  const check = 'utilization report';
  const allowed = 26 * 3600;
  if (lastSuccess === undefined)
    return fail(
      check,
      'no report in the last 7 days',
      'invoke the report function ({"mode":"full"}) and read its log',
    );
  const age = nowSeconds - lastSuccess;
  return age <= allowed
    ? ok(check, `last report ${formatAge(age)} ago (daily, allowed 26h)`)
    : fail(
        check,
        `last report ${formatAge(age)} ago (allowed 26h)`,
        'check the report schedule and the report function errors',
      );
}

/** An MSK rollback execution that is still polling, with the age of its current phase. */
export interface ActivePhase {
  readonly execution: string;
  readonly rollback: string;
  readonly phase: string;
  readonly ageSeconds: number;
}

/**
 * No running rollback has been in one phase longer than that phase's timeout (plus 5 minutes of polls).
 * @param active executions polled in the last 5 minutes
 * @param timeoutMinutes phase -> timeout (config defaults: converge, drain)
 */
export function evaluateRollbackPhases(
  active: readonly ActivePhase[],
  timeoutMinutes: Readonly<Record<string, number>>,
): CheckResult {
  const check = 'msk-rollback phases';
  const stuck = active.filter((a) => a.ageSeconds > ((timeoutMinutes[a.phase] ?? 0) + 5) * 60);
  if (stuck.length === 0)
    return ok(
      check,
      active.length === 0
        ? 'no rollback running'
        : `${active.length} running: ${active.map((a) => `${a.execution} ${a.phase} ${formatAge(a.ageSeconds)}`).join(', ')}`,
    );
  return fail(
    check,
    stuck
      .map(
        (a) =>
          `${a.execution} (${a.rollback}) in ${a.phase} for ${formatAge(a.ageSeconds)}, timeout ${timeoutMinutes[a.phase] ?? 0}m`,
      )
      .join('; '),
    'the workflow should have timed out: open the execution in the Step Functions console and stop it (its cleanup stops the MM2 task)',
  );
}

/**
 * Every schedule of a stack is ENABLED.
 * @param stack the stack owning the schedules
 * @param schedules name and state of each
 */
export function evaluateSchedules(
  stack: string,
  schedules: readonly { name: string; state: string | undefined }[],
): CheckResult {
  const check = `schedules ${stack}`;
  if (schedules.length === 0) return fail(check, 'no schedule in the stack', `redeploy ${stack}`);
  const off = schedules.filter((s) => s.state !== 'ENABLED');
  if (off.length === 0) return ok(check, `${schedules.length} enabled`);
  return fail(
    check,
    `${off.length} of ${schedules.length} not enabled: ${off.map((s) => `${s.name} ${s.state ?? 'missing'}`).join(', ')}`,
    `aws scheduler update-schedule --state ENABLED ... (or redeploy ${stack}, which sets them enabled)`,
  );
}

/**
 * The store DLQ is empty.
 * @param depth visible plus in-flight messages
 * @param oldestAgeSeconds age of the oldest message (CloudWatch), when known
 */
export function evaluateDlq(depth: number, oldestAgeSeconds: number | undefined): CheckResult {
  const check = 'utilization store DLQ';
  if (depth === 0) return ok(check, 'empty');
  return fail(
    check,
    `${depth} messages${oldestAgeSeconds !== undefined ? `, oldest ${formatAge(oldestAgeSeconds)}` : ''}`,
    'read the reasons in batch_ledger (observatory store --help) and the store function log, fix the cause, then redrive the DLQ (aws sqs start-message-move-task)',
  );
}

/** An execution that did not succeed. */
export interface FailedExecution {
  readonly name: string;
  readonly status: string;
  readonly stoppedAt: Date;
  readonly error?: string;
  readonly cause?: string;
}

/**
 * No execution of a state machine failed, timed out or was aborted in the last 24 hours.
 * @param label what the state machine does, e.g. `utilization executions`
 * @param failed the executions that did not succeed in the window
 */
export function evaluateExecutions(label: string, failed: readonly FailedExecution[]): CheckResult {
  const check = `${label} (24h)`;
  if (failed.length === 0) return ok(check, 'no failed execution');
  const shown = failed
    .slice(0, 3)
    .map(
      (e) =>
        `${e.name} ${e.status}${e.error ? ` ${e.error}` : ''}${e.cause ? `: ${e.cause.slice(0, 160)}` : ''}`,
    );
  return fail(
    check,
    `${failed.length} failed: ${shown.join('; ')}${failed.length > 3 ? '; ...' : ''}`,
    'open the executions in the Step Functions console; the error and cause name the failing state',
  );
}

/** One entry of drizzle/meta/_journal.json. */
export interface JournalEntry {
  readonly tag: string;
  readonly when: number;
}

/**
 * The database holds every committed migration: drizzle records each applied one with `created_at` =
 * the journal's `when`, and applies only those newer than the last recorded.
 * @param journal the committed migrations
 * @param appliedCreatedAt `created_at` of the rows of `drizzle.__drizzle_migrations`
 */
export function evaluateMigrations(
  journal: readonly JournalEntry[],
  appliedCreatedAt: readonly number[],
): CheckResult {
  const check = 'database migrations';
  const latest = journal.at(-1);
  if (!latest) return ok(check, 'no migration committed');
  const lastApplied = Math.max(0, ...appliedCreatedAt);
  const pending = journal.filter((e) => e.when > lastApplied);
  if (pending.length === 0)
    return ok(check, `reachable, ${appliedCreatedAt.length} applied, latest ${latest.tag}`);
  return fail(
    check,
    `${pending.length} pending: ${pending.map((e) => e.tag).join(', ')} (${appliedCreatedAt.length} applied)`,
    'redeploy the Utilization stack (its migrate custom resource applies them), or observatory store --migrate against the database',
  );
}

/**
 * A fingerprint of what a dashboard shows that survives Grafana's normalization on save: its title and,
 * for each panel (rows included), the title and every query expression.
 * @param dashboard a dashboard model (ours or Grafana's)
 */
export function dashboardFingerprint(dashboard: Record<string, unknown>): string {
  type Panel = { title?: string; targets?: { expr?: string }[]; panels?: Panel[] };
  const parts: string[] = [String(dashboard.title ?? '')];
  const walk = (panels: Panel[] | undefined) => {
    for (const p of panels ?? []) {
      parts.push(`${p.title ?? ''}\u0000${(p.targets ?? []).map((t) => t.expr ?? '').join('\u0000')}`);
      walk(p.panels);
    }
  };
  walk(dashboard.panels as Panel[] | undefined);
  return parts.join('\n');
}

/**
 * Every dashboard of this version is published unchanged.
 * @param expected uid, title and fingerprint of this checkout's dashboards
 * @param published uid -> fingerprint of Grafana's copy, undefined when missing
 */
export function evaluateDashboards(
  expected: readonly { uid: string; title: string; fingerprint: string }[],
  published: ReadonlyMap<string, string | undefined>,
): CheckResult[] {
  return expected.map((d) => {
    const check = `grafana ${d.title}`;
    const got = published.get(d.uid);
    if (got === undefined)
      return fail(
        check,
        `dashboard ${d.uid} not published`,
        'redeploy the Monitoring stack (it publishes the dashboards)',
      );
    if (got !== d.fingerprint)
      return fail(
        check,
        `dashboard ${d.uid} differs from this version (panels or queries changed)`,
        'redeploy the Monitoring stack; edits made in Grafana are overwritten: save them in lib/observability/dashboards',
      );
    return ok(check, `${d.uid} at this version`);
  });
}
