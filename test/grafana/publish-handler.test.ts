/**
 * The publish custom resource handler end to end: Provider framework events in, Secrets Manager faked at
 * the SDK client, the dashboards bundled as files the way the construct bundles them, and the fake
 * Grafana server as the peer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { handler, physicalId, tokenFromSecret } from '../../lambdas/grafana/publish-handler.ts';
import { buildDashboards, writeDashboards } from '../../lib/observability/dashboards/index.ts';
import { type FakeGrafana, startFakeGrafana } from './support/fake-grafana.ts';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:observatory/grafana-token-AbCdEf';
const dashboards = buildDashboards();
const uids = dashboards.map((d) => d.uid);

const context = {
  functionName: 'observatory-grafana-publisher',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:111111111111:function:observatory-grafana-publisher',
  memoryLimitInMB: '256',
  awsRequestId: '0f3c1a52-6a7e-4c9e-9b0c-2d1f5e3a7b11',
  logGroupName: '/aws/lambda/observatory-grafana-publisher',
  logStreamName: '2025/01/06/[$LATEST]abc',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 120_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
} as Context;

describe('grafana publish handler', () => {
  const secrets = mockClient(SecretsManagerClient);
  let grafana: FakeGrafana;
  let dir: string;
  let props: Record<string, unknown>;

  const event = (RequestType: 'Create' | 'Update' | 'Delete', extra: Record<string, unknown> = {}) => ({
    RequestType,
    ServiceToken: 'arn:aws:lambda:eu-west-1:111111111111:function:framework-onEvent',
    ResponseURL: 'https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/x',
    StackId: 'arn:aws:cloudformation:eu-west-1:111111111111:stack/Observatory-Monitoring/1',
    RequestId: 'd4f7b8a2-0c9e-4b7a-8f21-6e5d4c3b2a10',
    LogicalResourceId: 'GrafanaDashboardsPublication',
    ResourceType: 'Custom::GrafanaDashboards',
    ResourceProperties: { ServiceToken: 'x', ...props },
    ...extra,
  });

  beforeAll(async () => {
    grafana = await startFakeGrafana('glsa_from_secret');
    dir = mkdtempSync(join(tmpdir(), 'observatory-dashboards-'));
    writeDashboards(dir, dashboards);
    process.env.DASHBOARDS_DIR = dir;
    process.env.POWERTOOLS_SERVICE_NAME = 'grafana-publisher';
    process.env.POWERTOOLS_METRICS_NAMESPACE = 'ObservatoryTest';
    props = {
      grafanaUrl: grafana.url,
      tokenSecretArn: SECRET_ARN,
      folderUid: 'infra-observatory',
      folderTitle: 'Infra Observatory',
      datasourceUid: 'observatory-amp',
      datasourceName: 'Infra Observatory (AMP)',
      workspaceUrl: 'https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234abcd-5678/',
      region: 'eu-west-1',
      sigV4AuthType: 'ec2',
      dashboardUids: uids,
      dashboardsHash: 'abc123',
    };
  });
  afterAll(async () => {
    delete process.env.DASHBOARDS_DIR;
    await grafana?.close();
    rmSync(dir, { recursive: true, force: true });
    secrets.restore();
  });
  afterEach(() => {
    secrets.reset();
  });

  const secretIs = (value: string) =>
    secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({
      ARN: SECRET_ARN,
      Name: 'observatory/grafana-token',
      SecretString: value,
      VersionId: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111',
      VersionStages: ['AWSCURRENT'],
      CreatedDate: new Date('2025-01-06T10:00:00Z'),
    });

  it('creates everything on Create, removes a dropped dashboard on Update, and leaves grafana clean on Delete', async () => {
    secretIs(JSON.stringify({ token: 'glsa_from_secret' }));

    const created = await handler(event('Create'), context);
    expect(created.PhysicalResourceId).toBe(
      `grafana:${new URL(grafana.url).host}:infra-observatory:observatory-amp`,
    );
    expect(created.Data).toEqual({
      FolderUid: 'infra-observatory',
      DatasourceUid: 'observatory-amp',
      Dashboards: '4',
    });
    expect([...grafana.dashboards.keys()].sort()).toEqual(uids.slice().sort());
    expect(grafana.datasources.get('observatory-amp')?.url).toBe(
      'https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234abcd-5678',
    );

    const old = { ...props };
    props = { ...props, dashboardUids: uids.slice(1), folderTitle: 'Observatory' };
    const updated = await handler(
      event('Update', { PhysicalResourceId: created.PhysicalResourceId, OldResourceProperties: old }),
      context,
    );
    expect(updated.PhysicalResourceId).toBe(created.PhysicalResourceId);
    expect([...grafana.dashboards.keys()].sort()).toEqual(uids.slice(1).sort());
    expect(grafana.folders.get('infra-observatory')?.title).toBe('Observatory');

    await handler(event('Delete', { PhysicalResourceId: created.PhysicalResourceId }), context);
    expect(grafana.folders.size).toBe(0);
    expect(grafana.datasources.size).toBe(0);
    expect(grafana.dashboards.size).toBe(0);
    props = old;
  });

  it('fails Create with an error naming the secret when grafana answers 401', async () => {
    secretIs('glsa_revoked');

    await expect(handler(event('Create'), context)).rejects.toThrow(
      new RegExp(
        `failed with 401 .*rejected the service account token.*the token comes from secret ${SECRET_ARN}`,
      ),
    );
    expect(grafana.folders.size).toBe(0);
  });

  it('fails when the token secret cannot be read', async () => {
    secrets.on(GetSecretValueCommand).rejects(
      new ResourceNotFoundException({
        message: "Secrets Manager can't find the specified secret.",
        $metadata: {},
      }),
    );

    await expect(handler(event('Create'), context)).rejects.toThrow(
      "Secrets Manager can't find the specified secret.",
    );
  });

  it('rejects properties without a dashboard list before reading the secret', async () => {
    const { dashboardUids: _, ...rest } = props;
    const bad = { ...event('Create'), ResourceProperties: rest };

    await expect(handler(bad, context)).rejects.toThrow(/invalid resource properties: dashboardUids: /);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  it('reads the token from a plain secret string or the token field of a JSON secret', () => {
    expect(tokenFromSecret('  glsa_plain\n', SECRET_ARN)).toBe('glsa_plain');
    expect(tokenFromSecret('{"token":"glsa_json"}', SECRET_ARN)).toBe('glsa_json');
    expect(() => tokenFromSecret('{"apiKey":"x"}', SECRET_ARN)).toThrow(
      `secret ${SECRET_ARN} is a JSON object without a "token" string`,
    );
  });

  it('names the grafana host and the owned uids in the physical id, so another grafana is a replacement', () => {
    const base = props as Parameters<typeof physicalId>[0];
    expect(
      physicalId({ ...base, grafanaUrl: 'https://g-1.grafana-workspace.eu-west-1.amazonaws.com' }),
    ).not.toBe(physicalId({ ...base, grafanaUrl: 'https://g-2.grafana-workspace.eu-west-1.amazonaws.com' }));
  });
});
