/**
 * A network lab of two Linux network namespaces with a known round-trip delay and a known loss,
 * for probe accuracy tests and benchmarks. Needs root, iproute2, nftables, gcc and Debian's
 * libnetfilter-queue-dev; a missing piece fails `createLab` loudly.
 *
 * Topology (one lab; names carry the owning pid so concurrent runs never collide):
 *
 * ```
 *   obs-cli-<pid>-<n>                                  obs-srv-<pid>-<n>
 *   10.77.0.1/24  vc ======== veth ======== vs  10.77.0.2/24
 *   output: oifname vc -> NFQUEUE 0 -> delayq          input: iifname vs -> numgen random drop
 *   (holds each packet rttMs, in order)                TCP listener on 0.0.0.0:7000 (accept, close)
 * ```
 *
 * Why this shape: the kernel here has no netem and no nft `queue` expression. Delay comes from
 * `delayq` (test/support/netlab/delayq.c, compiled at lab creation into a temp dir), which holds
 * every packet the client sends to the server for the whole round-trip delay and installs its own
 * xt NFQUEUE rule through nftables' compat layer. The server's replies are not delayed, so a ping
 * or a TCP handshake takes exactly `rttMs` plus the veth's ~0.05 ms and delayq's ~0.1 ms. Loss is
 * an nftables `numgen random` drop of client->server packets at the server's ingress; named
 * counters record what was really dropped (`lossCounters()`), SYNs separately.
 *
 * Addresses exist only inside the two namespaces; nothing is routed from or to the root
 * namespace, so code that probes the lab runs inside the client namespace (`runInClient`).
 *
 * Cleanup: `destroy()` kills the lab's processes and deletes both namespaces; a process exit
 * handler does the same for labs still open, and `createLab` first removes namespaces left by a
 * crashed run (those whose owner pid is gone).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Options of a lab; both can be changed later with `setDelay` / `setLoss`. */
export interface LabOptions {
  /**
   * Round-trip delay added to every client->server packet, milliseconds.
   * @default 0
   */
  readonly rttMs?: number;
  /**
   * Percent (0-100, two decimals) of client->server packets dropped at random.
   * @default 0
   */
  readonly lossPercent?: number;
}

/** Output of a finished command. */
export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** What `ping` reported. */
export interface PingResult {
  readonly transmitted: number;
  readonly received: number;
  /** ping's summary of the round-trip times, ms; null when nothing came back. */
  readonly rtt: {
    readonly min: number;
    readonly avg: number;
    readonly max: number;
    readonly mdev: number;
  } | null;
  /** Each reply's round-trip time, ms, in arrival order. */
  readonly times: readonly number[];
}

/** Packets that reached the server's loss rule since the last `setLoss`, and those it dropped. */
export interface LossCounters {
  readonly packets: number;
  readonly dropped: number;
  /** Pure SYNs (connection attempts, retransmissions included) seen and dropped. */
  readonly syns: number;
  readonly synsDropped: number;
}

