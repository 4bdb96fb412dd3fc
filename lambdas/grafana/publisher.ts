/**
 * Publishes the project's dashboards to a Grafana (Amazon Managed Grafana or any Grafana 9+) through its
 * HTTP API, and removes them again. Pure logic over an injected `fetch`; the custom-resource handler
 * (publish-handler.ts) supplies the token and the dashboards.
 *
 * Everything the publisher touches is addressed by a UID the project owns, so publishing is an upsert
 * and deleting never touches anything else:
 * - folder: `GET /api/folders/:uid`, then `POST /api/folders` or (title changed) `PUT /api/folders/:uid`;
 * - data source: `GET /api/datasources/uid/:uid`, then `POST /api/datasources` or `PUT .../uid/:uid`
 *   (type prometheus, SigV4 to AMP, POST queries);
 * - dashboards: `POST /api/dashboards/db` with `overwrite: true` and the folder UID;
 * - removal: `DELETE` each dashboard and the data source by UID (a 404 is fine: already gone), then the
 *   folder, but only when nothing else is left in it (`GET /api/search?folderUIDs=`): someone's own
 *   dashboard saved into our folder is never deleted with it.
 *
 * @see https://grafana.com/docs/grafana/latest/developers/http_api/
 */

/** The part of a fetch response the publisher reads. */
export interface GrafanaResponse {
  readonly status: number;
  text(): Promise<string>;
}

/** The part of `fetch` the publisher uses; inject one in tests. */
export type GrafanaFetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
) => Promise<GrafanaResponse>;

/** A Grafana API call that did not succeed. */
export class GrafanaApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    /** HTTP status; 0 when no response came back. */
    readonly status: number,
    /** Response body (or the network error), verbatim up to 2 KiB. */
    readonly body: string,
  ) {
    super(GrafanaApiError.describe(method, path, status, body));
    this.name = 'GrafanaApiError';
  }

  private static describe(method: string, path: string, status: number, body: string): string {
    const hint =
      status === 401
        ? ': grafana rejected the service account token (expired, revoked, or for another grafana)'
        : status === 403
          ? ': the service account lacks a permission (it needs the Admin role, or Editor plus data source write)'
          : '';
    const got = status === 0 ? `no response (${body})` : `${status} ${body}`;
    return `grafana ${method} ${path} failed with ${got}${hint}`;
  }
}

/** Settings of a {@link GrafanaClient}. */
export interface GrafanaClientOptions {
  /** Base URL, e.g. `https://g-abc.grafana-workspace.eu-west-1.amazonaws.com`. */
  readonly url: string;
  /** Service account token (`glsa_...`) or API key. */
  readonly token: string;
  /** @default globalThis.fetch */
  readonly fetch?: GrafanaFetch;
  /** Timeout of one attempt. @default 10000 */
  readonly timeoutMs?: number;
  /** Attempts per call on 5xx, 429 and network errors. @default 3 */
  readonly attempts?: number;
  /** @default a timer */
  readonly sleep?: (ms: number) => Promise<void>;
}

const MAX_BODY = 2048;

/** A minimal Grafana HTTP API client: JSON in and out, bearer token, bounded retries. */
export class GrafanaClient {
  private readonly base: string;
  private readonly token: string;
  private readonly fetch: GrafanaFetch;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly sleep: (ms: number) => Promise<void>;

