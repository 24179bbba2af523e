/**
 * `embedgate dev`: the gateway on a laptop. A plain node:http server turns each request into the
 * API Gateway HTTP API (payload v2) event the Lambda would get, applies the JWT authorizer's edge
 * check, and calls the very same proxy handler, wired to the local adapters.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { GatewayConfig, ModelConfig } from '../shared/config';
import { GatewayError, unauthenticated } from '../lambda/core/errors';
import { resolveRoute } from '../lambda/core/routes';
import { Gateway } from '../lambda/core/gateway';
import { lazyMasker } from '../lambda/core/masking/runtime';
import { extractBearerToken, TokenVerifier } from '../lambda/core/identity';
import { networkKeySetFetch } from '../lambda/adapters/network/key-set-fetch';
import { systemClock, uuidv7Ids } from '../lambda/core/ids';
import type { Archive, EmbeddingProvider, RevocationList } from '../lambda/core/ports';
import { FileArchive } from '../lambda/adapters/local/file-archive';
import { FileJournal } from '../lambda/adapters/local/journal';
import { InMemoryApprovalStore, LocalApprovalWorkflow } from '../lambda/adapters/local/approvals';
import { handleApprovalTask, type ApprovalExecutionInput } from '../lambda/core/approvals/task';
import { FileRevocationList } from '../lambda/adapters/local/file-revocations';
import { LocalSecretStore } from '../lambda/adapters/local/secrets';
import { createProxyHandler, observeLimitEvent } from '../lambda/handlers/proxy';
import { RateLimiter } from '../lambda/core/limits/stage';
import { InMemoryLimitStore } from '../lambda/adapters/local/memory-limits';
import { createReviewPage, readReviewFiles, REVIEW_PATH } from '../lambda/handlers/review-page';
import { toGatewayRequest, toApiGatewayResult } from '../lambda/handlers/http';
import { createProvider } from '../lambda/providers';

export interface DevServerOptions {
  readonly config: GatewayConfig;
  /** Directory of the local archive (created if missing). */
  readonly archiveDir: string;
  /** @default 8787; 0 picks a free port */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /**
   * Emulate API Gateway's JWT authorizer in front of the handler (requests it rejects never
   * reach the handler, as in AWS, and are recorded by the edge recorder).
   * @default true
   */
  readonly edgeAuth?: boolean;
  /**
   * Records go through the write-ahead journal (`<archiveDir>/journal/`, group commit) and reach
   * `sessions/` in batch objects; false: one object per record, written in the request (the layout
   * before issue 16). @default true
   */
  readonly journal?: boolean;
  /** How often the journal is compacted into batch objects, ms. @default 2000 */
  readonly compactEveryMs?: number;
  /** Replace the archive (tests: a failing archive). */
  readonly archive?: Archive;
  /** Environment for `{"source":"env"}` secrets. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * The deny list. @default `<archiveDir>/revocations.json`, re-read within a second of a change
   * (`embedgate revoke --archive-dir <dir>` writes it)
   */
  readonly revocations?: ManagedRevocationList;
  /**
   * The proxy function's timeout, emulated: the handler's context counts down from it, so each
   * request's deadline (less the reserve for the record) is the deployed one.
   * @default 29 (the construct's default function timeout)
   */
  readonly functionTimeoutSeconds?: number;
  /** Where reviewer notifications go (SNS in AWS). @default stderr */
  readonly notifyApproval?: (input: ApprovalExecutionInput) => void;
}

/** A deny list the dev runtime can also change (tests, the demo). */
export type ManagedRevocationList = RevocationList & Pick<FileRevocationList, 'put' | 'delete' | 'list'>;

