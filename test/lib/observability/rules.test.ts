import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { renderAlertmanagerDefinition } from '../../../lib/observability/alertmanager.ts';
import { listRuleFiles, RULES_DIR, renderRuleFile } from '../../../lib/observability/monitoring-stack.ts';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

describe('alert rule files', () => {
  const files = listRuleFiles();

  it('ships rule files for every capability', () => {
    expect(files.map((f) => basename(f, '.yml')).sort()).toEqual(
      expect.arrayContaining(['msk-rollback', 'probes', 'utilization']),
    );
  });

  for (const file of files) {
    describe(basename(file), () => {
      it('passes promtool check rules', () => {
        const res = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
        expect(res.stderr + res.stdout).toContain('SUCCESS');
        expect(res.status).toBe(0);
      });

      it('has promtool test cases that pass', () => {
        const tests = file.replace(/\.yml$/, '.test.yml');
        expect(existsSync(tests)).toBe(true);
        const res = spawnSync('promtool', ['test', 'rules', basename(tests)], {
          cwd: RULES_DIR,
          encoding: 'utf8',
        });
        expect(res.stdout + res.stderr).toContain('SUCCESS');
        expect(res.status).toBe(0);
      });

      // docs.test.ts checks each runbook link against the headings of docs/runbooks.md.
      it('gives every alert a severity, summary, description and a runbook link', () => {
        const rules = (parse(readFileSync(file, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap(
          (g) => g.rules,
        );
        for (const rule of rules.filter((r) => r.alert)) {
          expect({ alert: rule.alert, severity: rule.labels?.severity }).toEqual({
            alert: rule.alert,
            severity: expect.stringMatching(/^(warning|critical)$/),
          });
          expect(rule.annotations?.summary, rule.alert).toBeTruthy();
          expect(rule.annotations?.description, rule.alert).toBeTruthy();
          expect(rule.annotations?.runbook_url, rule.alert).toMatch(/^https:\/\/.+#[a-z]+$/);
        }
      });

      it('points every runbook link at monitoring.runbookBaseUrl when rendered', () => {
        const rendered = parse(
          renderRuleFile(readFileSync(file, 'utf8'), 'https://wiki.example.com/runbooks'),
        ) as {
          groups: { rules: Rule[] }[];
        };
        const urls = rendered.groups.flatMap((g) => g.rules).flatMap((r) => r.annotations?.runbook_url ?? []);
        expect(urls.length).toBeGreaterThan(0);
        expect(urls.filter((u) => !/^https:\/\/wiki\.example\.com\/runbooks#[\w-]+$/.test(u))).toEqual([]);
      });

      it('has test cases that fire every alert at least once', () => {
        const rules = (parse(readFileSync(file, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap(
          (g) => g.rules,
        );
        const tests = parse(readFileSync(file.replace(/\.yml$/, '.test.yml'), 'utf8')) as {
          tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
        };
        const fired = new Set(
          tests.tests.flatMap((t) =>
            (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname),
          ),
        );
        const silent = new Set(
          tests.tests.flatMap((t) =>
            (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length === 0).map((a) => a.alertname),
          ),
        );
        for (const rule of rules.filter((r) => r.alert)) {
          expect({
            alert: rule.alert,
            fires: fired.has(rule.alert!),
            staysSilent: silent.has(rule.alert!),
          }).toEqual({
            alert: rule.alert,
            fires: true,
            staysSilent: true,
          });
        }
      });
    });
  }
});

describe('Alertmanager definition', () => {
  const dir = mkdtempSync(join(tmpdir(), 'observatory-am-'));
  const definition = parse(
    renderAlertmanagerDefinition({
      topicArn: 'arn:aws:sns:eu-west-1:111111111111:alerts',
      region: 'eu-west-1',
    }),
  ) as {
    template_files: Record<string, string>;
    alertmanager_config: string;
  };
  // amtool reads plain Alertmanager files: point `templates` at the template files AMP would hold.
  const config = parse(definition.alertmanager_config) as { templates: string[] };
  config.templates = config.templates.map((name) => {
    writeFileSync(join(dir, `${name}.tmpl`), definition.template_files[name]!);
    return join(dir, `${name}.tmpl`);
  });
  const file = join(dir, 'alertmanager.yml');
  writeFileSync(file, stringify(config));
  const route = (...labels: string[]) =>
    execFileSync('amtool', ['config', 'routes', 'test', `--config.file=${file}`, ...labels], {
      encoding: 'utf8',
    }).trim();

  it('passes amtool check-config', () => {
    const out = execFileSync('amtool', ['check-config', file], { encoding: 'utf8' });
    expect(out).toContain('SUCCESS');
    expect(out).toContain('- 2 receivers');
    expect(out).toContain('- 9 inhibit rules');
    expect(out).toContain('- 1 templates');
  });

  it('routes critical alerts to the critical receiver and everything else to warning', () => {
    expect(route('severity=critical', 'alertname=ProbeTargetDown')).toBe('critical');
    expect(route('severity=warning', 'alertname=ProbeLossHigh')).toBe('warning');
    expect(route('alertname=Unlabelled')).toBe('warning');
  });

  it('sends both receivers to the alert topic with SigV4 and a severity attribute', () => {
    const am = parse(definition.alertmanager_config) as {
      receivers: {
        name: string;
        sns_configs: { topic_arn: string; sigv4: { region: string }; attributes: { severity: string } }[];
      }[];
    };
    expect(
      am.receivers.map((r) => [
        r.name,
        r.sns_configs[0]!.topic_arn,
        r.sns_configs[0]!.sigv4.region,
        r.sns_configs[0]!.attributes.severity,
      ]),
    ).toEqual([
      ['critical', 'arn:aws:sns:eu-west-1:111111111111:alerts', 'eu-west-1', 'critical'],
      ['warning', 'arn:aws:sns:eu-west-1:111111111111:alerts', 'eu-west-1', 'warning'],
    ]);
  });
});
