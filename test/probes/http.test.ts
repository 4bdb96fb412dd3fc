import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { earliestExpiry, probeHttp } from '#probes/http';
import {
  closedPort,
  makeCert,
  type RunningHttp,
  startHttpServer,
  startHttpsServer,
  type TestCert,
} from './support/servers.ts';

const HEADERS_DELAY_MS = 150;
const BODY_DELAY_MS = 200;

describe('probeHttp over HTTP', () => {
  let server: RunningHttp;
  let base: string;
  beforeAll(async () => {
    server = await startHttpServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      switch (url.pathname) {
        case '/slow':
          setTimeout(() => {
            res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-build': 'v1.2.3' });
            res.write('status: ');
            setTimeout(() => res.end('healthy\n'), BODY_DELAY_MS);
          }, HEADERS_DELAY_MS);
          return;
        case '/ok':
          res.writeHead(200, { 'content-type': 'application/json', 'x-build': 'v1.2.3' });
          res.end('{"status":"up"}');
          return;
        case '/missing':
          res.writeHead(404);
          res.end('nope');
          return;
        case '/redirect': {
          const n = Number(url.searchParams.get('n') ?? '0');
          setTimeout(() => {
            res.writeHead(302, { location: n > 0 ? `/redirect?n=${n - 1}` : '/slow' });
            res.end();
          }, 50);
          return;
        }
        case '/loop':
          res.writeHead(301, { location: '/loop' });
          res.end();
          return;
        case '/hang':
          return; // never answers
        default:
          res.writeHead(500);
          res.end();
      }
    });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    await server.close();
  });

  it('measures each phase and attributes the server delays to ttfb and transfer', async () => {
    // A phase boundary is marked when the event loop handles the socket's event: a loop held up by a
    // busy machine marks the first byte late and shortens transfer by as much. The loop's worst delay
    // during the probe bounds that error.
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const r = await probeHttp({ url: `${base}/slow`, timeoutMs: 3000 });
    loop.disable();
    const lateS = loop.max / 1e9;
    expect(r).toMatchObject({
      success: 1,
      statusCode: 200,
      httpVersion: '1.1',
      redirects: 0,
      tls: false,
      address: '127.0.0.1',
      family: 4,
    });
    const p = r.phasesSeconds;
    expect(p.dns).toBe(0); // an IP literal is not resolved
    expect(p.connect).toBeGreaterThan(0);
    expect(p.tls).toBe(0);
    expect(p.ttfb).toBeGreaterThanOrEqual(HEADERS_DELAY_MS / 1000);
    expect(p.transfer).toBeGreaterThanOrEqual(BODY_DELAY_MS / 1000 - lateS);
    expect(p.transfer).toBeLessThan(BODY_DELAY_MS / 1000 + 0.5);
    expect(r.durationSeconds).toBeGreaterThanOrEqual(p.dns + p.connect + p.ttfb + p.transfer);
    expect(r.bodyBytes).toBe('status: healthy\n'.length);
    expect(r.certExpiry).toBeUndefined();
  });

  it('times the resolution of a host name', async () => {
    const r = await probeHttp({ url: `http://localhost:${server.port}/ok`, timeoutMs: 3000, family: 4 });
    expect(r.success).toBe(1);
    expect(r.phasesSeconds.dns).toBeGreaterThan(0);
    expect(server.requests.at(-1)!.host).toBe(`localhost:${server.port}`);
  });

  it('connects to a pinned address while sending the URL host', async () => {
    const r = await probeHttp({
      url: `http://service.example.invalid:${server.port}/ok`,
      address: '127.0.0.1',
      addressResolvedSeconds: 0.004,
      timeoutMs: 3000,
    });
    expect(r).toMatchObject({ success: 1, address: '127.0.0.1', statusCode: 200 });
    expect(r.phasesSeconds.dns).toBe(0.004);
    expect(server.requests.at(-1)!.host).toBe(`service.example.invalid:${server.port}`);
  });

  it('fails on a status outside the expected set and passes when it is expected', async () => {
    const bad = await probeHttp({ url: `${base}/missing`, timeoutMs: 3000 });
    expect(bad).toMatchObject({
      success: 0,
      reason: 'status',
      statusCode: 404,
      error: 'status 404, expected 200',
    });
    const good = await probeHttp({ url: `${base}/missing`, timeoutMs: 3000, expectStatus: [404, 410] });
    expect(good).toMatchObject({ success: 1, statusCode: 404 });
  });

  it('checks the body against a regular expression', async () => {
    expect(
      (await probeHttp({ url: `${base}/ok`, timeoutMs: 3000, bodyRegex: '"status":\\s*"up"' })).success,
    ).toBe(1);
    const r = await probeHttp({ url: `${base}/ok`, timeoutMs: 3000, bodyRegex: '"status":\\s*"down"' });
    expect(r).toMatchObject({ success: 0, reason: 'body', statusCode: 200 });
  });

  it('checks response headers by name in any case against regular expressions', async () => {
    expect(
      (
        await probeHttp({
          url: `${base}/ok`,
          timeoutMs: 3000,
          headers: { 'Content-Type': '^application/json', 'X-Build': '^v1\\.' },
        })
      ).success,
    ).toBe(1);
    const mismatch = await probeHttp({
      url: `${base}/ok`,
      timeoutMs: 3000,
      headers: { 'x-build': '^v2\\.' },
    });
    expect(mismatch).toMatchObject({
      success: 0,
      reason: 'header',
      error: 'header x-build: "v1.2.3" does not match /^v2\\./',
    });
    const missing = await probeHttp({ url: `${base}/ok`, timeoutMs: 3000, headers: { 'x-request-id': '.' } });
    expect(missing).toMatchObject({ success: 0, reason: 'header', error: 'header x-request-id missing' });
  });

  it('reports a redirect as the final status when redirects are not followed', async () => {
    const r = await probeHttp({ url: `${base}/redirect?n=0`, timeoutMs: 3000, expectStatus: [302] });
    expect(r).toMatchObject({ success: 1, statusCode: 302, redirects: 0, finalUrl: `${base}/redirect?n=0` });
  });

  it('follows redirects on fresh connections and sums the phases of every hop', async () => {
    const before = server.requests.length;
    const r = await probeHttp({
      url: `${base}/redirect?n=2`,
      timeoutMs: 3000,
      followRedirects: true,
      bodyRegex: 'healthy',
    });
    expect(r).toMatchObject({ success: 1, statusCode: 200, redirects: 3, finalUrl: `${base}/slow` });
    expect(server.requests.slice(before).map((q) => q.url)).toEqual([
      '/redirect?n=2',
      '/redirect?n=1',
      '/redirect?n=0',
      '/slow',
    ]);
    // three 50 ms redirect hops and the slow page's header delay
    expect(r.phasesSeconds.ttfb).toBeGreaterThanOrEqual((3 * 50 + HEADERS_DELAY_MS) / 1000);
  });

  it('stops following a redirect loop at the bound', async () => {
    const r = await probeHttp({
      url: `${base}/loop`,
      timeoutMs: 3000,
      followRedirects: true,
      maxRedirects: 4,
    });
    expect(r).toMatchObject({
      success: 0,
      reason: 'redirects',
      redirects: 4,
      statusCode: 301,
      error: 'more than 4 redirects',
    });
  });

  it('gives up at the timeout and says in which phase', async () => {
    const r = await probeHttp({ url: `${base}/hang`, timeoutMs: 300 });
    expect(r).toMatchObject({
      success: 0,
      reason: 'timeout',
      error: 'timeout during ttfb',
      statusCode: undefined,
    });
    expect(r.durationSeconds).toBeGreaterThanOrEqual(0.29);
    expect(r.durationSeconds).toBeLessThan(2);
  });

  it('reports a refused connection', async () => {
    const port = await closedPort();
    const r = await probeHttp({ url: `http://127.0.0.1:${port}/`, timeoutMs: 1000 });
    expect(r).toMatchObject({ success: 0, reason: 'refused', statusCode: undefined });
  });

  it('reports a name that does not resolve', async () => {
    const r = await probeHttp({ url: 'http://no-such-host.invalid/', timeoutMs: 3000 });
    expect(r).toMatchObject({ success: 0, reason: 'dns', address: '' });
  });

  it('sends HEAD without reading a body', async () => {
    const r = await probeHttp({ url: `${base}/ok`, method: 'HEAD', timeoutMs: 3000 });
    expect(r).toMatchObject({ success: 1, statusCode: 200, bodyBytes: 0 });
    expect(server.requests.at(-1)!.method).toBe('HEAD');
  });
});

