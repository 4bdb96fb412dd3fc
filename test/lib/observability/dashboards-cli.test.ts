/**
 * `observatory dashboards --out DIR` through commander, as bin/cli.ts wires it.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { register } from '../../../cli/dashboards.ts';
import { buildDashboards, dashboardJson } from '../../../lib/observability/dashboards/index.ts';

describe('observatory dashboards', () => {
  const dirs: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  function program() {
    const p = new Command().exitOverride();
    register(p);
    return p;
  }

  it('writes one <uid>.json per dashboard into a new directory and names each file it wrote', async () => {
    const root = mkdtempSync(join(tmpdir(), 'observatory-cli-'));
    dirs.push(root);
    const out = join(root, 'nested', 'dashboards');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});

    await program().parseAsync(['node', 'observatory', 'dashboards', '--out', out]);

    const expected = buildDashboards();
    expect(readdirSync(out).sort()).toEqual(expected.map((d) => d.fileName).sort());
    for (const d of expected) expect(readFileSync(join(out, d.fileName), 'utf8')).toBe(dashboardJson(d));
    const printed = log.mock.calls.map((c) => String(c[0]));
    expect(printed).toHaveLength(4);
    expect(printed[0]).toMatch(
      /observatory-network\.json {2}Infra Observatory \/ Network \(\d+ panels, \d+ queries\)$/,
    );
  });

  it('lists the metrics each dashboard reads with --list-metrics', async () => {
    const out = mkdtempSync(join(tmpdir(), 'observatory-cli-'));
    dirs.push(out);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});

    await program().parseAsync(['node', 'observatory', 'dashboards', '--out', out, '--list-metrics']);

    const printed = log.mock.calls.map((c) => String(c[0]));
    expect(printed).toContain('    probe_tcp_connect_seconds');
    expect(printed).toContain('    mm2_replication_latency_ms_avg');
    expect(printed).toContain('    observatory_run_success');
  });

  it('refuses to run without --out', async () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await expect(program().parseAsync(['node', 'observatory', 'dashboards'])).rejects.toThrow(
      "required option '-o, --out <dir>' not specified",
    );
  });
});
