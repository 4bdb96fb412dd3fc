/**
 * Credentials for a member account through STS AssumeRole, behind a port so the collector can be run
 * with any credentials source (tests, the CLI with a profile).
 */
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import { asShardError, ShardError } from './shard-error.ts';

/** Temporary credentials in the shape SDK v3 clients accept as an identity. */
export interface MemberCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration: Date;
}

/** Port: credentials for one member account. Throws `ShardError` when the account cannot be entered. */
export interface CredentialsPort {
  forAccount(accountId: string): Promise<MemberCredentials>;
}

/** How the collector enters member accounts. */
export interface AssumeRoleOptions {
  /** Role name in every member account (config `utilization.roleName`). */
  readonly roleName: string;
  /** External ID the member role's trust policy requires. @default - none sent */
  readonly externalId?: string;
  /** Session name, visible in the member account's CloudTrail. @default 'infra-observatory-collector' */
  readonly sessionName?: string;
  /** Partition of the member role ARNs. @default 'aws' */
  readonly partition?: string;
  /** Session length: a collect invocation is bounded by the 15-minute Lambda timeout. @default 900 */
  readonly durationSeconds?: number;
  /** Clock, for cache expiry. @default - the system clock */
  readonly now?: () => Date;
}

/** Credentials are reused until this long before they expire. */
const REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * The partition a region belongs to, for building ARNs.
 * @param region an AWS region code such as `eu-west-1` or `cn-north-1`
 */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  return 'aws';
}

/**
 * The ARN of the collector role in a member account.
 * @param partition ARN partition
 * @param accountId 12-digit account ID
 * @param roleName role name (no path)
 */
export function memberRoleArn(partition: string, accountId: string, roleName: string): string {
  return `arn:${partition}:iam::${accountId}:role/${roleName}`;
}

/**
 * A credentials port backed by STS AssumeRole. Credentials are cached per account for the life of the
 * execution environment (warm invocations for other shards of the same account reuse them) and
 * refreshed five minutes before they expire. AccessDenied (missing role, trust policy or external ID
 * mismatch) and a disabled region become a `ShardError` naming the account and the reason.
 * @param sts an STS client in the collector's own account
 * @param options role name, external ID and session settings
 */
export function assumeRoleCredentials(sts: STSClient, options: AssumeRoleOptions): CredentialsPort {
  const now = options.now ?? (() => new Date());
  const cache = new Map<string, Promise<MemberCredentials>>();

  async function assume(accountId: string): Promise<MemberCredentials> {
    if (!options.roleName) {
      throw new ShardError(
        accountId,
        'role-not-configured',
        'no role name is configured for member accounts',
      );
    }
    try {
      const out = await sts.send(
        new AssumeRoleCommand({
          RoleArn: memberRoleArn(options.partition ?? 'aws', accountId, options.roleName),
          RoleSessionName: options.sessionName ?? 'infra-observatory-collector',
          DurationSeconds: options.durationSeconds ?? 900,
          ...(options.externalId ? { ExternalId: options.externalId } : {}),
        }),
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
        throw new Error(`sts returned no credentials for account ${accountId}`);
      }
      return {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiration: c.Expiration,
      };
    } catch (error) {
      throw asShardError(error, accountId) ?? error;
    }
  }

  return {
    async forAccount(accountId) {
      const cached = cache.get(accountId);
      if (cached) {
        const creds = await cached.catch(() => undefined);
        if (creds && creds.expiration.getTime() - REFRESH_MARGIN_MS > now().getTime()) return creds;
      }
      const pending = assume(accountId);
      cache.set(accountId, pending);
      // A failed attempt must not poison the cache for the next invocation.
      pending.catch(() => {
        if (cache.get(accountId) === pending) cache.delete(accountId);
      });
      return pending;
    },
  };
}