/** A running lab. Every method rejects with the command's stderr when something fails. */
export interface Lab {
  /** Client namespace name: the probing side. */
  readonly clientNs: string;
  /** Server namespace name: the probed side. */
  readonly serverNs: string;
  /** The client's address (inside `clientNs`). */
  readonly clientAddr: string;
  /** The server's address (inside `serverNs`), the probe target. */
  readonly serverAddr: string;
  /** TCP port of the server's listener (accepts and closes every connection). */
  readonly serverPort: number;
  /** A TCP port nothing listens on in the server namespace (connects are refused). */
  readonly closedPort: number;
  /** Current round-trip delay, ms. */
  readonly rttMs: number;
  /** Current loss, percent of client->server packets. */
  readonly lossPercent: number;
  /** Runs a command inside a namespace of the lab and returns its output; rejects on a non-zero exit. */
  exec(ns: string, cmd: string, args: readonly string[], opts?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Starts a long-running process inside a namespace; the lab kills it on `destroy()`. */
  spawn(ns: string, cmd: string, args: readonly string[]): ChildProcess;
  /**
   * Runs a TypeScript script (via tsx, from the repository root so `#probes/*` imports resolve)
   * inside the client namespace and parses the last line of its stdout as JSON.
   */
  runInClient<T = unknown>(
    scriptPath: string,
    args?: readonly string[],
    opts?: {
      timeoutMs?: number;
      /**
       * Run the script at real-time priority (SCHED_FIFO), so that other load on the machine cannot
       * delay it: what it then measures is its own cost and the lab's path, not the CPU queue.
       * @default false
       */
      realtime?: boolean;
    },
  ): Promise<T>;
  /** Pings the server from the client. */
  ping(count: number, intervalSeconds?: number): Promise<PingResult>;
  /** Sets the round-trip delay for packets sent from now on. */
  setDelay(rttMs: number): Promise<void>;
  /** Sets the loss and resets the loss counters. */
  setLoss(percent: number): Promise<void>;
  /** Reads the loss counters of the server's ingress. */
  lossCounters(): Promise<LossCounters>;
  /** Kills the lab's processes, deletes its namespaces and temp dir. Safe to call twice. */
  destroy(): Promise<void>;
}

const HERE = dirname(fileURLToPath(import.meta.url));
/** Repository root: scripts run by `runInClient` start here so tsconfig and `#aliases` resolve. */
export const REPO_ROOT = resolve(HERE, '..', '..');
const DELAYQ_SOURCE = join(HERE, 'netlab', 'delayq.c');
const SERVER_SCRIPT = join(HERE, 'netlab', 'server.mjs');

const NS_PATTERN = /^obs-(?:cli|srv)-(\d+)-\d+$/;
const CLIENT_ADDR = '10.77.0.1';
const SERVER_ADDR = '10.77.0.2';
const SERVER_PORT = 7000;
const CLOSED_PORT = 7001;
const QUEUE_NUM = 0;

const openLabs = new Set<LabState>();
let labCounter = 0;
let exitHookInstalled = false;

interface LabState {
  readonly namespaces: string[];
  readonly children: Set<ChildProcess>;
  readonly tmpDir: string;
  destroyed: boolean;
}

function run(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<ExecResult> {
  return new Promise((resolvePromise, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const how = err.killed ? `timed out after ${timeoutMs} ms` : `exited with ${err.code}`;
        reject(new Error(`${cmd} ${args.join(' ')} ${how}: ${stderr.trim() || stdout.trim()}`));
        return;
      }
      resolvePromise({ stdout, stderr });
    });
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes a namespace after killing every process still inside it (synchronous: usable at exit). */
function deleteNamespaceSync(ns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    for (const pid of pids.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  } catch {
    // namespace already gone
  }
  try {
    execFileSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

/** Removes namespaces of earlier labs whose owner process no longer exists (a crashed run). */
function removeStaleNamespaces(): void {
  const list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = NS_PATTERN.exec(name);
    if (m && !pidAlive(Number(m[1]))) deleteNamespaceSync(name);
  }
}

function destroySync(state: LabState): void {
  if (state.destroyed) return;
  state.destroyed = true;
  for (const child of state.children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const ns of state.namespaces) deleteNamespaceSync(ns);
  rmSync(state.tmpDir, { recursive: true, force: true });
  openLabs.delete(state);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const state of [...openLabs]) destroySync(state);
  });
}

/** Waits for a process to print `ready` (a line of its own) on stdout. */
function waitReady(child: ChildProcess, what: string, timeoutMs: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => fail(`${what} was not ready within ${timeoutMs} ms`), timeoutMs);
    const onOut = (d: Buffer) => {
      out += d.toString();
      if (/^ready$/m.test(out)) {
        cleanup();
        resolvePromise();
      }
    };
    const onErr = (d: Buffer) => {
      err += d.toString();
    };
    const onExit = (code: number | null, signal: string | null) =>
      fail(`${what} exited (${code ?? signal}) before ready`);
    const onError = (e: Error) => fail(`${what} could not start: ${e.message}`);
    function cleanup() {
      clearTimeout(timer);
      child.stdout?.off('data', onOut);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
      child.off('error', onError);
    }
    function fail(msg: string) {
      cleanup();
      reject(new Error(`${msg}: ${err.trim() || out.trim()}`));
    }
    child.stdout?.on('data', onOut);
    child.stderr?.on('data', onErr);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

function checkPercent(p: number): void {
  if (!(p >= 0 && p <= 100)) throw new Error(`loss percent must be within 0-100, got ${p}`);
}
function checkDelay(ms: number): void {
  if (!(ms >= 0 && ms <= 10_000)) throw new Error(`rtt ms must be within 0-10000, got ${ms}`);
}

function lossRules(percent: number): string {
  // One random number per packet in the mark, so the SYN counter sees exactly the drops of the rule after it.
  const threshold = Math.round(percent * 100);
  return [
    'flush chain ip obslab loss',
    'reset counters table ip obslab',
    'add rule ip obslab loss meta mark set numgen random mod 10000 counter name "pkts_seen"',
    'add rule ip obslab loss tcp flags & (syn | ack) == syn counter name "syns_seen"',
    ...(threshold > 0
      ? [
          `add rule ip obslab loss meta mark < ${threshold} tcp flags & (syn | ack) == syn counter name "syns_dropped" counter name "pkts_dropped" drop`,
          `add rule ip obslab loss meta mark < ${threshold} counter name "pkts_dropped" drop`,
        ]
      : []),
    '',
  ].join('\n');
}

