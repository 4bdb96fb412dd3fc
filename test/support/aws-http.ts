/**
 * AWS faked over HTTP on loopback, for code that carries its own copy of the AWS SDK (a Lambda bundle
 * run in a child process), which aws-sdk-client-mock in the test process cannot reach. The child gets
 * `AWS_ENDPOINT_URL` = {@link AwsHttpFake.url} (the SDK's configured-endpoint setting, honoured by every
 * v3 client) and fake credentials; each request is attributed to a service by its SigV4 credential
 * scope and to an operation by its protocol (`X-Amz-Target` for the JSON protocols, `Action` for the
 * query protocols, method and path for the REST ones), then answered by the test's handler for that
 * service in the wire format of the service's protocol. A request no handler answers is recorded and
 * answered with an error, so a test can assert that nothing went unanswered.
 *
 * ```ts
 * const aws = await startAwsHttpFake();
 * aws.on('sns', (r) => r.operation === 'Publish' ? queryXml('Publish', '<MessageId>m-1</MessageId>') : undefined);
 * ```
 */
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/** One request as the fake saw it. */
export interface AwsRequest {
  /** SigV4 signing name (`sts`, `s3`, `monitoring`, `rds-data`, `aps`, ...), or `unsigned`. */
  readonly service: string;
  /** The signing region. */
  readonly region: string;
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
  /** The operation for the JSON (`X-Amz-Target`) and query (`Action`) protocols; `METHOD /path` for REST. */
  readonly operation: string;
  /** The JSON body of a JSON-protocol request (undefined otherwise). */
  readonly json?: Record<string, unknown>;
  /** The form fields of a query-protocol request (undefined otherwise). */
  readonly form?: URLSearchParams;
}

/** An answer: status (200), headers and body. */
export interface AwsReply {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
}

/** Answers a request of one service, or returns undefined to leave it unanswered. */
export type AwsHandler = (req: AwsRequest) => AwsReply | undefined | Promise<AwsReply | undefined>;

/** A running fake. */
export interface AwsHttpFake {
  /** `http://127.0.0.1:<port>`: the value of `AWS_ENDPOINT_URL`. */
  readonly url: string;
  /**
   * Port of the same fake over HTTPS (when started with a certificate), for URLs that name an AWS host
   * (`https://aps-workspaces.<region>.amazonaws.com:<port>/...`) resolved to loopback by the client.
   */
  readonly tlsPort?: number;
  /** Every request, in arrival order. */
  readonly requests: AwsRequest[];
  /** Requests no handler answered (`service operation`). */
  readonly unanswered: string[];
  /** Sets the handler of a service (replacing the previous one). */
  on(service: string, handler: AwsHandler): void;
  close(): Promise<void>;
}

const SCOPE = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/;

/**
 * Starts the fake on a free loopback port.
 * @param tls a certificate and key to serve HTTPS with too
 */
export async function startAwsHttpFake(tls?: { key: string; cert: string }): Promise<AwsHttpFake> {
  const handlers = new Map<string, AwsHandler>();
  const requests: AwsRequest[] = [];
  const unanswered: string[] = [];
  const listener: RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const request = parse(req, Buffer.concat(chunks));
      requests.push(request);
      let reply: AwsReply | undefined;
      try {
        reply = await handlers.get(request.service)?.(request);
      } catch (err) {
        reply = { status: 500, body: `fake handler failed: ${(err as Error).stack}` };
      }
      if (!reply) {
        unanswered.push(`${request.service} ${request.operation}`);
        reply = unhandled(request);
      }
      res.writeHead(reply.status ?? 200, {
        'x-amzn-requestid': `fake-${requests.length}`,
        ...reply.headers,
      });
      res.end(reply.body ?? '');
    });
  };
  const servers: Server[] = [createServer(listener)];
  if (tls) servers.push(createHttpsServer(tls, listener));
  const ports = await Promise.all(
    servers.map(
      (server) =>
        new Promise<number>((resolve) =>
          server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
        ),
    ),
  );
  return {
    url: `http://127.0.0.1:${ports[0]}`,
    ...(tls ? { tlsPort: ports[1] } : {}),
    requests,
    unanswered,
    on: (service, handler) => void handlers.set(service, handler),
    close: async () => {
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      );
    },
  };
}

function parse(req: IncomingMessage, body: Buffer): AwsRequest {
  const url = new URL(req.url ?? '/', 'http://fake');
  const scope = SCOPE.exec(String(req.headers.authorization ?? ''));
  const base = {
    service: scope?.[2] ?? 'unsigned',
    region: scope?.[1] ?? '',
    method: req.method ?? 'GET',
    path: decodeURIComponent(url.pathname),
    query: url.searchParams,
    headers: req.headers,
    body,
  };
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') {
    return {
      ...base,
      operation: target.slice(target.lastIndexOf('.') + 1),
      json: body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {},
    };
  }
  if (String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
    const form = new URLSearchParams(body.toString('utf8'));
    return { ...base, operation: form.get('Action') ?? '?', form };
  }
  return { ...base, operation: `${base.method} ${base.path}` };
}

function unhandled(req: AwsRequest): AwsReply {
  const message = `the fake has no answer for ${req.service} ${req.operation}`;
  if (req.json) return jsonError('UnknownOperationException', message);
  if (req.form) return queryError('InvalidAction', message);
  return { status: 501, body: message };
}

/**
 * A JSON-protocol (awsJson1_0/1_1, restJson1) answer. `Date`s go on the wire as epoch seconds, the
 * protocols' default timestamp format; an SDK output's `$metadata` is dropped.
 */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): AwsReply {
  return {
    status,
    headers: { 'content-type': 'application/x-amz-json-1.1', ...headers },
    body: JSON.stringify(body, function (key, value) {
      if (key === '$metadata') return undefined;
      const raw = (this as Record<string, unknown>)[key];
      return raw instanceof Date ? raw.getTime() / 1000 : value;
    }),
  };
}

/** A JSON-protocol error (`__type` and `x-amzn-errortype`, as the services send them). */
export function jsonError(code: string, message: string, status = 400): AwsReply {
  return json({ __type: code, message }, status, { 'x-amzn-errortype': code });
}

/** A query-protocol (STS, SNS, EC2-style) answer: `<{op}Response><{op}Result>inner</...>`. */
export function queryXml(
  operation: string,
  inner: string,
  xmlns = 'https://fake.amazonaws.com/doc/',
): AwsReply {
  return {
    headers: { 'content-type': 'text/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<${operation}Response xmlns="${xmlns}"><${operation}Result>${inner}</${operation}Result><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></${operation}Response>`,
  };
}

/** An EC2 query-protocol answer: `<{op}Response>inner</{op}Response>` (EC2 has no Result wrapper). */
export function ec2Xml(operation: string, inner: string): AwsReply {
  return {
    headers: { 'content-type': 'text/xml;charset=UTF-8' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<${operation}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>fake</requestId>${inner}</${operation}Response>`,
  };
}

/** A query-protocol error. */
export function queryError(code: string, message: string, status = 400): AwsReply {
  return {
    status,
    headers: { 'content-type': 'text/xml' },
    body: `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>fake</RequestId></ErrorResponse>`,
  };
}

/** Escapes text for an XML element. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
