import { describe, expect, it } from 'vitest';
import { BUILT_IN_DEFAULTS, parseRollbackInput } from '../../lambdas/msk-rollback/input.ts';
import { EXECUTION } from './plans.ts';
import { CLUSTERS, EXAMPLE_INPUT } from './world.ts';

const parse = (input: unknown, defaults = BUILT_IN_DEFAULTS) =>
  parseRollbackInput(input, { clusters: CLUSTERS, defaults, execution: EXECUTION });

describe('execution input', () => {
  it('accepts the documented example and resolves clusters to their config names', () => {
    const r = parse(EXAMPLE_INPUT);
    if (!r.ok) throw new Error(r.problems.join('; '));
    expect(r.plan.source).toEqual({
      arn: EXAMPLE_INPUT.sourceClusterArn,
      name: 'orders-v2',
      alias: 'orders-v2',
    });
    expect(r.plan.target.name).toBe('orders-v3');
    expect(r.plan.approvalTimeoutSeconds).toBe(1440 * 60);
    expect(r.plan.execution.name).toBe('orders-to-v3-run-1');
  });

  it('fills omitted settings from the deployment defaults', () => {
    const minimal = {
      name: 'm',
      sourceClusterArn: EXAMPLE_INPUT.sourceClusterArn,
      targetClusterArn: EXAMPLE_INPUT.targetClusterArn,
      topics: { include: ['orders\\..*'] },
    };
    const r = parse(minimal, {
      ...BUILT_IN_DEFAULTS,
      maxLagRecords: 77,
      holdMinutes: 3,
      tasks: 2,
      cpu: 2048,
      memoryMiB: 8192,
    });
    if (!r.ok) throw new Error(r.problems.join('; '));
    expect(r.plan.direction).toBe('forward');
    expect(r.plan.lagGate).toEqual({ maxRecords: 77, holdMinutes: 3, drainMaxRecords: 0 });
    expect(r.plan.mm2).toEqual({ tasks: 2, cpu: 2048, memoryMiB: 8192, replicationFactor: 3 });
    expect(r.plan.groups).toEqual({ include: ['.*'], exclude: [], optional: [] });
  });

  it('lists every problem, each with its path', () => {
    const r = parse({
      ...EXAMPLE_INPUT,
      targetClusterArn: EXAMPLE_INPUT.sourceClusterArn,
      topics: { include: ['orders,payments', 'orders[('] },
      mm2: { cpu: 1024, memoryMiB: 1024 },
      lagGate: { maxRecords: -1 },
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^topics\.include\[0\]: pattern "orders,payments" contains a comma/),
        expect.stringMatching(
          /^topics\.include\[1\]: pattern "orders\[\(" is not a valid regular expression/,
        ),
        expect.stringMatching(/^lagGate\.maxRecords: .*got -1$/),
      ]),
    );
    expect(r.problems.length).toBeGreaterThanOrEqual(3);
  });

  it('rejects the same cluster on both sides and a memory that does not fit the CPU', () => {
    const r = parse({
      ...EXAMPLE_INPUT,
      targetClusterArn: EXAMPLE_INPUT.sourceClusterArn,
      mm2: { cpu: 1024, memoryMiB: 1024 },
    });
    expect(r.ok ? [] : r.problems).toEqual([
      'targetClusterArn: source and target are the same cluster',
      'mm2.memoryMiB: memory 1024 MiB does not fit cpu 1024 (Fargate allows 2048-8192 MiB)',
    ]);
  });

  it('refuses a task size that leaves the JVM less than 512 MiB beside its heap', () => {
    const small = parse({ ...EXAMPLE_INPUT, mm2: { cpu: 512, memoryMiB: 1024 } });
    expect(small.ok ? [] : small.problems).toEqual([
      'mm2.memoryMiB: memory 1024 MiB leaves the MM2 JVM 256 MiB beside its 512 MiB heap and the 256 MiB collector, under the 512 MiB it needs: use a larger task (at least cpu 512 with 2048 MiB)',
    ]);
    // The same refusal when the small size comes from the deployment's defaults.
    const byDefault = parse(
      { ...EXAMPLE_INPUT, mm2: undefined },
      { ...BUILT_IN_DEFAULTS, cpu: 256, memoryMiB: 512 },
    );
    expect(byDefault.ok ? [] : byDefault.problems).toEqual([
      'mm2.memoryMiB: memory 512 MiB leaves the MM2 JVM -256 MiB beside its 512 MiB heap and the 256 MiB collector, under the 512 MiB it needs: use a larger task (at least cpu 256 with 2048 MiB)',
    ]);
    for (const [cpu, memoryMiB] of [
      [256, 2048],
      [512, 2048],
      [1024, 2048],
    ])
      expect(parse({ ...EXAMPLE_INPUT, mm2: { cpu, memoryMiB } }).ok, `${cpu}/${memoryMiB}`).toBe(true);
  });

  it('rejects clusters the deployment may not use', () => {
    const other =
      'arn:aws:kafka:eu-west-1:111111111111:cluster/payments/0000aaaa-1111-2222-3333-444455556666-1';
    const r = parse({ ...EXAMPLE_INPUT, targetClusterArn: other });
    expect(r.ok ? [] : r.problems).toEqual([
      `targetClusterArn: "${other}" is not one of the clusters this deployment may use (orders-v2, orders-v3)`,
    ]);
  });

  it('reports unknown keys and missing required fields', () => {
    const r = parse({ name: 'x', colour: 'blue' });
    expect(r.ok ? [] : r.problems).toEqual(
      expect.arrayContaining([
        'colour: unknown key',
        'sourceClusterArn: required',
        'targetClusterArn: required',
        'topics: required',
      ]),
    );
  });
});
