/**
 * RenderConfig: renders the MM2 properties, stores them where the task reads them (the config bucket),
 * and returns the RunTask overrides (task size, container environment) the next state uses.
 */
import { createHash } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { logger, observed, traced } from '#shared/powertools';
import { s3ConfigStore } from './adapters/aws.ts';
import { rollbackEnv } from './env.ts';
import { PlanWithBrokersEvent } from './events.ts';
import { heapMiB, type RollbackPlan } from './input.ts';
import { executionLabels } from './metrics.ts';
import { renderMm2Properties } from './mm2-config.ts';
import type { ConfigStore } from './ports.ts';

/** ECS `KeyValuePair` as RunTask's container overrides take it. */
export interface EnvPair {
  readonly Name: string;
  readonly Value: string;
}

/** What RenderConfig returns (`$.config`). */
export interface RenderedConfig {
  readonly s3Uri: string;
  readonly sha256: string;
  /** Task CPU and memory overrides; strings, as RunTask takes them. */
  readonly cpu: string;
  readonly memory: string;
  /** The MM2 JVM heap set by `KAFKA_HEAP_OPTS`. */
  readonly heapMiB: number;
  readonly mm2Environment: EnvPair[];
  readonly collectorEnvironment: EnvPair[];
}

/** The S3 key of an execution's MM2 config. */
export function configKey(plan: Pick<RollbackPlan, 'execution'>): string {
  return `executions/${plan.execution.name}/mm2.properties`;
}

/**
 * Renders and stores the MM2 config of a plan.
 * @param event plan and bootstrap brokers
 * @param store where the task reads the config
 */
export async function renderConfig(event: unknown, store: ConfigStore): Promise<RenderedConfig> {
  const { plan, brokers } = PlanWithBrokersEvent.parse(event);
  const properties = renderMm2Properties(plan, brokers);
  const s3Uri = await store.put(configKey(plan), properties, 'text/x-java-properties');
  const heap = heapMiB(plan.mm2.memoryMiB);
  const labels = executionLabels(plan);
  return {
    s3Uri,
    sha256: createHash('sha256').update(properties).digest('hex'),
    cpu: String(plan.mm2.cpu),
    memory: String(plan.mm2.memoryMiB),
    heapMiB: heap,
    mm2Environment: [
      { Name: 'MM2_CONFIG_S3_URI', Value: s3Uri },
      { Name: 'MM2_CONFIG_SHA256', Value: createHash('sha256').update(properties).digest('hex') },
      { Name: 'KAFKA_HEAP_OPTS', Value: `-Xms${heap}m -Xmx${heap}m` },
    ],
    collectorEnvironment: [
      { Name: 'MM2_EXECUTION', Value: labels.execution! },
      { Name: 'MM2_ROLLBACK', Value: labels.rollback! },
      { Name: 'MM2_SOURCE_CLUSTER', Value: labels.source_cluster! },
      { Name: 'MM2_TARGET_CLUSTER', Value: labels.target_cluster! },
      { Name: 'MM2_DIRECTION', Value: labels.direction! },
    ],
  };
}

const s3 = traced(new S3Client({}));

/** Lambda entry point. */
export const handler = observed(async (event: unknown) => {
  const env = rollbackEnv('CONFIG_BUCKET');
  const rendered = await renderConfig(event, s3ConfigStore(s3, env.CONFIG_BUCKET));
  logger.info('mm2 config stored', { s3Uri: rendered.s3Uri, sha256: rendered.sha256 });
  return rendered;
});
