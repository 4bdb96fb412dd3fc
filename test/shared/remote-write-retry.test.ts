import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import snappy from 'snappyjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  RemoteWriteClient,
  type RemoteWriteClientOptions,
  type RemoteWriteLogger,
  type Sample,
} from '#shared/remote-write';
import { freePort } from '../support/prometheus.ts';

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Never answer (the client must give up at its timeout or deadline). */
  hang?: boolean;
}
interface Received {
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let server: Server;
let url: string;
let script: Reply[] = [];
let fallback: Reply = { status: 204 };
let received: Received[] = [];
const hanging = new Set<() => void>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      const reply = script.shift() ?? fallback;
      if (reply.hang) {
        hanging.add(() => res.destroy());
        return;
      }
      res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers });
      res.end(reply.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`;
});

afterAll(async () => {
  for (const release of hanging) release();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  script = [];
  fallback = { status: 204 };
  received = [];
});

interface Logged {
  level: 'warn' | 'error';
  message: string;
  attributes: Record<string, unknown>;
}

/** A client with a fake clock that only sleeps move, recording every sleep. */
function harness(options: Partial<RemoteWriteClientOptions> = {}, random = () => 0.5) {
  const start = 1_700_000_000_000;
  let now = start;
  const sleeps: number[] = [];
  const logged: Logged[] = [];
  const logger: RemoteWriteLogger = {
    warn: (message, attributes) => logged.push({ level: 'warn', message, attributes }),
    error: (message, attributes) => logged.push({ level: 'error', message, attributes }),
  };
  const client = new RemoteWriteClient({
    url,
    logger,
    clock: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    random,
    ...options,
  });
  return { client, sleeps, logged, start, elapsed: () => now - start };
}

function samples(n: number, series = 1): Sample[] {
  const out: Sample[] = [];
  for (let s = 0; s < series; s++) {
    for (let i = 0; i < n; i++)
      out.push({ name: 'rw_test', labels: { s: String(s) }, value: i, timestampMs: 1_000_000 + i });
  }
  return out;
}

describe('RemoteWriteClient over HTTP', () => {
  it('sends the spec headers and a snappy protobuf body, unsigned', async () => {
    const { client } = harness();
    const result = await client.write(samples(3), { deadline: Date.now() + 60_000 });
    expect(result).toMatchObject({
      ok: true,
      requests: 1,
      attempts: 1,
      retries: 0,
      samples: 3,
      samplesSent: 3,
    });
    const [req] = received;
    expect(req?.headers).toMatchObject({
      'content-encoding': 'snappy',
      'content-type': 'application/x-protobuf',
      'x-prometheus-remote-write-version': '0.1.0',
      'user-agent': 'infra-observatory/0.1.0',
    });
    expect(req?.headers.authorization).toBeUndefined();
    expect(req?.headers['x-amz-date']).toBeUndefined();
    expect(req?.body.length).toBe(result.bytesCompressed);
    expect(snappy.uncompress(req?.body as Buffer).length).toBe(result.bytesRaw);
  });

  it('retries a 500 and a 503 with the same body, then succeeds', async () => {
    script = [{ status: 500, body: 'boom' }, { status: 503 }];
    const { client, sleeps, logged } = harness();
    const result = await client.write(samples(10));
    expect(result).toMatchObject({ ok: true, attempts: 3, retries: 2, samplesSent: 10, failures: [] });
    expect(received).toHaveLength(3);
    expect(received[1]?.body.equals(received[0]?.body as Buffer)).toBe(true);
    expect(received[2]?.body.equals(received[0]?.body as Buffer)).toBe(true);
    expect(sleeps).toEqual([50, 100]);
    expect(logged.filter((l) => l.level === 'warn').map((l) => l.attributes.status)).toEqual([500, 503]);
  });

  it('grows the backoff exponentially with full jitter up to the cap', async () => {
    fallback = { status: 502 };
    const draws = [0.5, 0.999, 0, 0.25, 0.999, 0.999, 0.5];
    const { client, sleeps } = harness(
      { retry: { maxAttempts: 8, minBackoffMs: 100, maxBackoffMs: 1000 } },
      () => draws.shift() ?? 0,
    );
    const result = await client.write(samples(1));
    // Caps: 100, 200, 400, 800, 1000, 1000, 1000; each sleep is draw * cap.
    expect(sleeps).toEqual([50, 199, 0, 200, 999, 999, 500]);
    expect(result.ok).toBe(false);
    expect(result.failures).toEqual([
      { request: 0, reason: 'retries-exhausted', status: 502, body: '', attempts: 8, samples: samples(1) },
    ]);
    expect(result).toMatchObject({
      attempts: 8,
      retries: 7,
      samplesSent: 0,
      samplesFailed: 1,
      unwritten: samples(1),
    });
  });

  it('honours Retry-After on a 429 in seconds and as a date, capped', async () => {
    script = [
      { status: 429, headers: { 'retry-after': '3' } },
      { status: 429, headers: { 'retry-after': new Date(1_700_000_000_000 + 3000 + 7000).toUTCString() } },
      { status: 429, headers: { 'retry-after': '3600' } },
      { status: 429 },
    ];
    const { client, sleeps } = harness({ retry: { maxRetryAfterMs: 20_000 } });
    const result = await client.write(samples(2), { deadline: 1_700_000_000_000 + 120_000 });
    expect(result).toMatchObject({ ok: true, attempts: 5, retries: 4 });
    // 3 s; the date 7 s after the clock at that point; 3600 s cut to 20 s; no header: jittered backoff.
    expect(sleeps).toEqual([3000, 7000, 20_000, 400]);
  });

  it('honours Retry-After on a 503 as on a 429', async () => {
    script = [
      { status: 503, headers: { 'retry-after': '2' } },
      { status: 503, headers: { 'retry-after': new Date(1_700_000_000_000 + 2000 + 4000).toUTCString() } },
      { status: 503 },
    ];
    const { client, sleeps } = harness();
    const result = await client.write(samples(2), { deadline: 1_700_000_000_000 + 120_000 });
    expect(result).toMatchObject({ ok: true, attempts: 4, retries: 3 });
    // 2 s; the date 4 s later; no header: the jittered backoff of the third retry (0.5 * 400).
    expect(sleeps).toEqual([2000, 4000, 200]);
  });

  it.each([400, 401, 403, 404, 409, 413, 422])(
    'never retries a %i and surfaces its body verbatim',
    async (status) => {
      const body = `err: out of order sample {"detail": "line1\\nline2"} — status ${status}`;
      script = [{ status, body }];
      const { client, sleeps, logged } = harness();
      const result = await client.write(samples(4));
      expect(received).toHaveLength(1);
      expect(sleeps).toEqual([]);
      expect(result.failures).toEqual([
        { request: 0, reason: 'rejected', status, body, attempts: 1, samples: samples(4) },
      ]);
      const errors = logged.filter((l) => l.level === 'error');
      expect(errors).toHaveLength(1);
      expect(errors[0]?.attributes).toMatchObject({ status, body, samples: 4 });
    },
  );

  it('keeps writing later requests after a rejected one and reports exactly which samples were not written', async () => {
    script = [{ status: 204 }, { status: 400, body: 'bad batch' }, { status: 204 }];
    const input = samples(5, 3);
    const { client } = harness({ limits: { maxSamplesPerRequest: 5 } });
    const result = await client.write(input);
    expect(result).toMatchObject({ ok: false, requests: 3, attempts: 3, samplesSent: 10, samplesFailed: 5 });
    expect(result.unwritten).toEqual(input.slice(5, 10));
    expect(result.failures.map((f) => [f.request, f.status, f.body])).toEqual([[1, 400, 'bad batch']]);
  });

  it('never sleeps past the deadline and reports unsent requests with their samples', async () => {
    fallback = { status: 500, body: 'down' };
    const { client, sleeps, elapsed, logged } = harness({ limits: { maxSamplesPerRequest: 2 } }, () => 0.999);
    const input = samples(6);
    const result = await client.write(input, { deadline: 1_700_000_000_000 + 1000 });
    // Caps 100, 200, 400 -> 99 + 199 + 399 = 697 ms; the next (799) would end past the deadline.
    expect(sleeps).toEqual([99, 199, 399]);
    expect(elapsed()).toBeLessThan(1000);
    expect(received).toHaveLength(4);
    expect(result.failures).toEqual([
      { request: 0, reason: 'deadline', status: 500, body: 'down', attempts: 4, samples: input.slice(0, 2) },
      { request: 1, reason: 'deadline', attempts: 0, samples: input.slice(2, 4) },
      { request: 2, reason: 'deadline', attempts: 0, samples: input.slice(4, 6) },
    ]);
    expect(result.unwritten).toEqual(input);
    expect(result).toMatchObject({ attempts: 4, retries: 3, samplesSent: 0, samplesFailed: 6 });
    expect(logged.at(-1)).toMatchObject({
      level: 'error',
      message: 'remote write request abandoned at the deadline',
    });
  });

  it('takes the deadline from remainingTimeMs less the reserve', async () => {
    fallback = { status: 503 };
    const { client, sleeps } = harness({ remainingTimeReserveMs: 500 }, () => 0.999);
    const result = await client.write(samples(1), { remainingTimeMs: () => 1500 });
    expect(sleeps).toEqual([99, 199, 399]);
    expect(result.failures[0]?.reason).toBe('deadline');
  });

  it('retries connection errors like a 5xx', async () => {
    const port = await freePort();
    const { client, sleeps } = harness({
      url: `http://127.0.0.1:${port}/api/v1/write`,
      retry: { maxAttempts: 3 },
    });
    const result = await client.write(samples(1));
    expect(sleeps).toHaveLength(2);
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]).toMatchObject({ reason: 'retries-exhausted', attempts: 3 });
    expect(result.failures[0]?.error).toMatch(/ECONNREFUSED/);
    expect(result.failures[0]?.status).toBeUndefined();
  });

  /**
   * What Node's fetch (undici) rejects with when the endpoint's name does not resolve: a TypeError
   * whose cause is the getaddrinfo error. Injected, because a real lookup of a missing name would ask
   * the machine's resolver, off this host.
   */
  function unresolvable(code: 'ENOTFOUND' | 'EAI_AGAIN') {
    const calls: string[] = [];
    const fetch = async (target: string) => {
      calls.push(target);
      const cause = Object.assign(new Error(`getaddrinfo ${code} aps.example.invalid`), {
        errno: code === 'ENOTFOUND' ? -3008 : -3001,
        code,
        syscall: 'getaddrinfo',
        hostname: 'aps.example.invalid',
      });
      throw new TypeError('fetch failed', { cause });
    };
    return { fetch, calls };
  }

  it('does not retry an endpoint whose name does not exist, nor start the later requests', async () => {
    const { fetch, calls } = unresolvable('ENOTFOUND');
    const { client, sleeps, logged } = harness({
      url: 'http://aps.example.invalid/api/v1/write',
      fetch,
      limits: { maxSamplesPerRequest: 2 },
    });
    const input = samples(6);
    const result = await client.write(input);
    expect(calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(result).toMatchObject({ ok: false, requests: 3, attempts: 1, samplesFailed: 6 });
    expect(result.failures.map((f) => [f.request, f.reason, f.attempts])).toEqual([
      [0, 'dns', 1],
      [1, 'dns', 0],
      [2, 'dns', 0],
    ]);
    expect(result.failures[0]?.error).toBe(
      'TypeError: fetch failed (getaddrinfo ENOTFOUND aps.example.invalid)',
    );
    expect(result.unwritten).toEqual(input);
    expect(logged.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
      'remote write endpoint did not resolve',
    ]);
  });

  it('gives a resolver that did not answer (EAI_AGAIN) one retry, not ten', async () => {
    const { fetch, calls } = unresolvable('EAI_AGAIN');
    const { client, sleeps } = harness({ url: 'http://aps.example.invalid/api/v1/write', fetch });
    const result = await client.write(samples(1));
    expect(calls).toHaveLength(2);
    expect(sleeps).toEqual([50]);
    expect(result.failures).toMatchObject([{ reason: 'dns', attempts: 2 }]);
  });

  it('cuts an attempt that hangs at the deadline', async () => {
    script = [{ status: 0, hang: true }];
    const client = new RemoteWriteClient({
      url,
      requestTimeoutMs: 30_000,
      logger: { warn: () => {}, error: () => {} },
    });
    const started = Date.now();
    const result = await client.write(samples(1), { deadline: started + 300 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(result.failures[0]).toMatchObject({ reason: 'deadline', attempts: 1 });
    expect(result.failures[0]?.error).toMatch(/TimeoutError|abort/i);
  });

  it('rejects invalid input before sending anything', async () => {
    const { client } = harness();
    await expect(
      client.write([...samples(2), { name: 'x', labels: { 'a-b': 'c' }, value: 1, timestampMs: 1 }]),
    ).rejects.toThrow(
      'invalid sample for series x{a-b="c"}: label name "a-b" does not match [a-zA-Z_][a-zA-Z0-9_]*',
    );
    expect(received).toHaveLength(0);
  });

  it('sends the valid samples and reports the invalid ones when told to skip', async () => {
    const { client } = harness({ invalidInput: 'skip' });
    const bad = { name: 'x', labels: { a: '' }, value: 1, timestampMs: 1 };
    const result = await client.write([...samples(2), bad]);
    expect(result).toMatchObject({ ok: true, samplesSent: 2 });
    expect(result.rejected).toEqual([
      { sample: bad, reason: 'invalid sample for series x{a=""}: label "a" has an empty value' },
    ]);
  });

  it('emits its own metrics when given a metrics sink', async () => {
    script = [{ status: 500 }, { status: 204 }, { status: 400 }];
    const metrics: [string, string, number][] = [];
    const { client } = harness({
      limits: { maxSamplesPerRequest: 3 },
      metrics: { addMetric: (name, unit, value) => metrics.push([name, unit, value]) },
    });
    const result = await client.write(samples(6));
    const sizes = received.map((r) => r.body.length);
    expect(metrics).toEqual([
      ['RemoteWriteSamplesSent', 'Count', 3],
      ['RemoteWriteSamplesFailed', 'Count', 3],
      ['RemoteWriteRequestsFailed', 'Count', 1],
      ['RemoteWriteRetries', 'Count', 1],
      ['RemoteWriteBytesSent', 'Bytes', sizes.reduce((a, b) => a + b, 0)],
    ]);
    expect(result.retries).toBe(1);
  });
});
