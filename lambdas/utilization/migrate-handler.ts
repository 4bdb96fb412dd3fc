/**
 * Schema migration custom resource: applies the committed drizzle migrations (drizzle/) to the
 * utilization database during `cdk deploy`, before any function writes to it.
 *
 * Written for the CDK Provider framework (`custom_resources.Provider` `onEventHandler`): it returns the
 * physical resource ID, and a thrown error becomes a FAILED response, which fails (and rolls back) the
 * deploy. Create and Update run the migrations (idempotent: drizzle records applied ones in
 * `drizzle.__drizzle_migrations`); Delete does nothing, so removing the stack never touches data.
 * Give the resource a property that changes with the migrations (e.g. a hash of drizzle/) so a new
 * migration triggers an Update.
 *
 * After migrating, it maintains the monthly partitions of `metric_rows`: creates this month's and the next
 * ones, and drops the months older than the retention (`RETENTION_DAYS`, `utilization.retentionDays`).
 *
 * Environment: `DB_CLUSTER_ARN`, `DB_SECRET_ARN`, `DB_NAME` (Data API) or `DATABASE_URL`;
 * `RETENTION_DAYS` (default 400); `MIGRATIONS_FOLDER` (default: the `drizzle/` folder the asset carries beside
 * the bundle, /var/task/drizzle, found from the bundle's own location by `migrationsFolder`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { z } from 'zod';
import { type DbHandle, dbFromEnv, retryWhileResuming } from '#shared/db/client';
import {
  DEFAULT_RETENTION_DAYS,
  maintainMetricPartitions,
  retentionDaysFromEnv,
} from '#shared/db/partitions';
import { migrationsFolder as shippedMigrations } from '#shared/packaged';
import { logger, observed, traced } from '#shared/powertools';

/** Physical ID of the migrations resource; constant so an Update never replaces it. */
export const MIGRATIONS_RESOURCE_ID = 'observatory-db-migrations';

/** The custom resource event fields the handler reads (the Provider framework sends more). */
export const MigrateEventSchema = z.object({
  RequestType: z.enum(['Create', 'Update', 'Delete']),
  PhysicalResourceId: z.string().optional(),
  ResourceProperties: z.record(z.string(), z.unknown()).optional(),
});
export type MigrateEvent = z.infer<typeof MigrateEventSchema>;

/** What the Provider framework expects back. */
export interface MigrateResponse {
  PhysicalResourceId: string;
  Data?: { LatestMigration: string; Migrations: number };
}

/**
 * The tags of the migrations in a folder, in order, from drizzle-kit's journal.
 * @param folder a drizzle migrations folder
 */
export function migrationTags(folder: string): string[] {
  const journal = JSON.parse(readFileSync(join(folder, 'meta', '_journal.json'), 'utf-8')) as {
    entries: { tag: string }[];
  };
  return journal.entries.map((e) => e.tag);
}

/** Partition maintenance settings of the migrate function. */
export interface MigrateOptions {
  /**
   * Days of metric rows kept; older months are dropped.
   * @default DEFAULT_RETENTION_DAYS
   */
  readonly retentionDays?: number;
  /** @default - the wall clock */
  readonly now?: () => Date;
}

/**
 * The handler before the Middy chain.
 * @param database the database, or a function that opens it on first use
 * @param migrationsFolder the migrations folder (default: the ones shipped in the function's asset, looked up when the event arrives)
 * @param options retention of metric rows
 */
export function createMigrateHandler(
  database: DbHandle | (() => DbHandle),
  migrationsFolder?: string,
  options: MigrateOptions = {},
) {
  const open = typeof database === 'function' ? database : () => database;
  return async (raw: unknown): Promise<MigrateResponse> => {
    const parsed = MigrateEventSchema.safeParse(raw);
    if (!parsed.success) throw new Error(`invalid custom resource event: ${z.prettifyError(parsed.error)}`);
    const event = parsed.data;
    if (event.RequestType === 'Delete') {
      logger.info('delete: migrations are left in place');
      return { PhysicalResourceId: event.PhysicalResourceId ?? MIGRATIONS_RESOURCE_ID };
    }
    const folder = migrationsFolder ?? shippedMigrations();
    const tags = migrationTags(folder);
    logger.info('applying migrations', { requestType: event.RequestType, folder, migrations: tags });
    await retryWhileResuming(() => open().migrate(folder));
    const latest = tags.at(-1) ?? 'none';
    logger.info('migrations applied', { latest });
    const partitions = await maintainMetricPartitions(
      open().db,
      options.now?.() ?? new Date(),
      options.retentionDays ?? DEFAULT_RETENTION_DAYS,
    );
    logger.info('metric partitions maintained', { ...partitions });
    return {
      PhysicalResourceId: MIGRATIONS_RESOURCE_ID,
      Data: { LatestMigration: latest, Migrations: tags.length },
    };
  };
}

let envHandle: DbHandle | undefined;

/** Lambda entry point of the migration custom resource. */
export const handler = observed(
  createMigrateHandler(
    () => {
      envHandle ??= dbFromEnv(process.env, traced(new RDSDataClient({})));
      return envHandle;
    },
    undefined,
    opt(retentionDaysFromEnv()),
  ),
);

function opt(retentionDays: number | undefined): MigrateOptions {
  return retentionDays === undefined ? {} : { retentionDays };
}
