/**
 * A local stand-in for Amazon Bedrock Runtime's `InvokeModel` (REST JSON protocol) for the real
 * `BedrockRuntimeClient` pointed at its `endpoint`. It speaks HTTP/2 (cleartext, prior
 * knowledge): the client's default request handler is `NodeHttp2Handler`, as with the service.
 *
 * `POST /model/{modelId}/invoke` with a JSON body answers like the embedding models do:
 * - Titan Text Embeddings v2 (`amazon.titan-embed-text-v2:0`): `{ inputText, dimensions?, normalize }`
 *   -> `{ embedding, inputTextTokenCount }` (default 1024 dimensions).
 * - Cohere Embed v3 (`cohere.embed-*-v3`): `{ texts, input_type, truncate, embedding_types }`
 *   -> `{ id, texts, embeddings: { float: [...] }, response_type }` (or the plain
 *   `embeddings: number[][]` shape with `cohereShape: 'floats'`), 1024 dimensions, at most 96 texts.
 * Token counts are also sent in `x-amzn-bedrock-input-token-count`, as Bedrock does.
 *
 * Errors use Bedrock's shape: the status, an `x-amzn-errortype` header and `{"message": ...}`.
 * Per request: queued behaviours, else `script`, else the default (success).
 */
import { constants, createServer } from 'node:http2';
import type { Http2ServerResponse, Http2Session, IncomingHttpHeaders } from 'node:http2';
import { fakeEmbedding, fakeTokenCount } from './fake-upstream';
import { listenLocal } from './listen';

/** A request as the fake received it. */
export interface FakeBedrockRequest {
  /** The decoded model id from the path. */
  readonly modelId: string;
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

/** What the fake does with one request. */
export type FakeBedrockBehaviour =
  | { readonly kind: 'success'; readonly latencyMs?: number; readonly cohereShape?: 'by-type' | 'floats'; readonly dimensions?: number }
  | { readonly kind: 'error'; readonly status: number; readonly type: string; readonly message?: string; readonly latencyMs?: number }
  | { readonly kind: 'json'; readonly status?: number; readonly body: unknown; readonly latencyMs?: number }
  | { readonly kind: 'hang' }
  | { readonly kind: 'reset' };

/** Shorthands for Bedrock's errors. */
export const BEDROCK_ERRORS = {
  throttling: { kind: 'error', status: 429, type: 'ThrottlingException', message: 'Too many requests, please wait before trying again.' },
  accessDenied: {
    kind: 'error',
    status: 403,
    type: 'AccessDeniedException',
    message: "You don't have access to the model with the specified model ID.",
  },
  validation: {
    kind: 'error',
    status: 400,
    type: 'ValidationException',
    message: 'Malformed input request: expected maxLength: 2048, actual: 3000, please reformat your input and try again.',
  },
  internal: { kind: 'error', status: 500, type: 'InternalServerException', message: 'Internal server error' },
  unavailable: { kind: 'error', status: 503, type: 'ServiceUnavailableException', message: 'Service unavailable' },
  notFound: {
    kind: 'error',
    status: 404,
    type: 'ResourceNotFoundException',
    message: 'Could not resolve the foundation model from the provided model identifier.',
  },
  modelTimeout: { kind: 'error', status: 408, type: 'ModelTimeoutException', message: 'Model has timed out in processing the request.' },
} as const satisfies Record<string, FakeBedrockBehaviour>;

/** A running fake Bedrock Runtime. */
export interface FakeBedrock {
  /** `http://127.0.0.1:<port>`: the client's `endpoint`. */
  readonly endpoint: string;
  readonly requests: FakeBedrockRequest[];
  readonly inFlight: number;
  readonly maxInFlight: number;
  enqueue(...behaviours: FakeBedrockBehaviour[]): void;
  setScript(script: ((req: FakeBedrockRequest, n: number) => FakeBedrockBehaviour | undefined) | undefined): void;
  reset(): void;
  close(): Promise<void>;
}

/** Start a fake Bedrock Runtime on a free local port. */
export async function startFakeBedrock(): Promise<FakeBedrock> {
  const requests: FakeBedrockRequest[] = [];
  const queue: FakeBedrockBehaviour[] = [];
  let script: ((req: FakeBedrockRequest, n: number) => FakeBedrockBehaviour | undefined) | undefined;
  let inFlight = 0;
  let maxInFlight = 0;
  const timers = new Set<NodeJS.Timeout>();
  const sessions = new Set<Http2Session>();

  const server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let done = false;
    res.on('close', () => {
      if (!done) {
        done = true;
        inFlight--;
      }
    });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      const match = /^\/model\/([^/]+)\/invoke$/.exec(path.split('?')[0]!);
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
      } catch {
        body = undefined;
      }
      const fake: FakeBedrockRequest = {
        modelId: match ? decodeURIComponent(match[1]!) : '',
        method: req.method ?? '',
        path,
        headers: req.headers,
        body,
      };
      requests.push(fake);
      const n = requests.length - 1;
      if (!match || req.method !== 'POST') return sendError(res, 404, 'UnknownOperationException', `no route for ${req.method} ${path}`);
      const b = queue.shift() ?? script?.(fake, n) ?? { kind: 'success' };
      if (b.kind === 'hang') return;
      if (b.kind === 'reset') return void req.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      const act = (): void => respond(res, fake, b);
      if (!b.latencyMs) return act();
      const timer = setTimeout(() => {
        timers.delete(timer);
        act();
      }, b.latencyMs);
      timers.add(timer);
    });
  });

  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  const endpoint = await listenLocal(server);

  return {
    endpoint,
    requests,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    enqueue: (...b) => void queue.push(...b),
    setScript: (s) => void (script = s),
    reset: () => {
      requests.length = 0;
      queue.length = 0;
      script = undefined;
      maxInFlight = inFlight;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        for (const session of sessions) session.destroy();
      }),
  };
}