  /**
   * @param options base URL, token and injected ports
   * @throws Error when the URL is not http(s) or the token is empty
   */
  constructor(options: GrafanaClientOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new Error(`grafana url must be http or https, got ${options.url}`);
    }
    if (!options.token.trim()) throw new Error('grafana token must not be empty');
    this.base = url.toString().replace(/\/+$/, '');
    this.token = options.token.trim();
    this.fetch = options.fetch ?? (globalThis.fetch as unknown as GrafanaFetch);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.attempts = options.attempts ?? 3;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /**
   * Calls the API.
   * @param method HTTP method
   * @param path path and query, e.g. `/api/folders/abc`
   * @param body JSON body
   * @param okStatuses statuses returned instead of thrown (e.g. 404 for a lookup)
   * @returns status and parsed JSON body (undefined when empty)
   * @throws GrafanaApiError on any other status, or when retries are exhausted
   */
  async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    okStatuses: readonly number[] = [],
  ): Promise<{ status: number; body: T }> {
    let last: GrafanaApiError | undefined;
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      if (attempt > 1) await this.sleep(200 * 2 ** (attempt - 2));
      let status: number;
      let text: string;
      try {
        const res = await this.fetch(`${this.base}${path}`, {
          method,
          headers: {
            Authorization: `Bearer ${this.token}`,
            Accept: 'application/json',
            ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        status = res.status;
        text = await res.text();
      } catch (err) {
        last = new GrafanaApiError(method, path, 0, (err as Error).message);
        continue;
      }
      if ((status >= 200 && status < 300) || okStatuses.includes(status)) {
        return { status, body: (text ? JSON.parse(text) : undefined) as T };
      }
      last = new GrafanaApiError(method, path, status, text.slice(0, MAX_BODY));
      if (status !== 429 && status < 500) break;
    }
    throw last!;
  }
}

/** What to publish. */
export interface PublishSpec {
  readonly folder: { readonly uid: string; readonly title: string };
  readonly datasource: {
    readonly uid: string;
    readonly name: string;
    /** Prometheus endpoint of the AMP workspace, e.g. `https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/`. */
    readonly url: string;
    /** Region of the workspace, for SigV4. */
    readonly region: string;
    /** `ec2`: the Grafana host's role (Amazon Managed Grafana's workspace role); `default`: the AWS SDK default chain. */
    readonly authType: 'ec2' | 'default';
  };
  /** Dashboard models, each with its own `uid`. */
  readonly dashboards: readonly { readonly uid: string; readonly dashboard: Record<string, unknown> }[];
}

/** What {@link publish} did. */
export interface PublishResult {
  readonly folder: 'created' | 'updated' | 'unchanged';
  readonly datasource: 'created' | 'updated';
  /** Dashboard UID -> the version Grafana now holds. */
  readonly dashboards: Record<string, number>;
}

interface FolderModel {
  uid: string;
  title: string;
  version?: number;
}

/**
 * The data source model posted to Grafana: Prometheus over AMP with SigV4.
 * @param ds the data source settings
 */
export function datasourceModel(ds: PublishSpec['datasource']): Record<string, unknown> {
  return {
    uid: ds.uid,
    name: ds.name,
    type: 'prometheus',
    access: 'proxy',
    url: ds.url.replace(/\/+$/, ''),
    isDefault: false,
    editable: false,
    jsonData: {
      httpMethod: 'POST',
      sigV4Auth: true,
      sigV4AuthType: ds.authType,
      sigV4Region: ds.region,
      prometheusType: 'Prometheus',
      timeInterval: '1m',
    },
  };
}

/**
 * Creates or updates the folder, the data source and every dashboard; running it twice changes nothing
 * the second time except the dashboards' version numbers.
 * @param client a Grafana client
 * @param spec what to publish
 */
export async function publish(client: GrafanaClient, spec: PublishSpec): Promise<PublishResult> {
  validateSpec(spec);
  const folder = await ensureFolder(client, spec.folder);

  const ds = datasourceModel(spec.datasource);
  const existing = await client.call(
    'GET',
    `/api/datasources/uid/${enc(spec.datasource.uid)}`,
    undefined,
    [404],
  );
  let datasource: PublishResult['datasource'];
  if (existing.status === 404) {
    await client.call('POST', '/api/datasources', ds);
    datasource = 'created';
  } else {
    await client.call('PUT', `/api/datasources/uid/${enc(spec.datasource.uid)}`, ds);
    datasource = 'updated';
  }

  const dashboards: Record<string, number> = {};
  for (const d of spec.dashboards) {
    const res = await client.call<{ version?: number }>('POST', '/api/dashboards/db', {
      dashboard: { ...d.dashboard, id: null, uid: d.uid },
      folderUid: spec.folder.uid,
      overwrite: true,
      message: 'published by Infra Observatory',
    });
    dashboards[d.uid] = res.body?.version ?? 0;
  }
  return { folder, datasource, dashboards };
}

async function ensureFolder(
  client: GrafanaClient,
  folder: PublishSpec['folder'],
): Promise<PublishResult['folder']> {
  const found = await client.call<FolderModel>('GET', `/api/folders/${enc(folder.uid)}`, undefined, [404]);
  if (found.status === 404) {
    await client.call('POST', '/api/folders', { uid: folder.uid, title: folder.title });
    return 'created';
  }
  if (found.body.title === folder.title) return 'unchanged';
  await client.call('PUT', `/api/folders/${enc(folder.uid)}`, {
    title: folder.title,
    version: found.body.version,
    overwrite: true,
  });
  return 'updated';
}

/** What to remove: the UIDs the publisher owns. */
export interface UnpublishSpec {
  readonly folderUid: string;
  readonly datasourceUid: string;
  readonly dashboardUids: readonly string[];
}

/** What {@link unpublish} did. */
export interface UnpublishResult {
  /** Dashboards deleted (absent ones are not listed). */
  readonly dashboardsDeleted: string[];
  readonly datasourceDeleted: boolean;
  /** `deleted`, `absent`, or `kept` when other dashboards or folders are still in it. */
  readonly folder: 'deleted' | 'absent' | 'kept';
  /** Titles of what kept the folder alive. */
  readonly foreignItems: string[];
}

/**
 * Removes the dashboards, the data source and (when empty) the folder, by UID; what is already gone
 * is skipped, so it can run again after a partial failure.
 * @param client a Grafana client
 * @param spec the UIDs to remove
 */
export async function unpublish(client: GrafanaClient, spec: UnpublishSpec): Promise<UnpublishResult> {
  const dashboardsDeleted = await deleteDashboards(client, spec.dashboardUids);
  const ds = await client.call('DELETE', `/api/datasources/uid/${enc(spec.datasourceUid)}`, undefined, [404]);

  const found = await client.call('GET', `/api/folders/${enc(spec.folderUid)}`, undefined, [404]);
  if (found.status === 404) {
    return { dashboardsDeleted, datasourceDeleted: ds.status !== 404, folder: 'absent', foreignItems: [] };
  }
  const items = await client.call<{ title?: string; uid?: string }[]>(
    'GET',
    `/api/search?folderUIDs=${enc(spec.folderUid)}`,
  );
  const foreignItems = (items.body ?? []).map((i) => i.title ?? i.uid ?? '?');
  if (foreignItems.length > 0) {
    return { dashboardsDeleted, datasourceDeleted: ds.status !== 404, folder: 'kept', foreignItems };
  }
  await client.call('DELETE', `/api/folders/${enc(spec.folderUid)}`, undefined, [404]);
  return { dashboardsDeleted, datasourceDeleted: ds.status !== 404, folder: 'deleted', foreignItems: [] };
}

/**
 * Deletes dashboards by UID, skipping those already gone.
 * @returns the UIDs actually deleted
 */
export async function deleteDashboards(client: GrafanaClient, uids: readonly string[]): Promise<string[]> {
  const deleted: string[] = [];
  for (const uid of uids) {
    const res = await client.call('DELETE', `/api/dashboards/uid/${enc(uid)}`, undefined, [404]);
    if (res.status !== 404) deleted.push(uid);
  }
  return deleted;
}

const UID = /^[a-zA-Z0-9_-]{1,40}$/;

function validateSpec(spec: PublishSpec): void {
  for (const [what, uid] of [
    ['folder', spec.folder.uid],
    ['data source', spec.datasource.uid],
    ...spec.dashboards.map((d) => ['dashboard', d.uid] as const),
  ] as const) {
    if (!UID.test(uid))
      throw new Error(`${what} uid must be 1-40 letters, digits, "-" or "_", got ${JSON.stringify(uid)}`);
  }
  const seen = new Set<string>();
  for (const d of spec.dashboards) {
    if (seen.has(d.uid)) throw new Error(`dashboard uid ${d.uid} appears twice`);
    seen.add(d.uid);
  }
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}
