/**
 * `observatory probe` run as a user runs it (npx tsx), against loopback servers.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultDeadlineSeconds, duplicateTargetWarnings, parseTargetUri } from '../../cli/probe-run.ts';
import { type LocalPrometheus, startPrometheus } from '../support/prometheus.ts';
import {
  closedPort,
  makeCert,
  type Running,
  type RunningHttp,
  startDnsServer,
  startHttpServer,
  startHttpsServer,
  startTcpServer,
  type TestCert,
} from './support/servers.ts';

const ENTRY = join(import.meta.dirname, '../../bin/cli.ts');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'npx',
      ['tsx', ENTRY, 'probe', ...args],
      { cwd: join(import.meta.dirname, '..', '..'), timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('observatory probe', () => {
  let tcp: Running;
  let web: RunningHttp;
  let secure: RunningHttp;
  let dns: Running;
  let cert: TestCert;
  let dir: string;
  beforeAll(async () => {
    tcp = await startTcpServer();
    web = await startHttpServer((req, res) => {
      if (req.url === '/moved') {
        res.writeHead(301, { location: '/health' });
        res.end();
        return;
      }
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      }, 100);
    });
    cert = makeCert(45);
    secure = await startHttpsServer(cert, (_req, res) => {
      res.writeHead(200);
      res.end('tls ok');
    });
    dns = await startDnsServer({ 'svc.example.test': { A: ['10.2.3.4'] } });
    dir = mkdtempSync(join(tmpdir(), 'observatory-cli-'));
    writeFileSync(join(dir, 'ca.pem'), cert.cert);
  });
  afterAll(async () => {
    await Promise.all([tcp?.close(), web?.close(), secure?.close(), dns?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints a table with one row per target and exits 0 when every probe succeeds', async () => {
    const r = await cli([
      '-t',
      `tcp://127.0.0.1:${tcp.port}`,
      '-t',
      `http://127.0.0.1:${web.port}/health`,
      '-n',
      '3',
      '--interval',
      '10',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^TARGET\s+ADDRESS\s+OK\s+RESULT$/);
    expect(lines[1]).toMatch(
      new RegExp(
        // A fresh process: the first run's warm-up connect is shown apart from the three measured ones.
        `^tcp://127\\.0\\.0\\.1:${tcp.port}\\s+127\\.0\\.0\\.1\\s+ok\\s+min .* loss 0% \\(3/3 ok\\)  warm-up \\d+\\.\\d+ms \\(not counted\\)$`,
      ),
    );
    expect(lines[2]).toMatch(
      new RegExp(
        `^http://127\\.0\\.0\\.1:${web.port}/health\\s+127\\.0\\.0\\.1\\s+ok\\s+200  dns .* ttfb \\d+\\.\\dms`,
      ),
    );
    expect(lines[3]).toMatch(/^2\/2 ok in \d+ ms$/);
  });

  it('prints one JSON document per run and exits 1 when a probe fails', async () => {
    const closed = await closedPort();
    const r = await cli([
      '-t',
      `tcp://127.0.0.1:${closed}`,
      '-t',
      `https://localhost:${secure.port}/`,
      '-t',
      `dns://svc.example.test?type=A&expect=10.2.3.4`,
      '--dns-server',
      `127.0.0.1:${dns.port}`,
      '--ca',
      join(dir, 'ca.pem'),
      '--json',
      '--repeat',
      '2',
      '--every',
      '1',
      '-n',
      '2',
    ]);
    expect(r.code).toBe(1);
    const runs = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(runs).toHaveLength(2);
    for (const run of runs) {
      expect(run).toMatchObject({
        source: { region: expect.any(String), az: 'local', azId: 'local' },
        succeeded: 2,
        failed: 1,
        timedOut: 0,
      });
      const [refused, https, name] = run.outcomes;
      expect(refused).toMatchObject({
        kind: 'tcp',
        success: 0,
        reason: 'refused',
        tcp: { attempts: 2, lossRatio: 1 },
      });
      expect(https).toMatchObject({
        kind: 'http',
        success: 1,
        http: { statusCode: 200, certExpiry: cert.notAfter, certVerified: true },
      });
      expect(https.http.phasesSeconds.tls).toBeGreaterThan(0);
      expect(name).toMatchObject({ kind: 'dns', success: 1, dns: { answers: ['10.2.3.4'] } });
    }
    expect(Date.parse(runs[1].time) - Date.parse(runs[0].time)).toBeGreaterThanOrEqual(1000);
  });

  it('applies HTTP assertions given on the command line', async () => {
    const follow = await cli([
      '-t',
      `http://127.0.0.1:${web.port}/moved`,
      '--follow-redirects',
      '--header',
      'content-type=json',
      '--body-regex',
      '"ok":true',
      '--json',
    ]);
    expect(follow.code).toBe(0);
    expect(JSON.parse(follow.stdout).outcomes[0].http).toMatchObject({ redirects: 1, statusCode: 200 });
    const strict = await cli([
      '-t',
      `http://127.0.0.1:${web.port}/moved`,
      '--expect-status',
      '200,204',
      '--json',
    ]);
    expect(strict.code).toBe(1);
    expect(JSON.parse(strict.stdout).outcomes[0]).toMatchObject({
      reason: 'status',
      error: 'status 301, expected 200 or 204',
    });
  });

  it('reads targets and settings from the probes section of a config file', async () => {
    const file = join(dir, 'observatory.yaml');
    writeFileSync(
      file,
      [
        'account: "123456789012"',
        'monitoring: { homeRegion: eu-west-1, workspace: { create: true } }',
        'probes:',
        '  attempts: 4',
        '  timeoutMs: 500',
        '  regions: [{ region: eu-west-1, vpcId: vpc-0abc1234, vpcCidr: 10.0.0.0/16, availabilityZones: [{ name: eu-west-1a, id: euw1-az1, subnetId: subnet-0abc1234 }] }]',
        '  targets:',
        `    - { kind: tcp, name: local-db, host: 127.0.0.1, port: ${tcp.port}, az: eu-west-1a }`,
        `    - { kind: http, name: local-web, url: "http://127.0.0.1:${web.port}/health", bodyRegex: "ok" }`,
      ].join('\n'),
    );
    const r = await cli(['--config', file, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const run = JSON.parse(r.stdout);
    expect(run.outcomes.map((o: { target: string }) => o.target)).toEqual(['local-db', 'local-web']);
    expect(run.outcomes[0].tcp.attempts).toBe(4);
  });

  it('exits 2 with every problem of a bad config listed by path', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        'account: "123456789012"',
        'monitoring: { homeRegion: eu-west-1, workspace: { create: true } }',
        'probes:',
        '  attempts: 0',
        '  regions: []',
      ].join('\n'),
    );
    const r = await cli(['--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('probes.attempts');
    expect(r.stderr).toContain('probes.regions');
  });

  it('exits 2 on a target it cannot parse', async () => {
    const r = await cli(['-t', 'icmp://10.0.0.1']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'error: unsupported target "icmp://10.0.0.1": expected tcp://, http://, https:// or dns://',
    );
  });

  it('measures over more attempts than the Lambda allows and warns about a target given twice', async () => {
    const uri = `tcp://127.0.0.1:${tcp.port}`;
    const r = await cli(['-t', uri, '-t', uri, '-n', '120', '--interval', '0', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr.trim()).toBe(`warning: target ${uri} given 2 times, probed once`);
    const run = JSON.parse(r.stdout);
    expect(run.outcomes).toHaveLength(1);
    expect(run.outcomes[0].tcp).toMatchObject({ attempts: 120, successes: 120, lossRatio: 0 });
  });

  it('exits 2 on more than 1,000 attempts', async () => {
    const r = await cli(['-t', `tcp://127.0.0.1:${tcp.port}`, '-n', '1001']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('attempts must be an integer 1-1000, got "1001"');
  });

  describe('with --remote-write', () => {
    let prom: LocalPrometheus;
    beforeAll(async () => {
      prom = await startPrometheus();
    });
    afterAll(async () => {
      await prom?.stop();
    });

    it('writes the samples unsigned to a plain Prometheus receiver with the given source labels', async () => {
      const r = await cli([
        '-t',
        `tcp://127.0.0.1:${tcp.port}`,
        '--remote-write',
        prom.remoteWriteUrl,
        '--source-region',
        'eu-west-1',
        '--source-az',
        'eu-west-1c',
        '--source-az-id',
        'euw1-az3',
      ]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/samples written/);
      const rows = await prom.query(`probe_success{target="tcp://127.0.0.1:${tcp.port}"}`);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.metric).toMatchObject({
        source_region: 'eu-west-1',
        source_az: 'eu-west-1c',
        source_az_id: 'euw1-az3',
        kind: 'tcp',
        address: '127.0.0.1',
        ip_family: 'ipv4',
      });
      expect(rows[0]!.value[1]).toBe('1');
    });
  });
});

describe('duplicateTargetWarnings', () => {
  it('names each target given more than once with its count, once', () => {
    expect(
      duplicateTargetWarnings(['tcp://a:1', 'tcp://b:2', 'tcp://a:1', 'tcp://a:1', 'tcp://b:2']),
    ).toEqual([
      'warning: target tcp://a:1 given 3 times, probed once',
      'warning: target tcp://b:2 given 2 times, probed once',
    ]);
    expect(duplicateTargetWarnings(['tcp://a:1', 'tcp://A:1'])).toEqual([]);
  });
});

describe('defaultDeadlineSeconds', () => {
  it('keeps 55 s for the usual attempts and grows to fit every attempt timing out', () => {
    expect(defaultDeadlineSeconds({ attempts: 5, timeoutMs: 2000 })).toBe(55);
    // 1,000 x (2,000 ms timeout + 100 ms pause) + 5 s.
    expect(defaultDeadlineSeconds({ attempts: 1000, timeoutMs: 2000 })).toBe(2105);
    expect(defaultDeadlineSeconds({ attempts: 1000, timeoutMs: 500, intervalMs: 0 })).toBe(505);
  });
});

describe('parseTargetUri', () => {
  it('parses tcp, http and dns targets, naming each by its URI', () => {
    expect(parseTargetUri('tcp://[::1]:8443')).toMatchObject({
      kind: 'tcp',
      name: 'tcp://[::1]:8443',
      host: '::1',
      port: 8443,
    });
    expect(parseTargetUri('https://example.com/health', { expectStatus: [204] })).toMatchObject({
      kind: 'http',
      url: 'https://example.com/health',
      expectStatus: [204],
      method: 'GET',
    });
    expect(parseTargetUri('dns://example.com?type=aaaa&expect=2001:db8::1')).toMatchObject({
      kind: 'dns',
      query: 'example.com',
      recordType: 'AAAA',
      expectAnswers: ['2001:db8::1'],
    });
    expect(parseTargetUri('dns://example.com')).toMatchObject({ recordType: 'A' });
  });

  it('rejects a tcp target without a port or with one out of range', () => {
    expect(() => parseTargetUri('tcp://example.com')).toThrow(
      'invalid tcp target "tcp://example.com": expected tcp://host:port',
    );
    expect(() => parseTargetUri('tcp://example.com:70000')).toThrow(
      'invalid tcp target "tcp://example.com:70000": expected 1-65535',
    );
  });
});
