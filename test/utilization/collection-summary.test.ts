import { describe, expect, it } from 'vitest';
import { summarizeCollection } from '../../lambdas/utilization/collection-summary.ts';
import { summarySamples } from '../../lambdas/utilization/collection-summary-handler.ts';

const shard = (accountId: string, service: string) => ({ accountId, region: 'eu-west-1', service });

describe('summarizeCollection', () => {
  it('digs the Lambda error message out of the Step Functions cause', () => {
    const s = summarizeCollection({
      toleratedFailurePercent: 50,
      results: [
        { shard: shard('111111111111', 'ec2'), batchId: 'b1', rows: 10 },
        {
          shard: shard('222222222222', 'rds'),
          status: 'failed',
          error: 'ShardError',
          cause: JSON.stringify({
            errorType: 'ShardError',
            errorMessage: 'role InfraObservatoryReader in 222222222222: AccessDenied',
          }),
        },
      ],
    });
    expect(s).toMatchObject({ shards: 2, succeeded: 1, failedPercent: 50, withinTolerance: true });
    expect(s.failed[0]!.reason).toBe('role InfraObservatoryReader in 222222222222: AccessDenied');
    expect(s.message).toBe(
      '1 of 2 shards failed, within the tolerated 50%: 222222222222/eu-west-1/rds: role InfraObservatoryReader in 222222222222: AccessDenied',
    );
  });

  it('fails a run above the tolerated percentage and a run with no shard at all', () => {
    const failed = {
      shard: shard('111111111111', 'ecs'),
      status: 'failed' as const,
      error: 'States.Timeout',
    };
    expect(
      summarizeCollection({ toleratedFailurePercent: 20, results: [failed, { shard: shard('1', 'ec2') }] })
        .withinTolerance,
    ).toBe(false);
    expect(summarizeCollection({ toleratedFailurePercent: 100, results: [] })).toMatchObject({
      withinTolerance: false,
      message: 'no shard was collected',
    });
  });

  it('pushes the last-success gauge only for a run within tolerance', () => {
    const ok = summarizeCollection({ toleratedFailurePercent: 0, results: [{ shard: shard('1', 'ec2') }] });
    const names = summarySamples(ok, 1_700_000_000_000).map((s) => s.name);
    expect(names).toContain('utilization_collection_run_last_success_timestamp_seconds');
    const bad = summarizeCollection({
      toleratedFailurePercent: 0,
      results: [{ shard: shard('1', 'ec2'), status: 'failed', error: 'X' }],
    });
    const samples = summarySamples(bad, 1_700_000_000_000);
    expect(samples.map((s) => s.name)).not.toContain(
      'utilization_collection_run_last_success_timestamp_seconds',
    );
    expect(samples.find((s) => s.name === 'utilization_collection_shard_failed')?.labels).toEqual({
      account: '1',
      region: 'eu-west-1',
      service: 'ec2',
      error: 'X',
    });
  });
});
