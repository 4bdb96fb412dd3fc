/**
 * The one failure a collection shard reports as "this shard cannot be collected, and here is why".
 *
 * The collect handler rethrows it unchanged: Lambda reports `errorType` from `error.name`, so the Step
 * Functions Map catches it with `ErrorEquals: ['ShardError']` and records the shard as failed with the
 * message (account, region, service and reason), while every other error stays retryable.
 */
import type { Service } from './rows.ts';

/** Why a shard could not be collected. */
export type ShardFailureReason =
  /** The member role is missing, does not trust the collector, or lacks a permission. */
  | 'access-denied'
  /** No role name was given for the member account. */
  | 'role-not-configured'
  /** The region is not enabled (opted in) for the member account. */
  | 'region-disabled'
  /** The service rejected the credentials outright (invalid or unrecognised token). */
  | 'credentials-rejected';

/** A shard that cannot be collected: carries the account and the reason for the workflow to report. */
export class ShardError extends Error {
  override readonly name = 'ShardError';

  /**
   * @param accountId member account of the shard
   * @param reason machine-readable cause
   * @param detail what AWS said (error name and message), kept for the operator
   * @param where region and service of the shard, when known
   */
  constructor(
    readonly accountId: string,
    readonly reason: ShardFailureReason,
    readonly detail: string,
    readonly where: { region?: string; service?: Service } = {},
  ) {
    const shard = [accountId, where.region, where.service].filter(Boolean).join('/');
    super(`shard ${shard} failed: ${reason}: ${detail}`);
  }
}

const ACCESS_DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'UnauthorizedException',
  'ForbiddenException',
  'Forbidden',
]);
const REGION_DISABLED = new Set(['RegionDisabledException', 'OptInRequired']);
const CREDENTIALS_REJECTED = new Set(['AuthFailure', 'InvalidClientTokenId', 'UnrecognizedClientException']);

/**
 * Classifies an AWS SDK error as a shard failure, or returns undefined when it is not one (throttling,
 * 5xx, bugs: those stay ordinary errors the workflow may retry).
 * @param error anything thrown by an SDK call
 * @param accountId member account of the shard
 * @param where region and service of the shard
 */
export function asShardError(
  error: unknown,
  accountId: string,
  where: { region?: string; service?: Service } = {},
): ShardError | undefined {
  if (error instanceof ShardError) return error;
  if (!(error instanceof Error)) return undefined;
  const detail = `${error.name}: ${error.message}`;
  if (ACCESS_DENIED.has(error.name)) return new ShardError(accountId, 'access-denied', detail, where);
  if (REGION_DISABLED.has(error.name)) return new ShardError(accountId, 'region-disabled', detail, where);
  if (CREDENTIALS_REJECTED.has(error.name))
    return new ShardError(accountId, 'credentials-rejected', detail, where);
  return undefined;
}
