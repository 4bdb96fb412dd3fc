import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ampRegion,
  createRequestSigner,
  isAmpUrl,
  RemoteWriteClient,
  type Sample,
} from '#shared/remote-write';

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session-token-example',
};
const signingTime = Date.UTC(2024, 0, 2, 3, 4, 5);
const path = '/workspaces/ws-0123abcd-4567-89ef-0123-456789abcdef/api/v1/remote_write';
const samples: Sample[] = [
  { name: 'probe_up', labels: { target: 'db' }, value: 1, timestampMs: 1_700_000_000_000 },
  { name: 'probe_up', labels: { target: 'web' }, value: 0, timestampMs: 1_700_000_000_000 },
];
const quiet = { warn: () => {}, error: () => {} };

let server: Server;
let base: string;
let received: { method: string; url: string; headers: IncomingHttpHeaders; body: Buffer }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  received = [];
});

describe('SigV4 signing', () => {
  it('signs for aps in the region with a signature the SDK signer reproduces from what was received', async () => {
    const client = new RemoteWriteClient({
      url: `${base}${path}`,
      sigv4: { region: 'eu-west-1', credentials },
      clock: () => signingTime,
      logger: quiet,
    });
    const result = await client.write(samples, { deadline: Date.now() + 30_000 });
    expect(result.ok).toBe(true);
    const [req] = received;
    if (!req) throw new Error('no request received');
    const h = req.headers;
    expect(h['x-amz-date']).toBe('20240102T030405Z');
    expect(h['x-amz-security-token']).toBe(credentials.sessionToken);
    expect(h['x-amz-content-sha256']).toBe(createHash('sha256').update(req.body).digest('hex'));
    expect(h.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20240102\/eu-west-1\/aps\/aws4_request, SignedHeaders=content-encoding;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-prometheus-remote-write-version, Signature=[0-9a-f]{64}$/,
    );

    // Sign the request the server saw, independently, with the SDK's signer.
    const url = new URL(`${base}${req.url}`);
    const independent = await new SignatureV4({
      service: 'aps',
      region: 'eu-west-1',
      credentials,
      sha256: Sha256,
    }).sign(
      new HttpRequest({
        method: req.method,
        protocol: url.protocol,
        hostname: url.hostname,
        port: Number(url.port),
        path: url.pathname,
        headers: {
          host: h.host as string,
          'content-encoding': h['content-encoding'] as string,
          'content-type': h['content-type'] as string,
          'x-prometheus-remote-write-version': h['x-prometheus-remote-write-version'] as string,
        },
        body: new Uint8Array(req.body),
      }),
      { signingDate: new Date(signingTime) },
    );
    expect(independent.headers.authorization).toBe(h.authorization);
  });

  it('signs nothing when sigv4 is false', async () => {
    const client = new RemoteWriteClient({ url: `${base}${path}`, sigv4: false, logger: quiet });
    await client.write(samples);
    const h = received[0]?.headers ?? {};
    expect(h.authorization).toBeUndefined();
    expect(h['x-amz-date']).toBeUndefined();
    expect(h['x-amz-content-sha256']).toBeUndefined();
  });

  it('asks a credentials provider on every request so refreshed credentials are used', async () => {
    let calls = 0;
    const client = new RemoteWriteClient({
      url: `${base}${path}`,
      sigv4: {
        region: 'us-east-1',
        credentials: async () => {
          calls++;
          return { accessKeyId: `AKID${calls}`, secretAccessKey: 'secret' };
        },
      },
      limits: { maxSamplesPerRequest: 1 },
      logger: quiet,
    });
    await client.write(samples);
    expect(received.map((r) => /Credential=(\w+)\//.exec(r.headers.authorization ?? '')?.[1])).toEqual([
      'AKID1',
      'AKID2',
    ]);
    expect(received.every((r) => r.headers['x-amz-security-token'] === undefined)).toBe(true);
  });

  it('takes the region from an AMP URL and credentials from the default chain', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'AKIDFROMENV',
      AWS_SECRET_ACCESS_KEY: 'secret-from-env',
      AWS_SESSION_TOKEN: 'token-from-env',
    });
    try {
      const url = new URL(`https://aps-workspaces.ap-southeast-2.amazonaws.com${path}`);
      const sign = createRequestSigner(url, {});
      const headers = await sign(
        url,
        { 'content-type': 'application/x-protobuf' },
        new Uint8Array([1, 2, 3]),
        new Date(signingTime),
      );
      expect(headers.authorization).toContain(
        'Credential=AKIDFROMENV/20240102/ap-southeast-2/aps/aws4_request',
      );
      expect(headers['x-amz-security-token']).toBe('token-from-env');
      expect(headers.host).toBeUndefined();
    } finally {
      process.env = saved;
    }
  });

  it('requires a region for a URL that is not AMP', () => {
    expect(() => new RemoteWriteClient({ url: `${base}/api/v1/write`, sigv4: {} })).toThrow(
      `sigv4 region is required for url ${base}/api/v1/write, which is not an amp endpoint`,
    );
  });
});

describe('ampRegion and isAmpUrl', () => {
  it.each([
    ['https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write', 'eu-west-1'],
    [
      'https://aps-workspaces.us-gov-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write',
      'us-gov-west-1',
    ],
    ['https://aps-workspaces-fips.us-east-2.amazonaws.com/workspaces/ws-1/api/v1/remote_write', 'us-east-2'],
    [
      'https://vpce-0abc123-xyz.aps-workspaces.eu-central-1.vpce.amazonaws.com/workspaces/ws-1/api/v1/remote_write',
      'eu-central-1',
    ],
    ['https://APS-WORKSPACES.sa-east-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write', 'sa-east-1'],
  ])('finds the region of %s', (url, region) => {
    expect(ampRegion(url)).toBe(region);
    expect(isAmpUrl(url)).toBe(true);
  });

  it.each([
    'http://127.0.0.1:9090/api/v1/write',
    'https://prometheus.example.com/api/v1/write',
    'https://aps-workspaces.eu-west-1.amazonaws.com.evil.example/api/v1/write',
    'https://aps.eu-west-1.amazonaws.com/workspaces/ws-1',
    'not a url',
  ])('does not take %s for AMP', (url) => {
    expect(ampRegion(url)).toBeUndefined();
    expect(isAmpUrl(url)).toBe(false);
  });
});
