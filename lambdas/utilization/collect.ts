/**
 * Collection of one shard (account, region, service), with every dependency behind a port:
 * credentials -> discovery -> CWAgent inventory (EC2) -> GetMetricData -> rows -> batch -> sink.
 */
import type { BatchLimits } from '#contracts/utilization-batch';
import type { CredentialsPort, MemberCredentials } from './assume-role.ts';
import type { CredentialsProvider, ShardClients } from './aws-clients.ts';
import type { BatchSink } from './batch-sink.ts';
import {
  type AgentInventory,
  buildQueries,
  type CollectionWindow,
  computeWindow,
  fetchMetricData,
  listAgentMetrics,
  NO_AGENT,
  planCalls,
} from './cloudwatch.ts';
import { discover, type TaskSize } from './discovery.ts';
import { InstanceTypeCatalog, type InstanceTypeSpec } from './instance-types.ts';
import { batchKeyFor, buildBatch, partKeyFor, splitBatch, toMetricRows } from './normalize.ts';
import type { Shard } from './rows.ts';
import { asShardError, ShardError } from './shard-error.ts';

/** What to collect. */
export interface CollectRequest {
  readonly shard: Shard;
  readonly lookbackMinutes: number;
  readonly periodSeconds: number;
  readonly delayMinutes: number;
  /** The instant windows are computed from. @default - `ports.now()` */
  readonly runStartedAt?: Date;
  /** Bounds of one batch: a larger shard goes out as several. @default DEFAULT_BATCH_LIMITS */
  readonly batchLimits?: BatchLimits;
}

/** The collector's dependencies. */
export interface CollectPorts {
  /** Credentials for member accounts (STS AssumeRole in Lambda). */
  readonly credentials: CredentialsPort;
  /** SDK clients for a shard, signing with the given credentials. */
  readonly clientsFor: (shard: Shard, credentials: CredentialsProvider) => ShardClients;
  /** Where the batch goes. */
  readonly sink: BatchSink;
  /** Clock. */
  readonly now: () => Date;
  /** Instance type cache. @default - the execution environment's shared cache */
  readonly instanceTypes?: Map<string, InstanceTypeSpec>;
  /** Task definition cache. @default - the execution environment's shared cache */
  readonly taskDefinitions?: Map<string, TaskSize>;
}

/** The result of a shard, small enough for a Step Functions state. */
export interface CollectSummary {
  readonly shard: Shard;
  /** ID of the (first) batch. */
  readonly batchId: string;
  readonly window: { readonly start: string; readonly end: string; readonly periodSeconds: number };
  readonly bucket: string;
  /** S3 key of the (first) batch. */
  readonly key: string;
  /** Batches the shard was split into (1 unless it exceeded the batch limits). */
  readonly batches: number;
  readonly resources: number;
  readonly rows: number;
  readonly getMetricDataCalls: number;
  readonly metricsRequested: number;
  /** ListMetrics calls over CWAgent (EC2 shards only). */
  readonly listMetricsCalls: number;
  /** Resources needing no query (stopped before the window). */
  readonly skippedResources: number;
  /** Series CloudWatch could not complete after retries. */
  readonly incompleteSeries: number;
  /** Resources with memory data (EC2: the CloudWatch agent). */
  readonly withMemoryData: number;
}

/** A shard's summary and what is worth logging about it. */
export interface CollectOutcome {
  readonly summary: CollectSummary;
  /** Discovery fallbacks, CloudWatch messages and dropped-datapoint notes. */
  readonly notes: string[];
}

/** The agent inventory is only "recently active" data for three hours. */
const RECENTLY_ACTIVE_MS = 3 * 3600_000;

/**
 * Collects one shard and hands the batch to the sink.
 * @param request shard and window parameters
 * @param ports dependencies
 * @throws ShardError when the account, region or an API refuses access
 */
export async function collectShard(request: CollectRequest, ports: CollectPorts): Promise<CollectOutcome> {
  const { shard } = request;
  const where = { region: shard.region, service: shard.service };
  const now = ports.now();
  const window: CollectionWindow = computeWindow(
    request.runStartedAt ?? now,
    request.lookbackMinutes,
    request.periodSeconds,
    request.delayMinutes,
  );
  try {
    // Fail fast, with the account's reason, before any client tries to sign.
    await ports.credentials.forAccount(shard.accountId);
    const provider = (): Promise<MemberCredentials> => ports.credentials.forAccount(shard.accountId);
    const clients = ports.clientsFor(shard, provider);

    const notes: string[] = [];
    const discovered = await discover(shard, clients, {
      observedAt: now.toISOString(),
      onNote: (note) => notes.push(note),
      instanceTypes: new InstanceTypeCatalog(clients.ec2, ports.instanceTypes),
      ...(ports.taskDefinitions ? { taskDefinitions: ports.taskDefinitions } : {}),
    });

    let agent: AgentInventory = NO_AGENT;
    let listMetricsCalls = 0;
    if (shard.service === 'ec2' && discovered.length > 0) {
      const recent = now.getTime() - window.start.getTime() <= RECENTLY_ACTIVE_MS;
      ({ inventory: agent, listMetricsCalls } = await listAgentMetrics(clients.cloudwatch, recent));
    }

    const { units, skipped } = buildQueries(discovered, window, agent);
    const fetched = await fetchMetricData(clients.cloudwatch, planCalls(units));
    if (fetched.forbidden.length > 0) {
      throw new ShardError(
        shard.accountId,
        'access-denied',
        `cloudwatch answered Forbidden for ${fetched.forbidden.length} of ${units.length} series`,
        where,
      );
    }

    const normalized = toMetricRows(
      shard,
      units.map((u) => u.ref),
      fetched.series,
      window,
    );
    const resources = discovered.map(({ resource }) => ({
      ...resource,
      hasAgentMetrics: normalized.withMemoryData.has(resource.resourceArn),
    }));
    const batch = buildBatch({
      shard,
      window,
      collectedAt: now,
      resources,
      rows: normalized.rows,
      stats: { getMetricDataCalls: fetched.getMetricDataCalls, metricsRequested: fetched.metricsRequested },
    });
    const parts = splitBatch(batch, request.batchLimits);
    const sent = [];
    // One after another: a part is at most one batch in memory, and a retried shard resends the same IDs.
    for (const [i, part] of parts.entries())
      sent.push(await ports.sink.put(part, partKeyFor(batchKeyFor(shard, window), i, parts.length)));
    const { bucket, key, batchId } = sent[0]!;

    notes.push(...fetched.messages);
    if (normalized.dropped > 0)
      notes.push(`dropped ${normalized.dropped} datapoints not finite or outside the window`);
    if (fetched.incomplete.length > 0) notes.push(`incomplete series: ${fetched.incomplete.join(', ')}`);
    return {
      summary: {
        shard,
        batchId,
        window: { start: batch.window.start, end: batch.window.end, periodSeconds: window.periodSeconds },
        bucket,
        key,
        batches: parts.length,
        resources: resources.length,
        rows: batch.rows.length,
        getMetricDataCalls: fetched.getMetricDataCalls,
        metricsRequested: fetched.metricsRequested,
        listMetricsCalls,
        skippedResources: skipped.length,
        incompleteSeries: fetched.incomplete.length,
        withMemoryData: normalized.withMemoryData.size,
      },
      notes,
    };
  } catch (error) {
    const shardError = asShardError(error, shard.accountId, where);
    if (shardError && !shardError.where.region) {
      // Credentials errors know only the account: add the shard's region and service.
      throw new ShardError(shardError.accountId, shardError.reason, shardError.detail, where);
    }
    throw shardError ?? error;
  }
}
