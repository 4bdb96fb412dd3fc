/**
 * The release pipeline synthesized from test/fixtures/pipeline/release.yaml: a CodePipeline V2 that only
 * git tags start, a synth step running the project's tests, then staging, then an approval and production.
 */
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../lib/app.ts';
import { type ConfigError, loadConfig, parseConfig } from '../../../lib/config/loader.ts';
import { synthApp } from '../../support/cdk.ts';

const RELEASE = 'test/fixtures/pipeline/release.yaml';

interface CfnAction {
  Name: string;
  ActionTypeId: { Category: string; Provider: string };
  RunOrder: number;
  Configuration?: Record<string, unknown>;
}
interface CfnStage {
  Name: string;
  Actions: CfnAction[];
}

describe('release pipeline', () => {
  const result = synthApp(RELEASE);
  afterAll(() => result.cleanup());
  const stack = result.stacks.pipeline!;
  const template = Template.fromStack(stack);
  const pipeline = Object.values(template.findResources('AWS::CodePipeline::Pipeline'))[0]!.Properties as {
    PipelineType: string;
    Triggers: unknown[];
    Stages: CfnStage[];
  };
  const stage = (name: string) => pipeline.Stages.find((s) => s.Name === name)!;

  it('has no open cdk-nag AwsSolutions finding', () => {
    expect(result.findings).toEqual([]);
  });

  it('is a CodePipeline V2 that only the configured git tags start', () => {
    expect(pipeline.PipelineType).toBe('V2');
    expect(pipeline.Triggers).toEqual([
      {
        ProviderType: 'CodeStarSourceConnection',
        GitConfiguration: {
          SourceActionName: 'Source',
          Push: [{ Tags: { Includes: ['v*', 'release-*'] } }],
        },
      },
    ]);
  });

  it('reads the repository through the configured CodeStar connection', () => {
    const [source] = stage('Source').Actions;
    expect(source?.ActionTypeId.Provider).toBe('CodeStarSourceConnection');
    expect(source?.Configuration).toMatchObject({
      ConnectionArn:
        'arn:aws:codeconnections:eu-west-1:444444444444:connection/0f6b2c1e-8d4a-4c3b-9e2f-1a2b3c4d5e6f',
      FullRepositoryId: 'infra-observatory/infra-observatory',
      BranchName: 'main',
    });
  });

  it('runs npm ci, the test command and cdk synth of the pipeline config, in that order', () => {
    const projects = template.findResources('AWS::CodeBuild::Project', {
      Properties: { Source: { BuildSpec: Match.stringLikeRegexp('npm test') } },
    });
    expect(Object.keys(projects)).toHaveLength(1);
    const spec = JSON.parse(Object.values(projects)[0]!.Properties.Source.BuildSpec) as {
      phases: { build: { commands: string[] } };
      artifacts: { 'base-directory': string };
    };
    expect(spec.phases.build.commands).toEqual([
      'npm ci --no-audit --no-fund',
      'npm test',
      'npx cdk synth --no-notices -c config=config/example.yaml',
    ]);
    expect(spec.artifacts['base-directory']).toBe('cdk.out');
  });

  it('passes the config file the app was built from to cdk synth', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stacks = buildApp(app, loadConfig(RELEASE), { nag: false, configFile: RELEASE });
    const spec = Object.values(
      Template.fromStack(stacks.pipeline!).findResources('AWS::CodeBuild::Project', {
        Properties: { Source: { BuildSpec: Match.stringLikeRegexp('npm test') } },
      }),
    )[0]!.Properties.Source.BuildSpec as string;
    expect(spec).toContain(`npx cdk synth --no-notices -c config=${RELEASE}`);
  });

  it('deploys the environments in config order after source, synth, self-update and assets', () => {
    expect(pipeline.Stages.map((s) => s.Name)).toEqual([
      'Source',
      'Build',
      'UpdatePipeline',
      'Assets',
      'staging',
      'production',
    ]);
  });

  it('asks for a manual approval before the protected environment only, ahead of its first deployment', () => {
    const manual = (s: CfnStage) => s.Actions.filter((a) => a.ActionTypeId.Category === 'Approval');
    expect(manual(stage('staging'))).toEqual([]);
    const production = stage('production');
    const [approval] = manual(production);
    expect(approval?.Name).toBe('Approve-production');
    const deploys = production.Actions.filter((a) => a.ActionTypeId.Category === 'Deploy');
    expect(deploys.length).toBeGreaterThan(0);
    expect(Math.min(...deploys.map((a) => a.RunOrder))).toBeGreaterThan(approval!.RunOrder);
  });

  it('deploys each environment to its own account with the stack names doctor looks up', () => {
    const deploys = stage('production').Actions.filter((a) => a.Name.endsWith('.Deploy'));
    expect(deploys.map((a) => a.Configuration?.StackName)).toEqual([
      'Observatory-Monitoring',
      'Observatory-Probes-eu-west-1',
    ]);
    // The deploy actions assume the target account's CDK bootstrap roles.
    expect(JSON.stringify(deploys[0])).toContain('cdk-hnb659fds-deploy-role-222222222222-eu-west-1');
    expect(JSON.stringify(stage('staging').Actions[0])).toContain(
      'cdk-hnb659fds-deploy-role-333333333333-eu-west-1',
    );
  });

  it('encrypts artifacts with a rotated key and logs access to the artifact bucket', () => {
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    const artifacts = Object.values(
      template.findResources('AWS::S3::Bucket', {
        Properties: {
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              Match.objectLike({ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }),
            ],
          },
        },
      }),
    );
    expect(artifacts).toHaveLength(1);
    expect(artifacts[0]!.Properties.LoggingConfiguration).toMatchObject({ LogFilePrefix: 'artifacts/' });
  });

  it('grants no wildcard action, and on a wildcard resource only what has no resource-level permission', () => {
    const onAnyResource = new Set<string>();
    for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
      for (const st of policy.Properties.PolicyDocument.Statement as {
        Action: string | string[];
        Resource: unknown;
      }[]) {
        const actions = [st.Action].flat();
        expect(actions).not.toContain('*');
        if (st.Resource === '*') for (const a of actions) onAnyResource.add(a);
      }
    }
    expect([...onAnyResource].sort()).toEqual([
      'cloudformation:DescribeStacks',
      'codebuild:BatchGetBuilds',
      'codebuild:StartBuild',
      'codebuild:StopBuild',
      's3:ListBucket',
    ]);
  });

  it('runs the synth step privileged (network namespaces) on the standard 7 image', () => {
    template.hasResourceProperties('AWS::CodeBuild::Project', {
      Source: { BuildSpec: Match.stringLikeRegexp('npm test') },
      Environment: Match.objectLike({ PrivilegedMode: true, Image: 'aws/codebuild/standard:7.0' }),
    });
  });
});