function respond(
  res: Http2ServerResponse,
  req: FakeBedrockRequest,
  b: Exclude<FakeBedrockBehaviour, { kind: 'hang' } | { kind: 'reset' }>,
): void {
  if (res.stream.destroyed || res.stream.closed) return;
  if (b.kind === 'error') return sendError(res, b.status, b.type, b.message ?? b.type);
  if (b.kind === 'json') return send(res, b.status ?? 200, b.body, {});
  const body = (req.body ?? {}) as Record<string, unknown>;
  if (req.modelId.includes('titan-embed-text-v2')) {
    const text = body.inputText;
    if (typeof text !== 'string' || text === '')
      return sendError(res, 400, 'ValidationException', 'Malformed input request: inputText is required');
    const dims = typeof body.dimensions === 'number' ? body.dimensions : (b.dimensions ?? 1024);
    if (![256, 512, 1024].includes(dims))
      return sendError(res, 400, 'ValidationException', 'Malformed input request: dimensions must be 256, 512 or 1024');
    const tokens = fakeTokenCount(text);
    return send(
      res,
      200,
      { embedding: Array.from(fakeEmbedding(text, dims)), inputTextTokenCount: tokens },
      { 'x-amzn-bedrock-input-token-count': String(tokens) },
    );
  }
  if (req.modelId.includes('cohere.embed')) {
    const texts = body.texts;
    if (!Array.isArray(texts) || texts.length === 0 || !texts.every((t) => typeof t === 'string')) {
      return sendError(res, 400, 'ValidationException', 'Malformed input request: texts must be a non-empty array of strings');
    }
    if (texts.length > 96)
      return sendError(res, 400, 'ValidationException', `Malformed input request: #/texts: expected maxItems: 96, actual: ${texts.length}`);
    const dims = b.dimensions ?? 1024;
    const vectors = (texts as string[]).map((t) => Array.from(fakeEmbedding(t, dims)));
    const tokens = (texts as string[]).reduce((s, t) => s + fakeTokenCount(t), 0);
    const shape = b.cohereShape ?? 'by-type';
    const answer =
      shape === 'by-type'
        ? { id: `fake-${Math.random()}`, texts, embeddings: { float: vectors }, response_type: 'embeddings_by_type' }
        : { id: `fake-${Math.random()}`, texts, embeddings: vectors, response_type: 'embeddings_floats' };
    return send(res, 200, answer, { 'x-amzn-bedrock-input-token-count': String(tokens) });
  }
  return sendError(res, 400, 'ValidationException', `The provided model identifier is invalid: ${req.modelId}`);
}

function send(res: Http2ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': 'fake-request-id',
    ...headers,
  });
  res.end(text);
}

function sendError(res: Http2ServerResponse, status: number, type: string, message: string): void {
  send(res, status, { message }, { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/` });
}
