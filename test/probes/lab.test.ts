/**
 * Accuracy of the TCP probe against a real path with known delay and loss: two network namespaces,
 * delay from an NFQUEUE program, loss from nftables (see test/support/netlab.ts). The bounds are
 * the ones the probes issue states: p50 within 2 ms of the true round trip, 10% loss measured as
 * 5-15% over 300 attempts.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TcpProbeOptions, TcpResult } from '#probes/tcp';
import type { ProbeTcpOutput } from '../support/netlab/probe-tcp.ts';
import { createLab, type Lab } from '../support/netlab.ts';

const PROBE_SCRIPT = join(import.meta.dirname, '..', 'support', 'netlab', 'probe-tcp.ts');

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

describe('tcp probe in the network lab', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await createLab();
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  function probeFromClient(
    runs: Omit<TcpProbeOptions, 'host' | 'port'>[],
    opts?: { realtime?: boolean },
  ): Promise<ProbeTcpOutput> {
    const full = runs.map((r) => ({ host: lab.serverAddr, port: lab.serverPort, ...r }));
    return lab.runInClient<ProbeTcpOutput>(PROBE_SCRIPT, [JSON.stringify(full)], opts);
  }

  it('lab ground truth: ping between the namespaces reports the injected 20 ms round trip within 2 ms', async () => {
    await lab.setLoss(0);
    await lab.setDelay(20);

    const ping = await lab.ping(20, 0.05);

    expect(ping.received).toBe(20);
    expect(ping.times).toHaveLength(20);
    // The median of the replies: one reply held up by the busy shared machine must not move the verdict.
    const sorted = [...ping.times].sort((a, b) => a - b);
    const median = (sorted[9]! + sorted[10]!) / 2;
    expect(Math.abs(median - 20)).toBeLessThanOrEqual(2);
    // Every packet is delayed: a reply faster than the truth would mean the delay is not applied.
    expect(ping.rtt!.min).toBeGreaterThanOrEqual(20);
  });

  it('measures a tcp connect p50 within 2 ms of a 20 ms round trip over 30 attempts', async () => {
    await lab.setLoss(0);
    await lab.setDelay(20);
    // The truth is what ping measures over the same path at the same time: the delayer is a userspace
    // process, so on a busy machine the path itself is slower than the 20 ms asked for.
    const before = median((await lab.ping(10, 0.05)).times);

    const { results } = await probeFromClient([{ attempts: 30, timeoutMs: 500, intervalMs: 20 }]);
    const [result] = results;
    const after = median((await lab.ping(10, 0.05)).times);

    expect(result!.successes).toBe(30);
    expect(result!.stats).not.toBeNull();
    expect(result!.stats!.p50Ms).toBeGreaterThanOrEqual(Math.min(before, after) - 2);
    expect(result!.stats!.p50Ms).toBeLessThanOrEqual(Math.max(before, after) + 2);
    // Every sample includes the injected delay: a connect faster than the truth would be a lab or timer bug.
    expect(result!.stats!.minMs).toBeGreaterThanOrEqual(20);
  });

  it('keeps the first connect of a fresh process out of cold runs: p90 and max within 2 ms of a 27 ms path', async () => {
    await lab.setLoss(0);
    await lab.setDelay(27);
    const ping = await lab.ping(10, 0.05);
    const truth = median(ping.times);

    // Five cold runs, each in a fresh Node process with default settings, at real-time priority so the
    // other load on this shared machine does not queue the probe: what is left is the engine's own
    // first-connect cost. A cold-start cost would be in every run; the median of five keeps one
    // unrelated hiccup of the machine from deciding the verdict.
    const runs: TcpResult[] = [];
    for (let i = 0; i < 5; i++) {
      const { results } = await probeFromClient([{ attempts: 5, timeoutMs: 2000 }], { realtime: true });
      runs.push(results[0]!);
    }

    for (const r of runs) {
      expect(r.successes).toBe(5);
      // The process's first connect was made and reported apart: it is not one of the five samples.
      expect(r.warmup?.outcome).toBe('ok');
      expect(r.attemptLog).toHaveLength(5);
    }
    expect(Math.abs(median(runs.map((r) => r.stats!.p90Ms)) - truth)).toBeLessThanOrEqual(2);
    expect(Math.abs(median(runs.map((r) => r.stats!.maxMs)) - truth)).toBeLessThanOrEqual(2);
  });

  it('measures 5-15% loss over 300 attempts with 10% forward loss, one lost attempt per dropped syn', async () => {
    await lab.setDelay(0);
    await lab.setLoss(10);

    // Six concurrent runs of 50: a dropped SYN costs the 400 ms timeout, well before the kernel's
    // 1 s retransmission, so each lost SYN is exactly one lost attempt.
    const { results } = await probeFromClient(
      Array.from({ length: 6 }, () => ({ attempts: 50, timeoutMs: 400, intervalMs: 0 })),
    );
    const counters = await lab.lossCounters();

    const attempts = results.reduce((s, r) => s + r.attempts, 0);
    const lost = results.reduce((s, r) => s + (r.attempts - r.successes), 0);
    // A fresh process: each of the six runs starts cold and makes one warm-up connect, not counted.
    const warmups = results.filter((r) => r.warmup !== undefined);
    const warmupsLost = warmups.filter((r) => r.warmup!.outcome !== 'ok').length;
    const measured = lost / attempts;
    expect(attempts).toBe(300);
    expect(measured).toBeGreaterThanOrEqual(0.05);
    expect(measured).toBeLessThanOrEqual(0.15);
    for (const r of results) expect(r.lossRatio).toBeCloseTo((r.attempts - r.successes) / r.attempts, 12);
    // Ground truth from the lab's own counters: the engine lost exactly the attempts whose SYN was dropped.
    expect(warmups).toHaveLength(6);
    expect(counters.syns).toBe(300 + warmups.length);
    expect(lost + warmupsLost).toBe(counters.synsDropped);
    expect(
      results.flatMap((r) => r.attemptLog.filter((a) => a.outcome !== 'ok').map((a) => a.outcome)),
    ).toEqual(Array.from({ length: lost }, () => 'timeout'));
  });

  it('reports success 1 and loss 0 on a path without delay or loss', async () => {
    await lab.setDelay(0);
    await lab.setLoss(0);

    const { results } = await probeFromClient([{ attempts: 20, timeoutMs: 500, intervalMs: 10 }]);
    const [result] = results;
    const counters = await lab.lossCounters();

    expect(result!.success).toBe(1);
    expect(result!.lossRatio).toBe(0);
    expect(result!.successes).toBe(20);
    expect(result!.failed).toBe(0);
    expect(result!.stats!.p50Ms).toBeLessThanOrEqual(2);
    expect(result!.warmup?.outcome).toBe('ok');
    expect(counters.syns).toBe(20 + 1);
    expect(counters.dropped).toBe(0);
  });
});
