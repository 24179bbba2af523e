/**
 * A local stand-in for an OpenAI-compatible embeddings upstream, on `node:http`.
 *
 * Answers `POST <any path ending in /embeddings>` (so both `{url}/embeddings` and the Azure
 * `/openai/deployments/{d}/embeddings?api-version=...` shape work). Each request takes the next
 * behaviour from the queue (`enqueue`), else what `script` returns for it, else the default
 * (`setBehaviour`, initially success). Behaviours: success with deterministic vectors (base64 or
 * float per `encoding_format`, with usage), a status code (optionally with `Retry-After`), an
 * arbitrary JSON answer, a hang (for timeouts), a connection reset, invalid JSON and a wrong item
 * count; every one may be delayed with `latencyMs`.
 *
 * Used by provider unit tests, end-to-end tests and benchmarks.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request as the fake received it. */
export interface FakeRequest {
  readonly method: string;
  /** Path and query, e.g. `/v1/embeddings`. */
  readonly url: string;
  /** Node's lower-cased request headers. */
  readonly headers: IncomingHttpHeaders;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  readonly body: unknown;
  readonly rawBody: string;
}

interface Delayed {
  /** Wait this long before answering, ms. */
  readonly latencyMs?: number;
}

/** What the fake does with one request. */
export type FakeBehaviour =
  | (Delayed & {
      readonly kind: 'success';
      /** `request` (default) follows the request's `encoding_format`; `float` ignores it like some servers do. */
      readonly encoding?: 'request' | 'float' | 'base64';
      /** Order of `data` items; their `index` is always correct. @default 'asc' */
      readonly order?: 'asc' | 'reverse' | 'shuffle';
      /** Vector length when the request names none. Overrides the server's default. */
      readonly dimensions?: number;
      /** Omit the `usage` object. */
      readonly omitUsage?: boolean;
    })
  | (Delayed & { readonly kind: 'status'; readonly status: number; readonly retryAfter?: string; readonly body?: unknown })
  | (Delayed & {
      readonly kind: 'json';
      readonly status?: number;
      readonly body: unknown;
      readonly headers?: Readonly<Record<string, string>>;
    })
  | { readonly kind: 'hang' }
  | (Delayed & { readonly kind: 'reset' })
  | (Delayed & { readonly kind: 'invalid-json' })
  | (Delayed & { readonly kind: 'wrong-count'; readonly delta?: number });

/** Options of {@link startFakeUpstream}. */
export interface FakeUpstreamOptions {
  /** Latency of the default success behaviour, ms. @default 0 */
  readonly latencyMs?: number;
  /** Vector length when neither the request nor the behaviour names one. @default 8 */
  readonly dimensions?: number;
  /** Picks a behaviour per request (after the queue); `undefined` falls through to the default. */
  readonly script?: (req: FakeRequest, n: number) => FakeBehaviour | undefined;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
}

/** A running fake upstream. */
export interface FakeUpstream {
  /** Base URL for OpenAI-style clients: `http://host:port/v1`. */
  readonly url: string;
  /** `http://host:port` (Azure-style base URL). */
  readonly origin: string;
  /** Every request received, in arrival order. */
  readonly requests: FakeRequest[];
  /** Requests being answered right now. */
  readonly inFlight: number;
  /** Most requests ever answered at once (since start or `reset`). */
  readonly maxInFlight: number;
  /** Queue behaviours for the next requests, one each. */
  enqueue(...behaviours: FakeBehaviour[]): void;
  /** Set the behaviour used when the queue is empty and the script (if any) gives none. */
  setBehaviour(behaviour: FakeBehaviour): void;
  /** Replace (or remove) the script. */
  setScript(script: FakeUpstreamOptions['script'] | undefined): void;
  /** Forget requests and queued behaviours, reset counters, restore the default success behaviour. */
  reset(): void;
  /** Stop: drop open connections, cancel pending answers. */
  close(): Promise<void>;
}

