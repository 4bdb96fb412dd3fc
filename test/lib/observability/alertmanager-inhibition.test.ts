/**
 * The inhibit rules, proved with Alertmanager itself (Debian's prometheus-alertmanager): the rendered
 * definition runs with its receivers swapped for a loopback webhook, alerts carrying the labels of the
 * shipped rule files are posted to its API, and the test reads back which are inhibited and which
 * are notified.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { renderAlertmanagerDefinition } from '../../../lib/observability/alertmanager.ts';
import { listRuleFiles } from '../../../lib/observability/monitoring-stack.ts';

type Labels = Record<string, string>;

/** The static (untemplated) labels each alert of the shipped rule files sets. */
const ruleLabels = new Map<string, Labels>(
  listRuleFiles().flatMap((file) =>
    (
      parse(readFileSync(file, 'utf8')) as { groups: { rules: { alert?: string; labels?: Labels }[] }[] }
    ).groups
      .flatMap((g) => g.rules)
      .filter((r) => r.alert)
      .map((r) => [
        r.alert as string,
        Object.fromEntries(Object.entries(r.labels ?? {}).filter(([, v]) => !v.includes('{{'))),
      ]),
  ),
);

/** An alert as the rule `alertname` would fire it, with the series labels of its expression. */
function alert(alertname: string, series: Labels): Labels {
  const labels = ruleLabels.get(alertname);
  if (!labels) throw new Error(`no rule ${alertname}`);
  return { alertname, ...labels, ...series };
}

interface Running {
  readonly url: string;
  readonly notified: Labels[];
  stop(): Promise<void>;
}

/** Starts Alertmanager on a loopback port with the rendered routing and inhibit rules. */
async function startAlertmanager(): Promise<Running> {
  const notified: Labels[] = [];
  const webhook: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      for (const a of (JSON.parse(body) as { alerts: { labels: Labels }[] }).alerts) notified.push(a.labels);
      res.end();
    });
  });
  await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/`;

  const config = parse(
    (
      parse(
        renderAlertmanagerDefinition({
          topicArn: 'arn:aws:sns:eu-west-1:111111111111:alerts',
          region: 'eu-west-1',
        }),
      ) as {
        alertmanager_config: string;
      }
    ).alertmanager_config,
  ) as {
    route: Record<string, unknown> & { routes?: Record<string, unknown>[] };
    receivers: { name: string }[];
    templates?: string[];
  };
  // Same routes and inhibit rules; SNS receivers become the loopback webhook, waits become 1 s.
  config.receivers = config.receivers.map((r) => ({
    name: r.name,
    webhook_configs: [{ url: hookUrl, send_resolved: false }],
  }));
  delete config.templates;
  for (const route of [config.route, ...(config.route.routes ?? [])]) {
    route.group_wait = '1s';
    route.group_interval = '1s';
  }
  const dir = mkdtempSync(join(tmpdir(), 'observatory-alertmanager-'));
  writeFileSync(join(dir, 'alertmanager.yml'), stringify(config));

  const port = await freePort();
  const proc: ChildProcess = spawn(
    'prometheus-alertmanager',
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  proc.stderr?.on('data', (c) => {
    log += c;
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok === true,
    () => log,
  );
  return {
    url,
    notified,
    stop: async () => {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      await new Promise((r) => webhook.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

async function waitFor(
  check: () => Promise<boolean> | boolean,
  context: () => string | Promise<string>,
  ms = 15_000,
) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out: ${await context()}`);
}