export interface DevServer {
  readonly url: string;
  readonly gateway: Gateway;
  /** The runtime deny list this server checks. */
  readonly revocations: ManagedRevocationList;
  /** The approvals this server holds (in memory) and its stand-in for the Step Functions workflow. */
  readonly approvals: { readonly store: InMemoryApprovalStore; readonly workflow: LocalApprovalWorkflow };
  /** Requests being handled right now (with one, the archive writes on the event loop's thread). */
  requestsInFlight(): number;
  /** Move what the journal holds into the archive's batch objects now (without a journal: nothing to do). */
  flushArchive(): Promise<void>;
  close(): Promise<void>;
}

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const { config } = opts;
  const secrets = new LocalSecretStore(opts.env ?? process.env);
  const providers = new Map<string, EmbeddingProvider>();
  const provider = (m: ModelConfig): EmbeddingProvider => {
    let p = providers.get(m.name);
    if (!p) providers.set(m.name, (p = createProvider(m, { secrets })));
    return p;
  };
  const verifier = new TokenVerifier(config, { fetch: networkKeySetFetch });
  const revocations = opts.revocations ?? new FileRevocationList(join(opts.archiveDir, 'revocations.json'));
  if (config.masking?.enabled && config.masking.comprehend?.enabled) {
    throw new Error(
      'masking.comprehend calls Amazon Comprehend, which embedgate dev does not reach: remove "comprehend" from the masking section of the local configuration (the built-in detectors still run)',
    );
  }
  const masker = lazyMasker(config, { secrets });
  // Requests being served right now: with only one, nothing else waits for the event loop, and
  // the archive writes its record on this thread (see FileArchiveOptions.writeInline).
  let inFlight = 0;
  // The write-ahead journal (group commit) with its compactor into batch objects; recovery first:
  // records a killed process acknowledged reach the archive before this one serves a request.
  const journal = opts.archive
    ? undefined
    : opts.journal === false
      ? undefined
      : await FileJournal.open(opts.archiveDir, {
          writeInline: () => inFlight <= 1,
          ...(opts.compactEveryMs !== undefined ? { compactEveryMs: opts.compactEveryMs } : {}),
          onError: (what, e) => process.stderr.write(`embedgate dev: ${what}: ${(e as Error).message}\n`),
        });
  const archive = opts.archive ?? journal ?? new FileArchive(opts.archiveDir, { writeInline: () => inFlight <= 1 });
  const ids = uuidv7Ids(systemClock);
  const approvalStore = new InMemoryApprovalStore();
  const workflow: LocalApprovalWorkflow = new LocalApprovalWorkflow({
    runTask: (event) => handleApprovalTask(event, { config, store: approvalStore, workflow, archive, clock: systemClock, ids }),
    ...(opts.notifyApproval ? { notify: opts.notifyApproval } : {}),
    reviewPage: config.reviewerPage !== undefined,
  });
  const gateway = new Gateway({
    config,
    verifier,
    provider,
    ...(masker ? { masker } : {}),
    archive,
    revocations,
    approvals: { store: approvalStore, workflow },
    limits: new RateLimiter({ config, store: new InMemoryLimitStore(), clock: systemClock, onEvent: observeLimitEvent }),
    onBackgroundError: (what, e) => process.stderr.write(`embedgate dev: ${what}: ${(e as Error).message}\n`),
    clock: systemClock,
    ids,
  });
  // The reviewers' page (`reviewerPage` in the configuration), from the package's reviewer-page/ files.
  const reviewPage = config.reviewerPage ? createReviewPage(config, readReviewFiles(reviewPageDir())) : undefined;
  const handler = createProxyHandler(gateway, { metricPrincipals: config.gateway.metricPrincipals ?? [], reviewPage });
  const edgeAuth = opts.edgeAuth ?? true;

  const server = createServer((req, res) => {
    // Counts the work, not the socket: a request is in flight until its handling ends, whether
    // the client waits for the answer, aborts, or pipelined it on a connection that closed.
    inFlight++;
    void serve(req, res)
      .catch((e: unknown) => {
        // Only reached if writing the response itself failed; the record was already written.
        process.stderr.write(`embedgate dev: response failed: ${(e as Error).message}\n`);
        if (!res.headersSent) res.writeHead(500).end();
      })
      .finally(() => inFlight--);
  });

  // Requests Node's HTTP parser refuses before `serve` runs (headers over the size limit, malformed
  // request lines) are refused at the edge as API Gateway would, and recorded like any other.
  // One refusal (one answer, one record) per connection: bytes arriving after the parser's error,
  // while the refusal is recorded, make Node emit `clientError` again for the same socket.
  const refused = new WeakSet<Duplex>();
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (refused.has(socket)) return;
    refused.add(socket);
    const overflow = err.code === 'HPE_HEADER_OVERFLOW';
    const status = overflow ? 431 : 400;
    const rejection = new GatewayError(overflow ? 'The request headers are too large.' : 'The request is malformed.', {
      status,
      type: 'invalid_request_error',
      code: overflow ? 'request_header_fields_too_large' : 'malformed_request',
      reason: overflow ? 'edge_headers_too_large' : 'edge_malformed_request',
    });
    const remote = (socket as Duplex & { remoteAddress?: string }).remoteAddress ?? null;
    const request = {
      method: 'UNKNOWN',
      path: '/',
      headers: {},
      rawQueryString: '',
      body: undefined,
      isBase64Encoded: false,
      requestId: randomUUID(),
      sourceIp: remote,
    };
    inFlight++;
    void gateway
      .handle(request, { rejectedAtEdge: rejection })
      .finally(() => inFlight--)
      .then(
        ({ response }) => {
          if (!socket.writable) {
            socket.destroy();
            return;
          }
          const head = Object.entries({
            ...response.headers,
            'content-length': String(Buffer.byteLength(response.body)),
            connection: 'close',
          }).map(([k, v]) => `${k}: ${v}`);
          socket.end(
            `HTTP/1.1 ${response.status} ${overflow ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n${head.join('\r\n')}\r\n\r\n${response.body}`,
          );
        },
        () => socket.destroy(),
      );
  });

  // The listening address, read once (it does not change while the server listens).
  let local: AddressInfo | undefined;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const { body, truncated } = await readBody(req, config.gateway.maxRequestBytes);
    const event = toEvent(req, body, receivedAt, (local ??= server.address() as AddressInfo));
    let result;
    // Routes without an authorizer in AWS: the health check and the reviewers' page (static files).
    const open = event.rawPath === '/health' || (reviewPage !== undefined && isReviewPagePath(event.rawPath));
    const rejection = edgeAuth && !open ? await edgeCheck(event) : undefined;
    if (rejection) {
      // API Gateway answers these itself; embedgate records them from the access log in AWS.
      const handled = await gateway.handle(toGatewayRequest(event), { rejectedAtEdge: rejection });
      // The handler logs the records it loses; a lost edge record must not go unnoticed either.
      if (handled.archiveError)
        process.stderr.write(
          `embedgate dev: archive write failed: session ${handled.record.session_id} (${handled.record.decision.reason}): ${(handled.archiveError as Error).message}\n`,
        );
      result = toApiGatewayResult(handled.response);
    } else {
      result = await handler(event, lambdaContext(event.requestContext.requestId, (opts.functionTimeoutSeconds ?? 29) * 1000));
    }
    const headers: Record<string, string> = {
      ...(result.headers as Record<string, string>),
      'apigw-requestid': event.requestContext.requestId,
    };
    if (truncated) {
      headers.connection = 'close';
      res.once('finish', () => req.destroy());
    }
    res.writeHead(result.statusCode ?? 200, headers);
    res.end(result.body ?? '');
  }

  /** API Gateway's JWT authorizer, emulated: the token must verify against a trusted issuer. */
  async function edgeCheck(event: APIGatewayProxyEventV2): Promise<GatewayError | undefined> {
    try {
      const principal = await verifier.verify(
        extractBearerToken({ headers: event.headers, rawQueryString: event.rawQueryString }, config.gateway.maxTokenBytes),
      );
      // Each route has its own issuer's authorizer: another issuer's token fails there.
      if (principal.issuerId !== resolveRoute(config, event.rawPath).issuerId)
        return unauthenticated('Unauthorized', 'issuer_route_mismatch');
      return undefined;
    } catch (e) {
      if (e instanceof GatewayError) return e;
      throw e;
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8787, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    gateway,
    revocations,
    approvals: { store: approvalStore, workflow },
    requestsInFlight: () => inFlight,
    flushArchive: async () => {
      await journal?.compact();
    },
    close: () =>
      new Promise<void>((resolve) => {
        workflow.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(() => journal?.close()),
  };
}

const isReviewPagePath = (p: string): boolean => p === REVIEW_PATH || p.startsWith(`${REVIEW_PATH}/`);

/** The package's reviewer-page/ directory (from cli/ in the repository, or dist/cli/ when built or installed). */
function reviewPageDir(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'reviewer-page');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`embedgate dev: the reviewer page files (reviewer-page/) are missing above ${__dirname}`);
  }
}

