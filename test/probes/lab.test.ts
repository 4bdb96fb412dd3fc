/**
 * Accuracy of the TCP probe against a real path with known delay and loss: two network namespaces,
 * delay from an NFQUEUE program, loss from nftables (see test/support/netlab.ts). The bounds are
 * the ones the probes issue states: p50 within 2 ms of the true round trip, 10% loss measured as
 * 5-15% over 300 attempts.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TcpProbeOptions } from '#probes/tcp';
import type { ProbeTcpOutput } from '../support/netlab/probe-tcp.ts';
import { createLab, type Lab } from '../support/netlab.ts';

const PROBE_SCRIPT = join(import.meta.dirname, '..', 'support', 'netlab', 'probe-tcp.ts');

describe('tcp probe in the network lab', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await createLab();
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  function probeFromClient(runs: Omit<TcpProbeOptions, 'host' | 'port'>[]): Promise<ProbeTcpOutput> {
    const full = runs.map((r) => ({ host: lab.serverAddr, port: lab.serverPort, ...r }));
    return lab.runInClient<ProbeTcpOutput>(PROBE_SCRIPT, [JSON.stringify(full)]);
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

    const { results } = await probeFromClient([{ attempts: 30, timeoutMs: 500, intervalMs: 20 }]);
    const [result] = results;

    expect(result!.successes).toBe(30);
    expect(result!.stats).not.toBeNull();
    expect(Math.abs(result!.stats!.p50Ms - 20)).toBeLessThanOrEqual(2);
    // Every sample includes the injected delay: a connect faster than the truth would be a lab or timer bug.
    expect(result!.stats!.minMs).toBeGreaterThanOrEqual(20);
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
    const measured = lost / attempts;
    expect(attempts).toBe(300);
    expect(measured).toBeGreaterThanOrEqual(0.05);
    expect(measured).toBeLessThanOrEqual(0.15);
    for (const r of results) expect(r.lossRatio).toBeCloseTo((r.attempts - r.successes) / r.attempts, 12);
    // Ground truth from the lab's own counters: the engine lost exactly the attempts whose SYN was dropped.
    expect(counters.syns).toBe(300);
    expect(lost).toBe(counters.synsDropped);
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
    expect(counters.syns).toBe(20);
    expect(counters.dropped).toBe(0);
  });
});
