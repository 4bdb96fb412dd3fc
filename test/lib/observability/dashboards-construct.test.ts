/**
 * GrafanaDashboards: files in the cloud assembly always; the publisher, its provider and the custom
 * resource only with a Grafana config; least privilege on the token secret; no open cdk-nag finding.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import {
  defaultAuthType,
  EXPORT_DIR_NAME,
  GrafanaDashboards,
} from '../../../lib/observability/dashboards/grafana-dashboards.ts';
import { buildDashboards } from '../../../lib/observability/dashboards/index.ts';
import { readFindings } from '../../support/cdk.ts';

const TOKEN_ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:observatory/grafana-token-AbCdEf';
const GRAFANA = {
  url: 'https://g-abcdef1234.grafana-workspace.eu-west-1.amazonaws.com',
  tokenSecretArn: TOKEN_ARN,
  folder: 'Infra Observatory',
};

function synth(grafana?: typeof GRAFANA) {
  const outdir = mkdtempSync(join(tmpdir(), 'observatory-dash-cdk-'));
  // No bundling stacks: the publisher's code is not built (fast, offline).
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Monitoring', { env: { account: '111111111111', region: 'eu-west-1' } });
  const topic = new sns.Topic(stack, 'Alerts', { enforceSSL: true, masterKey: undefined });
  const dashboards = new GrafanaDashboards(stack, 'Dashboards', {
    prometheusEndpoint: 'https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234abcd-5678/',
    alertTopic: topic,
    logRetention: logs.RetentionDays.ONE_MONTH,
    grafana,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  let findings: ReturnType<typeof readFindings> = [];
  try {
    app.synth();
  } catch (err) {
    if (!String(err).includes('Validation failed')) throw err;
    findings = readFindings(join(outdir, 'validation-report.json'));
  }
  return { outdir, stack, dashboards, template: Template.fromStack(stack), findings };
}

// ObservedFunction stages bundled files in a temp dir per function; remove the ones these synths make.
const bundleDirsBefore = new Set(readdirSync(tmpdir()).filter((d) => d.startsWith('observatory-bundle-')));

describe('GrafanaDashboards', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    for (const d of readdirSync(tmpdir())) {
      if (d.startsWith('observatory-bundle-') && !bundleDirsBefore.has(d))
        rmSync(join(tmpdir(), d), { recursive: true, force: true });
    }
  });

  it('writes every dashboard as <uid>.json into the cloud assembly and deploys nothing without grafana', () => {
    const { outdir, template, dashboards } = synth();
    dirs.push(outdir);

    const files = readdirSync(join(outdir, EXPORT_DIR_NAME)).sort();
    expect(files).toEqual(
      buildDashboards()
        .map((d) => `${d.uid}.json`)
        .sort(),
    );
    for (const d of dashboards.dashboards) {
      const model = JSON.parse(readFileSync(join(outdir, EXPORT_DIR_NAME, d.fileName), 'utf8'));
      expect(model.uid).toBe(d.uid);
      expect(model.panels.length).toBeGreaterThan(0);
    }
    expect(dashboards.publisher).toBeUndefined();
    template.resourceCountIs('AWS::Lambda::Function', 0);
    template.resourceCountIs('AWS::CloudFormation::CustomResource', 0);
    expect(Object.keys(template.findResources('Custom::GrafanaDashboards'))).toHaveLength(0);
  });

  describe('with grafana configured', () => {
    const result = synth(GRAFANA);
    dirs.push(result.outdir);
    const { template } = result;

    it('creates a custom resource with the grafana, folder, data source, dashboards and a content hash', () => {
      template.hasResourceProperties('Custom::GrafanaDashboards', {
        grafanaUrl: GRAFANA.url,
        tokenSecretArn: TOKEN_ARN,
        folderUid: 'infra-observatory',
        folderTitle: 'Infra Observatory',
        datasourceUid: 'observatory-amp',
        workspaceUrl: 'https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234abcd-5678/',
        region: 'eu-west-1',
        sigV4AuthType: 'ec2',
        dashboardUids: buildDashboards().map((d) => d.uid),
        dashboardsHash: Match.stringLikeRegexp('^[0-9a-f]{32}$'),
      });
    });

    it('lets the publisher read exactly the token secret and nothing else from secrets manager', () => {
      const statements = new Capture();
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: { Statement: statements },
        Roles: [{ Ref: Match.stringLikeRegexp('DashboardsPublisherRole') }],
      });
      const secretStatements = (
        statements.asArray() as { Action: string | string[]; Resource: unknown }[]
      ).filter((s) => [s.Action].flat().some((a) => a.startsWith('secretsmanager:')));
      expect(secretStatements).toEqual([
        expect.objectContaining({ Action: 'secretsmanager:GetSecretValue', Resource: TOKEN_ARN }),
      ]);
    });

    it('runs the publisher on Node.js 22 ARM64 with the dashboards directory set, behind the provider framework', () => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Environment: { Variables: Match.objectLike({ DASHBOARDS_DIR: '/var/task' }) },
      });
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('AWS CDK resource provider framework - onEvent'),
      });
    });

    it('has no open cdk-nag finding', () => {
      expect(result.findings).toEqual([]);
    });
  });

  it('changes the content hash when a dashboard changes, so the custom resource updates', () => {
    const hash = (dashboards: ReturnType<typeof buildDashboards>) => {
      const outdir = mkdtempSync(join(tmpdir(), 'observatory-dash-cdk-'));
      dirs.push(outdir);
      const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
      const stack = new Stack(app, 'S', { env: { account: '111111111111', region: 'eu-west-1' } });
      new GrafanaDashboards(stack, 'D', {
        prometheusEndpoint: 'https://example/',
        alertTopic: new sns.Topic(stack, 'T'),
        logRetention: logs.RetentionDays.ONE_MONTH,
        grafana: GRAFANA,
        dashboards,
      });
      const [r] = Object.values(Template.fromStack(stack).findResources('Custom::GrafanaDashboards'));
      return r?.Properties.dashboardsHash as string;
    };
    const base = buildDashboards();
    const changed = buildDashboards();
    changed[0]!.dashboard.title = 'Changed';

    expect(hash(base)).toBe(hash(buildDashboards()));
    expect(hash(changed)).not.toBe(hash(base));
  });

  it('signs with the workspace role for amazon managed grafana and the sdk chain elsewhere', () => {
    expect(defaultAuthType(GRAFANA.url)).toBe('ec2');
    expect(defaultAuthType('https://grafana.example.com')).toBe('default');
  });
});
