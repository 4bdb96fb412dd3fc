/**
 * A small in-memory Grafana on 127.0.0.1 implementing the HTTP API endpoints the publisher uses, with
 * the status codes and response bodies Grafana documents
 * (https://grafana.com/docs/grafana/latest/developers/http_api/): folders, data sources by UID,
 * dashboards (`/api/dashboards/db`, by UID), search by folder UID, and bearer-token auth.
 *
 * Grafana itself cannot run here (no Debian package, no download), so this is the peer the publisher
 * is tested against; it is kept faithful in the places that matter to the publisher: 404 for unknown
 * UIDs, 409 for a data source name or folder UID already taken, 412 for a stale folder version or an
 * existing dashboard without overwrite, 400 for an unknown folder, 401 for a bad token, and deleting a
 * folder deletes the dashboards in it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** A folder as stored. */
export interface FakeFolder {
  id: number;
  uid: string;
  title: string;
  version: number;
}
/** A data source as stored. */
export interface FakeDatasource {
  id: number;
  uid: string;
  name: string;
  type: string;
  access: string;
  url: string;
  jsonData: Record<string, unknown>;
  version: number;
  [key: string]: unknown;
}
/** A dashboard as stored. */
export interface FakeDashboard {
  id: number;
  uid: string;
  title: string;
  folderUid: string;
  version: number;
  model: Record<string, unknown>;
}

/** A running fake Grafana. */
export interface FakeGrafana {
  readonly url: string;
  /** The token it accepts (change it to simulate a revoked token). */
  token: string;
  readonly folders: Map<string, FakeFolder>;
  readonly datasources: Map<string, FakeDatasource>;
  readonly dashboards: Map<string, FakeDashboard>;
  /** Every request as `METHOD /path`, in order. */
  readonly requests: string[];
  /** Requests still to fail with this status before normal service (for retry tests). */
  failNext: { status: number; count: number } | undefined;
  close(): Promise<void>;
}

