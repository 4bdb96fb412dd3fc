/**
 * Real loopback servers for the probe tests: TCP, HTTP(S) with an openssl-made certificate, a UDP DNS
 * server, and a listener whose accept queue can be held full so the kernel drops SYNs.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TLSSocket } from 'node:tls';

/** A server listening on 127.0.0.1. */
export interface Running {
  readonly port: number;
  close(): Promise<void>;
}

function listen(server: Server | HttpServer, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : 0);
    });
  });
}

function closer(server: Server | HttpServer): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      (server as HttpServer).closeAllConnections?.();
      server.close(() => resolve());
    });
}

/** A TCP listener that counts connections and closes each at once. */
export async function startTcpServer(): Promise<Running & { connections: () => number }> {
  let connections = 0;
  const server = createTcpServer((s) => {
    connections++;
    s.on('error', () => {});
    s.end();
  });
  const port = await listen(server);
  return { port, connections: () => connections, close: closer(server) };
}

/** A port on 127.0.0.1 nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createTcpServer();
  const port = await listen(server);
  await closer(server)();
  return port;
}

/** An HTTP or HTTPS server with a handler, recording every request it sees. */
export interface RunningHttp extends Running {
  /** Requests received; over TLS, with the SNI name the client sent (false or null when it sent none). */
  readonly requests: { method: string; url: string; host: string; servername?: string | false | null }[];
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Starts an HTTP server on 127.0.0.1. */
export async function startHttpServer(handler: Handler): Promise<RunningHttp> {
  const requests: RunningHttp['requests'] = [];
  const server = createHttpServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '' });
    handler(req, res);
  });
  const port = await listen(server);
  return { port, requests, close: closer(server) };
}

/** A self-signed certificate made by openssl. */
export interface TestCert {
  readonly key: string;
  readonly cert: string;
  /** notAfter, unix seconds, as openssl reports it. */
  readonly notAfter: number;
}

/**
 * Makes a self-signed certificate with `openssl req -x509`.
 * @param days validity
 * @param subjectAltName the certificate's SANs, in openssl's syntax
 * @param commonName the subject CN (Node falls back to it for a host name when there is no DNS SAN)
 */
export function makeCert(
  days: number,
  subjectAltName = 'DNS:localhost,IP:127.0.0.1',
  commonName = 'localhost',
): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'observatory-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        String(days),
        '-subj',
        `/CN=${commonName}`,
        '-addext',
        `subjectAltName=${subjectAltName}`,
      ],
      { stdio: 'pipe' },
    );
    const endDate = execFileSync('openssl', ['x509', '-in', join(dir, 'cert.pem'), '-noout', '-enddate'], {
      encoding: 'utf8',
    });
    const notAfter = Date.parse(endDate.trim().replace(/^notAfter=/, '')) / 1000;
    if (!Number.isFinite(notAfter)) throw new Error(`cannot parse openssl enddate "${endDate}"`);
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      notAfter,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts an HTTPS server on 127.0.0.1 with the given certificate. */
export async function startHttpsServer(cert: TestCert, handler: Handler): Promise<RunningHttp> {
  const requests: RunningHttp['requests'] = [];
  const server = createHttpsServer({ key: cert.key, cert: cert.cert }, (req, res) => {
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      host: req.headers.host ?? '',
      servername: (req.socket as TLSSocket).servername,
    });
    handler(req, res);
  });
  server.on('tlsClientError', () => {});
  const port = await listen(server);
  return { port, requests, close: closer(server) };
}

/** DNS records served: name (lower case, no trailing dot) to type to values. */
export type Zone = Record<string, Partial<Record<'A' | 'AAAA' | 'CNAME' | 'TXT', string[]>>>;

const TYPE_CODES = { A: 1, CNAME: 5, TXT: 16, AAAA: 28 } as const;

