import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProbeTarget } from '#probes/event';
import { type Probers, runProbes } from '#probes/run';
import type { TcpResult } from '#probes/tcp';
import {
  type Running,
  type RunningHttp,
  startDnsServer,
  startHttpServer,
  startTcpServer,
} from './support/servers.ts';

const tcp = (name: string, host: string, port: number, extra: Partial<ProbeTarget> = {}): ProbeTarget =>
  ({ kind: 'tcp', name, host, port, allAddresses: true, ...extra }) as ProbeTarget;

describe('runProbes', () => {
  let server: Running & { connections: () => number };
  let web: RunningHttp;
  let dns: Running;
  beforeAll(async () => {
    server = await startTcpServer();
    web = await startHttpServer((_req, res) => {
      res.writeHead(200);
      res.end('ok');
    });
    dns = await startDnsServer({ 'db.example.test': { A: ['10.1.2.3'] } });
  });
  afterAll(async () => {
    await Promise.all([server.close(), web.close(), dns.close()]);
  });

  it('probes every address of a name separately, so one dead address is not hidden by a healthy one', async () => {
    // 127.0.0.2 is loopback too, but the server listens on 127.0.0.1 only: it refuses there.
    const resolveAll: Probers['resolveAll'] = async (host) => {
      expect(host).toBe('multi.example.test');
      return [
        { address: '127.0.0.1', family: 4 },
        { address: '127.0.0.2', family: 4 },
      ];
    };
    const r = await runProbes({
      targets: [tcp('svc', 'multi.example.test', server.port)],
      attempts: 2,
      timeoutMs: 1000,
      intervalMs: 0,
      concurrency: 4,
      deadline: Date.now() + 10_000,
      probers: { resolveAll },
    });
    expect(r.outcomes.map((o) => [o.address, o.family, o.success, o.reason])).toEqual([
      ['127.0.0.1', 4, 1, undefined],
      ['127.0.0.2', 4, 0, 'refused'],
    ]);
  });

  it('probes only the first address when the target says so', async () => {
    const r = await runProbes({
      targets: [tcp('svc', 'multi.example.test', server.port, { allAddresses: false })],
      attempts: 1,
      timeoutMs: 1000,
      concurrency: 4,
      deadline: Date.now() + 10_000,
      probers: {
        resolveAll: async () => [
          { address: '127.0.0.1', family: 4 },
          { address: '127.0.0.2', family: 4 },
        ],
      },
    });
    expect(r.outcomes.map((o) => o.address)).toEqual(['127.0.0.1']);
  });

  it('pins HTTP probes to each resolved address and runs DNS targets once', async () => {
    const r = await runProbes({
      targets: [
        {
          kind: 'http',
          name: 'web',
          url: `http://web.example.test:${web.port}/`,
          method: 'GET',
          expectStatus: [200],
          followRedirects: false,
          certMinDays: 14,
          allAddresses: true,
        },
        {
          kind: 'dns',
          name: 'db-name',
          query: 'db.example.test',
          recordType: 'A',
          expectAnswers: ['10.1.2.3'],
          allAddresses: true,
        },
      ],
      attempts: 1,
      timeoutMs: 1000,
      concurrency: 2,
      deadline: Date.now() + 10_000,
      dnsServers: [`127.0.0.1:${dns.port}`],
      probers: { resolveAll: async () => [{ address: '127.0.0.1', family: 4 }] },
    });
    expect(r.outcomes.map((o) => [o.target.name, o.address, o.success])).toEqual([
      ['web', '127.0.0.1', 1],
      ['db-name', '', 1],
    ]);
    expect(web.requests.at(-1)!.host).toBe(`web.example.test:${web.port}`);
    expect(r.outcomes[1]!.dns!.answers).toEqual(['10.1.2.3']);
  });

  it('reports a name that does not resolve as a dns failure of the target', async () => {
    const r = await runProbes({
      targets: [tcp('ghost', 'no-such-host.invalid', 443)],
      attempts: 1,
      timeoutMs: 1000,
      concurrency: 1,
      deadline: Date.now() + 10_000,
    });
    expect(r.outcomes).toHaveLength(1);
    expect(r.outcomes[0]).toMatchObject({ address: '', success: 0, reason: 'dns' });
    expect(r.outcomes[0]!.error).toContain('no-such-host.invalid');
  });

  it('never runs more probes at once than the concurrency', async () => {
    let active = 0;
    let peak = 0;
    const fakeTcp: Probers['tcp'] = async (o) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((resolve) => setTimeout(resolve, 30));
      active--;
      return {
        host: o.host,
        port: o.port,
        address: o.host,
        family: 4,
        attempts: 1,
        successes: 1,
        retransmitted: 0,
        failed: 0,
        lossRatio: 0,
        latenciesMs: [1],
        stats: { minMs: 1, p50Ms: 1, p90Ms: 1, maxMs: 1, meanMs: 1 },
        jitterMs: 0,
        success: 1,
        durationMs: 30,
        attemptLog: [],
      } satisfies TcpResult;
    };
    const targets = Array.from({ length: 12 }, (_, i) => tcp(`t${i}`, `10.0.0.${i + 1}`, 443));
    const r = await runProbes({
      targets,
      attempts: 1,
      timeoutMs: 1000,
      concurrency: 3,
      deadline: Date.now() + 10_000,
      probers: { tcp: fakeTcp },
    });
    expect(r.outcomes).toHaveLength(12);
    expect(r.outcomes.every((o) => o.success === 1)).toBe(true);
    expect(peak).toBe(3);
  });

  it('returns by the deadline and reports in-flight and unstarted targets as deadline failures', async () => {
    const aborted: string[] = [];
    // A probe that only ends when the run aborts it, as a black-holed target would.
    const hangingTcp: Probers['tcp'] = (o) =>
      new Promise((resolve) => {
        o.signal?.addEventListener('abort', () => {
          aborted.push(o.host);
          resolve({
            host: o.host,
            port: o.port,
            address: o.host,
            family: 4,
            attempts: 1,
            successes: 0,
            retransmitted: 0,
            failed: 1,
            lossRatio: 1,
            latenciesMs: [],
            stats: null,
            jitterMs: 0,
            success: 0,
            reason: 'deadline',
            durationMs: 0,
            attemptLog: [],
          });
        });
      });
    const targets = [
      tcp('fast', '127.0.0.1', server.port),
      ...Array.from({ length: 5 }, (_, i) => tcp(`slow${i}`, `10.9.9.${i + 1}`, 443)),
    ];
    const started = Date.now();
    const r = await runProbes({
      targets,
      attempts: 1,
      timeoutMs: 60_000,
      concurrency: 2,
      deadline: started + 400,
      probers: {
        tcp: async (o) =>
          o.host === '127.0.0.1' ? (await import('#probes/tcp')).probeTcp(o) : hangingTcp(o),
      },
    });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(399);
    expect(elapsed).toBeLessThan(1000);
    expect(r.outcomes).toHaveLength(6);
    expect(r.outcomes[0]).toMatchObject({ target: { name: 'fast' }, success: 1 });
    for (const o of r.outcomes.slice(1)) expect(o).toMatchObject({ success: 0, reason: 'deadline' });
    expect(r.timedOut).toBe(5);
    // Only the probes in flight were started (and aborted); the rest never began.
    expect(aborted).toEqual(['10.9.9.1', '10.9.9.2']);
  });

  it('rejects a concurrency below one', async () => {
    await expect(
      runProbes({ targets: [], attempts: 1, timeoutMs: 1, concurrency: 0, deadline: Date.now() }),
    ).rejects.toThrow('concurrency must be a positive integer, got 0');
  });
});
