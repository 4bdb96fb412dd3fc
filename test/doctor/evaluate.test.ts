import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import {
  dashboardFingerprint,
  evaluateAlertmanager,
  evaluateCollectionFreshness,
  evaluateMigrations,
  evaluateReportFreshness,
  evaluateRuleNamespaces,
  evaluateStack,
  evaluateWorkspace,
  scheduleIntervalSeconds,
} from '../../cli/doctor/evaluate.ts';
import { exitStatus, ok, warn } from '../../cli/doctor/model.ts';
import { ruleNamespaces } from '../../cli/doctor.ts';
import { listRuleFiles } from '../../lib/observability/monitoring-stack.ts';

const planned = {
  name: 'Observatory-Monitoring',
  role: 'monitoring',
  account: '111111111111',
  region: 'eu-west-1',
} as const;

describe('doctor judgements', () => {
  it('warns on a stack operation in progress and fails a failed creation', () => {
    expect(
      evaluateStack(planned, { status: 'UPDATE_IN_PROGRESS', version: '0.1.0' }, '0.1.0', 'c.yaml').status,
    ).toBe('warn');
    expect(
      evaluateStack(planned, { status: 'ROLLBACK_COMPLETE', version: '0.1.0' }, '0.1.0', 'c.yaml').status,
    ).toBe('fail');
    expect(evaluateStack(planned, { status: 'CREATE_COMPLETE' }, '0.1.0', 'c.yaml')).toMatchObject({
      status: 'fail',
      fix: 'npx cdk deploy Observatory-Monitoring -c config=c.yaml',
    });
  });

  it('warns while the workspace is being created and fails one that does not exist', () => {
    expect(evaluateWorkspace('ws-1', 'CREATING').status).toBe('warn');
    expect(evaluateWorkspace('ws-1', 'CREATION_FAILED').status).toBe('fail');
    expect(evaluateWorkspace('ws-1', undefined)).toMatchObject({
      status: 'fail',
      evidence: 'ws-1 not found',
    });
  });

  it('fails a namespace AMP could not load, with its reason', () => {
    expect(
      evaluateRuleNamespaces(
        ['probes'],
        [{ name: 'probes', statusCode: 'UPDATE_FAILED', statusReason: 'parse error' }],
      )[0],
    ).toMatchObject({ status: 'fail', evidence: 'UPDATE_FAILED: parse error' });
  });

  it('fails a workspace without an Alertmanager definition', () => {
    expect(evaluateAlertmanager(undefined).status).toBe('fail');
    expect(evaluateAlertmanager('CREATION_FAILED', 'invalid receiver').evidence).toBe(
      'CREATION_FAILED: invalid receiver',
    );
  });

  it('allows a shard its schedule plus an hour, and names the late and the never-stored ones', () => {
    const now = 1_800_000_000;
    const shards = [
      { account: '1', region: 'r', service: 'ec2' },
      { account: '1', region: 'r', service: 'rds' },
      { account: '1', region: 'r', service: 'ecs' },
    ];
    const last = new Map([
      ['1/r/ec2', now - 7100],
      ['1/r/rds', now - 7300],
    ]);
    const r = evaluateCollectionFreshness(shards, last, 'rate(1 hour)', now);
    expect(r).toMatchObject({ status: 'fail' });
    expect(r.evidence).toBe('2 of 3 shards late (allowed 2h 0m): 1/r/rds 2h 1m ago, 1/r/ecs never');
    expect(evaluateCollectionFreshness(shards.slice(0, 1), last, 'rate(1 hour)', now).status).toBe('ok');
    expect(evaluateCollectionFreshness(shards.slice(1, 2), last, 'rate(6 hours)', now).status).toBe('ok');
  });

  it('fails a report older than 26 hours or missing', () => {
    expect(evaluateReportFreshness(1000, 1000 + 26 * 3600).status).toBe('ok');
    expect(evaluateReportFreshness(1000, 1001 + 26 * 3600).status).toBe('fail');
    expect(evaluateReportFreshness(undefined, 1000).status).toBe('fail');
  });

  it('reads rate and cron schedules', () => {
    expect(scheduleIntervalSeconds('rate(1 minute)')).toBe(60);
    expect(scheduleIntervalSeconds('rate(15 minutes)')).toBe(900);
    expect(scheduleIntervalSeconds('rate(2 hours)')).toBe(7200);
    expect(scheduleIntervalSeconds('cron(0 6 * * ? *)')).toBe(86_400);
  });

  it('lists only the migrations newer than the last applied one as pending', () => {
    const journal = [
      { tag: '0000_initial', when: 100 },
      { tag: '0001_more', when: 200 },
    ];
    expect(evaluateMigrations(journal, [100]).evidence).toBe('1 pending: 0001_more (1 applied)');
    expect(evaluateMigrations(journal, [100, 200]).status).toBe('ok');
  });

  it('fingerprints what Grafana keeps of a dashboard, ignoring ids and versions', () => {
    const d = { title: 'T', id: 1, version: 3, panels: [{ title: 'p', targets: [{ expr: 'up' }] }] };
    expect(dashboardFingerprint({ ...d, id: 9, version: 12 })).toBe(dashboardFingerprint(d));
    expect(dashboardFingerprint({ ...d, panels: [{ title: 'p', targets: [{ expr: 'up == 0' }] }] })).not.toBe(
      dashboardFingerprint(d),
    );
  });

  it('passes a report with warnings and fails one with a failure', () => {
    expect(exitStatus([ok('a', 'x'), warn('b', 'y', 'z')])).toBe(0);
    expect(exitStatus([ok('a', 'x'), { check: 'c', status: 'fail', evidence: 'e' }])).toBe(1);
  });

  it('expects the namespaces the Monitoring stack loads', () => {
    expect(ruleNamespaces()).toEqual(listRuleFiles().map((f) => f.replace(/^.*\/(.*)\.yml$/, '$1')));
  });

  it('loads no aws-cdk-lib: the command and its checks bundle without it', async () => {
    const result = await build({
      entryPoints: ['cli/doctor.ts'],
      bundle: true,
      write: false,
      metafile: true,
      platform: 'node',
      format: 'esm',
      logLevel: 'silent',
      external: [
        '@aws-sdk/*',
        '@smithy/*',
        '@grafana/*',
        '@aws-lambda-powertools/*',
        'zod',
        'yaml',
        'protobufjs',
        'snappyjs',
      ],
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((i) => i.includes('cli/doctor/run.ts'))).toBe(true);
    expect(inputs.filter((i) => /aws-cdk-lib|constructs|cdk-nag/.test(i))).toEqual([]);
  });
});
