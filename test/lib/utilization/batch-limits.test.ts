import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../lib/config/loader.ts';
import { EXAMPLE_CONFIG, synthApp } from '../../support/cdk.ts';

describe('batch limits of the collect function', () => {
  const base = loadConfig(EXAMPLE_CONFIG);
  const result = synthApp({
    ...base,
    utilization: { ...base.utilization!, batchMaxRows: 20_000, batchMaxBytes: 8 * 1024 * 1024 },
  });
  afterAll(() => result.cleanup());

  it('passes utilization.batchMaxRows and batchMaxBytes to the collect function', () => {
    const template = Template.fromStack(result.stacks.utilization!);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('collects their CloudWatch metrics'),
      Environment: {
        Variables: Match.objectLike({ BATCH_MAX_ROWS: '20000', BATCH_MAX_BYTES: String(8 * 1024 * 1024) }),
      },
    });
  });

  it('defaults to bounds the 1,024 MB store function holds with margin', () => {
    expect(base.utilization).toMatchObject({ batchMaxRows: 50_000, batchMaxBytes: 16 * 1024 * 1024 });
  });
});