/** Starts a fake Grafana accepting `token`. */
export async function startFakeGrafana(token = 'glsa_test_token'): Promise<FakeGrafana> {
  let nextId = 1;
  const state: Omit<FakeGrafana, 'url' | 'close'> = {
    token,
    folders: new Map(),
    datasources: new Map(),
    dashboards: new Map(),
    requests: [],
    failNext: undefined,
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const readBody = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  };
  const folderJson = (f: FakeFolder) => ({
    id: f.id,
    uid: f.uid,
    title: f.title,
    url: `/dashboards/f/${f.uid}/`,
    hasAcl: false,
    canSave: true,
    canEdit: true,
    canAdmin: true,
    version: f.version,
  });
  const slug = (title: string) =>
    title
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '');

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const path = url.pathname;
    state.requests.push(`${method} ${path}${url.search}`);

    if (req.headers.authorization !== `Bearer ${state.token}`) {
      return send(res, 401, {
        message: 'Invalid API key',
        messageId: 'api-key.invalid',
        statusCode: 401,
        traceID: '',
      });
    }
    if (state.failNext && state.failNext.count > 0) {
      state.failNext.count--;
      return send(res, state.failNext.status, { message: 'injected failure' });
    }
    const folderMatch = /^\/api\/folders\/([^/]+)$/.exec(path);
    const datasourceMatch = /^\/api\/datasources\/uid\/([^/]+)$/.exec(path);
    const dashboardMatch = /^\/api\/dashboards\/uid\/([^/]+)$/.exec(path);

    // --- folders ---------------------------------------------------------------------------------------
    if (path === '/api/folders' && method === 'POST') {
      const body = await readBody(req);
      const uid = String(body.uid ?? `f${nextId}`);
      const title = String(body.title ?? '');
      if (state.folders.has(uid))
        return send(res, 409, { message: 'a folder with the same uid already exists' });
      if ([...state.folders.values()].some((f) => f.title === title)) {
        return send(res, 409, {
          message: 'a folder or dashboard in the general folder with the same name already exists',
        });
      }
      const f: FakeFolder = { id: nextId++, uid, title, version: 1 };
      state.folders.set(uid, f);
      return send(res, 200, folderJson(f));
    }
    if (folderMatch) {
      const f = state.folders.get(decodeURIComponent(folderMatch[1]!));
      if (!f) return send(res, 404, { message: 'folder not found', status: 'not-found' });
      if (method === 'GET') return send(res, 200, folderJson(f));
      if (method === 'PUT') {
        const body = await readBody(req);
        if (body.overwrite !== true && body.version !== f.version) {
          return send(res, 412, {
            message: 'the folder has been changed by someone else',
            status: 'version-mismatch',
          });
        }
        f.title = String(body.title ?? f.title);
        f.version++;
        return send(res, 200, folderJson(f));
      }
      if (method === 'DELETE') {
        state.folders.delete(f.uid);
        for (const [uid, d] of state.dashboards) if (d.folderUid === f.uid) state.dashboards.delete(uid);
        return send(res, 200, { message: 'Folder deleted', id: f.id, title: f.title });
      }
    }

    // --- data sources ----------------------------------------------------------------------------------
    if (path === '/api/datasources' && method === 'POST') {
      const body = await readBody(req);
      const name = String(body.name ?? '');
      if ([...state.datasources.values()].some((d) => d.name === name)) {
        return send(res, 409, { message: 'data source with the same name already exists' });
      }
      const uid = String(body.uid ?? `ds${nextId}`);
      if (state.datasources.has(uid))
        return send(res, 409, { message: 'data source with the same uid already exists' });
      const ds = { ...body, id: nextId++, uid, name, version: 1 } as FakeDatasource;
      state.datasources.set(uid, ds);
      return send(res, 200, { datasource: ds, id: ds.id, message: 'Datasource added', name: ds.name });
    }
    if (datasourceMatch) {
      const ds = state.datasources.get(decodeURIComponent(datasourceMatch[1]!));
      if (!ds) return send(res, 404, { message: 'Data source not found' });
      if (method === 'GET') return send(res, 200, ds);
      if (method === 'PUT') {
        const body = await readBody(req);
        const updated = { ...body, id: ds.id, uid: ds.uid, version: ds.version + 1 } as FakeDatasource;
        state.datasources.set(ds.uid, updated);
        return send(res, 200, {
          datasource: updated,
          id: ds.id,
          message: 'Datasource updated',
          name: updated.name,
        });
      }
      if (method === 'DELETE') {
        state.datasources.delete(ds.uid);
        return send(res, 200, { message: 'Data source deleted', id: ds.id });
      }
    }

    // --- dashboards ------------------------------------------------------------------------------------
    if (path === '/api/dashboards/db' && method === 'POST') {
      const body = await readBody(req);
      const model = (body.dashboard ?? {}) as Record<string, unknown>;
      const uid = String(model.uid ?? `d${nextId}`);
      const folderUid = String(body.folderUid ?? '');
      if (folderUid && !state.folders.has(folderUid)) return send(res, 400, { message: 'folder not found' });
      const existing = state.dashboards.get(uid);
      if (existing && body.overwrite !== true) {
        return send(res, 412, {
          message: 'A dashboard with the same uid already exists',
          status: 'name-exists',
        });
      }
      const d: FakeDashboard = {
        id: existing?.id ?? nextId++,
        uid,
        title: String(model.title ?? ''),
        folderUid,
        version: (existing?.version ?? 0) + 1,
        model: { ...model, id: existing?.id ?? nextId - 1, uid },
      };
      d.model.version = d.version;
      state.dashboards.set(uid, d);
      return send(res, 200, {
        id: d.id,
        uid,
        url: `/d/${uid}/${slug(d.title)}`,
        status: 'success',
        version: d.version,
        slug: slug(d.title),
      });
    }
    if (dashboardMatch) {
      const d = state.dashboards.get(decodeURIComponent(dashboardMatch[1]!));
      if (!d) return send(res, 404, { message: 'Dashboard not found' });
      if (method === 'GET') {
        return send(res, 200, {
          dashboard: d.model,
          meta: { folderUid: d.folderUid, version: d.version, slug: slug(d.title) },
        });
      }
      if (method === 'DELETE') {
        state.dashboards.delete(d.uid);
        return send(res, 200, { title: d.title, message: `Dashboard ${d.title} deleted`, id: d.id });
      }
    }

    // --- search ----------------------------------------------------------------------------------------
    if (path === '/api/search' && method === 'GET') {
      const folderUids = url.searchParams.getAll('folderUIDs');
      const hits = [...state.dashboards.values()]
        .filter((d) => folderUids.length === 0 || folderUids.includes(d.folderUid))
        .map((d) => ({ id: d.id, uid: d.uid, title: d.title, type: 'dash-db', folderUid: d.folderUid }));
      return send(res, 200, hits);
    }

    return send(res, 404, { message: 'Not found' });
  }

  const server: Server = createServer((req, res) => {
    route(req, res).catch((err: Error) => send(res, 500, { message: err.message }));
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : 0);
    });
  });
  const fake = state as FakeGrafana;
  Object.assign(fake, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return fake;
}
