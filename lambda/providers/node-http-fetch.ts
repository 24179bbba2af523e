/**
 * The HTTP providers' transport: a `fetch`-shaped function on `node:http` / `node:https` with one
 * keep-alive `Agent` per protocol, implementing only what `attemptOnce` (retry.ts) uses. It costs
 * less per request than undici's `fetch` (no web streams, no per-request dispatcher machinery);
 * see BENCHMARKS.md, "Side by side".
 *
 * What it does, and where it differs from `fetch`:
 * - `method`, `headers` (a plain record or `Headers`), `body` (a string, sent with a
 *   `content-length`, headers and body in one write), `signal`.
 * - Redirects are never followed, whatever `redirect` says: a 3xx comes back as it is (the
 *   upstream key must not travel to another place).
 * - Resolves when the response headers arrive, with `status`, `headers` (a real `Headers`) and
 *   `text()`; the body is read from then on whether or not `text()` is called, so the socket goes
 *   back to the pool either way. `text()` decodes UTF-8 (dropping a BOM, as `fetch` does).
 * - Sends `accept-encoding: gzip, deflate, br` unless the caller set one, and decodes those
 *   (also a list of them) with `node:zlib`, in one piece once the body is complete (synchronously
 *   up to 64 KiB of compressed body, on the thread pool above); an unknown coding is passed
 *   through undecoded, as `fetch` does. No size bound, as with `fetch` (the callers set none).
 * - An abort of `signal` (before or during the response) rejects with a `DOMException` named
 *   `AbortError` whose `cause` is the signal's reason, and destroys the socket. A connection
 *   error, a reset mid-body or an undecodable body rejects with the underlying error (the
 *   caller maps it to a network error).
 * - HTTPS verifies certificates with Node's defaults (its CA store, `NODE_EXTRA_CA_CERTS`).
 * - Idle sockets are closed after {@link FREE_SOCKET_TIMEOUT_MS} (sooner when the server's
 *   `Keep-Alive: timeout=N` hint says so, by Node's agent), below the usual upstream idle timeouts
 *   (uvicorn and Node servers 5 s, nginx 75 s), like undici's 4 s default.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as zlib from 'node:zlib';

/** The request options the transport understands (a subset of `RequestInit`). */
export interface UpstreamFetchInit {
  /** @default 'GET' */
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>> | Headers;
  readonly body?: string;
  readonly signal?: AbortSignal;
  /** Only `manual` is supported: redirects are never followed. */
  readonly redirect?: 'manual';
}

/** What the transport answers (a subset of `Response`). */
export interface UpstreamFetchResponse {
  readonly status: number;
  readonly headers: Headers;
  text(): Promise<string>;
}

/** A `fetch`-shaped function; the global `fetch` is one, and so is {@link nodeHttpFetch}. */
export type UpstreamFetch = (url: string, init: UpstreamFetchInit) => Promise<UpstreamFetchResponse>;

/** Idle keep-alive sockets are closed after this long, ms. */
export const FREE_SOCKET_TIMEOUT_MS = 4000;

const AGENT_OPTIONS = {
  keepAlive: true,
  // Per host and port; further requests wait for a socket (inside the caller's attempt timeout).
  maxSockets: 256,
  maxFreeSockets: 64,
  // On a free socket: the idle timeout (Node's agent destroys it then). On a socket in use it
  // only emits 'timeout', which nothing here listens to: the caller's signal bounds the request.
  timeout: FREE_SOCKET_TIMEOUT_MS,
  scheduling: 'lifo' as const,
};

/** The agents behind {@link nodeHttpFetch} (exported for tests and for `destroy()` at shutdown). */
export const upstreamAgents = {
  http: new http.Agent(AGENT_OPTIONS),
  https: new https.Agent(AGENT_OPTIONS),
};

const ACCEPT_ENCODING = 'gzip, deflate, br';
/** Compressed bodies up to this size are decoded synchronously (cheaper than a thread-pool round trip). */
/**
 * Largest upstream response body accepted, raw and decoded: far above any embeddings answer (2048
 * items of 3072 float dimensions written as JSON text is about 80 MB), low enough that a
 * misbehaving upstream (or a compression bomb) cannot exhaust the function's memory.
 */
export const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;
const SYNC_DECODE_MAX = 64 * 1024;

/** POST (or any method) `url` over `node:http`/`node:https`; see the module doc. */
export function nodeHttpFetch(url: string, init: UpstreamFetchInit = {}): Promise<UpstreamFetchResponse> {
  return fetchWithLimit(url, init, MAX_RESPONSE_BYTES);
}

/** {@link nodeHttpFetch} with another response size bound (tests). */
export function nodeHttpFetchWithLimit(maxResponseBytes: number): UpstreamFetch {
  return (url, init) => fetchWithLimit(url, init, maxResponseBytes);
}

