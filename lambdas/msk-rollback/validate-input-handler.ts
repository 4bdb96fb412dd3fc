/**
 * ValidateInput: the first state. Validates the execution input and returns the plan, or fails the
 * execution with `InvalidInput` listing every problem.
 */
import { logger, observed } from '#shared/powertools';
import { rollbackEnv } from './env.ts';
import { InvalidInputError } from './errors.ts';
import { ValidateInputEvent } from './events.ts';
import {
  type AllowedCluster,
  parseRollbackInput,
  type RollbackDefaults,
  type RollbackPlan,
} from './input.ts';

/**
 * Validates the execution input.
 * @param event the raw input and the execution context
 * @param config allowed clusters and defaults
 * @throws InvalidInputError with every problem
 */
export function validateInput(
  event: unknown,
  config: { clusters: readonly AllowedCluster[]; defaults: RollbackDefaults },
): RollbackPlan {
  const e = ValidateInputEvent.parse(event);
  const result = parseRollbackInput(e.input, {
    clusters: config.clusters,
    defaults: config.defaults,
    execution: {
      executionArn: e.execution.id,
      executionName: e.execution.name,
      startTime: e.execution.startTime,
      stateMachineArn: e.stateMachineArn,
    },
  });
  if (!result.ok) throw new InvalidInputError(result.problems);
  return result.plan;
}

/** Lambda entry point. */
export const handler = observed(async (event: unknown) => {
  const env = rollbackEnv('ROLLBACK_CLUSTERS', 'ROLLBACK_DEFAULTS');
  try {
    const plan = validateInput(event, { clusters: env.ROLLBACK_CLUSTERS, defaults: env.ROLLBACK_DEFAULTS });
    logger.info('execution input valid', {
      rollback: plan.name,
      source: plan.source.name,
      target: plan.target.name,
    });
    return plan;
  } catch (err) {
    if (err instanceof InvalidInputError) logger.warn('execution input invalid', { problems: err.problems });
    throw err;
  }
});
