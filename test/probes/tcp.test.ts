import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeTcp } from '#probes/tcp';
import { closedPort, type Running, startFullQueueListener, startTcpServer } from './support/servers.ts';

describe('probeTcp', () => {
  let server: Running & { connections: () => number };
  beforeAll(async () => {
    server = await startTcpServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('opens a fresh connection per attempt and reports the latency distribution', async () => {
    const before = server.connections();
    const r = await probeTcp({
      host: '127.0.0.1',
      port: server.port,
      attempts: 6,
      timeoutMs: 1000,
      intervalMs: 20,
      warmup: false,
    });
    // Let the server's accept callbacks run before counting.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.connections() - before).toBe(6);
    expect(r).toMatchObject({
      success: 1,
      attempts: 6,
      successes: 6,
      retransmitted: 0,
      failed: 0,
      lossRatio: 0,
      address: '127.0.0.1',
      family: 4,
    });
    expect(r.latenciesMs).toHaveLength(6);
    for (const ms of r.latenciesMs) expect(ms).toBeGreaterThan(0);
    const sorted = [...r.latenciesMs].sort((a, b) => a - b);
    expect(r.stats!.minMs).toBe(sorted[0]);
    expect(r.stats!.maxMs).toBe(sorted[5]);
    expect(r.stats!.p50Ms).toBeCloseTo((sorted[2]! + sorted[3]!) / 2, 9);
    expect(r.stats!.meanMs).toBeCloseTo(sorted.reduce((s, v) => s + v, 0) / 6, 9);
    const diffs = r.latenciesMs.slice(1).map((v, i) => Math.abs(v - r.latenciesMs[i]!));
    expect(r.jitterMs).toBeCloseTo(diffs.reduce((s, v) => s + v, 0) / diffs.length, 9);
    expect(r.reason).toBeUndefined();
  });

  it('makes one warm-up connect when asked, reported apart and kept out of attempts, loss and latency', async () => {
    const before = server.connections();
    const r = await probeTcp({
      host: '127.0.0.1',
      port: server.port,
      attempts: 3,
      timeoutMs: 1000,
      intervalMs: 0,
      warmup: true,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.connections() - before).toBe(4);
    expect(r.warmup?.outcome).toBe('ok');
    expect(r.warmup!.ms).toBeGreaterThan(0);
    expect(r).toMatchObject({ attempts: 3, successes: 3, lossRatio: 0 });
    expect(r.attemptLog).toHaveLength(3);
    expect(r.latenciesMs).not.toContain(r.warmup!.ms);
  });

  it('makes no warm-up by default once a connect of the process got an answer', async () => {
    await probeTcp({ host: '127.0.0.1', port: server.port, attempts: 1, timeoutMs: 1000, warmup: false });
    const before = server.connections();
    const r = await probeTcp({
      host: '127.0.0.1',
      port: server.port,
      attempts: 2,
      timeoutMs: 1000,
      intervalMs: 0,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(r.warmup).toBeUndefined();
    expect(server.connections() - before).toBe(2);
  });

  it('keeps a lost warm-up out of the loss ratio', async () => {
    const r = await probeTcp({
      host: '127.0.0.1',
      port: await closedPort(),
      attempts: 2,
      timeoutMs: 1000,
      intervalMs: 0,
      warmup: true,
    });
    expect(r.warmup?.outcome).toBe('refused');
    expect(r).toMatchObject({ attempts: 2, failed: 2, lossRatio: 1 });
    expect(r.attemptLog).toHaveLength(2);
  });

  it('spaces attempts by the interval', async () => {
    const r = await probeTcp({
      host: '127.0.0.1',
      port: server.port,
      attempts: 4,
      timeoutMs: 1000,
      intervalMs: 100,
    });
    expect(r.durationMs).toBeGreaterThanOrEqual(300);
  });

  it('resolves a name once and connects to the address of the requested family', async () => {
    const r = await probeTcp({
      host: 'localhost',
      port: server.port,
      attempts: 2,
      timeoutMs: 1000,
      family: 4,
    });
    expect(r).toMatchObject({ host: 'localhost', address: '127.0.0.1', family: 4, success: 1, successes: 2 });
  });

  it('reports a closed port as refused with every attempt lost', async () => {
    const r = await probeTcp({
      host: '127.0.0.1',
      port: await closedPort(),
      attempts: 3,
      timeoutMs: 1000,
      intervalMs: 0,
    });
    expect(r).toMatchObject({
      success: 0,
      reason: 'refused',
      error: 'ECONNREFUSED',
      successes: 0,
      failed: 3,
      lossRatio: 1,
      stats: null,
    });
    expect(r.attemptLog.map((a) => a.outcome)).toEqual(['refused', 'refused', 'refused']);
  });

  it('reports a name that does not resolve with reason dns and no attempt made', async () => {
    const r = await probeTcp({ host: 'no-such-host.invalid', port: 80, attempts: 3, timeoutMs: 1000 });
    expect(r).toMatchObject({ success: 0, reason: 'dns', address: '', lossRatio: 1, attemptLog: [] });
    expect(r.error).toContain('ENOTFOUND');
  });

  it('counts a handshake completed only after a kernel SYN retransmission as lost and keeps it out of the latency figures', async () => {
    const listener = await startFullQueueListener();
    try {
      const probing = probeTcp({
        host: '127.0.0.1',
        port: listener.port,
        attempts: 3,
        timeoutMs: 3000,
        intervalMs: 0,
      });
      // The first SYN is dropped (accept queue full); the queue frees up before the retransmission at ~1 s.
      setTimeout(() => listener.release(), 300);
      const r = await probing;
      expect(r.attemptLog[0]!.outcome).toBe('retransmitted');
      expect(r.attemptLog[0]!.ms).toBeGreaterThan(900);
      expect(r).toMatchObject({ success: 1, successes: 2, retransmitted: 1, failed: 0 });
      expect(r.lossRatio).toBeCloseTo(1 / 3, 9);
      expect(r.latenciesMs).toHaveLength(2);
      expect(r.stats!.maxMs).toBeLessThan(900);
    } finally {
      await listener.close();
    }
  });

  it('times out attempts whose SYNs are never answered', async () => {
    const listener = await startFullQueueListener();
    try {
      const r = await probeTcp({
        host: '127.0.0.1',
        port: listener.port,
        attempts: 2,
        timeoutMs: 300,
        intervalMs: 0,
      });
      expect(r).toMatchObject({ success: 0, reason: 'timeout', failed: 2, lossRatio: 1 });
      for (const a of r.attemptLog) expect(a.ms).toBeGreaterThanOrEqual(299);
    } finally {
      await listener.close();
    }
  });

  it('stops at the abort signal without starting further attempts', async () => {
    const listener = await startFullQueueListener();
    try {
      const abort = new AbortController();
      setTimeout(() => abort.abort(), 200);
      const t = Date.now();
      const r = await probeTcp({
        host: '127.0.0.1',
        port: listener.port,
        attempts: 5,
        timeoutMs: 5000,
        signal: abort.signal,
      });
      expect(Date.now() - t).toBeLessThan(1000);
      expect(r.attemptLog).toHaveLength(0);
      expect(r).toMatchObject({ success: 0, reason: 'deadline' });
    } finally {
      await listener.close();
    }
  });

  it('rejects a non-positive attempt count', async () => {
    await expect(
      probeTcp({ host: '127.0.0.1', port: server.port, attempts: 0, timeoutMs: 100 }),
    ).rejects.toThrow('attempts must be a positive integer, got 0');
  });
});
