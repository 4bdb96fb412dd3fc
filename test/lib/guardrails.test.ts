import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.ts';
import { loadConfig } from '../../lib/config/loader.ts';
import type { ObservatoryConfig } from '../../lib/config/schema.ts';
import {
  acknowledgementOf,
  type GuardFailure,
  type GuardrailAcknowledgement,
  guardrailAcknowledgements,
  pipelineAcknowledgements,
} from '../../lib/observability/guardrails.ts';
import { EXAMPLE_CONFIG } from '../support/cdk.ts';
import { controlIds, guardApp } from '../support/cfn-guard.ts';

/** Synthesizes the app (no bundling, no cdk-nag) and runs the Control Tower rules over every template. */
function guard(config: ObservatoryConfig): GuardFailure[] {
  const outdir = mkdtempSync(join(tmpdir(), 'observatory-guard-'));
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    buildApp(app, config, { nag: false });
    app.synth();
    return guardApp(app, outdir);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Guards the app of a config once for the enclosing describe block; the result reads its failures. */
function guardOnce(config: ObservatoryConfig): () => GuardFailure[] {
  let failures: GuardFailure[] = [];
  beforeAll(() => {
    failures = guard(config);
  }, 600_000);
  afterAll(() => {
    failures = [];
  });
  return () => failures;
}

const describeFailure = (f: GuardFailure) =>
  `${f.stage ? `${f.stage} ` : ''}${f.stack} ${f.path} (${f.type} ${f.logicalId}): ${f.control} ${f.rule}`;

/** The failures no acknowledgement covers, one line each naming stack, resource and rule. */
const unacknowledged = (failures: GuardFailure[], acks: GuardrailAcknowledgement[]) =>
  failures.filter((f) => !acknowledgementOf(f, acks)).map(describeFailure);

describe('Control Tower proactive controls (cfn-guard) over every stack of the example', () => {
  const config = loadConfig(EXAMPLE_CONFIG);
  const acks = guardrailAcknowledgements(config);
  const failures = guardOnce(config);

  it('runs the bundled Control Tower rules, one control ID per guard rule', () => {
    const ids = controlIds();
    expect(ids.size).toBeGreaterThan(200);
    expect(ids.get('lambda_inside_vpc_check')).toBe('CT.LAMBDA.PR.3');
    expect(ids.get('kms_create_grant_aws_service_check')).toBe('CT.KMS.PR.3');
  });

  it('leaves no failure unacknowledged', () => {
    expect(unacknowledged(failures(), acks)).toEqual([]);
  });

  it('acknowledges nothing that does not fail (every entry matches a failure of the example)', () => {
    const unused = acks.filter((a) => !failures().some((f) => acknowledgementOf(f, [a]) === a));
    expect(unused).toEqual([]);
  });

  it('gives every acknowledgement a reason of its own', () => {
    for (const a of acks) expect(a.reason.length, `${a.control} ${a.path}`).toBeGreaterThan(40);
    expect(new Set(acks.map((a) => `${a.control} ${a.path}`)).size).toBe(acks.length);
  });

  it('meets the KMS, ECS, RDS and S3 encryption/versioning/notification controls outright', () => {
    const met = ['CT.KMS.PR.3', 'CT.ECS.PR.7', 'CT.RDS.PR.2', 'CT.S3.PR.4', 'CT.S3.PR.11'];
    expect(
      failures()
        .filter((f) => met.includes(f.control))
        .map(describeFailure),
    ).toEqual([]);
    // Only the access-log bucket, which S3 requires to be SSE-S3, fails CT.S3.PR.10.
    expect(
      failures()
        .filter((f) => f.control === 'CT.S3.PR.10')
        .map((f) => f.path),
    ).toEqual(['AccessLogs/Resource']);
  });
});

describe('Control Tower controls that are config choices', () => {
  const example = loadConfig(EXAMPLE_CONFIG);
  // Probes and MSK rollback off: the choices below show in the monitoring and utilization stacks.
  const config: ObservatoryConfig = {
    ...example,
    monitoring: { ...example.monitoring, logRetentionDays: 365, logEncryption: false },
    probes: { ...example.probes!, enabled: false },
    mskRollback: { ...example.mskRollback!, enabled: false },
    utilization: {
      ...example.utilization!,
      database: { ...example.utilization!.database, monitoringIntervalSeconds: 0 },
    },
  };
  const acks = guardrailAcknowledgements(config);
  const failures = guardOnce(config);

  it('meets CT.CLOUDWATCH.PR.2 with monitoring.logRetentionDays of 365, and then acknowledges none', () => {
    expect(
      failures()
        .filter((f) => f.control === 'CT.CLOUDWATCH.PR.2')
        .map(describeFailure),
    ).toEqual([]);
    expect(acks.filter((a) => a.control === 'CT.CLOUDWATCH.PR.2')).toEqual([]);
    expect(guardrailAcknowledgements(example).filter((a) => a.control === 'CT.CLOUDWATCH.PR.2')).toHaveLength(
      1,
    );
  });

  it('fails CT.CLOUDWATCH.PR.3 with monitoring.logEncryption off, acknowledged as that config choice only', () => {
    const unencrypted = failures().filter((f) => f.control === 'CT.CLOUDWATCH.PR.3');
    expect(unencrypted.length).toBeGreaterThan(0);
    for (const f of unencrypted) expect(acknowledgementOf(f, acks)?.reason).toMatch(/logEncryption is false/);
    expect(guardrailAcknowledgements(example).filter((a) => a.control === 'CT.CLOUDWATCH.PR.3')).toEqual([]);
  });

  it('fails CT.RDS.PR.2 with enhanced monitoring off, acknowledged as that config choice only', () => {
    expect(
      failures()
        .filter((f) => f.control === 'CT.RDS.PR.2')
        .map((f) => f.path),
    ).toEqual(['Database/Writer/Resource']);
    expect(acknowledgementOf(failures().find((f) => f.control === 'CT.RDS.PR.2')!, acks)?.reason).toMatch(
      /monitoringIntervalSeconds is 0/,
    );
    expect(guardrailAcknowledgements(example).filter((a) => a.control === 'CT.RDS.PR.2')).toEqual([]);
    expect(unacknowledged(failures(), acks)).toEqual([]);
  });
});

describe('Control Tower proactive controls over the release pipeline of test/fixtures/pipeline/release.yaml', () => {
  const RELEASE = 'test/fixtures/pipeline/release.yaml';
  const config = loadConfig(RELEASE);
  const pipelineStack = `${config.project}-Pipeline`;
  // The pipeline's own stacks answer to the release config's list, each stage's stacks to their config's.
  const acksByStage = new Map<string, GuardrailAcknowledgement[]>([
    ['', guardrailAcknowledgements(config)],
    ...config.pipeline!.environments.map((e): [string, GuardrailAcknowledgement[]] => [
      `${pipelineStack}/${e.name}`,
      guardrailAcknowledgements(loadConfig(e.config)),
    ]),
  ]);
  const acksOf = (f: GuardFailure) => {
    const acks = acksByStage.get(f.stage);
    if (!acks) throw new Error(`failure in unknown stage "${f.stage}": ${describeFailure(f)}`);
    return acks;
  };
  const failures = guardOnce(config);
  const ofPipeline = () => failures().filter((f) => f.stage === '' && f.stack === pipelineStack);

  it('validates the pipeline stack and both environment stages', () => {
    expect(ofPipeline().length).toBeGreaterThan(0);
    expect(new Set(failures().map((f) => f.stage))).toEqual(new Set(acksByStage.keys()));
  });

  it('leaves no failure unacknowledged, in the pipeline stack or its stages', () => {
    expect(
      failures()
        .filter((f) => !acknowledgementOf(f, acksOf(f)))
        .map(describeFailure),
    ).toEqual([]);
  });

  it('acknowledges nothing of the pipeline that does not fail', () => {
    const unused = pipelineAcknowledgements().filter(
      (a) => !ofPipeline().some((f) => acknowledgementOf(f, [a]) === a),
    );
    expect(unused).toEqual([]);
    expect(guardrailAcknowledgements(loadConfig(EXAMPLE_CONFIG))).not.toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'ArtifactAccessLogs/Resource' })]),
    );
  });

  it('meets CodeBuild logging, the artifact key grant control and the bucket controls it can outright', () => {
    const met = ['CT.CODEBUILD.PR.3', 'CT.KMS.PR.3', 'CT.S3.PR.4', 'CT.S3.PR.6', 'CT.S3.PR.11'];
    expect(
      ofPipeline()
        .filter((f) => met.includes(f.control))
        .map(describeFailure),
    ).toEqual([]);
    // Only the synth project runs privileged; only the access-log bucket is SSE-S3.
    const paths = (control: string) =>
      ofPipeline()
        .filter((f) => f.control === control)
        .map((f) => f.path);
    expect(paths('CT.CODEBUILD.PR.4')).toEqual(['Pipeline/Pipeline/Build/Synth/CdkBuildProject/Resource']);
    expect(paths('CT.S3.PR.10')).toEqual(['ArtifactAccessLogs/Resource']);
  });

  it("fails the stages' and the build log group's CloudWatch controls only as their configs' choices", () => {
    const logs = failures().filter((f) => f.control.startsWith('CT.CLOUDWATCH.'));
    expect(logs.map((f) => f.path)).toContain('BuildLogs/Resource');
    for (const f of logs)
      expect(acknowledgementOf(f, acksOf(f))?.reason, describeFailure(f)).toMatch(/^config choice/);
  });
});
