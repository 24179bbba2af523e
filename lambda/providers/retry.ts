/**
 * One upstream HTTP exchange with bounded retries, per-attempt timeouts and the final mapping of
 * upstream failures to `UpstreamError`s.
 *
 * Embedding requests are idempotent, so retrying them is safe. Retried: 408, 429, 500, 502, 503,
 * 504, network errors (including a connection reset while reading the body) and per-attempt
 * timeouts. Backoff is full-jitter exponential unless the upstream sends `Retry-After`, which is
 * honoured up to a cap; a longer wait is not taken: the call fails at once and, for 429, passes
 * `Retry-After` on to the client.
 */
import { UpstreamError } from '../core/errors';
import { DeadlineExceeded } from './batching';
import type { GatewayErrorOptions } from '../core/errors';
import type { UpstreamStats } from '../core/ports';
import type { UpstreamFetch } from './node-http-fetch';

/** Retry and timeout settings for one upstream request. */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly maxRetries: number;
  /** Per-attempt timeout, ms (covers the response body too). */
  readonly timeoutMs: number;
  /** Backoff base, ms. @default 100 */
  readonly baseDelayMs?: number;
  /** Backoff cap, ms. @default 2000 */
  readonly maxDelayMs?: number;
  /** Longest `Retry-After` the gateway waits for, ms; above it the call fails at once. @default 5000 */
  readonly maxRetryAfterMs?: number;
}

/** Effects the retry loop needs, injectable so tests control time and chance. */
export interface RetryDeps {
  /** The transport (`nodeHttpFetch` by default; the global `fetch` fits too). */
  readonly fetch: UpstreamFetch;
  /** Wait `ms`; reject (with the signal's reason) as soon as `signal` aborts. */
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Uniform in [0, 1). */
  readonly random: () => number;
  /** Milliseconds since the epoch (used for latency and for HTTP-date `Retry-After`). */
  readonly now: () => number;
}

/** A JSON POST to the upstream. */
export interface UpstreamRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Everything {@link postJsonWithRetry} needs besides the request. */
export interface RetryContext {
  readonly policy: RetryPolicy;
  readonly deps: RetryDeps;
  readonly meter: UpstreamMeter;
  /** Aborting it stops the exchange at once (no further attempt, no further wait). */
  readonly signal?: AbortSignal;
  /**
   * The request's deadline, epoch ms (the signal is aborted then, see `runBatched`): a
   * `Retry-After` reaching past it is not waited for (the call fails at once, as for one over the cap).
   */
  readonly deadline?: number;
  /** Applied to any upstream text that may reach an error message (removes the upstream key). */
  readonly redact: (text: string) => string;
}

/** Counts requests and times them across all batches of one call, for `UpstreamStats`. */
export class UpstreamMeter {
  private attempts = 0;
  private lastStatus: number | undefined;
  private firstStart: number | undefined;
  private lastEnd: number | undefined;

  constructor(
    private readonly now: () => number,
    private readonly batches: number,
  ) {}

  /** An HTTP request is about to be sent. */
  attemptStarted(): void {
    this.attempts++;
    this.firstStart ??= this.now();
  }

  /** Response headers arrived with this status. */
  responded(status: number): void {
    this.lastStatus = status;
  }

  /** The attempt is over (body read, or failed). */
  attemptEnded(): void {
    this.lastEnd = this.now();
  }

  /** The stats as of now. */
  snapshot(): UpstreamStats {
    const latencyMs = this.firstStart === undefined ? 0 : Math.max(0, (this.lastEnd ?? this.now()) - this.firstStart);
    return { status: this.lastStatus, latencyMs, attempts: this.attempts, batches: this.batches };
  }
}

/** The ways an upstream call can fail, each with one fixed client-facing mapping. */
export type UpstreamFailureKind =
  | 'rate_limited'
  | 'server_error'
  | 'network'
  | 'timeout'
  | 'auth'
  | 'rejected'
  | 'invalid_response'
  | 'unexpected_status'
  | 'credentials'
  | 'aborted'
  | 'deadline';

type Mapping = Pick<GatewayErrorOptions, 'status' | 'type' | 'code' | 'reason'> & { readonly message: string };

