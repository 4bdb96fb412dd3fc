/**
 * HTTP(S) probe on a fresh connection, with phase timings like blackbox_exporter's.
 *
 * Every hop drives its own connection step by step so each phase is measured on its own and nothing
 * is sent before the server is trusted:
 *   dns       resolver time (0 for an IP literal; for a pinned address, the caller's resolve time)
 *   connect   TCP handshake (connect() to 'connect')
 *   tls       TLS handshake on that socket (https only)
 *   ttfb      request written to the first response byte ("processing" in blackbox terms)
 *   transfer  first response byte to the end of the body
 * With redirects followed, the phases of every hop are summed, as blackbox does.
 *
 * TLS: the handshake runs with verification deferred so the peer chain can always be read (its
 * earliest `notAfter` is reported even for an untrusted certificate); an unverified peer then fails
 * the probe with reason `tls` before any request byte is written, unless `tls.insecure` is set.
 */
import { lookup } from 'node:dns/promises';
import { request } from 'node:http';
import { isIP, Socket } from 'node:net';
import { type DetailedPeerCertificate, type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { FailureReason, IpFamily } from './types.ts';

/** Default bound on redirects followed. */
export const DEFAULT_MAX_REDIRECTS = 10;
/** Default bytes of body kept for the body regex (the rest is read and counted, not kept). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);

/** Options of one HTTP(S) probe. */
export interface HttpProbeOptions {
  /** http:// or https:// URL. */
  url: string;
  /** @default 'GET' */
  method?: 'GET' | 'HEAD';
  /**
   * Status codes that count as success (of the final response).
   * @default [200]
   */
  expectStatus?: readonly number[];
  /** Regular expression the body must match (JavaScript syntax, tested on the first `maxBodyBytes`). */
  bodyRegex?: string;
  /** Response headers that must be present, name (any case) to a regular expression their value must match. */
  headers?: Readonly<Record<string, string>>;
  /** Extra request headers. */
  requestHeaders?: Readonly<Record<string, string>>;
  /** @default false */
  followRedirects?: boolean;
  /** @default 10 */
  maxRedirects?: number;
  /**
   * Fail when the earliest certificate of the chain expires in fewer days than this.
   * @default 0 - only an expired certificate fails (it already fails verification)
   */
  certMinDays?: number;
  /** Deadline of the whole probe, all hops included. */
  timeoutMs: number;
  /** Connect to this address instead of resolving the URL's host (for hops on that host). */
  address?: string;
  /** Resolver time of `address`, reported as the dns phase of the first hop. */
  addressResolvedSeconds?: number;
  /** Address family to resolve when the host is resolved here. */
  family?: IpFamily;
  /** TLS trust: extra CA certificates (PEM) or no verification at all. */
  tls?: { ca?: string | readonly string[]; insecure?: boolean };
  /** @default 1 MiB */
  maxBodyBytes?: number;
  /** Aborts the probe (the run's deadline). */
  signal?: AbortSignal;
  /** Clock for the certificate check, ms since the epoch. @default Date.now */
  now?: () => number;
}

/** Phase durations in seconds (summed over hops when redirects are followed). */
export interface HttpPhases {
  dns: number;
  connect: number;
  tls: number;
  ttfb: number;
  transfer: number;
}

/** Result of one HTTP(S) probe. */
export interface HttpResult {
  readonly url: string;
  /** URL of the last hop requested. */
  readonly finalUrl: string;
  /** Address of the first hop's connection; empty when it never resolved. */
  readonly address: string;
  readonly family: IpFamily | undefined;
  readonly success: 0 | 1;
  readonly reason?: FailureReason;
  readonly error?: string;
  /** Status of the last response; undefined when none was received. */
  readonly statusCode: number | undefined;
  readonly httpVersion: string | undefined;
  /** Redirects followed. */
  readonly redirects: number;
  /** Phase durations, seconds. */
  readonly phasesSeconds: HttpPhases;
  /** Wall time of the whole probe, seconds. */
  readonly durationSeconds: number;
  /** Whether the last hop used TLS. */
  readonly tls: boolean;
  /** Earliest notAfter of the last TLS hop's peer chain, unix seconds. */
  readonly certExpiry?: number;
  /** Whether that chain verified against the trust store and the host name. */
  readonly certVerified?: boolean;
  /** Body bytes received on the last hop. */
  readonly bodyBytes: number;
}

interface Hop {
  address: string;
  family: IpFamily;
  status: number;
  httpVersion: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  bodyBytes: number;
  tls: boolean;
}

interface PeerChain {
  certExpiry: number;
  certVerified: boolean;
}

class ProbeFailure extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Probes an HTTP(S) URL on a fresh connection per hop: phases, status, assertions, certificate expiry.
 * Never throws for network or assertion outcomes; they are reported in the result.
 * @param opts the URL, expectations and the deadline of the whole probe
 */
export async function probeHttp(opts: HttpProbeOptions): Promise<HttpResult> {
  const started = process.hrtime.bigint();
  const deadline = Date.now() + opts.timeoutMs;
  const phases: HttpPhases = { dns: 0, connect: 0, tls: 0, ttfb: 0, transfer: 0 };
  const firstHost = new URL(opts.url).hostname;
  let url = new URL(opts.url);
  let method = opts.method ?? 'GET';
  let redirects = 0;
  let hop: Hop | undefined;
  // The first hop's address, and the peer chain of the latest TLS handshake (kept even when that
  // hop fails afterwards); written by callbacks of runHop.
  const seen: { first?: { address: string; family: IpFamily }; cert?: PeerChain } = {};
  const done = (fields: Partial<HttpResult> & Pick<HttpResult, 'success'>): HttpResult => ({
    url: opts.url,
    finalUrl: url.toString(),
    address: seen.first?.address ?? '',
    family: seen.first?.family,
    statusCode: hop?.status,
    httpVersion: hop?.httpVersion,
    redirects,
    phasesSeconds: phases,
    durationSeconds: Number(process.hrtime.bigint() - started) / 1e9,
    tls: hop?.tls ?? url.protocol === 'https:',
    ...seen.cert,
    bodyBytes: hop?.bodyBytes ?? 0,
    ...fields,
  });

  try {
    for (;;) {
      const pinned = opts.address !== undefined && url.hostname === firstHost ? opts.address : undefined;
      hop = undefined;
      seen.cert = undefined;
      hop = await runHop(
        url,
        method,
        pinned,
        redirects === 0 ? opts.addressResolvedSeconds : undefined,
        deadline,
        opts,
        phases,
        {
          address: (a) => {
            seen.first ??= a;
          },
          cert: (c) => {
            seen.cert = c;
          },
        },
      );
      if (!(opts.followRedirects && REDIRECT_STATUS.has(hop.status))) break;
      const location = hop.headers.location;
      if (typeof location !== 'string' || location === '')
        throw new ProbeFailure('redirects', `status ${hop.status} without a location header`);
      if (redirects >= (opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS)) {
        throw new ProbeFailure(
          'redirects',
          `more than ${opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS} redirects`,
        );
      }
      url = new URL(location, url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new ProbeFailure('redirects', `redirect to unsupported url ${url}`);
      if (hop.status === 303 && method !== 'HEAD') method = 'GET';
      redirects++;
    }
  } catch (err) {
    if (err instanceof ProbeFailure) return done({ success: 0, reason: err.reason, error: err.message });
    return done({ success: 0, reason: 'error', error: String((err as Error).message ?? err) });
  }

  const expect = opts.expectStatus ?? [200];
  if (!expect.includes(hop.status)) {
    return done({
      success: 0,
      reason: 'status',
      error: `status ${hop.status}, expected ${expect.join(' or ')}`,
    });
  }
  if (opts.bodyRegex !== undefined && !new RegExp(opts.bodyRegex).test(hop.body)) {
    return done({ success: 0, reason: 'body', error: `body does not match /${opts.bodyRegex}/` });
  }
  for (const [name, pattern] of Object.entries(opts.headers ?? {})) {
    const raw = hop.headers[name.toLowerCase()];
    const value = Array.isArray(raw) ? raw.join(', ') : raw;
    if (value === undefined) return done({ success: 0, reason: 'header', error: `header ${name} missing` });
    if (!new RegExp(pattern).test(value))
      return done({
        success: 0,
        reason: 'header',
        error: `header ${name}: "${value}" does not match /${pattern}/`,
      });
  }
  // Written by a callback: widen back from the narrowing of the reset in the loop.
  const cert = seen.cert as PeerChain | undefined;
  if (cert !== undefined && opts.certMinDays !== undefined && opts.certMinDays > 0) {
    const days = (cert.certExpiry * 1000 - (opts.now ?? Date.now)()) / 86_400_000;
    if (days < opts.certMinDays) {
      return done({
        success: 0,
        reason: 'cert_expiry',
        error: `certificate expires in ${days.toFixed(1)} days, minimum ${opts.certMinDays}`,
      });
    }
  }
  return done({ success: 1 });
}

async function runHop(
  url: URL,
  method: 'GET' | 'HEAD',
  pinned: string | undefined,
  pinnedResolvedSeconds: number | undefined,
  deadline: number,
  opts: HttpProbeOptions,
  phases: HttpPhases,
  report: {
    address: (a: { address: string; family: IpFamily }) => void;
    cert: (c: { certExpiry: number; certVerified: boolean }) => void;
  },
): Promise<Hop> {
  const https = url.protocol === 'https:';
  const port = Number(url.port || (https ? 443 : 80));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const guard = new Guard(deadline, opts.signal);
  try {
    // dns
    let address: string;
    let family: IpFamily;
    if (pinned !== undefined) {
      address = pinned;
      family = isIP(pinned) as IpFamily;
      phases.dns += pinnedResolvedSeconds ?? 0;
    } else if (isIP(host) !== 0) {
      address = host;
      family = isIP(host) as IpFamily;
    } else {
      const t = process.hrtime.bigint();
      try {
        const found = await guard.race(lookup(host, { family: opts.family ?? 0 }), 'dns');
        address = found.address;
        family = found.family as IpFamily;
      } catch (err) {
        if (err instanceof ProbeFailure) throw err;
        throw new ProbeFailure(
          'dns',
          `cannot resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
      phases.dns += seconds(t);
    }
    report.address({ address, family });

    // connect
    let t = process.hrtime.bigint();
    const tcp = new Socket();
    guard.own(tcp);
    await guard.race(
      new Promise<void>((resolve, reject) => {
        tcp.once('connect', resolve);
        tcp.once('error', (err: NodeJS.ErrnoException) =>
          reject(
            new ProbeFailure(
              socketReason(err.code),
              `connect ${address}:${port}: ${err.code ?? err.message}`,
            ),
          ),
        );
        tcp.connect({ host: address, port, family, autoSelectFamily: false });
      }),
      'connect',
    );
    phases.connect += seconds(t);

    // tls
    let socket: Socket | TLSSocket = tcp;
    if (https) {
      t = process.hrtime.bigint();
      const ca =
        opts.tls?.ca === undefined
          ? undefined
          : typeof opts.tls.ca === 'string'
            ? [opts.tls.ca]
            : [...opts.tls.ca];
      const secure = tlsConnect({
        socket: tcp,
        // A name goes out as SNI and is checked against the certificate's DNS names. An IP literal is
        // never sent as SNI (RFC 6066, section 3) but must still be the identity checked: without `host`,
        // Node checks the certificate against "localhost". Given `host`, its checkServerIdentity compares
        // an IP literal with the certificate's IP SANs only.
        ...(isIP(host) === 0 ? { servername: host } : { host }),
        // Verification is checked below, after the peer chain has been read; no byte is written before.
        rejectUnauthorized: false,
        ALPNProtocols: ['http/1.1'],
        ...(ca ? { ca } : {}),
      });
      guard.own(secure);
      await guard.race(
        new Promise<void>((resolve, reject) => {
          secure.once('secureConnect', resolve);
          secure.once('error', (err: NodeJS.ErrnoException) =>
            reject(new ProbeFailure('tls', `tls handshake with ${host}: ${err.code ?? err.message}`)),
          );
        }),
        'tls',
      );
      phases.tls += seconds(t);
      const certExpiry = earliestExpiry(secure.getPeerCertificate(true));
      const certVerified = secure.authorized;
      if (certExpiry !== undefined) report.cert({ certExpiry, certVerified });
      if (!secure.authorized && !opts.tls?.insecure) {
        throw new ProbeFailure(
          'tls',
          `certificate of ${host} not trusted: ${String(secure.authorizationError)}`,
        );
      }
      socket = secure;
    }

    // request, ttfb, transfer
    const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    t = process.hrtime.bigint();
    let firstByte: bigint | undefined;
    socket.once('data', () => {
      firstByte = process.hrtime.bigint();
      guard.phase = 'transfer';
    });
    const response = await guard.race(
      new Promise<Omit<Hop, 'address' | 'family' | 'tls'>>((resolve, reject) => {
        const req = request({
          createConnection: () => socket,
          method,
          host,
          port,
          path: `${url.pathname}${url.search}`,
          headers: {
            host: url.host,
            'user-agent': 'infra-observatory-probe/1',
            accept: '*/*',
            connection: 'close',
            ...opts.requestHeaders,
          },
        });
        req.once('error', (err: NodeJS.ErrnoException) =>
          reject(new ProbeFailure(socketReason(err.code), `request ${url}: ${err.code ?? err.message}`)),
        );
        req.once('response', (res) => {
          const chunks: Buffer[] = [];
          let kept = 0;
          let total = 0;
          res.on('data', (chunk: Buffer) => {
            total += chunk.length;
            if (kept < maxBody) {
              const part = chunk.subarray(0, maxBody - kept);
              chunks.push(part);
              kept += part.length;
            }
          });
          res.once('error', (err: NodeJS.ErrnoException) =>
            reject(new ProbeFailure(socketReason(err.code), `reading ${url}: ${err.code ?? err.message}`)),
          );
          res.once('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              httpVersion: res.httpVersion,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
              bodyBytes: total,
            }),
          );
        });
        req.end();
      }),
      'ttfb',
    );
    const end = process.hrtime.bigint();
    const fb = firstByte ?? end;
    phases.ttfb += Number(fb - t) / 1e9;
    phases.transfer += Number(end - fb) / 1e9;
    return { ...response, address, family, tls: https };
  } finally {
    guard.close();
  }
}

/** Bounds a hop by the probe's deadline and abort signal, and closes its sockets in every case. */
class Guard {
  private readonly sockets: Socket[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly expired: Promise<never>;
  /** Phase in progress, named in a timeout's message. */
  phase = 'dns';
  private readonly onAbort: () => void;

  constructor(
    readonly deadline: number,
    private readonly signal?: AbortSignal,
  ) {
    let fail: (err: ProbeFailure) => void = () => {};
    this.expired = new Promise<never>((_, reject) => {
      fail = reject;
    });
    this.expired.catch(() => {});
    this.onAbort = () => fail(new ProbeFailure('deadline', `run deadline reached during ${this.phase}`));
    if (signal?.aborted) this.onAbort();
    signal?.addEventListener('abort', this.onAbort, { once: true });
    this.timer = setTimeout(
      () => {
        fail(new ProbeFailure('timeout', `timeout during ${this.phase}`));
        this.destroyAll();
      },
      Math.max(0, deadline - Date.now()),
    );
  }

  own(socket: Socket): void {
    this.sockets.push(socket);
  }

  race<T>(p: Promise<T>, phase: string): Promise<T> {
    this.phase = phase;
    p.catch(() => {});
    return Promise.race([p, this.expired]);
  }

  close(): void {
    clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this.onAbort);
    this.destroyAll();
  }

  // Outermost first: a TLS socket then closes the TCP socket it wraps. Destroying the TCP socket
  // under a live TLS socket crashes Node 22 (SIGSEGV) once the TLS socket is collected.
  private destroyAll(): void {
    for (const s of [...this.sockets].reverse()) if (!s.destroyed) s.destroy();
  }
}

/**
 * Earliest `notAfter` of a peer certificate chain, unix seconds.
 * @param cert the leaf, as returned by `getPeerCertificate(true)` (issuers linked)
 */
export function earliestExpiry(cert: DetailedPeerCertificate | undefined): number | undefined {
  let earliest: number | undefined;
  const seen = new Set<string>();
  let cur: DetailedPeerCertificate | undefined = cert;
  while (cur && cur.valid_to !== undefined && !seen.has(cur.fingerprint256)) {
    seen.add(cur.fingerprint256);
    const ms = Date.parse(cur.valid_to);
    if (Number.isFinite(ms) && (earliest === undefined || ms < earliest)) earliest = ms;
    cur = cur.issuerCertificate;
  }
  return earliest === undefined ? undefined : Math.floor(earliest / 1000);
}

function socketReason(code: string | undefined): FailureReason {
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ETIMEDOUT':
      return 'timeout';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    default:
      return 'error';
  }
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}
