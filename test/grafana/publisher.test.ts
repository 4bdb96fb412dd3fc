/**
 * The publisher against a real HTTP server that implements Grafana's folder, data source, dashboard and
 * search API in memory (support/fake-grafana.ts), with the project's real dashboards.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  GrafanaApiError,
  GrafanaClient,
  type PublishSpec,
  publish,
  unpublish,
} from '../../lambdas/grafana/publisher.ts';
import { buildDashboards } from '../../lib/observability/dashboards/index.ts';
import { type FakeGrafana, startFakeGrafana } from './support/fake-grafana.ts';

const dashboards = buildDashboards().map((d) => ({
  uid: d.uid,
  dashboard: d.dashboard as unknown as Record<string, unknown>,
}));

const spec: PublishSpec = {
  folder: { uid: 'infra-observatory', title: 'Infra Observatory' },
  datasource: {
    uid: 'observatory-amp',
    name: 'Infra Observatory (AMP)',
    url: 'https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234abcd-5678/',
    region: 'eu-west-1',
    authType: 'ec2',
  },
  dashboards,
};
const owned = {
  folderUid: spec.folder.uid,
  datasourceUid: spec.datasource.uid,
  dashboardUids: dashboards.map((d) => d.uid),
};

describe('grafana publisher', () => {
  let grafana: FakeGrafana;
  let client: GrafanaClient;
  const noSleep = async () => {};

  beforeAll(async () => {
    grafana = await startFakeGrafana();
  });
  afterAll(async () => {
    await grafana?.close();
  });
  beforeEach(() => {
    client = new GrafanaClient({ url: grafana.url, token: grafana.token, sleep: noSleep });
  });
  afterEach(() => {
    grafana.folders.clear();
    grafana.datasources.clear();
    grafana.dashboards.clear();
    grafana.requests.length = 0;
    grafana.failNext = undefined;
    grafana.token = 'glsa_test_token';
  });

  it('creates the folder, a SigV4 Prometheus data source for AMP and every dashboard in the folder', async () => {
    const result = await publish(client, spec);

    expect(result.folder).toBe('created');
    expect(result.datasource).toBe('created');
    expect(Object.keys(result.dashboards).sort()).toEqual(owned.dashboardUids.slice().sort());
    expect(grafana.folders.get('infra-observatory')?.title).toBe('Infra Observatory');
    const ds = grafana.datasources.get('observatory-amp');
    expect(ds).toMatchObject({
      type: 'prometheus',
      access: 'proxy',
      url: 'https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234abcd-5678',
      jsonData: { sigV4Auth: true, sigV4AuthType: 'ec2', sigV4Region: 'eu-west-1', httpMethod: 'POST' },
    });
    for (const d of dashboards) {
      const stored = grafana.dashboards.get(d.uid);
      expect(stored?.folderUid).toBe('infra-observatory');
      expect(stored?.title).toBe(d.dashboard.title);
    }
  });

  it('is idempotent: a second publish leaves one folder, one data source and the same dashboards', async () => {
    await publish(client, spec);
    const ids = [...grafana.dashboards.values()].map((d) => [d.uid, d.id]);

    const again = await publish(client, spec);

    expect(again.folder).toBe('unchanged');
    expect(again.datasource).toBe('updated');
    expect(grafana.folders.size).toBe(1);
    expect(grafana.datasources.size).toBe(1);
    expect([...grafana.dashboards.values()].map((d) => [d.uid, d.id])).toEqual(ids);
    expect(Object.values(again.dashboards).every((v) => v === 2)).toBe(true);
  });

  it('updates in place: renames the folder, changes the data source and overwrites a changed dashboard', async () => {
    await publish(client, spec);
    const changed = dashboards.map((d, i) =>
      i === 0 ? { ...d, dashboard: { ...d.dashboard, title: 'Network v2' } } : d,
    );

    const result = await publish(client, {
      ...spec,
      folder: { ...spec.folder, title: 'Observatory' },
      datasource: { ...spec.datasource, region: 'us-east-1', authType: 'default' },
      dashboards: changed,
    });

    expect(result.folder).toBe('updated');
    expect(grafana.folders.get('infra-observatory')?.title).toBe('Observatory');
    expect(grafana.datasources.get('observatory-amp')?.jsonData).toMatchObject({
      sigV4Region: 'us-east-1',
      sigV4AuthType: 'default',
    });
    expect(grafana.dashboards.get(dashboards[0]!.uid)?.title).toBe('Network v2');
    expect(grafana.dashboards.size).toBe(dashboards.length);
  });

  it('unpublish leaves grafana clean, and running it again changes nothing', async () => {
    await publish(client, spec);

    const first = await unpublish(client, owned);
    const second = await unpublish(client, owned);

    expect(first).toEqual({
      dashboardsDeleted: owned.dashboardUids,
      datasourceDeleted: true,
      folder: 'deleted',
      foreignItems: [],
    });
    expect(grafana.folders.size).toBe(0);
    expect(grafana.datasources.size).toBe(0);
    expect(grafana.dashboards.size).toBe(0);
    expect(second).toEqual({
      dashboardsDeleted: [],
      datasourceDeleted: false,
      folder: 'absent',
      foreignItems: [],
    });
  });

  it('deletes only what it owns: a dashboard someone saved into the folder keeps the folder alive', async () => {
    await publish(client, spec);
    await client.call('POST', '/api/datasources', {
      uid: 'theirs',
      name: 'Their Prometheus',
      type: 'prometheus',
    });
    await client.call('POST', '/api/dashboards/db', {
      dashboard: { uid: 'team-notes', title: 'Team notes' },
      folderUid: 'infra-observatory',
    });

    const result = await unpublish(client, owned);

    expect(result.folder).toBe('kept');
    expect(result.foreignItems).toEqual(['Team notes']);
    expect([...grafana.dashboards.keys()]).toEqual(['team-notes']);
    expect([...grafana.datasources.keys()]).toEqual(['theirs']);
    expect(grafana.folders.has('infra-observatory')).toBe(true);
  });

  it('surfaces a 401 as an error that names the token problem, without retrying', async () => {
    grafana.token = 'glsa_rotated';

    const failure = await publish(client, spec).catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(GrafanaApiError);
    expect((failure as GrafanaApiError).status).toBe(401);
    expect((failure as Error).message).toMatch(
      /^grafana GET \/api\/folders\/infra-observatory failed with 401 .*Invalid API key.*rejected the service account token/,
    );
    expect(grafana.requests).toHaveLength(1);
  });

  it('retries a 503 and goes on when grafana recovers', async () => {
    grafana.failNext = { status: 503, count: 2 };

    const result = await publish(client, spec);

    expect(result.folder).toBe('created');
    expect(grafana.requests.slice(0, 3)).toEqual([
      'GET /api/folders/infra-observatory',
      'GET /api/folders/infra-observatory',
      'GET /api/folders/infra-observatory',
    ]);
  });

  it('reports a data source name taken by another uid as a 409 from POST /api/datasources', async () => {
    await client.call('POST', '/api/datasources', {
      uid: 'other',
      name: spec.datasource.name,
      type: 'prometheus',
    });

    await expect(publish(client, spec)).rejects.toThrow(
      /grafana POST \/api\/datasources failed with 409 .*same name already exists/,
    );
  });

  it('rejects a uid grafana would not accept before calling it', async () => {
    await expect(
      publish(client, { ...spec, dashboards: [{ uid: 'has spaces', dashboard: {} }] }),
    ).rejects.toThrow('dashboard uid must be 1-40 letters, digits, "-" or "_", got "has spaces"');
    expect(grafana.requests).toHaveLength(0);
  });
});
