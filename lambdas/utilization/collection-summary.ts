/**
 * Summary of one collection run: which shards failed and why, and whether the run stays within the
 * tolerated failure percentage. Pure.
 */
import { z } from 'zod';

const ShardIdSchema = z.object({ accountId: z.string(), region: z.string(), service: z.string() });

/** One Map iteration's result: a collect summary, or the ShardFailed record of a caught error. */
export const ShardResultSchema = z.union([
  z.object({
    shard: ShardIdSchema,
    status: z.literal('failed'),
    error: z.string(),
    cause: z.string().optional(),
  }),
  z.looseObject({ shard: ShardIdSchema, batchId: z.string().optional() }),
]);

/** The summary function's event: the Map's results plus the tolerance fixed at deploy time. */
export const SummaryEventSchema = z.object({
  results: z.array(ShardResultSchema),
  toleratedFailurePercent: z.number().min(0).max(100),
  executionId: z.string().optional(),
});
export type SummaryEvent = z.infer<typeof SummaryEventSchema>;

/** A failed shard with the reason an operator can act on. */
export interface FailedShard {
  readonly accountId: string;
  readonly region: string;
  readonly service: string;
  readonly error: string;
  readonly reason: string;
}

/** What the run reports. */
export interface CollectionSummary {
  readonly shards: number;
  readonly succeeded: number;
  readonly failed: FailedShard[];
  readonly failedPercent: number;
  readonly withinTolerance: boolean;
  /** One line for the execution's output or failure cause. */
  readonly message: string;
}

/** Step Functions puts a Lambda error's message inside a JSON `Cause`; dig the message out. */
function reasonOf(cause: string | undefined, error: string): string {
  if (!cause) return error;
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string };
    return parsed.errorMessage ?? cause;
  } catch {
    return cause;
  }
}

/**
 * Summarizes a run. A run with no shard at all is not "within tolerance": it collected nothing.
 * @param event the Map's results and the tolerated failure percentage
 */
export function summarizeCollection(event: SummaryEvent): CollectionSummary {
  const failed: FailedShard[] = [];
  for (const r of event.results) {
    if ('status' in r && r.status === 'failed') {
      const f = r as { shard: z.infer<typeof ShardIdSchema>; error: string; cause?: string };
      failed.push({ ...f.shard, error: f.error, reason: reasonOf(f.cause, f.error) });
    }
  }
  const shards = event.results.length;
  const failedPercent = shards === 0 ? 100 : (failed.length * 100) / shards;
  const withinTolerance = shards > 0 && failedPercent <= event.toleratedFailurePercent;
  const list = failed.map((f) => `${f.accountId}/${f.region}/${f.service}: ${f.reason}`).join('; ');
  const message =
    shards === 0
      ? 'no shard was collected'
      : `${failed.length} of ${shards} shards failed${withinTolerance ? ', within' : ', more than'} the tolerated ${event.toleratedFailurePercent}%${list ? `: ${list}` : ''}`;
  return {
    shards,
    succeeded: shards - failed.length,
    failed,
    failedPercent: Math.round(failedPercent * 10) / 10,
    withinTolerance,
    message,
  };
}
