/**
 * The probe function's invocation payload, set by the stack as the EventBridge Scheduler target input.
 *
 * It carries the whole run request (source AZ, targets, discovery, probe settings), so a config change
 * is a schedule update and the function needs no config file or parameter lookups at run time.
 */
import { z } from 'zod';
import { ProbesSchema, ProbeTargetSchema } from '../../lib/config/schema.ts';

/** The AZ a probe function runs in; becomes the source_* labels. */
export const ProbeSourceSchema = z.strictObject({
  region: z.string().min(1),
  az: z.string().min(1),
  azId: z.string().min(1),
});

/** Interface VPC endpoints whose per-AZ network interfaces form the AZ-to-AZ mesh. */
export const ProbeMeshSchema = z.strictObject({
  vpcEndpointIds: z
    .array(z.string().regex(/^vpce-[0-9a-f]{8,17}$/, 'expected a VPC endpoint ID such as vpce-0abc1234'))
    .min(1),
  /** @default 443 */
  port: z.number().int().min(1).max(65535).default(443),
});

/** The run request of one probe invocation. */
export const ProbeEventSchema = z.strictObject({
  source: ProbeSourceSchema,
  targets: z.array(ProbeTargetSchema).default([]),
  discovery: ProbesSchema.shape.discovery,
  attempts: ProbesSchema.shape.attempts,
  timeoutMs: ProbesSchema.shape.timeoutMs,
  concurrency: ProbesSchema.shape.concurrency,
  mesh: ProbeMeshSchema.optional(),
  /** Pause between TCP attempts. @default 100 */
  intervalMs: z.number().int().min(0).max(10_000).optional(),
  /** TCP connect time above which an attempt counts as a SYN retransmission. @default 900 */
  synRetransmitThresholdMs: z.number().int().min(1).optional(),
});

/** A validated probe invocation (defaults applied). */
export type ProbeEvent = z.infer<typeof ProbeEventSchema>;
/** The raw payload as the scheduler sends it (defaults not yet applied). */
export type ProbeEventInput = z.input<typeof ProbeEventSchema>;
/** The AZ a run measures from. */
export type ProbeSource = z.infer<typeof ProbeSourceSchema>;
/** Discovery settings of a run. */
export type ProbeDiscovery = ProbeEvent['discovery'];
/** A target as configured (defaults applied). */
export type ProbeTarget = z.infer<typeof ProbeTargetSchema>;

/**
 * Builds the run request from what the deployed function has: the probe plan bundled next to the
 * handler (targets, discovery, settings of its region; see lib/probes/probe-plan.ts), the scheduler's
 * small payload (the source AZ; any other field overrides the plan) and the mesh endpoint IDs from the
 * environment (only known at deploy time). Without a plan, the payload must be a whole request.
 * @param payload the scheduler's input
 * @param plan the parsed `probe-plan.json`, if bundled
 * @param meshEndpointIds comma-separated endpoint IDs (`MESH_VPC_ENDPOINT_IDS`)
 * @returns an unvalidated request for `ProbeEventSchema`
 */
export function composeRunRequest(
  payload: unknown,
  plan: Record<string, unknown> | undefined,
  meshEndpointIds = '',
): unknown {
  if (!plan) return payload;
  const { region: _region, ...settings } = plan;
  const ids = meshEndpointIds
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    ...settings,
    ...(ids.length > 0 ? { mesh: { vpcEndpointIds: ids } } : {}),
    ...(payload !== null && typeof payload === 'object' ? payload : {}),
  };
}