describe('probeHttp over HTTPS', () => {
  let cert: TestCert;
  let shortCert: TestCert;
  let server: RunningHttp;
  let shortServer: RunningHttp;
  beforeAll(async () => {
    cert = makeCert(30);
    shortCert = makeCert(2);
    const handler = (_req: unknown, res: import('node:http').ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('secure');
    };
    server = await startHttpsServer(cert, handler);
    shortServer = await startHttpsServer(shortCert, handler);
  });
  afterAll(async () => {
    await server.close();
    await shortServer.close();
  });

  it('verifies the chain, times the handshake and reports the certificate notAfter', async () => {
    const r = await probeHttp({
      url: `https://localhost:${server.port}/`,
      timeoutMs: 3000,
      tls: { ca: cert.cert },
      certMinDays: 14,
      family: 4,
    });
    expect(r).toMatchObject({
      success: 1,
      statusCode: 200,
      tls: true,
      certVerified: true,
      certExpiry: cert.notAfter,
    });
    expect(r.phasesSeconds.tls).toBeGreaterThan(0);
    expect(r.phasesSeconds.connect).toBeGreaterThan(0);
  });

  it('fails an untrusted certificate before sending the request, still reporting its expiry', async () => {
    const before = server.requests.length;
    const r = await probeHttp({ url: `https://localhost:${server.port}/`, timeoutMs: 3000, family: 4 });
    expect(r).toMatchObject({
      success: 0,
      reason: 'tls',
      certVerified: false,
      certExpiry: cert.notAfter,
      statusCode: undefined,
    });
    expect(r.error).toContain('SELF_SIGNED');
    expect(server.requests.length).toBe(before);
  });

  it('accepts an untrusted certificate when told to be insecure', async () => {
    const r = await probeHttp({
      url: `https://127.0.0.1:${server.port}/`,
      timeoutMs: 3000,
      tls: { insecure: true },
    });
    expect(r).toMatchObject({ success: 1, certVerified: false, certExpiry: cert.notAfter });
  });

  it('fails a certificate that expires sooner than the minimum days', async () => {
    const r = await probeHttp({
      url: `https://localhost:${shortServer.port}/`,
      timeoutMs: 3000,
      tls: { ca: shortCert.cert },
      certMinDays: 14,
      family: 4,
    });
    expect(r).toMatchObject({
      success: 0,
      reason: 'cert_expiry',
      statusCode: 200,
      certExpiry: shortCert.notAfter,
    });
    expect(r.error).toMatch(/^certificate expires in [12]\.\d days, minimum 14$/);
  });

  it('verifies an https target given by IP address against the certificate IP SANs, without SNI', async () => {
    // Only IP SANs, and a CN that is no host: checked against a name (the old fallback "localhost"),
    // this certificate can never verify.
    const ipCert = makeCert(30, 'IP:127.0.0.1,IP:::1', 'observatory test by address');
    const ipServer = await startHttpsServer(ipCert, (_req, res) => res.end('by address'));
    try {
      const r = await probeHttp({
        url: `https://127.0.0.1:${ipServer.port}/`,
        timeoutMs: 3000,
        tls: { ca: ipCert.cert },
      });
      expect(r).toMatchObject({ success: 1, statusCode: 200, certVerified: true });
      // RFC 6066: a literal IP address is not sent as the server name.
      expect(ipServer.requests[0]!.servername).toBeFalsy();
    } finally {
      await ipServer.close();
    }
  });

  it('fails an https target given by IP address whose certificate does not list that IP', async () => {
    // Names localhost (the old fallback) and another address, not the one probed.
    const otherCert = makeCert(30, 'DNS:localhost,IP:10.9.9.9');
    const otherServer = await startHttpsServer(otherCert, (_req, res) => res.end('wrong'));
    try {
      const r = await probeHttp({
        url: `https://127.0.0.1:${otherServer.port}/`,
        timeoutMs: 3000,
        tls: { ca: otherCert.cert },
      });
      expect(r).toMatchObject({ success: 0, reason: 'tls', certVerified: false, statusCode: undefined });
      expect(r.error).toBe('certificate of 127.0.0.1 not trusted: ERR_TLS_CERT_ALTNAME_INVALID');
      expect(otherServer.requests).toHaveLength(0);
    } finally {
      await otherServer.close();
    }
  });

  it('takes the earliest notAfter of a linked chain and stops at a self-signed root', () => {
    const root = {
      valid_to: 'Jan  1 00:00:00 2035 GMT',
      fingerprint256: 'root',
    } as never as import('node:tls').DetailedPeerCertificate;
    (root as { issuerCertificate: unknown }).issuerCertificate = root;
    const inter = { valid_to: 'Jun  1 00:00:00 2027 GMT', fingerprint256: 'inter', issuerCertificate: root };
    const leaf = {
      valid_to: 'Mar  1 00:00:00 2028 GMT',
      fingerprint256: 'leaf',
      issuerCertificate: inter,
    } as never;
    expect(earliestExpiry(leaf)).toBe(Date.UTC(2027, 5, 1) / 1000);
  });
});