async function post(am: Running, alerts: Labels[]): Promise<void> {
  const now = Date.now();
  const res = await fetch(`${am.url}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(
      alerts.map((labels) => ({
        labels,
        startsAt: new Date(now - 60_000).toISOString(),
        endsAt: new Date(now + 3_600_000).toISOString(),
      })),
    ),
  });
  expect(res.status).toBe(200);
}

/** `alertname{key labels}` -> whether Alertmanager reports it inhibited. */
async function inhibition(am: Running): Promise<Map<string, boolean>> {
  const alerts = (await (await fetch(`${am.url}/api/v2/alerts`)).json()) as {
    labels: Labels;
    status: { inhibitedBy: string[] };
  }[];
  return new Map(alerts.map((a) => [key(a.labels), a.status.inhibitedBy.length > 0]));
}

const key = (l: Labels) =>
  [
    l.alertname,
    l.severity,
    l.source_az,
    l.target,
    l.account && `${l.account}/${l.region}/${l.service}`,
    l.source_region && l.target_region && `${l.source_region}->${l.target_region}`,
    l.signal,
    l.locus,
    l.pair && `aws:${l.pair}:${l.source_az_id ?? ''}->${l.target_az_id ?? ''}`,
  ]
    .filter(Boolean)
    .join(' ');

/**
 * Posts the causes, waits until Alertmanager has notified them (so its inhibitor has seen them, as the
 * 30 s group wait guarantees in production), posts the other alerts, waits until every alert is listed
 * and every one expected to be notified was, and returns what it inhibited and what it notified.
 */
async function scenario(causes: Labels[], others: Labels[], expectNotified: Labels[]) {
  const am = await startAlertmanager();
  const notifiedAll = (expected: Labels[]) =>
    expected.every((e) => am.notified.some((n) => key(n) === key(e)));
  try {
    await post(am, causes);
    await waitFor(
      () => notifiedAll(causes),
      () => `causes not notified: ${JSON.stringify(am.notified.map(key))}`,
    );
    await post(am, others);
    await waitFor(
      async () =>
        (await inhibition(am)).size === causes.length + others.length && notifiedAll(expectNotified),
      async () =>
        `notified ${JSON.stringify(am.notified.map(key))}, listed ${JSON.stringify([...(await inhibition(am))])}`,
    );
    // Two more group intervals: an alert that should have been inhibited would have been sent by now.
    await new Promise((r) => setTimeout(r, 2_500));
    return { inhibited: await inhibition(am), notified: new Set(am.notified.map(key)) };
  } finally {
    await am.stop();
  }
}

describe('Alertmanager inhibition (real prometheus-alertmanager)', () => {
  it('silences the per-target alerts of a source AZ that is down, and nothing from other AZs', async () => {
    const azDown = alert('ProbeSourceAzDown', {
      source_region: 'eu-west-1',
      source_az: 'eu-west-1b',
      source_az_id: 'euw1-az2',
    });
    const lossFromB = alert('ProbeHighLoss', {
      source_region: 'eu-west-1',
      source_az: 'eu-west-1b',
      target: 'db',
      address: '10.0.1.5',
    });
    const unreachableFromB = alert('ProbeTargetUnreachableFromAz', {
      source_region: 'eu-west-1',
      source_az: 'eu-west-1b',
      target: 'web',
      address: '10.0.2.7',
    });
    const lossFromA = alert('ProbeHighLoss', {
      source_region: 'eu-west-1',
      source_az: 'eu-west-1a',
      target: 'db',
      address: '10.0.1.5',
    });
    const targetDown = alert('ProbeTargetDown', { target: 'shop', kind: 'http' });
    const { inhibited, notified } = await scenario(
      [azDown],
      [lossFromB, unreachableFromB, lossFromA, targetDown],
      [azDown, lossFromA, targetDown],
    );
    expect(Object.fromEntries(inhibited)).toEqual({
      [key(azDown)]: false,
      [key(lossFromB)]: true,
      [key(unreachableFromB)]: true,
      [key(lossFromA)]: false,
      [key(targetDown)]: false,
    });
    expect(notified.has(key(lossFromB))).toBe(false);
    expect(notified.has(key(unreachableFromB))).toBe(false);
    expect(notified.has(key(lossFromA))).toBe(true);
  });

  it('silences the silent probe sources while no probe sample arrives at all, not other pipelines', async () => {
    const absent = alert('ProbesAbsent', {});
    const silentA = alert('ProbeSourceSilent', {
      source_region: 'eu-west-1',
      source_az: 'eu-west-1a',
      source_az_id: 'euw1-az1',
    });
    const silentB = alert('ProbeSourceSilent', {
      source_region: 'us-east-1',
      source_az: 'us-east-1a',
      source_az_id: 'use1-az1',
    });
    const shardStale = alert('UtilizationCollectionStale', {
      account: '222222222222',
      region: 'eu-west-1',
      service: 'rds',
    });
    const { inhibited, notified } = await scenario(
      [absent],
      [silentA, silentB, shardStale],
      [absent, shardStale],
    );
    expect(Object.fromEntries(inhibited)).toEqual({
      [key(absent)]: false,
      [key(silentA)]: true,
      [key(silentB)]: true,
      [key(shardStale)]: false,
    });
    expect([...notified].sort()).toEqual([key(absent), key(shardStale)].sort());
  });

  it('silences stale utilization shards while the collection runs have stopped, not the probes', async () => {
    // ObservatoryRunsStopped's labels are templated from `component`; these are the rendered values.
    const runsStopped = {
      alertname: 'ObservatoryRunsStopped',
      severity: 'warning',
      inhibits: 'pipeline',
      pipeline: 'utilization',
      component: 'utilization',
      function: 'collection-summary',
      region: 'eu-west-1',
    };
    const stale = alert('UtilizationCollectionStale', {
      account: '222222222222',
      region: 'eu-west-1',
      service: 'rds',
    });
    const stopped = alert('UtilizationCollectionStopped', {
      account: '333333333333',
      region: 'us-east-1',
      service: 'ec2',
    });
    const probeSilent = alert('ProbeSourceSilent', {
      source_region: 'eu-west-1',
      source_az: 'eu-west-1a',
      source_az_id: 'euw1-az1',
    });
    const { inhibited } = await scenario(
      [runsStopped],
      [stale, stopped, probeSilent],
      [runsStopped, probeSilent],
    );
    expect(Object.fromEntries(inhibited)).toEqual({
      [key(runsStopped)]: false,
      [key(stale)]: true,
      [key(stopped)]: true,
      [key(probeSilent)]: false,
    });
  });

  it('silences a warning while the critical alert of its family fires for the same subject only', async () => {
    const soon = alert('ProbeCertificateExpiringSoon', { target: 'web' });
    const now = alert('ProbeCertificateExpiring', { target: 'web' });
    const otherSoon = alert('ProbeCertificateExpiringSoon', { target: 'api' });
    const { inhibited } = await scenario([now], [soon, otherSoon], [now, otherSoon]);
    expect(Object.fromEntries(inhibited)).toEqual({
      [key(soon)]: true,
      [key(now)]: false,
      [key(otherSoon)]: false,
    });
  });

  /** A detection alert on one path (both severities share the alert name; the map holds the last). */
  const pathAlert = (
    alertname: string,
    severity: string,
    signal: string,
    locus: string,
    path: {
      source_region?: string;
      source_az: string;
      source_az_id: string;
      target: string;
      address: string;
      target_region?: string;
      target_az_id?: string;
    },
  ) => ({ ...alert(alertname, {}), severity, signal, locus, source_region: 'eu-west-1', ...path });

  it('gives the on-call the broadest true locus of a degradation: target, source AZ or region pair over its paths', async () => {
    const web = (az: string, azId: string, signal = 'latency', locus = 'target') =>
      pathAlert(signal === 'latency' ? 'ProbeLatencyStep' : 'ProbeJitterOnset', 'warning', signal, locus, {
        source_az: az,
        source_az_id: azId,
        target: 'web',
        address: '10.0.2.1',
      });
    const targetDegraded = alert('ProbeTargetDegraded', { target: 'web', signal: 'latency' });
    const azDegraded = alert('ProbeSourceAzDegraded', {
      source_region: 'eu-west-1',
      source_az: 'eu-west-1d',
      source_az_id: 'euw1-az4',
      signal: 'latency',
    });
    const pairDegraded = alert('ProbeRegionPairDegraded', {
      source_region: 'us-east-1',
      target_region: 'eu-west-1',
      signal: 'latency',
    });
    const webFromB = web('eu-west-1b', 'euw1-az2');
    const webFromC = web('eu-west-1c', 'euw1-az3');
    // Same target, other signal: ProbeTargetDegraded is for latency only.
    const webJitter = web('eu-west-1b', 'euw1-az2', 'jitter');
    const s3aFromD = pathAlert('ProbeLatencyStep', 'warning', 'latency', 'source_az', {
      source_az: 'eu-west-1d',
      source_az_id: 'euw1-az4',
      target: 's3a',
      address: '10.0.4.1',
    });
    // A source-AZ locus of another AZ, whose own alert has not fired: still notified.
    const s3aFromE = pathAlert('ProbeLatencyStep', 'warning', 'latency', 'source_az', {
      source_az: 'eu-west-1e',
      source_az_id: 'euw1-az5',
      target: 's3a',
      address: '10.0.4.1',
    });
    const euaFromUs = pathAlert('ProbeLatencyStep', 'critical', 'latency', 'region_pair', {
      source_region: 'us-east-1',
      source_az: 'us-east-1a',
      source_az_id: 'use1-az1',
      target: 'eu-a',
      target_region: 'eu-west-1',
      address: '10.0.3.1',
    });
    const cacheRoute = pathAlert('ProbeLatencyStep', 'warning', 'latency', 'path', {
      source_az: 'eu-west-1e',
      source_az_id: 'euw1-az5',
      target: 'cache',
      address: '10.0.5.1',
    });
    const causes = [targetDegraded, azDegraded, pairDegraded];
    const { inhibited, notified } = await scenario(
      causes,
      [webFromB, webFromC, webJitter, s3aFromD, s3aFromE, euaFromUs, cacheRoute],
      [...causes, webJitter, s3aFromE, cacheRoute],
    );
    expect(Object.fromEntries(inhibited)).toEqual({
      [key(targetDegraded)]: false,
      [key(azDegraded)]: false,
      [key(pairDegraded)]: false,
      [key(webFromB)]: true,
      [key(webFromC)]: true,
      [key(webJitter)]: false,
      [key(s3aFromD)]: true,
      [key(s3aFromE)]: false,
      [key(euaFromUs)]: true,
      [key(cacheRoute)]: false,
    });
    expect([...notified].sort()).toEqual([...causes, webJitter, s3aFromE, cacheRoute].map(key).sort());
  });

  it("names AWS's network once when AWS's own figure for a pair degraded: its paths' latency alerts silenced, not other pairs' nor other signals", async () => {
    const awsAz = alert('AwsNetworkPairDegraded', {
      pair: 'az',
      source_region: 'eu-west-1',
      source_az_id: 'euw1-az1',
      target_az_id: 'euw1-az2',
    });
    const awsRegion = alert('AwsNetworkPairDegraded', {
      pair: 'region',
      source_region: 'us-east-1',
      target_region: 'eu-west-1',
    });
    const from1a = { source_az: 'eu-west-1a', source_az_id: 'euw1-az1' };
    const toAz2 = pathAlert('ProbeLatencyStep', 'warning', 'latency', 'path', {
      ...from1a,
      target: 'mesh-az2',
      target_az_id: 'euw1-az2',
      address: '10.0.1.20',
    });
    const toAz3 = pathAlert('ProbeLatencyStep', 'warning', 'latency', 'path', {
      ...from1a,
      target: 'mesh-az3',
      target_az_id: 'euw1-az3',
      address: '10.0.1.30',
    });
    // a path to a target outside the probe AZs has no target_az_id: AWS's AZ pair says nothing of it
    const toOutside = pathAlert('ProbeLatencyDrift', 'warning', 'latency', 'path', {
      ...from1a,
      target: 'partner-api',
      address: '203.0.113.7',
    });
    const lossAz2 = pathAlert('ProbeLossOnset', 'warning', 'loss', 'path', {
      ...from1a,
      target: 'mesh-az2-loss',
      target_az_id: 'euw1-az2',
      address: '10.0.1.20',
    });
    const usToEu = pathAlert('ProbeLatencyDrift', 'warning', 'latency', 'path', {
      source_region: 'us-east-1',
      source_az: 'us-east-1a',
      source_az_id: 'use1-az1',
      target: 'eu-api',
      target_region: 'eu-west-1',
      address: '10.0.3.1',
    });
    const euToUs = pathAlert('ProbeLatencyDrift', 'warning', 'latency', 'path', {
      source_az: 'eu-west-1b',
      source_az_id: 'euw1-az2',
      target: 'us-api',
      target_region: 'us-east-1',
      address: '10.8.3.1',
    });
    const causes = [awsAz, awsRegion];
    const { inhibited } = await scenario(
      causes,
      [toAz2, toAz3, toOutside, lossAz2, usToEu, euToUs],
      [...causes, toAz3, toOutside, lossAz2, euToUs],
    );
    expect(Object.fromEntries(inhibited)).toEqual({
      [key(awsAz)]: false,
      [key(awsRegion)]: false,
      [key(toAz2)]: true,
      [key(toAz3)]: false,
      [key(toOutside)]: false,
      [key(lossAz2)]: false,
      [key(usToEu)]: true,
      [key(euToUs)]: false,
    });
  });

  it('silences the warning of a detection alert while its critical fires on the same path only', async () => {
    const path = { source_az: 'eu-west-1e', source_az_id: 'euw1-az5', target: 'cache', address: '10.0.5.1' };
    const critical = pathAlert('ProbeLatencyStep', 'critical', 'latency', 'path', path);
    const warning = pathAlert('ProbeLatencyStep', 'warning', 'latency', 'path', path);
    const otherPath = pathAlert('ProbeLatencyStep', 'warning', 'latency', 'path', {
      ...path,
      source_az: 'eu-west-1f',
      source_az_id: 'euw1-az6',
    });
    const lossWarning = pathAlert('ProbeLossOnset', 'warning', 'loss', 'path', path);
    const { inhibited } = await scenario(
      [critical],
      [warning, otherPath, lossWarning],
      [critical, otherPath, lossWarning],
    );
    expect(Object.fromEntries(inhibited)).toEqual({
      [key(critical)]: false,
      [key(warning)]: true,
      [key(otherPath)]: false,
      [key(lossWarning)]: false,
    });
  });
});