describe('pipeline config', () => {
  const base = {
    account: '111111111111',
    monitoring: { homeRegion: 'eu-west-1', workspace: { create: true } },
  };
  const pipeline = {
    connectionArn:
      'arn:aws:codestar-connections:eu-west-1:111111111111:connection/0f6b2c1e-8d4a-4c3b-9e2f-1a2b3c4d5e6f',
    repository: 'acme/observatory',
    environments: [{ name: 'prod', config: 'config/prod.yaml', protected: true }],
  };
  const problems = (input: unknown) => {
    try {
      parseConfig(input);
      return [];
    } catch (err) {
      return (err as ConfigError).problems;
    }
  };

  it('defaults to the main branch and v* tags', () => {
    const c = parseConfig({ ...base, pipeline });
    expect(c.pipeline).toMatchObject({ branch: 'main', tags: ['v*'] });
  });

  it('rejects a connection ARN of another service', () => {
    expect(
      problems({
        ...base,
        pipeline: { ...pipeline, connectionArn: 'arn:aws:iam::111111111111:role/x' },
      }).join(),
    ).toMatch(/pipeline\.connectionArn: expected a connection ARN/);
  });

  it('rejects two environments with one name', () => {
    const env = pipeline.environments[0]!;
    expect(problems({ ...base, pipeline: { ...pipeline, environments: [env, env] } }).join()).toMatch(
      /pipeline\.environments\[1\]\.name: duplicate environment "prod"/,
    );
  });

  it('rejects more tag patterns than CodePipeline accepts', () => {
    const tags = Array.from({ length: 9 }, (_, i) => `v${i}*`);
    expect(problems({ ...base, pipeline: { ...pipeline, tags } }).join()).toMatch(/at most 8 tag patterns/);
  });
});
