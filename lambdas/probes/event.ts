/**
 * The probe function's invocation payload, set by the stack as the EventBridge Scheduler target input.
 *
 * It carries the whole run request (source AZ, targets, discovery, probe settings), so a config change
 * is a schedule update and the function needs no config file or parameter lookups at run time. The
 * schemas live in `contracts/probes.ts`, shared with the config schema.
 */
export {
  type ProbeDiscovery,
  type ProbeEvent,
  type ProbeEventInput,
  ProbeEventSchema,
  ProbeMeshSchema,
  type ProbeSource,
  ProbeSourceSchema,
  type ProbeTarget,
} from '#contracts/probes';

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
