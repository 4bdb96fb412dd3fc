/**
 * Custom resource (CloudFormation Provider framework `onEvent`) that publishes the dashboards to Grafana
 * at deploy time and removes them when the stack is deleted.
 *
 * - Create / Update: read the service account token from Secrets Manager, ensure the folder, upsert the
 *   AMP data source and every dashboard (publisher.ts); on Update, delete dashboards that were published
 *   before but are no longer in the set.
 * - Delete: remove the dashboards, the data source and (when nothing else is in it) the folder.
 * - The physical ID names the Grafana host and the UIDs, so pointing the stack at another Grafana is a
 *   replacement: CloudFormation creates in the new one, then sends Delete for the old one.
 *
 * The dashboards are files bundled next to this handler (`<uid>.json` in DASHBOARDS_DIR, written at synth
 * by the GrafanaDashboards construct); `dashboardsHash` in the properties changes with their content, so
 * a dashboard change is an Update.
 *
 * Environment: DASHBOARDS_DIR (directory of the bundled dashboard files).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { logger, metrics, observed, traced } from '#shared/powertools';
import {
  deleteDashboards,
  GrafanaApiError,
  GrafanaClient,
  type GrafanaFetch,
  publish,
  unpublish,
} from './publisher.ts';

const uid = z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/, 'expected a grafana uid');

/** The custom resource's properties, as the GrafanaDashboards construct sets them. */
export const PublishPropertiesSchema = z.object({
  grafanaUrl: z.url({ protocol: /^https?$/ }),
  tokenSecretArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:secretsmanager:/, 'expected a secrets manager secret arn'),
  folderUid: uid,
  folderTitle: z.string().min(1),
  datasourceUid: uid,
  datasourceName: z.string().min(1),
  /** Prometheus endpoint of the AMP workspace. */
  workspaceUrl: z.url({ protocol: /^https?$/ }),
  region: z.string().min(1),
  sigV4AuthType: z.enum(['ec2', 'default']),
  dashboardUids: z.array(uid),
  /** Changes with the dashboards' content; only read by CloudFormation (it makes an Update). */
  dashboardsHash: z.string().optional(),
});

/** Validated properties. */
export type PublishProperties = z.infer<typeof PublishPropertiesSchema>;

const EventSchema = z.discriminatedUnion('RequestType', [
  z.object({ RequestType: z.literal('Create'), ResourceProperties: z.unknown() }),
  z.object({
    RequestType: z.literal('Update'),
    PhysicalResourceId: z.string(),
    ResourceProperties: z.unknown(),
    OldResourceProperties: z.unknown(),
  }),
  z.object({
    RequestType: z.literal('Delete'),
    PhysicalResourceId: z.string(),
    ResourceProperties: z.unknown(),
  }),
]);

/** What the handler returns to the Provider framework. */
export interface PublishResponse {
  PhysicalResourceId: string;
  Data?: Record<string, string>;
}

/** The ports of one event. */
export interface PublishPorts {
  /** The secret's value (SecretString). */
  readSecret(arn: string): Promise<string>;
  /** A dashboard model by UID. */
  readDashboard(uid: string): Promise<Record<string, unknown>>;
  /** @default globalThis.fetch */
  fetch?: GrafanaFetch;
  /** @default a timer (retry backoff) */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * The physical ID: the Grafana host and the UIDs the resource owns.
 * @param p validated properties
 */
export function physicalId(p: PublishProperties): string {
  return `grafana:${new URL(p.grafanaUrl).host}:${p.folderUid}:${p.datasourceUid}`;
}

/**
 * Reads the token from a secret value: the whole string, or the `token` field of a JSON object.
 * @param secret the SecretString
 * @param arn the secret's ARN, for the error message
 * @throws Error when there is no token in it
 */
export function tokenFromSecret(secret: string, arn: string): string {
  const trimmed = secret.trim();
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new Error(`secret ${arn} looks like JSON but does not parse`);
    }
    const token = (parsed as { token?: unknown }).token;
    if (typeof token !== 'string' || !token.trim()) {
      throw new Error(`secret ${arn} is a JSON object without a "token" string`);
    }
    return token.trim();
  }
  if (!trimmed) throw new Error(`secret ${arn} is empty`);
  return trimmed;
}

function parseProperties(raw: unknown, which: string): PublishProperties {
  const parsed = PublishPropertiesSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`invalid ${which}: ${problems.join('; ')}`);
  }
  return parsed.data;
}