/**
 * Creates a lab: two namespaces joined by a veth pair, the delay program, the loss rules and the
 * server's TCP listener, all ready when the promise resolves.
 * @param opts initial round-trip delay and loss
 * @returns the lab; call `destroy()` when done (afterAll / finally)
 */
export async function createLab(opts: LabOptions = {}): Promise<Lab> {
  let rttMs = opts.rttMs ?? 0;
  let lossPercent = opts.lossPercent ?? 0;
  checkDelay(rttMs);
  checkPercent(lossPercent);
  if (process.getuid?.() !== 0)
    throw new Error(`the network lab needs root, running as uid ${process.getuid?.()}`);
  installExitHook();
  removeStaleNamespaces();

  const n = ++labCounter;
  const clientNs = `obs-cli-${process.pid}-${n}`;
  const serverNs = `obs-srv-${process.pid}-${n}`;
  const state: LabState = {
    namespaces: [clientNs, serverNs],
    children: new Set(),
    tmpDir: mkdtempSync(join(tmpdir(), 'observatory-netlab-')),
    destroyed: false,
  };
  openLabs.add(state);

  const inNs = (ns: string, cmd: string, args: readonly string[], timeoutMs?: number) =>
    run('ip', ['netns', 'exec', ns, cmd, ...args], timeoutMs);
  let nftScripts = 0;
  const nft = (ns: string, script: string) => {
    const file = join(state.tmpDir, `rules-${++nftScripts}.nft`);
    writeFileSync(file, script);
    return run('ip', ['netns', 'exec', ns, 'nft', '-f', file]);
  };
  const spawnIn = (ns: string, cmd: string, args: readonly string[]): ChildProcess => {
    if (state.destroyed) throw new Error(`lab ${clientNs} is destroyed`);
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    state.children.add(child);
    child.once('exit', () => state.children.delete(child));
    // A child's stdin error (it exited) must not crash the test process.
    child.stdin?.on('error', () => {});
    return child;
  };

  try {
    const delayq = join(state.tmpDir, 'delayq');
    await run('gcc', ['-O2', '-Wall', '-o', delayq, DELAYQ_SOURCE, '-lnetfilter_queue'], 60_000);

    await run('ip', ['netns', 'add', clientNs]);
    await run('ip', ['netns', 'add', serverNs]);
    // Created directly inside the namespaces: the pair never exists in the root namespace.
    await run('ip', [
      'link',
      'add',
      'vc',
      'netns',
      clientNs,
      'type',
      'veth',
      'peer',
      'name',
      'vs',
      'netns',
      serverNs,
    ]);
    for (const [ns, dev, addr] of [
      [clientNs, 'vc', CLIENT_ADDR],
      [serverNs, 'vs', SERVER_ADDR],
    ] as const) {
      await run('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }

    await nft(
      clientNs,
      [
        'table ip obslab {',
        '  chain delay { }',
        '  chain out { type filter hook output priority 0; policy accept; oifname "vc" jump delay; }',
        '}',
        '',
      ].join('\n'),
    );
    await nft(
      serverNs,
      [
        'table ip obslab {',
        '  counter pkts_seen { }',
        '  counter pkts_dropped { }',
        '  counter syns_seen { }',
        '  counter syns_dropped { }',
        '  chain loss { }',
        '  chain in { type filter hook input priority 0; policy accept; iifname "vs" jump loss; }',
        '}',
        '',
      ].join('\n'),
    );
    await nft(serverNs, lossRules(lossPercent));

    // Real-time priority: on a busy machine a delayq waiting for a CPU would release packets late, and
    // that lateness would be charged to the probe under test.
    const delayProc = spawnIn(clientNs, 'chrt', [
      '--fifo',
      '50',
      delayq,
      String(QUEUE_NUM),
      String(rttMs),
      'obslab',
      'delay',
    ]);
    await waitReady(delayProc, 'delayq', 10_000);
    const server = spawnIn(serverNs, process.execPath, [SERVER_SCRIPT, String(SERVER_PORT)]);
    await waitReady(server, 'lab tcp listener', 15_000);

    let delayOut = '';
    delayProc.stdout?.on('data', (d: Buffer) => {
      delayOut += d.toString();
    });
    let delayErr = '';
    delayProc.stderr?.on('data', (d: Buffer) => {
      delayErr += d.toString();
    });

    const lab: Lab = {
      clientNs,
      serverNs,
      clientAddr: CLIENT_ADDR,
      serverAddr: SERVER_ADDR,
      serverPort: SERVER_PORT,
      closedPort: CLOSED_PORT,
      get rttMs() {
        return rttMs;
      },
      get lossPercent() {
        return lossPercent;
      },
      exec(ns, cmd, args, execOpts) {
        if (!state.namespaces.includes(ns))
          return Promise.reject(new Error(`namespace ${ns} is not part of this lab`));
        return inNs(ns, cmd, args, execOpts?.timeoutMs);
      },
      spawn(ns, cmd, args) {
        if (!state.namespaces.includes(ns)) throw new Error(`namespace ${ns} is not part of this lab`);
        return spawnIn(ns, cmd, args);
      },
      async runInClient<T>(
        scriptPath: string,
        args: readonly string[] = [],
        runOpts?: { timeoutMs?: number; realtime?: boolean },
      ) {
        const timeoutMs = runOpts?.timeoutMs ?? 120_000;
        const child = spawnIn(clientNs, 'sh', [
          '-c',
          'cd "$0" && exec "$@"',
          REPO_ROOT,
          ...(runOpts?.realtime ? ['chrt', '--fifo', '40'] : []),
          process.execPath,
          '--import',
          'tsx',
          resolve(scriptPath),
          ...args,
        ]);
        child.stdin?.end();
        let out = '';
        let err = '';
        child.stdout?.on('data', (d: Buffer) => {
          out += d.toString();
        });
        child.stderr?.on('data', (d: Buffer) => {
          err += d.toString();
        });
        const code = await new Promise<number | string>((done) => {
          const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
          child.once('exit', (c, s) => {
            clearTimeout(timer);
            done(c ?? s ?? 'unknown');
          });
        });
        if (code !== 0)
          throw new Error(`script ${scriptPath} in ${clientNs} exited with ${code}: ${err.trim()}`);
        const last = out.trim().split('\n').pop() ?? '';
        try {
          return JSON.parse(last) as T;
        } catch {
          throw new Error(`script ${scriptPath} printed no JSON on its last line: ${out.slice(-500)}`);
        }
      },
      async ping(count, intervalSeconds = 0.05) {
        const { stdout } = await inNs(
          clientNs,
          'ping',
          ['-n', '-c', String(count), '-i', String(intervalSeconds), '-W', '2', SERVER_ADDR],
          (count * intervalSeconds + 10) * 1000,
        ).catch((e: Error) => {
          // ping exits 1 when some replies are missing: still a measurement
          const m = /(PING [\s\S]*\d+ packets transmitted[\s\S]*)$/.exec(e.message);
          if (m) return { stdout: m[1]!, stderr: '' };
          throw e;
        });
        const counts = /(\d+) packets transmitted, (\d+) received/.exec(stdout);
        if (!counts) throw new Error(`unexpected ping output: ${stdout}`);
        const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(stdout);
        return {
          transmitted: Number(counts[1]),
          received: Number(counts[2]),
          rtt: rtt
            ? { min: Number(rtt[1]), avg: Number(rtt[2]), max: Number(rtt[3]), mdev: Number(rtt[4]) }
            : null,
          times: [...stdout.matchAll(/icmp_seq=\d+ ttl=\d+ time=([\d.]+) ms/g)].map((m) => Number(m[1])),
        };
      },
      async setDelay(ms) {
        checkDelay(ms);
        if (delayProc.exitCode !== null) throw new Error(`delayq has exited: ${delayErr.trim()}`);
        const before = delayOut.length;
        delayProc.stdin?.write(`delay ${ms}\n`);
        const deadline = Date.now() + 5_000;
        while (!delayOut.slice(before).includes(`delay ${ms}\n`)) {
          if (Date.now() > deadline)
            throw new Error(`delayq did not confirm delay ${ms}: ${delayErr.trim()}`);
          await new Promise((r) => setTimeout(r, 5));
        }
        rttMs = ms;
      },
      async setLoss(percent) {
        checkPercent(percent);
        await nft(serverNs, lossRules(percent));
        lossPercent = percent;
      },
      async lossCounters() {
        const { stdout } = await inNs(serverNs, 'nft', ['-j', 'list', 'counters', 'table', 'ip', 'obslab']);
        const doc = JSON.parse(stdout) as { nftables: { counter?: { name: string; packets: number } }[] };
        const get = (name: string) => {
          const c = doc.nftables.find((e) => e.counter?.name === name)?.counter;
          if (!c) throw new Error(`nft counter ${name} not found in ${serverNs}`);
          return c.packets;
        };
        return {
          packets: get('pkts_seen'),
          dropped: get('pkts_dropped'),
          syns: get('syns_seen'),
          synsDropped: get('syns_dropped'),
        };
      },
      async destroy() {
        destroySync(state);
      },
    };
    return lab;
  } catch (err) {
    destroySync(state);
    throw err;
  }
}

/** Reads utime + stime of a process from /proc/<pid>/stat, in seconds. */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start at state (field 3).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}