const MAPPINGS: Readonly<Record<UpstreamFailureKind, Mapping>> = {
  rate_limited: {
    status: 429,
    type: 'rate_limit_error',
    code: 'upstream_rate_limited',
    reason: 'upstream_rate_limited',
    message: 'The upstream provider is rate limiting requests; retry later.',
  },
  server_error: {
    status: 502,
    type: 'upstream_error',
    code: 'upstream_unavailable',
    reason: 'upstream_5xx',
    message: 'The upstream provider is unavailable.',
  },
  network: {
    status: 502,
    type: 'upstream_error',
    code: 'upstream_unavailable',
    reason: 'upstream_network_error',
    message: 'The upstream provider could not be reached.',
  },
  invalid_response: {
    status: 502,
    type: 'upstream_error',
    code: 'upstream_unavailable',
    reason: 'upstream_invalid_response',
    message: 'The upstream provider returned an invalid response',
  },
  unexpected_status: {
    status: 502,
    type: 'upstream_error',
    code: 'upstream_unavailable',
    reason: 'upstream_unexpected_status',
    message: 'The upstream provider answered with an unexpected status.',
  },
  timeout: {
    status: 504,
    type: 'upstream_error',
    code: 'upstream_timeout',
    reason: 'upstream_timeout',
    message: 'The upstream provider did not answer in time.',
  },
  aborted: {
    status: 504,
    type: 'upstream_error',
    code: 'upstream_timeout',
    reason: 'upstream_aborted',
    message: 'The request was cancelled before the upstream provider answered.',
  },
  deadline: {
    status: 504,
    type: 'upstream_error',
    code: 'upstream_timeout',
    reason: 'deadline_exceeded',
    message:
      'The gateway ran out of time for this request before the upstream provider answered (the upstream call was cancelled); retry later, or send fewer items per request.',
  },
  auth: {
    status: 502,
    type: 'upstream_error',
    code: 'upstream_auth_failed',
    reason: 'upstream_auth_failed',
    message: 'The gateway could not authenticate to the upstream provider.',
  },
  credentials: {
    status: 502,
    type: 'upstream_error',
    code: 'upstream_credentials_unavailable',
    reason: 'upstream_credentials_unavailable',
    message: 'The gateway could not load its upstream credentials.',
  },
  rejected: {
    status: 400,
    type: 'invalid_request_error',
    code: 'upstream_rejected_request',
    reason: 'upstream_rejected_request',
    message: 'The upstream provider rejected the request',
  },
};

/** Details some failure kinds carry. */
export interface FailureDetail {
  /** Appended to the message as `: <detail>` (already redacted and bounded by the caller). */
  readonly detail?: string;
  /** Sent to the client as `Retry-After` (429 only). */
  readonly retryAfterSeconds?: number;
  readonly cause?: unknown;
}

/** Build the `UpstreamError` for a failure kind. Messages never contain upstream credentials. */
export function upstreamFailure(kind: UpstreamFailureKind, upstream: UpstreamStats, d: FailureDetail = {}): UpstreamError {
  // An abort at the request's deadline is a deadline failure, whoever noticed the abort.
  if (kind === 'aborted' && d.cause instanceof DeadlineExceeded) kind = 'deadline';
  const { message, ...m } = MAPPINGS[kind];
  const headers = kind === 'rate_limited' && d.retryAfterSeconds !== undefined ? { 'retry-after': String(d.retryAfterSeconds) } : undefined;
  const text = d.detail ? `${message.replace(/\.$/, '')}: ${d.detail}` : message.endsWith('.') ? message : `${message}.`;
  return new UpstreamError(text, { ...m, headers, cause: d.cause, upstream });
}

/**
 * The same error with its `upstream` stats replaced by the call's final ones (final only once
 * every batch settled), keeping the error's own `status` (the response that caused it).
 */
export function withStats(err: UpstreamError, final: UpstreamStats): UpstreamError {
  const upstream: UpstreamStats = { ...final, status: err.upstream.status };
  return new UpstreamError(err.message, {
    status: err.status,
    type: err.type,
    code: err.code,
    param: err.param,
    reason: err.reason,
    headers: err.headers,
    cause: err.cause,
    upstream,
  });
}

/** The default `sleep`: a timer that rejects with the signal's reason when the signal aborts. */
export function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Parse a `Retry-After` value (delay-seconds or HTTP-date) into a delay in ms from `nowMs`;
 * undefined when absent or unparseable.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value == null) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  if (!/[a-z]/i.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** Full-jitter exponential backoff: uniform in [0, min(cap, base * 2^retry)). */
export function backoffDelay(retry: number, random: () => number, baseMs = 100, capMs = 2000): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** retry));
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

function classifyStatus(status: number): UpstreamFailureKind {
  if (status === 429) return 'rate_limited';
  if (status === 408) return 'timeout';
  if (status === 401 || status === 403) return 'auth';
  if (status >= 400 && status < 500) return 'rejected';
  if (status >= 500 && status < 600) return 'server_error';
  return 'unexpected_status';
}

type Outcome =
  | { readonly kind: 'response'; readonly status: number; readonly headers: Headers; readonly text: string }
  | { readonly kind: 'network'; readonly error: unknown }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'aborted' };

/**
 * POST `req` and return the parsed JSON body of a 2xx answer (and its text), retrying as the
 * module doc says. Throws `UpstreamError` whose stats carry this exchange's last status and the
 * meter's counts at the time (callers replace the counts with the final ones via {@link withStats}).
 */
