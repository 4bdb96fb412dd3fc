import { App, Stack } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../../lib/config/loader.ts';
import { MonitoringStack } from '../../../lib/observability/monitoring-stack.ts';
import { EXAMPLE_CONFIG, synthApp } from '../../support/cdk.ts';

const config = loadConfig(EXAMPLE_CONFIG);

describe('MonitoringStack', () => {
  const result = synthApp(EXAMPLE_CONFIG);
  afterAll(() => result.cleanup());
  const template = Template.fromStack(result.stacks.monitoring);

  it('creates the AMP workspace with an Alertmanager definition routing to the alert topic', () => {
    const definition = new Capture();
    template.hasResourceProperties('AWS::APS::Workspace', {
      Alias: 'infra-observatory',
      AlertManagerDefinition: definition,
    });
    const rendered = JSON.stringify(definition.asObject());
    expect(rendered).toContain('sns_configs');
    expect(rendered).toContain('AlertTopic');
  });

  it('encrypts the alert topic with a rotating KMS key and lets AMP and CloudWatch publish', () => {
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    const statements = new Capture();
    template.hasResourceProperties('AWS::SNS::TopicPolicy', { PolicyDocument: { Statement: statements } });
    const byService = (
      statements.asArray() as { Principal?: { Service?: string }; Condition?: unknown }[]
    ).filter((s) => s.Principal?.Service);
    expect(byService.map((s) => s.Principal?.Service).sort()).toEqual([
      'aps.amazonaws.com',
      'cloudwatch.amazonaws.com',
    ]);
    const aps = byService.find((s) => s.Principal?.Service === 'aps.amazonaws.com');
    expect(JSON.stringify(aps?.Condition)).toContain('aws:SourceArn');
  });

  it('subscribes every configured e-mail address', () => {
    template.resourcePropertiesCountIs(
      'AWS::SNS::Subscription',
      { Protocol: 'email' },
      config.monitoring.alertEmails.length,
    );
  });

  it('loads one rule groups namespace per rule file, without promtool test files', () => {
    const namespaces = template.findResources('AWS::APS::RuleGroupsNamespace');
    const names = Object.values(namespaces).map((r) => r.Properties.Name as string);
    expect(names.length).toBeGreaterThan(0);
    expect(names.some((n) => n.endsWith('.test'))).toBe(false);
    for (const r of Object.values(namespaces))
      expect(parse(r.Properties.Data as string).groups.length).toBeGreaterThan(0);
  });

  it('outputs the remote-write and query endpoints', () => {
    template.hasOutput('RemoteWriteUrl', {
      Value: {
        'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.anyValue(), 'PrometheusEndpoint'] }, 'api/v1/remote_write']],
      },
    });
    template.hasOutput('QueryUrl', Match.anyValue());
  });

  it('imports an existing workspace by ID instead of creating one', () => {
    const app = new App();
    const stack = new MonitoringStack(app, 'Imported', {
      env: { account: '111111111111', region: 'eu-west-1' },
      config: { ...config.monitoring, workspace: { workspaceId: 'ws-12345678-abcd-ef01-2345-6789abcdef01' } },
    });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::APS::Workspace', 0);
    expect(stack.remoteWriteUrl).toBe(
      'https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-12345678-abcd-ef01-2345-6789abcdef01/api/v1/remote_write',
    );
    t.hasResourceProperties('AWS::APS::RuleGroupsNamespace', {
      Workspace: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('workspace/ws-12345678')])] },
    });
    expect(JSON.stringify(Stack.of(stack).resolve(stack.workspaceArn))).toContain(
      ':aps:eu-west-1:111111111111:workspace/ws-12345678-abcd-ef01-2345-6789abcdef01',
    );
  });
});