/**
 * Read at most `limit + 1` bytes: enough for the handler to see that the body is too large.
 * The rest of an oversized body is discarded unread, and the connection is closed after the answer.
 */
function readBody(req: IncomingMessage, limit: number): Promise<{ body: Buffer; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) {
        done = true;
        resolve({ body: Buffer.concat(chunks).subarray(0, limit + 1), truncated: true });
      }
    });
    req.once('end', () => {
      if (!done) resolve({ body: Buffer.concat(chunks), truncated: false });
      done = true;
    });
    req.once('error', (e) => {
      if (!done) reject(e);
      done = true;
    });
  });
}

/** The HTTP API payload v2 event API Gateway would send for this request. */
export function toEvent(req: IncomingMessage, body: Buffer, receivedAt: number, local: AddressInfo): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  // rawHeaders keeps repeated headers (Node drops repeated Authorization headers); API Gateway
  // joins them with commas, and so do we.
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    const value = req.rawHeaders[i + 1]!;
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  // The request target is a path: `new URL(target, base)` would read `//host/...` as a host and
  // throw on targets such as `//[` (a 500 without a record).
  const target = req.url ?? '/';
  const url = new URL(`http://localhost${target.startsWith('/') ? '' : '/'}${target}`);
  const requestId = randomUUID();
  const method = req.method ?? 'GET';
  const text = isTextual(headers['content-type']);
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    requestContext: {
      accountId: 'local',
      apiId: 'embedgate-dev',
      // The server's own address (as API Gateway gives its own domain), never the client's Host header.
      domainName: `${local.family === 'IPv6' ? `[${local.address === '::' ? '::1' : local.address}]` : local.address === '0.0.0.0' ? '127.0.0.1' : local.address}:${local.port}`,
      domainPrefix: 'embedgate-dev',
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: '$default',
      stage: '$default',
      time: new Date(receivedAt).toISOString(),
      timeEpoch: receivedAt,
    },
    ...(body.length > 0 ? { body: text ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !text,
  };
}

function isTextual(contentType: string | undefined): boolean {
  if (!contentType) return true;
  const t = contentType.toLowerCase();
  return t.startsWith('text/') || t.includes('json') || t.includes('x-www-form-urlencoded');
}

function lambdaContext(requestId: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'embedgate-dev-proxy',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:embedgate-dev-proxy',
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: 'embedgate-dev',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