export async function postJsonWithRetry(req: UpstreamRequest, ctx: RetryContext): Promise<{ status: number; body: unknown; text: string }> {
  const { policy, deps, meter, signal } = ctx;
  const maxRetryAfterMs = policy.maxRetryAfterMs ?? 5000;
  // The status that explains a failure is this exchange's own, not a sibling batch's.
  let lastStatus: number | undefined;
  const stats = (): UpstreamStats => ({ ...meter.snapshot(), status: lastStatus });
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw upstreamFailure('aborted', stats(), { cause: signal.reason });
    const outcome = await attemptOnce(req, ctx);
    let kind: UpstreamFailureKind;
    let retryAfterMs: number | undefined;
    if (outcome.kind === 'aborted') {
      throw upstreamFailure('aborted', stats(), { cause: signal?.reason });
    } else if (outcome.kind === 'response') {
      const { status, text } = outcome;
      lastStatus = status;
      if (status >= 200 && status < 300) {
        try {
          return { status, body: JSON.parse(text) as unknown, text };
        } catch {
          throw upstreamFailure('invalid_response', stats(), { detail: 'the body is not JSON' });
        }
      }
      kind = classifyStatus(status);
      retryAfterMs = parseRetryAfter(outcome.headers.get('retry-after'), deps.now());
      const retryAfterSeconds = retryAfterMs === undefined ? undefined : Math.ceil(retryAfterMs / 1000);
      if (!RETRYABLE_STATUS.has(status)) {
        const detail = kind === 'rejected' ? upstreamMessage(text, ctx.redact) : undefined;
        throw upstreamFailure(kind, stats(), { detail });
      }
      if (
        retryAfterMs !== undefined &&
        (retryAfterMs > maxRetryAfterMs || (ctx.deadline !== undefined && deps.now() + retryAfterMs >= ctx.deadline))
      ) {
        throw upstreamFailure(kind, stats(), { retryAfterSeconds });
      }
      if (attempt >= policy.maxRetries) throw upstreamFailure(kind, stats(), { retryAfterSeconds });
    } else {
      kind = outcome.kind;
      if (attempt >= policy.maxRetries) {
        throw upstreamFailure(kind, stats(), { cause: outcome.kind === 'network' ? outcome.error : undefined });
      }
    }
    const delay = retryAfterMs ?? backoffDelay(attempt, deps.random, policy.baseDelayMs, policy.maxDelayMs);
    try {
      await deps.sleep(delay, signal);
    } catch (e) {
      if (!signal?.aborted) throw e;
    }
    // Also covers an injected sleep that ignores the signal.
    if (signal?.aborted) throw upstreamFailure('aborted', stats(), { cause: signal.reason });
  }
}

/**
 * The signal of one upstream attempt: aborted when the call's own `parent` signal aborts or when
 * `timeoutMs` passes (then `timedOut()` is true). Call `dispose()` when the attempt ends.
 */
export function attemptDeadline(
  parent: AbortSignal | undefined,
  timeoutMs: number,
): { signal: AbortSignal; timedOut(): boolean; dispose(): void } {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException('upstream attempt timed out', 'TimeoutError'));
  }, timeoutMs);
  const onAbort = (): void => controller.abort(parent?.reason);
  parent?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    dispose: () => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onAbort);
    },
  };
}

async function attemptOnce(req: UpstreamRequest, ctx: RetryContext): Promise<Outcome> {
  const { signal, meter } = ctx;
  const deadline = attemptDeadline(signal, ctx.policy.timeoutMs);
  meter.attemptStarted();
  try {
    const res = await ctx.deps.fetch(req.url, {
      method: 'POST',
      headers: req.headers,
      body: req.body,
      signal: deadline.signal,
      // Never follow a redirect: it would carry the upstream key to another place.
      redirect: 'manual',
    });
    meter.responded(res.status);
    const text = await res.text();
    return { kind: 'response', status: res.status, headers: res.headers, text };
  } catch (error) {
    if (signal?.aborted) return { kind: 'aborted' };
    if (deadline.timedOut()) return { kind: 'timeout' };
    return { kind: 'network', error };
  } finally {
    meter.attemptEnded();
    deadline.dispose();
  }
}

/** The upstream's own error message (OpenAI, Azure, TEI, vLLM, Ollama shapes), redacted, one line, at most 200 chars. */
export function upstreamMessage(text: string, redact: (text: string) => string): string {
  let message: unknown;
  try {
    const body = JSON.parse(text) as Record<string, unknown> | null;
    const err = body?.error as Record<string, unknown> | string | undefined;
    message = typeof err === 'string' ? err : (err?.message ?? body?.message ?? body?.detail);
  } catch {
    message = text;
  }
  const clean = typeof message === 'string' ? redact(message).replace(/\s+/g, ' ').trim() : '';
  if (!clean) return 'no message';
  return clean.length > 200 ? `${clean.slice(0, 199)}…` : clean;
}
