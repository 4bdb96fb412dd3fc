/**
 * Powertools singletons and the Middy wrapper every handler uses.
 *
 * Created once per execution environment (module scope) so cold starts pay for them once.
 * Service name and metrics namespace come from the environment that `ObservedFunction` sets
 * (`POWERTOOLS_SERVICE_NAME`, `POWERTOOLS_METRICS_NAMESPACE`).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';

/** Structured JSON logger shared by every module of a function. */
export const logger = new Logger();
/** CloudWatch EMF metrics; flushed after every invocation by `logMetrics`. */
export const metrics = new Metrics();
/** X-Ray tracer; AWS SDK clients created through `traced()` are captured. */
export const tracer = new Tracer();

/**
 * Wraps a handler in the house Middy chain: tracing, then logger context, then metrics
 * (with a cold-start metric).
 * @param handler the function's own logic
 * @returns the Lambda entry point
 */
export function observed<TEvent, TResult>(handler: (event: TEvent, context: Context) => Promise<TResult>) {
  return middy(handler)
    .use(captureLambdaHandler(tracer))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }));
}

/**
 * Instruments an AWS SDK v3 client for X-Ray when running in Lambda.
 * @param client any SDK v3 client
 * @returns the same client
 */
export function traced<T extends object>(client: T): T {
  return tracer.captureAWSv3Client(client);
}
