/**
 * Drives a prometheus-blackbox-exporter that runs inside a lab namespace (started by
 * `Lab.runInClient`, so its loopback is reachable): requests `/probe` `count` times with
 * `concurrency` requests in flight, and prints one JSON line with each probe's `probe_success`
 * and `probe_duration_seconds`, in completion order.
 *
 * Usage: node --import tsx blackbox-probe.ts '{"url":"http://127.0.0.1:9115/probe?...","count":300,"concurrency":5}'
 */

/** One blackbox probe as the exporter reported it. */
export interface BlackboxSample {
  readonly success: boolean;
  readonly durationSeconds: number;
}

/** What this script prints. */
export interface BlackboxProbeOutput {
  readonly samples: BlackboxSample[];
  readonly wallMs: number;
}

function gauge(body: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(body);
  if (!m) throw new Error(`blackbox response has no ${name}: ${body.slice(0, 300)}`);
  return Number(m[1]);
}

const arg = process.argv[2];
if (!arg) throw new Error('missing argument: JSON {url, count, concurrency}');
const { url, count, concurrency } = JSON.parse(arg) as { url: string; count: number; concurrency: number };
const samples: BlackboxSample[] = [];
let next = 0;
const started = performance.now();
async function worker(): Promise<void> {
  while (next < count) {
    next++;
    const res = await fetch(url);
    const body = await res.text();
    if (!res.ok) throw new Error(`blackbox answered ${res.status}: ${body.slice(0, 300)}`);
    samples.push({
      success: gauge(body, 'probe_success') === 1,
      durationSeconds: gauge(body, 'probe_duration_seconds'),
    });
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
const output: BlackboxProbeOutput = { samples, wallMs: performance.now() - started };
console.log(JSON.stringify(output));
