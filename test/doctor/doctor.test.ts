/**
 * `observatory doctor` end to end over the fake estate (test/doctor/estate.ts): the example config, AWS
 * answered at the SDK client boundary, freshness read with PromQL from a real Prometheus that received
 * the estate's samples through the project's remote-write client, dashboards from a fake Grafana.
 */
import { readFileSync } from 'node:fs';
import { ListRuleGroupsNamespacesCommand } from '@aws-sdk/client-amp';
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { ExecuteStatementCommand } from '@aws-sdk/client-rds-data';
import { GetScheduleCommand } from '@aws-sdk/client-scheduler';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PROJECT_VERSION } from '#contracts/stacks';
import type { CheckResult } from '../../cli/doctor/model.ts';
import { createPromQuery } from '../../cli/doctor/promql.ts';
import { type DoctorDeps, runDoctor, sdkClients } from '../../cli/doctor/run.ts';
import { grafanaGet, readJournal, ruleNamespaces, runDoctorCommand } from '../../cli/doctor.ts';
import { loadConfig } from '../../lib/config/loader.ts';
import { buildDashboards } from '../../lib/observability/dashboards/index.ts';
import { type FakeGrafana, startFakeGrafana } from '../grafana/support/fake-grafana.ts';
import { EXAMPLE_CONFIG } from '../support/cdk.ts';
import { type LocalPrometheus, startPrometheus } from '../support/prometheus.ts';
import {
  describedStack,
  failedCollection,
  healthyAws,
  mocks,
  probeRun,
  pushSamples,
  rollbackPolls,
  utilizationHealth,
} from './estate.ts';

const config = loadConfig(EXAMPLE_CONFIG);
const STALE_AZ = { region: 'us-east-1', az: 'us-east-1c', id: 'use1-az4' };
const MISSING_NAMESPACE = 'utilization';

let prom: LocalPrometheus;
let grafana: FakeGrafana;
const now = Date.now();

