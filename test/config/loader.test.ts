import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ConfigError, formatPath, loadConfig } from '../../lib/config/loader.ts';
import { EXAMPLE_CONFIG } from '../support/cdk.ts';

const BAD = join(import.meta.dirname, '../fixtures/config/bad.yaml');

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

function withExample(mutate: (c: Record<string, any>) => void): string {
  const doc = parse(readFileSync(EXAMPLE_CONFIG, 'utf8'));
  mutate(doc);
  const file = join(mkdtempSync(join(tmpdir(), 'observatory-config-')), 'config.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

describe('loadConfig', () => {
  it('accepts the example config and applies defaults', () => {
    const config = loadConfig(EXAMPLE_CONFIG);
    expect(config.probes?.regions.map((r) => r.region)).toEqual(['eu-west-1', 'us-east-1']);
    expect(config.probes?.regions.every((r) => r.availabilityZones.length === 3)).toBe(true);
    expect(config.probes?.targets).toHaveLength(12);
    expect(config.utilization?.accounts).toHaveLength(2);
    const http = config.probes?.targets.find((t) => t.name === 'status-page');
    expect(http).toMatchObject({
      kind: 'http',
      method: 'GET',
      expectStatus: [200],
      followRedirects: true,
      certMinDays: 14,
    });
  });

  it('gives utilization rightsizing and trends their defaults, and checks their bounds', () => {
    const config = loadConfig(EXAMPLE_CONFIG);
    expect(config.utilization).toMatchObject({
      rightsizing: { cpuTargetPercent: 40, memoryHeadroomPercent: 20 },
      trends: { days: 30, minDays: 7, minR2: 0.5, cpuPercent: 80, storagePercent: 90, horizonDays: 90 },
      forecastAlertDays: 14,
    });
    const bad = withExample((c) => {
      c.utilization.rightsizing = { cpuTargetPercent: 0 };
      c.utilization.forecastAlertDays = 0;
    });
    expect(problemsOf(() => loadConfig(bad)).join('\n')).toMatch(
      /utilization\.rightsizing\.cpuTargetPercent[\s\S]*utilization\.forecastAlertDays|utilization\.forecastAlertDays[\s\S]*utilization\.rightsizing\.cpuTargetPercent/,
    );
  });

  it('gives an omitted under-use policy and rollback defaults every field default, not an empty object', () => {
    const c = loadConfig(
      withExample((doc) => {
        delete doc.utilization.policy;
        delete doc.mskRollback.defaults;
      }),
    );
    expect(c.utilization!.policy).toEqual({
      ec2: { days: 14, cpuP95BelowPercent: 10, networkBytesPerDayBelow: 5 * 1024 ** 2 * 24 },
      rds: { days: 7, maxConnectionsBelow: 1 },
      ecs: { days: 14, cpuP95BelowPercent: 20, memoryP95BelowPercent: 20 },
      msk: { days: 14, cpuP95BelowPercent: 10, bytesInPerSecBelow: 1024 },
    });
    expect(c.mskRollback!.defaults).toEqual({
      maxLagRecords: 1000,
      holdMinutes: 10,
      convergeTimeoutMinutes: 360,
      approvalTimeoutMinutes: 1440,
      tasks: 1,
      cpu: 1024,
      memoryMiB: 4096,
    });
  });

  it('lists every problem of a bad file by path', () => {
    const problems = problemsOf(() => loadConfig(BAD));
    expect(problems).toEqual(
      expect.arrayContaining([
        'account: expected a 12-digit AWS account ID, got "12345"',
        'monitoring.colour: unknown key',
        expect.stringMatching(/^monitoring\.alertEmails\[0\]: .*email.*, got "not-an-email"$/i),
        expect.stringMatching(/^probes\.attempts: expected number, received string, got "five"$/),
        expect.stringMatching(/^probes\.regions\[0\]\.availabilityZones\[1\]\.subnetId: required/),
        'probes.targets[0].port: expected 1-65535, got 0',
        expect.stringMatching(/^probes\.targets\[2\]\.url: /),
        expect.stringMatching(/^probes\.targets\[3\]\.kind: /),
        expect.stringMatching(/^utilization\.accounts: required/),
        'utilization.database.subnetIds: Aurora needs subnets in at least two AZs',
      ]),
    );
  });

  it('reports duplicate target names and AZs outside their region once the shapes are valid', () => {
    const file = withExample((c) => {
      c.probes.targets[5].name = c.probes.targets[0].name;
      c.probes.regions[0].availabilityZones[2].name = 'us-east-1c';
    });
    expect(problemsOf(() => loadConfig(file))).toEqual([
      'probes.targets[5].name: duplicate target name "payments-db-euw1" (first at targets[0].name)',
      'probes.regions[0].availabilityZones[2].name: AZ "us-east-1c" is not in region eu-west-1',
    ]);
  });

  it('rejects a missing required section', () => {
    const file = withExample((c) => {
      delete c.monitoring;
    });
    expect(problemsOf(() => loadConfig(file))).toEqual([expect.stringMatching(/^monitoring: required/)]);
  });

  it('rejects unknown keys at any depth, naming the full path', () => {
    const file = withExample((c) => {
      c.probes.targets[1].prot = 5432;
      c.extra = true;
    });
    expect(problemsOf(() => loadConfig(file)).sort()).toEqual([
      'extra: unknown key',
      'probes.targets[1].prot: unknown key',
    ]);
  });

  it('reports YAML syntax errors and unreadable files without a stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'observatory-config-'));
    writeFileSync(join(dir, 'broken.yaml'), 'monitoring: [unclosed\n');
    expect(problemsOf(() => loadConfig(join(dir, 'broken.yaml')))).toEqual([
      expect.stringMatching(/^yaml: line 2, column 1: Flow sequence in block collection/),
    ]);
    expect(problemsOf(() => loadConfig(join(dir, 'missing.yaml')))[0]).toMatch(/^cannot read file: .*ENOENT/);
  });

  it('reports one YAML typo as one problem at its line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'observatory-config-'));
    // One over-indented key: the parser raises two errors (nested mapping, multi-line key) for it.
    writeFileSync(
      join(dir, 'typo.yaml'),
      'project: Observatory\nmonitoring:\n  homeRegion: eu-west-1\n   workspace: {}\n',
    );
    expect(problemsOf(() => loadConfig(join(dir, 'typo.yaml')))).toEqual([
      'yaml: line 3, column 15: Nested mappings are not allowed in compact mappings',
    ]);
  });

  it('formats paths the way operators read them', () => {
    expect(formatPath(['probes', 'targets', 3, 'port'])).toBe('probes.targets[3].port');
    expect(formatPath([])).toBe('');
  });
});

describe('cdk app with a bad config', () => {
  it('exits non-zero before synthesizing and prints every problem', () => {
    const out = mkdtempSync(join(tmpdir(), 'observatory-bad-synth-'));
    const res = spawnSync('npx', ['tsx', 'bin/observatory.ts'], {
      cwd: join(import.meta.dirname, '../..'),
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ config: BAD }), CDK_OUTDIR: out },
      encoding: 'utf8',
    });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain(`invalid config ${BAD}:`);
    expect(res.stderr).toContain('probes.targets[0].port: expected 1-65535, got 0');
    expect(res.stderr).not.toMatch(/at .*\.ts:\d+/);
    expect(readdirSync(out)).toEqual([]);
  });
});

describe('the region list', () => {
  it('is the list aws-cdk-lib region-info publishes (else: npx tsx scripts/regions.ts > lib/config/regions.ts)', async () => {
    const { RegionInfo } = await import('aws-cdk-lib/region-info');
    const { AWS_REGIONS } = await import('../../lib/config/regions.ts');
    expect([...AWS_REGIONS].sort()).toEqual(RegionInfo.regions.map((r) => r.name).sort());
  });
});
