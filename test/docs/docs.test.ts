import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { METRIC as MSK_ROLLBACK_METRICS } from '../../lambdas/msk-rollback/metrics.ts';
import { PROBE_METRICS } from '../../lambdas/probes/samples.ts';
import { SELF_METRICS } from '../../lambdas/shared/self-metrics.ts';
import { GAUGES as UTILIZATION_GAUGES } from '../../lambdas/utilization/report-gauges.ts';
import { DEFAULT_RUNBOOK_BASE_URL, ObservatoryConfigSchema } from '../../lib/config/schema.ts';
import { listRuleFiles, renderRuleFile } from '../../lib/observability/monitoring-stack.ts';
import { documentedKeys, headingAnchors, markdownLinks, schemaKeys } from '../support/docs.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

describe('runbooks', () => {
  // The default base is a GitHub blob URL of this repository: the file it names must be the runbooks page.
  const runbooksPath = /\/blob\/main\/(.+)$/.exec(DEFAULT_RUNBOOK_BASE_URL)?.[1];
  const alerts = listRuleFiles().flatMap((file) => {
    const rendered = parse(renderRuleFile(readFileSync(file, 'utf8'), DEFAULT_RUNBOOK_BASE_URL)) as {
      groups: { rules: { alert?: string; annotations?: Record<string, string> }[] }[];
    };
    return rendered.groups
      .flatMap((g) => g.rules)
      .flatMap((r) => (r.alert ? [{ alert: r.alert, url: r.annotations?.runbook_url ?? '' }] : []));
  });

  it('takes the default runbook base from docs/runbooks.md of this repository', () => {
    expect(runbooksPath).toBe('docs/runbooks.md');
  });

  it('links every alert of every rule file to its own heading in docs/runbooks.md', () => {
    const anchors = headingAnchors(read('docs/runbooks.md'));
    expect(alerts.length).toBeGreaterThanOrEqual(27);
    const wrong = alerts.filter(({ alert, url }) => {
      const anchor = url.startsWith(`${DEFAULT_RUNBOOK_BASE_URL}#`) ? url.split('#')[1] : undefined;
      return anchor !== alert.toLowerCase() || !anchors.has(anchor);
    });
    expect(wrong).toEqual([]);
  });
});

describe('config reference (docs/configuration.md)', () => {
  const schema = schemaKeys(ObservatoryConfigSchema);
  const documented = documentedKeys(read('docs/configuration.md'));

  it('finds the keys of nested objects, arrays and discriminated unions in the schema', () => {
    expect(schema).toEqual(
      expect.arrayContaining([
        'monitoring.workspace.workspaceId',
        'probes.regions[].availabilityZones[].subnetId',
        'probes.targets[].expectAnswers',
        'probes.discovery.ec2Tags.defaultPort',
        'utilization.policy.msk.bytesInPerSecBelow',
        'utilization.thresholds[].metric',
      ]),
    );
  });

  it('documents every key of the schema in a table row', () => {
    expect(schema.filter((key) => !documented.has(key))).toEqual([]);
  });

  it('documents no key the schema does not have', () => {
    const known = new Set(schema);
    expect([...documented].filter((key) => !known.has(key))).toEqual([]);
  });
});

describe('metric names in the guides', () => {
  const cases: [string, Record<string, string>][] = [
    ['docs/probes.md', PROBE_METRICS],
    ['docs/utilization.md', UTILIZATION_GAUGES],
    ['docs/msk-rollback.md', MSK_ROLLBACK_METRICS],
    ['docs/operating.md', SELF_METRICS],
  ];
  for (const [doc, metrics] of cases) {
    it(`names every metric of its capability in ${doc}`, () => {
      const text = read(doc);
      // In code, as a whole name: `probe_tcp_connect_seconds` does not count for probe_tcp_connect.
      expect(Object.values(metrics).filter((name) => !new RegExp(`\`${name}(?!\\w)`).test(text))).toEqual([]);
    });
  }
});

describe('links of README.md and docs/*.md', () => {
  for (const doc of DOCS) {
    it(`resolves every relative link of ${doc} to a file, and an anchor to a heading`, () => {
      const broken = markdownLinks(read(doc)).flatMap(({ line, target }) => {
        if (/^[a-z][a-z+.-]*:/i.test(target)) return [];
        const [path = '', anchor] = target.split('#');
        const file = path === '' ? join(ROOT, doc) : resolve(ROOT, dirname(doc), decodeURIComponent(path));
        const where = `${doc}:${line} ${target}`;
        if (!file.startsWith(ROOT) || !existsSync(file)) return [`${where}: no such file`];
        if (anchor === undefined || anchor === '') return [];
        if (!file.endsWith('.md') || statSync(file).isDirectory())
          return [`${where}: anchor into ${relative(ROOT, file)}`];
        return headingAnchors(readFileSync(file, 'utf8')).has(anchor) ? [] : [`${where}: no such heading`];
      });
      expect(broken).toEqual([]);
    });
  }

  it('links every page of docs/ from the README', () => {
    const linked = new Set(markdownLinks(read('README.md')).map(({ target }) => target.split('#')[0]));
    expect(DOCS.filter((d) => d !== 'README.md' && !linked.has(d))).toEqual([]);
  });
});

describe('README.md', () => {
  it('stays a front page: at most 260 lines', () => {
    expect(read('README.md').trimEnd().split('\n').length).toBeLessThanOrEqual(260);
  });
});