function fetchWithLimit(url: string, init: UpstreamFetchInit, maxBytes: number): Promise<UpstreamFetchResponse> {
  return new Promise<UpstreamFetchResponse>((resolve, reject) => {
    const signal = init.signal;
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    let req: http.ClientRequest;
    // Rejects the body once the response is out (set then); before, rejecting the promise is enough.
    let failBody: ((e: unknown) => void) | undefined;
    let settled = false;
    const onAbort = (): void => {
      const err = abortError(signal);
      req.destroy(err);
      finish(err);
    };
    const finish = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err === undefined) return;
      if (failBody) failBody(err);
      else reject(err);
    };
    try {
      const u = new URL(url);
      const secure = u.protocol === 'https:';
      if (!secure && u.protocol !== 'http:') throw new TypeError(`unsupported protocol ${u.protocol}`);
      req = (secure ? https : http).request(u, {
        method: init.method ?? 'GET',
        headers: requestHeaders(init.headers, init.body === undefined ? undefined : Buffer.byteLength(init.body)),
        agent: secure ? upstreamAgents.https : upstreamAgents.http,
      });
    } catch (e) {
      // A bad URL or an invalid header name or value (Node validates them here).
      reject(e);
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e) => finish(e));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const bodyDone = new Promise<Buffer>((resolveBody, rejectBody) => {
        failBody = (e) => {
          res.destroy();
          rejectBody(e);
        };
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          size += c.length;
          if (size > maxBytes) finish(new Error(`the upstream response body exceeds ${maxBytes} bytes`));
        });
        res.on('end', () => {
          const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
          decode(raw, res.headers['content-encoding'], maxBytes).then(
            (b) => {
              finish();
              resolveBody(b);
            },
            (e: unknown) => finish(e),
          );
        });
        res.on('error', (e) => finish(e));
        // 'close' without 'end': the connection went away mid-body (Node also emits 'error' then).
        res.on('close', () => {
          if (!res.complete) finish(new Error('the upstream connection closed before the response body was complete'));
        });
      });
      // The body may fail before (or without) anyone calling text(): not an unhandled rejection.
      bodyDone.catch(() => undefined);
      let used = false;
      resolve({
        status: res.statusCode ?? 0,
        headers: responseHeaders(res.rawHeaders),
        text: async () => {
          if (used) throw new TypeError('Body is unusable: Body has already been read');
          used = true;
          return utf8(await bodyDone);
        },
      });
    });
    // With the content-length known, Node writes the headers and a string body in one write.
    req.end(init.body);
  });
}

/** Lower-cased request headers plus `content-length` (for a body) and `accept-encoding` (unless set). */
function requestHeaders(init: UpstreamFetchInit['headers'], bodyLength: number | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (init instanceof Headers) init.forEach((v, k) => (out[k] = v));
  else if (init) for (const k of Object.keys(init)) out[k.toLowerCase()] = init[k]!;
  if (bodyLength !== undefined) out['content-length'] = String(bodyLength);
  out['accept-encoding'] ??= ACCEPT_ENCODING;
  return out;
}

function responseHeaders(raw: readonly string[]): Headers {
  const h = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      h.append(raw[i]!, raw[i + 1]!);
    } catch {
      // A header `Headers` refuses (Node's parser is more lenient); `fetch` would have failed.
    }
  }
  return h;
}

/** `body` decoded per `content-encoding` (codings applied in order, so undone in reverse). */
async function decode(body: Buffer, contentEncoding: string | undefined, maxBytes: number): Promise<Buffer> {
  if (!contentEncoding || body.length === 0) return body;
  const codings = contentEncoding
    .toLowerCase()
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c && c !== 'identity');
  let out = body;
  for (let i = codings.length - 1; i >= 0; i--) {
    const c = codings[i];
    const sync = out.length <= SYNC_DECODE_MAX;
    if (c === 'gzip' || c === 'x-gzip') {
      // Lenient about a truncated trailer, like undici's fetch (Z_SYNC_FLUSH).
      const opts = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: maxBytes };
      const input = out;
      out = sync ? zlib.gunzipSync(input, opts) : await onPool((cb) => zlib.gunzip(input, opts, cb));
    } else if (c === 'deflate') {
      // zlib-wrapped per the RFC; some servers send raw deflate: try that too.
      const opts = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: maxBytes };
      const input = out;
      const wrapped = (input[0]! & 0x0f) === 0x08;
      if (sync) out = wrapped ? zlib.inflateSync(input, opts) : zlib.inflateRawSync(input, opts);
      else out = await onPool((cb) => (wrapped ? zlib.inflate(input, opts, cb) : zlib.inflateRaw(input, opts, cb)));
    } else if (c === 'br') {
      const input = out;
      const opts = { maxOutputLength: maxBytes };
      out = sync ? zlib.brotliDecompressSync(input, opts) : await onPool((cb) => zlib.brotliDecompress(input, opts, cb));
    } else {
      // Unknown coding: left as it is (then it is not JSON, and the caller says so).
      return out;
    }
  }
  return out;
}

/** One zlib call on the thread pool, as a promise. */
function onPool(run: (cb: (err: Error | null, result: Buffer) => void) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => run((err, result) => (err ? reject(err) : resolve(result))));
}

/** UTF-8 text without a leading BOM (what `Response.text()` gives). */
function utf8(b: Buffer): string {
  const bom = b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf;
  return b.toString('utf8', bom ? 3 : 0);
}

function abortError(signal: AbortSignal | undefined): DOMException {
  return new DOMException('The upstream request was aborted', { name: 'AbortError', cause: signal?.reason });
}
