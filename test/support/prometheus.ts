/**
 * Starts a real Prometheus (Debian package `prometheus`) on a free loopback port for a test file,
 * with the remote-write receiver on and an out-of-order window so back-filled samples are accepted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running Prometheus owned by one test file. */
export interface LocalPrometheus {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** The remote-write receiver URL. */
  readonly remoteWriteUrl: string;
  /** Instant query; throws on a query error. */
  query(expr: string, time?: Date): Promise<PromVectorSample[]>;
  /** Range query; throws on a query error. */
  queryRange(expr: string, start: Date, end: Date, stepSeconds: number): Promise<PromMatrixSeries[]>;
  /** Stops the process and removes its data directory. */
  stop(): Promise<void>;
}

export interface PromVectorSample {
  metric: Record<string, string>;
  value: [number, string];
}
export interface PromMatrixSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

/** Finds a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts Prometheus and waits until it is ready.
 * @param opts.ruleFiles rule files to load (evaluated every `evaluationInterval`)
 */
export async function startPrometheus(
  opts: { ruleFiles?: string[]; evaluationInterval?: string } = {},
): Promise<LocalPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'observatory-prom-'));
  const port = await freePort();
  const config = [
    'global:',
    `  evaluation_interval: ${opts.evaluationInterval ?? '1s'}`,
    'storage:',
    '  tsdb:',
    '    out_of_order_time_window: 30d',
    ...(opts.ruleFiles?.length
      ? ['rule_files:', ...opts.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`)]
      : []),
    'scrape_configs: []',
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const proc: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-remote-write-receiver',
      '--storage.tsdb.retention.time=60d',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`prometheus exited with ${proc.exitCode}: ${stderr}`);
    try {
      const res = await fetch(`${url}/-/ready`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`prometheus did not become ready on ${url}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  async function api<T>(path: string, params: Record<string, string>): Promise<T> {
    const res = await fetch(`${url}${path}?${new URLSearchParams(params)}`);
    const body = (await res.json()) as { status: string; data: { result: T }; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus query failed: ${body.error ?? res.status}`);
    return body.data.result;
  }
  return {
    url,
    remoteWriteUrl: `${url}/api/v1/write`,
    query: (expr, time) =>
      api<PromVectorSample[]>('/api/v1/query', {
        query: expr,
        ...(time ? { time: String(time.getTime() / 1000) } : {}),
      }),
    queryRange: (expr, start, end, step) =>
      api<PromMatrixSeries[]>('/api/v1/query_range', {
        query: expr,
        start: String(start.getTime() / 1000),
        end: String(end.getTime() / 1000),
        step: String(step),
      }),
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
