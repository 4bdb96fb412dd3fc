/**
 * SigV4 signing of remote-write requests for Amazon Managed Service for Prometheus (service `aps`),
 * with the AWS SDK's own signer and credential chain: no hand-rolled crypto, and credentials are
 * resolved, cached and refreshed exactly as every SDK client in the function does.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

/** Static AWS credentials. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** A function that resolves (and may cache and refresh) credentials, like the SDK's providers. */
export type AwsCredentialsProvider = () => Promise<AwsCredentials>;

/** SigV4 settings of a remote-write client. */
export interface SigV4Options {
  /**
   * Signing region.
   * @default - the region in an AMP URL (see {@link ampRegion}); required for any other URL
   */
  readonly region?: string;
  /**
   * Signing service name.
   * @default 'aps'
   */
  readonly service?: string;
  /**
   * Credentials or a provider of them.
   * @default - the SDK's default Node.js chain (`defaultProvider` of `@aws-sdk/credential-provider-node`):
   * environment (the Lambda role), SSO, shared ini files, web identity, ECS and EC2 metadata
   */
  readonly credentials?: AwsCredentials | AwsCredentialsProvider;
}

// aps-workspaces.<region>.amazonaws.com (also -fips and .com.cn), and interface VPC endpoint names
// vpce-<id>.aps-workspaces.<region>.vpce.amazonaws.com.
const AMP_HOST =
  /^(?:vpce-[a-z0-9-]+\.aps-workspaces\.([a-z0-9-]+)\.vpce\.amazonaws\.com|aps-workspaces(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?)$/;

/**
 * Returns the AWS region of an AMP remote-write URL, or undefined for any other URL.
 * @param url e.g. `https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write`
 */
export function ampRegion(url: string | URL): string | undefined {
  let host: string;
  try {
    host = (typeof url === 'string' ? new URL(url) : url).hostname.toLowerCase();
  } catch {
    return undefined;
  }
  const m = AMP_HOST.exec(host);
  return m ? (m[1] ?? m[2]) : undefined;
}

/**
 * Tells whether a URL is an Amazon Managed Service for Prometheus endpoint (which needs SigV4).
 * @param url any URL
 */
export function isAmpUrl(url: string | URL): boolean {
  return ampRegion(url) !== undefined;
}

/** Signs one POST request and returns the headers to send (the signed ones plus the signature). */
export type RequestSigner = (
  url: URL,
  headers: Readonly<Record<string, string>>,
  body: Uint8Array,
  signingDate: Date,
) => Promise<Record<string, string>>;

let defaultCredentials: AwsCredentialsProvider | undefined;

async function defaultChain(): Promise<AwsCredentials> {
  if (!defaultCredentials) {
    // Loaded on first use so a client that never signs never pays for the provider chain's modules.
    const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
    defaultCredentials = defaultProvider();
  }
  return defaultCredentials();
}

/**
 * Creates a signer for a remote-write URL.
 * @param url the remote-write URL (its region is used when `options.region` is absent)
 * @param options signing settings
 * @throws Error when no region is given and the URL is not an AMP URL
 */
export function createRequestSigner(url: URL, options: SigV4Options): RequestSigner {
  const region = options.region ?? ampRegion(url);
  if (!region) throw new Error(`sigv4 region is required for url ${url.href}, which is not an amp endpoint`);
  const credentials = options.credentials ?? defaultChain;
  const signer = new SignatureV4({ service: options.service ?? 'aps', region, credentials, sha256: Sha256 });
  return async (target, headers, body, signingDate) => {
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of target.searchParams) {
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    const request = new HttpRequest({
      method: 'POST',
      protocol: target.protocol,
      hostname: target.hostname,
      ...(target.port ? { port: Number(target.port) } : {}),
      path: target.pathname,
      query,
      // `host` is signed; fetch derives the same value from the URL (host[:port], default port omitted).
      headers: { ...headers, host: target.host },
      body,
    });
    const signed = await signer.sign(request, { signingDate });
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(signed.headers)) if (k.toLowerCase() !== 'host') out[k] = v;
    return out;
  };
}
