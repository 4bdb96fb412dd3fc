/**
 * Plans for tests, built through the real input parser from the documented example input.
 */
import {
  BUILT_IN_DEFAULTS,
  parseRollbackInput,
  type RollbackPlan,
} from '../../lambdas/msk-rollback/input.ts';
import { CLUSTERS, EXAMPLE_INPUT } from './world.ts';

export const EXECUTION = {
  executionArn: 'arn:aws:states:eu-west-1:111111111111:execution:ObservatoryMskRollback:orders-to-v3-run-1',
  executionName: 'orders-to-v3-run-1',
  startTime: '2026-03-02T09:00:00.000Z',
  stateMachineArn: 'arn:aws:states:eu-west-1:111111111111:stateMachine:ObservatoryMskRollback',
};

/** Parses an input (the example, with overrides) into a plan; throws listing problems. */
export function planOf(overrides: Record<string, unknown> = {}): RollbackPlan {
  const result = parseRollbackInput(
    { ...EXAMPLE_INPUT, ...overrides },
    { clusters: CLUSTERS, defaults: BUILT_IN_DEFAULTS, execution: EXECUTION },
  );
  if (!result.ok) throw new Error(result.problems.join('; '));
  return result.plan;
}

/** The reverse of the example: back from orders-v3 to orders-v2. */
export function reversePlan(): RollbackPlan {
  return planOf({
    name: 'orders-back-to-v2',
    direction: 'reverse',
    sourceClusterArn: EXAMPLE_INPUT.targetClusterArn,
    targetClusterArn: EXAMPLE_INPUT.sourceClusterArn,
  });
}
