/**
 * SDK clients of one shard (member account and region), all with adaptive retry: the client-side
 * rate limiter backs off on throttling (GetMetricData, Describe APIs) instead of failing the shard.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { KafkaClient } from '@aws-sdk/client-kafka';
import { RDSClient } from '@aws-sdk/client-rds';
import type { MemberCredentials } from './assume-role.ts';
import type { DiscoveryClients } from './discovery.ts';

/** Resolves member credentials when a client first signs a request (and again before they expire). */
export type CredentialsProvider = () => Promise<MemberCredentials>;

/** Every client a shard may use. */
export interface ShardClients extends DiscoveryClients {
  readonly cloudwatch: CloudWatchClient;
}

/** Client settings shared by a shard's clients. */
export interface ShardClientOptions {
  /** Attempts per request, the first included. @default 10 */
  readonly maxAttempts?: number;
  /** Applied to each client, e.g. X-Ray instrumentation. @default - none */
  readonly instrument?: <T extends object>(client: T) => T;
}

/** Retry configuration every shard client gets. */
export function retryConfig(maxAttempts = 10) {
  return { retryMode: 'adaptive', maxAttempts } as const;
}

/**
 * A CloudWatch client with adaptive retry.
 * @param region the shard's region
 * @param credentials member account credentials
 * @param extra further client configuration (a request handler in tests)
 */
export function createCloudWatchClient(
  region: string,
  credentials: MemberCredentials | CredentialsProvider,
  extra: Partial<ConstructorParameters<typeof CloudWatchClient>[0]> & { maxAttempts?: number } = {},
): CloudWatchClient {
  return new CloudWatchClient({ region, credentials, ...retryConfig(extra.maxAttempts), ...extra });
}

/**
 * Creates the clients of a shard. Construction does no I/O; credentials are resolved on first use.
 * @param region the shard's region
 * @param credentials member account credentials provider
 * @param options retry and instrumentation
 */
export function createShardClients(
  region: string,
  credentials: CredentialsProvider,
  options: ShardClientOptions = {},
): ShardClients {
  const config = { region, credentials, ...retryConfig(options.maxAttempts) };
  const wrap = options.instrument ?? (<T extends object>(c: T) => c);
  return {
    ec2: wrap(new EC2Client(config)),
    rds: wrap(new RDSClient(config)),
    ecs: wrap(new ECSClient(config)),
    kafka: wrap(new KafkaClient(config)),
    cloudwatch: wrap(new CloudWatchClient(config)),
  };
}
