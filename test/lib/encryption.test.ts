import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { synthApp } from '../support/cdk.ts';

describe('encryption and containment of the example', () => {
  const { stacks, cleanup } = synthApp();
  afterAll(cleanup);
  const all = [stacks.monitoring, ...stacks.probes, stacks.utilization!, stacks.mskRollback!];

  it('encrypts every log group with its stack key, usable by CloudWatch Logs of that region only', () => {
    for (const stack of all) {
      const t = Template.fromStack(stack);
      const groups = Object.values(t.findResources('AWS::Logs::LogGroup'));
      expect(groups.length, stack.stackName).toBeGreaterThan(0);
      expect(
        groups.filter((g) => g.Properties?.KmsKeyId === undefined),
        stack.stackName,
      ).toEqual([]);
      const keyRef = groups[0]!.Properties.KmsKeyId['Fn::GetAtt'][0] as string;
      const key = t.toJSON().Resources[keyRef];
      const statement = key.Properties.KeyPolicy.Statement.find(
        (s: { Sid?: string }) => s.Sid === 'AllowCloudWatchLogs',
      );
      expect(statement.Principal.Service).toBe(`logs.${stack.region}.amazonaws.com`);
      expect(statement.Condition.ArnLike['kms:EncryptionContext:aws:logs:arn']).toEqual({
        'Fn::Join': [
          '',
          ['arn:', { Ref: 'AWS::Partition' }, `:logs:${stack.region}:${stack.account}:log-group:*`],
        ],
      });
    }
  });

  it('delivers access logs through a bucket policy scoped to the source bucket, with ACLs disabled', () => {
    const t = Template.fromStack(stacks.utilization!);
    const buckets = t.findResources('AWS::S3::Bucket', {
      Properties: { OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] } },
    });
    expect(
      Object.values(t.findResources('AWS::S3::Bucket')).filter((b) => b.Properties?.AccessControl),
    ).toEqual([]);
    const [accessLogsId] = Object.keys(buckets);
    expect(accessLogsId).toBeDefined();
    const policies = Object.values(t.findResources('AWS::S3::BucketPolicy')).filter(
      (p) => p.Properties.Bucket.Ref === accessLogsId,
    );
    const statement = policies
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .find((s: { Sid?: string }) => s.Sid === 'S3ServerAccessLogsPolicy');
    expect(statement).toMatchObject({
      Effect: 'Allow',
      Principal: { Service: 'logging.s3.amazonaws.com' },
      Action: 's3:PutObject',
      Condition: { StringEquals: { 'aws:SourceAccount': '111111111111' } },
    });
    expect(JSON.stringify(statement.Condition.ArnLike['aws:SourceArn'])).toMatch(/Batches/);
    t.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { DestinationBucketName: { Ref: accessLogsId }, LogFilePrefix: 'batches/' },
    });
  });
});