/** Start a fake upstream on a free local port. */
export async function startFakeUpstream(opts: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const defaultDimensions = opts.dimensions ?? 8;
  const initial: FakeBehaviour = { kind: 'success', latencyMs: opts.latencyMs ?? 0 };
  let fallback: FakeBehaviour = initial;
  let script = opts.script;
  const queue: FakeBehaviour[] = [];
  const requests: FakeRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let inFlight = 0;
  let maxInFlight = 0;

  const server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let done = false;
    const finish = (): void => {
      if (!done) {
        done = true;
        inFlight--;
      }
    };
    res.on('close', finish);
    readBody(req)
      .then((rawBody) => {
        const fake: FakeRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: parseJson(rawBody), rawBody };
        requests.push(fake);
        const n = requests.length - 1;
        const behaviour = queue.shift() ?? script?.(fake, n) ?? fallback;
        if (behaviour.kind === 'hang') return;
        const act = (): void => respond(fake, behaviour, req, res, n);
        const latency = behaviour.latencyMs ?? 0;
        if (latency <= 0) return act();
        const timer = setTimeout(() => {
          timers.delete(timer);
          act();
        }, latency);
        timers.add(timer);
        res.on('close', () => {
          clearTimeout(timer);
          timers.delete(timer);
        });
      })
      .catch(() => req.socket.destroy());
  });

  function respond(
    fake: FakeRequest,
    b: Exclude<FakeBehaviour, { kind: 'hang' }>,
    req: IncomingMessage,
    res: ServerResponse,
    n: number,
  ): void {
    if (res.destroyed) return;
    switch (b.kind) {
      case 'reset':
        req.socket.destroy();
        return;
      case 'invalid-json':
        send(res, 200, '{"object":"list","data":[{"index":0,', {});
        return;
      case 'status':
        send(
          res,
          b.status,
          JSON.stringify(b.body ?? errorBody(b.status)),
          b.retryAfter === undefined ? {} : { 'retry-after': b.retryAfter },
        );
        return;
      case 'json':
        send(res, b.status ?? 200, JSON.stringify(b.body), b.headers ?? {});
        return;
      case 'success':
      case 'wrong-count': {
        if (!/\/embeddings$/.test(new URL(fake.url, 'http://x').pathname) || fake.method !== 'POST') {
          send(
            res,
            404,
            JSON.stringify({ error: { message: `no route for ${fake.method} ${fake.url}`, type: 'invalid_request_error' } }),
            {},
          );
          return;
        }
        const answer = embeddingsAnswer(fake.body, b, defaultDimensions, n);
        if (typeof answer === 'string') {
          send(res, 400, JSON.stringify({ error: { message: answer, type: 'invalid_request_error', code: null, param: 'input' } }), {});
          return;
        }
        send(res, 200, JSON.stringify(answer), {});
        return;
      }
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  const origin = `http://${host}:${port}`;

  return {
    url: `${origin}/v1`,
    origin,
    requests,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    enqueue: (...behaviours) => void queue.push(...behaviours),
    setBehaviour: (behaviour) => void (fallback = behaviour),
    setScript: (s) => void (script = s),
    reset: () => {
      requests.length = 0;
      queue.length = 0;
      maxInFlight = inFlight;
      fallback = initial;
      script = opts.script;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * The vector the fake returns for one input item: deterministic (seeded by the item), values in
 * [-1, 1], exactly representable as float32 so float and base64 answers carry the same values.
 */
export function fakeEmbedding(item: string | readonly number[], dimensions: number): Float32Array {
  let seed = 0x811c9dc5;
  const key = typeof item === 'string' ? `s:${item}` : `t:${item.join(',')}`;
  for (let i = 0; i < key.length; i++) seed = Math.imul(seed ^ key.charCodeAt(i), 0x01000193) >>> 0;
  const out = new Float32Array(dimensions);
  let x = seed || 1;
  for (let i = 0; i < dimensions; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = (x / 0xffffffff) * 2 - 1;
  }
  return out;
}

/** Tokens the fake reports for one item: whitespace-separated words, or the number of ids. */
export function fakeTokenCount(item: string | readonly number[]): number {
  return typeof item === 'string' ? item.split(/\s+/).filter(Boolean).length : item.length;
}

function embeddingsAnswer(
  body: unknown,
  b: Extract<FakeBehaviour, { kind: 'success' | 'wrong-count' }>,
  defaultDimensions: number,
  n: number,
): Record<string, unknown> | string {
  if (typeof body !== 'object' || body === null) return 'the body must be a JSON object';
  const { input, dimensions, encoding_format: encodingFormat, model } = body as Record<string, unknown>;
  const items = normaliseInput(input);
  if (!items) return '"input" must be a string, an array of strings, token ids or arrays of token ids';
  const dims = typeof dimensions === 'number' ? dimensions : ((b.kind === 'success' ? b.dimensions : undefined) ?? defaultDimensions);
  const encoding =
    b.kind === 'success' && b.encoding && b.encoding !== 'request' ? b.encoding : encodingFormat === 'base64' ? 'base64' : 'float';
  let data = items.map((item, index) => {
    const v = fakeEmbedding(item, dims);
    return { object: 'embedding', index, embedding: encoding === 'base64' ? toBase64(v) : Array.from(v) };
  });
  if (b.kind === 'wrong-count') {
    const delta = b.delta ?? -1;
    data = delta < 0 ? data.slice(0, Math.max(0, data.length + delta)) : [...data, ...data.slice(0, delta)];
  } else if (b.order === 'reverse') {
    data.reverse();
  } else if (b.order === 'shuffle') {
    shuffle(data, n + 1);
  }
  const tokens = items.reduce((sum, item) => sum + fakeTokenCount(item), 0);
  return {
    object: 'list',
    data,
    model: typeof model === 'string' ? model : 'fake',
    ...(b.kind === 'success' && b.omitUsage ? {} : { usage: { prompt_tokens: tokens, total_tokens: tokens } }),
  };
}

function normaliseInput(input: unknown): (string | number[])[] | undefined {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input) || input.length === 0) return undefined;
  if (input.every((i) => typeof i === 'string')) return input as string[];
  if (input.every((i) => typeof i === 'number')) return [input as number[]];
  if (input.every((i) => Array.isArray(i) && i.every((t) => typeof t === 'number'))) return input as number[][];
  return undefined;
}

function toBase64(v: Float32Array): string {
  const bytes = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) bytes.writeFloatLE(v[i]!, i * 4);
  return bytes.toString('base64');
}

/** Seeded Fisher-Yates (xorshift32), so a "shuffled" answer is reproducible. */
function shuffle<T>(a: T[], seed: number): void {
  let x = (seed * 0x9e3779b9) >>> 0 || 1;
  for (let i = a.length - 1; i > 0; i--) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const j = x % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}

function errorBody(status: number): unknown {
  const type =
    status === 429
      ? 'rate_limit_error'
      : status === 401 || status === 403
        ? 'authentication_error'
        : status >= 500
          ? 'server_error'
          : 'invalid_request_error';
  return { error: { message: `fake upstream answered ${status}`, type, code: null, param: null } };
}

function send(res: ServerResponse, status: number, body: string, headers: Readonly<Record<string, string>>): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