/** A UDP DNS server on 127.0.0.1 answering from a zone, optionally after a delay or not at all. */
export async function startDnsServer(
  zone: Zone,
  opts: { delayMs?: number; silent?: boolean } = {},
): Promise<Running & { queries: () => number }> {
  const socket: UdpSocket = createSocket('udp4');
  let queries = 0;
  socket.on('message', (msg, rinfo) => {
    queries++;
    if (opts.silent) return;
    const reply = answer(msg, zone);
    setTimeout(() => socket.send(reply, rinfo.port, rinfo.address), opts.delayMs ?? 0);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    queries: () => queries,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([
    ...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p)])),
    Buffer.from([0]),
  ]);
}

function answer(query: Buffer, zone: Zone): Buffer {
  // Question: QNAME labels from byte 12, then QTYPE and QCLASS.
  let i = 12;
  const labels: string[] = [];
  while (query[i] !== 0) {
    const len = query[i]!;
    labels.push(query.subarray(i + 1, i + 1 + len).toString());
    i += len + 1;
  }
  const qtype = query.readUInt16BE(i + 1);
  const question = query.subarray(12, i + 5);
  const name = labels.join('.').toLowerCase();
  const records = zone[name];
  const type = (Object.keys(TYPE_CODES) as (keyof typeof TYPE_CODES)[]).find((t) => TYPE_CODES[t] === qtype);
  const values = (type && records?.[type]) ?? [];
  const rdata = values.map((v) => {
    switch (type) {
      case 'A':
        return Buffer.from(v.split('.').map(Number));
      case 'AAAA': {
        const full = v.includes('::') ? expand6(v) : v.split(':');
        return Buffer.concat(full.map((h) => Buffer.from([parseInt(h, 16) >> 8, parseInt(h, 16) & 0xff])));
      }
      case 'CNAME':
        return encodeName(v);
      default:
        return Buffer.concat([Buffer.from([Buffer.byteLength(v)]), Buffer.from(v)]);
    }
  });
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // QR, RD copied, RA; RCODE 3 (NXDOMAIN) when the name is unknown.
  header.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (records ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(rdata.length, 6);
  const answers = rdata.map((rd) => {
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
    rr.writeUInt16BE(qtype, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(rd.length, 10);
    return Buffer.concat([rr, rd]);
  });
  return Buffer.concat([header, question, ...answers]);
}

function expand6(v: string): string[] {
  const [head, tail] = v.split('::') as [string, string];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  return [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
}

/**
 * A listener whose accept queue (backlog 0: one slot) is filled by one idle connection, so the kernel
 * drops every further SYN, as a lossy path would, until `release()` widens the backlog (listen(2) again)
 * and accepts everything.
 * Runs in a python3 child process because Node always accepts.
 */
export async function startFullQueueListener(): Promise<Running & { release(): void }> {
  const script = [
    'import socket, sys, threading',
    's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
    'print(s.getsockname()[1], flush=True)',
    'held = []',
    'def accept_all():',
    '    while True:',
    '        c, _ = s.accept(); held.append(c)',
    'for line in sys.stdin:',
    '    if line.strip() == "release":',
    '        s.listen(128)',
    '        threading.Thread(target=accept_all, daemon=True).start()',
    '        print("released", flush=True)',
  ].join('\n');
  const child: ChildProcess = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const next = () =>
    new Promise<string>((resolve, reject) => {
      lines.once('line', resolve);
      child.once('exit', (code) => reject(new Error(`python3 listener exited with ${code}`)));
      child.once('error', reject);
    });
  const port = Number(await next());
  // Fill the one slot of the accept queue; later SYNs are dropped (ListenOverflows).
  const filler = new Socket();
  await new Promise<void>((resolve, reject) => {
    filler.once('error', reject);
    filler.connect(port, '127.0.0.1', resolve);
  });
  return {
    port,
    release: () => {
      child.stdin!.write('release\n');
    },
    close: async () => {
      filler.destroy();
      child.kill();
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    },
  };
}