beforeAll(async () => {
  [prom, grafana] = await Promise.all([startPrometheus(), startFakeGrafana()]);
  const samples = [];
  for (const region of config.probes!.regions)
    for (const az of region.availabilityZones) {
      const stale = az.name === STALE_AZ.az;
      // Every AZ ran each minute; the stale one stopped 20 minutes ago.
      for (let m = 30; m >= (stale ? 20 : 0); m--)
        samples.push(...probeRun(region.region, az.name, az.id, now - m * 60_000 - 5_000));
    }
  samples.push(...utilizationHealth(config, now - 4 * 60_000, 35 * 60, false));
  samples.push(...utilizationHealth(config, now - 3 * 3600_000, 3 * 3600 + 35 * 60, true));
  // A rollback converging for 40 minutes: running, within its 360-minute timeout.
  samples.push(...rollbackPolls('rollback-orders-0412', 'converge', now - 40 * 60_000, now - 30_000));
  await pushSamples(prom.remoteWriteUrl, samples);
  for (const d of buildDashboards()) {
    const res = await fetch(`${grafana.url}/api/dashboards/db`, {
      method: 'POST',
      headers: { authorization: `Bearer ${grafana.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ dashboard: d.dashboard, overwrite: true }),
    });
    expect(res.status).toBe(200);
  }
});
afterAll(async () => {
  await Promise.all([prom?.stop(), grafana?.close()]);
});

const namespaces = ruleNamespaces();
beforeEach(() => {
  healthyAws(
    config,
    `${prom.url}/api/v1/query`,
    namespaces.filter((n) => n !== MISSING_NAMESPACE),
  );
});

async function doctor(opts: { json?: boolean; overrides?: Partial<DoctorDeps>; configFile?: string } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runDoctorCommand(
    { config: opts.configFile ?? EXAMPLE_CONFIG, json: opts.json ?? true },
    { grafanaGet: (_url, token, uid) => grafanaGet(grafana.url, token, uid), ...opts.overrides },
    { log: (s) => out.push(s), error: (s) => err.push(s) },
  );
  const report =
    opts.json !== false && out.length ? (JSON.parse(out.join('\n')) as { checks: CheckResult[] }) : undefined;
  const row = (check: string) => report?.checks.find((c) => c.check === check);
  return { code, out: out.join('\n'), err: err.join('\n'), report, row };
}

describe('observatory doctor on the fake estate', () => {
  it('prints the example report of docs/operating.md', async () => {
    const { code, out } = await doctor({ json: false });
    expect(code).toBe(1);
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^CHECK +STATUS +EVIDENCE$/);
    expect(lines.filter((l) => / FAIL /.test(l)).map((l) => l.split(/ {2,}/)[0])).toEqual([
      `amp rules ${MISSING_NAMESPACE}`,
      'probes us-east-1/us-east-1c',
    ]);
    // Each row that is not ok is followed by its fix.
    for (const [i, l] of lines.entries())
      if (/ (FAIL|WARN) /.test(l)) expect(lines[i + 1]).toMatch(/^ +fix: /);
    expect(lines.at(-1)).toBe('33 checks: 29 ok, 2 warn, 2 fail');
    // The example run in docs/operating.md is this output.
    if (process.env.PRINT_DOCTOR_EXAMPLE) console.log(out);
  });

  it('fails the AZ whose probes stopped sending samples 20 minutes ago, and only that one', async () => {
    const { code, report, row } = await doctor();
    expect(code).toBe(1);
    const probeRows = report!.checks.filter((c) => c.check.startsWith('probes '));
    expect(probeRows).toHaveLength(6);
    expect(row('probes us-east-1/us-east-1c')).toMatchObject({ status: 'fail' });
    expect(row('probes us-east-1/us-east-1c')?.evidence).toMatch(/last run 2\dm \d+s ago/);
    expect(probeRows.filter((r) => r.status === 'ok')).toHaveLength(5);
  });

  it('fails the rule-groups namespace AMP does not have, and passes the others', async () => {
    const { row } = await doctor();
    expect(row(`amp rules ${MISSING_NAMESPACE}`)).toMatchObject({
      status: 'fail',
      evidence: 'namespace missing',
    });
    for (const n of namespaces.filter((x) => x !== MISSING_NAMESPACE))
      expect(row(`amp rules ${n}`)).toMatchObject({ status: 'ok' });
  });

  it('passes everything else of a healthy estate, and exits 0 once the stale AZ and the namespace are fixed', async () => {
    healthyAws(config, `${prom.url}/api/v1/query`, namespaces);
    const withoutStale = {
      ...config,
      probes: {
        ...config.probes!,
        regions: config.probes!.regions.map((r) => ({
          ...r,
          availabilityZones: r.availabilityZones.filter((az) => az.name !== STALE_AZ.az),
        })),
      },
    };
    const rows = await runDoctor(withoutStale, {
      clients: sdkClients,
      promQuery: (url) => createPromQuery(url),
      version: PROJECT_VERSION,
      configFile: EXAMPLE_CONFIG,
      journal: readJournal(),
      ruleNamespaces: namespaces,
      dashboards: async () =>
        buildDashboards().map((d) => ({ uid: d.uid, title: d.title, dashboard: d.dashboard as never })),
      grafanaGet: (_u, token, uid) => grafanaGet(grafana.url, token, uid),
      tokenFromSecret: (s) => JSON.parse(s).token,
    });
    expect(rows.filter((r) => r.status === 'fail')).toEqual([]);
    // The member-role stacks live in other accounts: reported, not checked.
    expect(rows.filter((r) => r.status === 'warn').map((r) => r.check)).toEqual([
      'stack Observatory-MemberRole-222222222222',
      'stack Observatory-MemberRole-333333333333',
    ]);
    expect(rows.map((r) => r.check)).toEqual(
      expect.arrayContaining([
        'stack Observatory-Monitoring',
        'amp workspace',
        'amp alertmanager',
        'utilization collection',
        'utilization report',
        'msk-rollback phases',
        'schedules Observatory-Probes-eu-west-1',
        'schedules Observatory-Utilization',
        'utilization store DLQ',
        'utilization executions (24h)',
        'msk-rollback executions (24h)',
        'database migrations',
        'grafana Infra Observatory / Network',
      ]),
    );
  });

  it('shows the running rollback with the age of its phase', async () => {
    const { row } = await doctor();
    expect(row('msk-rollback phases')).toMatchObject({ status: 'ok' });
    expect(row('msk-rollback phases')?.evidence).toMatch(/rollback-orders-0412 converge (39|40)m/);
  });

  it('fails a stack deployed from another version and one whose update rolled back', async () => {
    mocks.cfn.on(DescribeStacksCommand, { StackName: 'Observatory-Monitoring' }).resolves({
      Stacks: [
        {
          ...describedStack('Observatory-Monitoring', 'eu-west-1', {
            QueryUrl: `${prom.url}/api/v1/query`,
            WorkspaceId: 'ws-3f8e2b1a-7c4d-4e9f-a1b2-c3d4e5f6a7b8',
          }),
          Tags: [{ Key: 'observatory:version', Value: '0.0.9' }],
        },
      ],
    });
    mocks.cfn.on(DescribeStacksCommand, { StackName: 'Observatory-MskRollback' }).resolves({
      Stacks: [
        describedStack(
          'Observatory-MskRollback',
          'eu-west-1',
          {},
          { StackStatus: 'UPDATE_ROLLBACK_COMPLETE' },
        ),
      ],
    });
    mocks.cfn.on(DescribeStacksCommand, { StackName: 'Observatory-Probes-us-east-1' }).rejects(
      Object.assign(new Error('Stack with id Observatory-Probes-us-east-1 does not exist'), {
        name: 'ValidationError',
      }),
    );
    const { row } = await doctor();
    expect(row('stack Observatory-Monitoring')).toMatchObject({ status: 'fail' });
    expect(row('stack Observatory-Monitoring')?.evidence).toMatch(/deployed from 0\.0\.9, this checkout is /);
    expect(row('stack Observatory-MskRollback')?.evidence).toMatch(/UPDATE_ROLLBACK_COMPLETE/);
    expect(row('stack Observatory-Probes-us-east-1')).toMatchObject({
      status: 'fail',
      evidence: 'not found in 111111111111/us-east-1',
    });
    expect(row('stack Observatory-Utilization')).toMatchObject({ status: 'ok' });
  });

  it('fails a disabled schedule by name', async () => {
    mocks.scheduler.on(GetScheduleCommand).callsFake((input: { Name: string }) => ({
      Name: input.Name,
      State: input.Name.includes('ReportSchedule') ? 'DISABLED' : 'ENABLED',
    }));
    const { row } = await doctor();
    expect(row('schedules Observatory-Utilization')).toMatchObject({ status: 'fail' });
    expect(row('schedules Observatory-Utilization')?.evidence).toMatch(
      /1 of 3 not enabled: .*ReportSchedule.* DISABLED/,
    );
    expect(row('schedules Observatory-Probes-eu-west-1')).toMatchObject({
      status: 'ok',
      evidence: '3 enabled',
    });
  });

  it('reports the DLQ depth and the age of its oldest message', async () => {
    mocks.sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '3', ApproximateNumberOfMessagesNotVisible: '1' },
    });
    mocks.cloudwatch.on(GetMetricStatisticsCommand).resolves({
      Label: 'ApproximateAgeOfOldestMessage',
      Datapoints: [
        { Timestamp: new Date(now - 600_000), Maximum: 7000, Unit: 'Seconds' },
        { Timestamp: new Date(now - 300_000), Maximum: 7300, Unit: 'Seconds' },
      ],
    });
    const { row } = await doctor();
    expect(row('utilization store DLQ')).toMatchObject({
      status: 'fail',
      evidence: '4 messages, oldest 2h 1m',
    });
    expect(mocks.cloudwatch.commandCalls(GetMetricStatisticsCommand)[0]?.args[0].input.Dimensions).toEqual([
      { Name: 'QueueName', Value: 'Observatory-Utilization-StoreDeadLetterQueue4A1B2C3D-r8TqLm2VwXyZ' },
    ]);
  });

  it('names a collection execution that failed in the last 24 hours with its error, and ignores older ones', async () => {
    failedCollection(new Date(now - 3 * 3600_000));
    const recent = await doctor();
    expect(recent.row('utilization executions (24h)')).toMatchObject({ status: 'fail' });
    expect(recent.row('utilization executions (24h)')?.evidence).toMatch(
      /1 failed: 7f3e1c2a-run FAILED States\.ExceedToleratedFailureThreshold: The specified tolerated/,
    );
    healthyAws(config, `${prom.url}/api/v1/query`, namespaces);
    failedCollection(new Date(now - 25 * 3600_000));
    expect((await doctor()).row('utilization executions (24h)')).toMatchObject({ status: 'ok' });
  });

  it('fails a database that is behind the committed migrations, and one never migrated', async () => {
    mocks.rdsData.on(ExecuteStatementCommand).resolves({ records: [] });
    const journal = JSON.parse(readFileSync('drizzle/meta/_journal.json', 'utf8')) as {
      entries: { tag: string }[];
    };
    const tags = journal.entries.map((e) => e.tag);
    expect((await doctor()).row('database migrations')).toMatchObject({
      status: 'fail',
      evidence: expect.stringMatching(new RegExp(`^${tags.length} pending: ${tags[0]}\\b.*\\(0 applied\\)$`)),
    });
    mocks.rdsData.on(ExecuteStatementCommand).rejects(
      Object.assign(new Error('ERROR: relation "drizzle.__drizzle_migrations" does not exist'), {
        name: 'BadRequestException',
      }),
    );
    expect((await doctor()).row('database migrations')?.status).toBe('fail');
    const [call] = mocks.rdsData.commandCalls(ExecuteStatementCommand);
    expect(call?.args[0].input).toMatchObject({
      database: 'observatory',
      sql: expect.stringContaining('drizzle.__drizzle_migrations'),
    });
  });

  it('fails a dashboard edited in Grafana and one deleted from it', async () => {
    const [first, second] = buildDashboards();
    const edited = grafana.dashboards.get(first!.uid)!;
    const saved = edited.model;
    edited.model = { ...saved, panels: [...((saved.panels as unknown[]) ?? []).slice(1)] };
    const deleted = grafana.dashboards.get(second!.uid)!;
    grafana.dashboards.delete(second!.uid);
    try {
      const { row } = await doctor();
      expect(row(`grafana ${first!.title}`)?.evidence).toMatch(/differs from this version/);
      expect(row(`grafana ${second!.title}`)?.evidence).toMatch(/not published/);
    } finally {
      edited.model = saved;
      grafana.dashboards.set(second!.uid, deleted);
    }
  });

  it('fails a rollback stuck in its drain phase past the 30-minute timeout', async () => {
    await pushSamples(
      prom.remoteWriteUrl,
      rollbackPolls('rollback-payments-0388', 'drain', now - 50 * 60_000, now - 20_000),
    );
    const { row } = await doctor();
    expect(row('msk-rollback phases')).toMatchObject({ status: 'fail' });
    expect(row('msk-rollback phases')?.evidence).toMatch(
      /^rollback-payments-0388 \(orders-v3-to-v2\) in drain for (49|50)m \d+s, timeout 30m$/,
    );
  });

  it('refuses credentials of another account in one row', async () => {
    mocks.sts
      .on(GetCallerIdentityCommand)
      .resolves({ Account: '999999999999', Arn: 'arn:aws:sts::999999999999:assumed-role/x/y', UserId: 'x' });
    const { code, report } = await doctor();
    expect(code).toBe(1);
    expect(report!.checks).toEqual([expect.objectContaining({ check: 'credentials', status: 'fail' })]);
  });

  it('prints one clear line and exits 2 without credentials', async () => {
    mocks.sts.on(GetCallerIdentityCommand).rejects(
      Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      }),
    );
    const { code, out, err } = await doctor();
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err.split('\n')).toEqual([
      expect.stringMatching(/^observatory doctor: no usable AWS credentials \(Could not load credentials/),
    ]);
  });

  it('exits 2 on a config that does not validate', async () => {
    const { code, err } = await doctor({ configFile: 'test/fixtures/does-not-exist.yaml' });
    expect(code).toBe(2);
    expect(err).toMatch(/invalid config test\/fixtures\/does-not-exist\.yaml/);
  });

  it('reads every namespace page AMP returns', async () => {
    const page = (names: string[], nextToken?: string) => ({
      ruleGroupsNamespaces: names.map((name) => ({
        name,
        arn: `arn:${name}`,
        status: { statusCode: 'ACTIVE' as const },
        createdAt: new Date(),
        modifiedAt: new Date(),
      })),
      ...(nextToken ? { nextToken } : {}),
    });
    mocks.amp
      .on(ListRuleGroupsNamespacesCommand)
      .resolvesOnce(page(namespaces.slice(0, 2), 'token-2'))
      .resolves(page(namespaces.slice(2)));
    const { row } = await doctor();
    for (const n of namespaces) expect(row(`amp rules ${n}`)).toMatchObject({ status: 'ok' });
  });
});