async function clientFor(p: PublishProperties, ports: PublishPorts): Promise<GrafanaClient> {
  const token = tokenFromSecret(await ports.readSecret(p.tokenSecretArn), p.tokenSecretArn);
  return new GrafanaClient({
    url: p.grafanaUrl,
    token,
    ...(ports.fetch ? { fetch: ports.fetch } : {}),
    ...(ports.sleep ? { sleep: ports.sleep } : {}),
  });
}

/**
 * Handles one custom resource event.
 * @param event the Provider framework's onEvent payload
 * @param ports secret, dashboards and fetch
 * @throws Error naming what failed (the framework reports it to CloudFormation)
 */
export async function processEvent(event: unknown, ports: PublishPorts): Promise<PublishResponse> {
  const parsedEvent = EventSchema.safeParse(event);
  if (!parsedEvent.success) {
    throw new Error(
      `invalid custom resource event: ${parsedEvent.error.issues.map((i) => i.message).join('; ')}`,
    );
  }
  const e = parsedEvent.data;
  const props = parseProperties(e.ResourceProperties, 'resource properties');
  try {
    const client = await clientFor(props, ports);
    if (e.RequestType === 'Delete') {
      const result = await unpublish(client, {
        folderUid: props.folderUid,
        datasourceUid: props.datasourceUid,
        dashboardUids: props.dashboardUids,
      });
      if (result.folder === 'kept') {
        logger.warn('grafana folder kept: it holds items the stack did not publish', {
          folderUid: props.folderUid,
          foreignItems: result.foreignItems,
        });
      }
      logger.info('dashboards unpublished', { grafana: props.grafanaUrl, ...result });
      metrics.addMetric('DashboardsUnpublished', MetricUnit.Count, result.dashboardsDeleted.length);
      return { PhysicalResourceId: e.PhysicalResourceId };
    }

    const dashboards = await Promise.all(
      props.dashboardUids.map(async (uid) => ({ uid, dashboard: await ports.readDashboard(uid) })),
    );
    const result = await publish(client, {
      folder: { uid: props.folderUid, title: props.folderTitle },
      datasource: {
        uid: props.datasourceUid,
        name: props.datasourceName,
        url: props.workspaceUrl,
        region: props.region,
        authType: props.sigV4AuthType,
      },
      dashboards,
    });
    let removed: string[] = [];
    const id = physicalId(props);
    if (e.RequestType === 'Update' && e.PhysicalResourceId === id) {
      // Same Grafana: dashboards dropped from the set are removed here. A new Grafana (new ID) gets a
      // Delete for the old one from CloudFormation instead.
      const old = parseProperties(e.OldResourceProperties, 'old resource properties');
      removed = await deleteDashboards(
        client,
        old.dashboardUids.filter((u) => !props.dashboardUids.includes(u)),
      );
    }
    logger.info('dashboards published', { grafana: props.grafanaUrl, ...result, removed });
    metrics.addMetric('DashboardsPublished', MetricUnit.Count, dashboards.length);
    return {
      PhysicalResourceId: id,
      Data: {
        FolderUid: props.folderUid,
        DatasourceUid: props.datasourceUid,
        Dashboards: String(dashboards.length),
      },
    };
  } catch (err) {
    if (err instanceof GrafanaApiError && (err.status === 401 || err.status === 403)) {
      throw new Error(`${err.message}; the token comes from secret ${props.tokenSecretArn}`);
    }
    throw err;
  }
}

/**
 * Reads a bundled dashboard file `<dir>/<uid>.json`.
 * @param dir the bundle directory
 * @param uid the dashboard UID
 * @throws Error when the file is missing or not a JSON object with that uid
 */
export async function readDashboardFile(dir: string, uid: string): Promise<Record<string, unknown>> {
  const path = join(dir, `${uid}.json`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`dashboard ${uid} is not bundled at ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  const model = JSON.parse(text) as Record<string, unknown>;
  if (model.uid !== uid)
    throw new Error(`dashboard file ${path} has uid ${JSON.stringify(model.uid)}, expected ${uid}`);
  return model;
}

let secrets: SecretsManagerClient | undefined;

/** The Lambda entry point. */
export const handler = observed(async (event: unknown): Promise<PublishResponse> => {
  const dir = process.env.DASHBOARDS_DIR ?? import.meta.dirname;
  secrets ??= traced(new SecretsManagerClient({}));
  const client = secrets;
  return processEvent(event, {
    readSecret: async (arn) => {
      const res = await client.send(new GetSecretValueCommand({ SecretId: arn }));
      if (res.SecretString === undefined) throw new Error(`secret ${arn} has no string value`);
      return res.SecretString;
    },
    readDashboard: (uid) => readDashboardFile(dir, uid),
  });
});
