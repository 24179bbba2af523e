/**
 * Amazon Bedrock embedding models through `InvokeModel`, signed with the function's own role
 * (the client's default credential chain): no upstream key at all.
 *
 * - Titan Text Embeddings v2 (`amazon.titan-embed-text-v2:0`): one text per call, body
 *   `{ inputText, dimensions?, normalize: true }`, answer `{ embedding, inputTextTokenCount }`;
 *   the texts of a request are fanned out with at most `model.upstream.concurrency` calls at once.
 *   `dimensions` may be 256, 512 or 1024.
 * - Cohere Embed v3 on Bedrock (`cohere.embed-english-v3`, `cohere.embed-multilingual-v3`):
 *   batches of at most 96 texts (or `model.upstream.maxBatchSize` if smaller), body
 *   `{ texts, input_type: 'search_document', truncate: 'NONE', embedding_types: ['float'] }`,
 *   answer `{ embeddings: { float } }` or `{ embeddings }`; 1024 dimensions, not configurable.
 *
 * The model id is `model.upstreamModel` (else `model.name`): a base model id, an inference
 * profile id (`us.cohere.embed-…`) or an ARN ending in one. Token-id input is refused (400
 * `tokens_not_supported`). Batching, order, retries, timeouts and the mapping of failures to
 * client errors are those of the HTTP providers (`batching.ts`, `retry.ts`):
 * ThrottlingException / ModelNotReadyException / 429 are retried, then 429; InternalServer /
 * ServiceUnavailable / 5xx are retried, then 502; ModelTimeoutException / per-attempt timeouts are
 * retried, then 504; network errors are retried, then 502; AccessDeniedException and signature
 * errors are 502 `upstream_auth_failed`; ValidationException is 400 with Bedrock's message;
 * ResourceNotFoundException (a wrong or unavailable model id: a gateway configuration problem) is 502.
 *
 * The retry loop here is the only one: create the client with `maxAttempts: 1` so the SDK does
 * not retry underneath it (its attempts would be neither counted nor bounded by the call's signal).
 */
import type { ModelConfig } from '../../shared/config';
import { invalidRequest, UpstreamError } from '../core/errors';
import type { BedrockInvoke, EmbeddingCall, EmbeddingProvider, EmbeddingResult, UpstreamStats } from '../core/ports';
import { countBatches, runBatched } from './batching';
import type { IndexedResult } from './batching';
import { attemptDeadline, backoffDelay, defaultSleep, upstreamFailure, UpstreamMeter, upstreamMessage, withStats } from './retry';
import type { RetryPolicy, UpstreamFailureKind } from './retry';
import { InvalidUpstreamResponse } from './upstream-response';

/** What the Bedrock provider needs; everything but `invoke` has a real default. */
export interface BedrockProviderDeps {
  /** One InvokeModel exchange: the AWS SDK client in adapters/aws/bedrock-runtime.ts, created once per execution environment with `maxAttempts: 1` (see the module doc). */
  readonly invoke: BedrockInvoke;
  /** Wait `ms`, rejecting as soon as `signal` aborts. @default a `setTimeout` timer */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Uniform in [0, 1), for backoff jitter. @default Math.random */
  readonly random?: () => number;
  /** Milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
}

/** The Bedrock model families this provider speaks. */
export type BedrockFamily = 'titan-v2' | 'cohere-v3';

/** Most texts Cohere Embed accepts in one call. */
export const COHERE_MAX_TEXTS = 96;
/** Output sizes Titan Text Embeddings v2 accepts for `dimensions`. */
export const TITAN_V2_DIMENSIONS: readonly number[] = [256, 512, 1024];
/** The (only) output size of Cohere Embed v3. */
export const COHERE_V3_DIMENSIONS = 1024;

/**
 * The family of a Bedrock model id (base model, inference profile such as `us.cohere.…`, or an
 * ARN ending in either); undefined for models this provider does not speak.
 */
export function bedrockFamily(modelId: string): BedrockFamily | undefined {
  const id = modelId.slice(modelId.lastIndexOf('/') + 1);
  if (/^([a-z]+\.)?amazon\.titan-embed-text-v2(:|$)/.test(id)) return 'titan-v2';
  if (/^([a-z]+\.)?cohere\.embed-(english|multilingual)-v3(:|$)/.test(id)) return 'cohere-v3';
  return undefined;
}

/**
 * Create the provider for a model whose provider is `bedrock`; `model.upstreamModel` (else
 * `model.name`) is the Bedrock model id. Throws for a model id of an unsupported family.
 */
export function createBedrockProvider(model: ModelConfig, deps: BedrockProviderDeps): EmbeddingProvider {
  const modelId = model.upstreamModel ?? model.name;
  const detected = bedrockFamily(modelId);
  if (!detected) {
    throw new Error(
      `model ${model.name}: Bedrock model id ${JSON.stringify(modelId)} is not supported (use amazon.titan-embed-text-v2:0, cohere.embed-english-v3 or cohere.embed-multilingual-v3)`,
    );
  }
  const family: BedrockFamily = detected;
  const ctx: InvokeContext = {
    invoke: deps.invoke,
    modelId,
    sleep: deps.sleep ?? defaultSleep,
    random: deps.random ?? Math.random,
    now: deps.now ?? Date.now,
    policy: { maxRetries: model.upstream.maxRetries, timeoutMs: model.upstream.timeoutMs },
  };
  const maxBatchSize = family === 'titan-v2' ? 1 : Math.min(COHERE_MAX_TEXTS, model.upstream.maxBatchSize);
  const { concurrency } = model.upstream;

  async function embed(call: EmbeddingCall): Promise<EmbeddingResult> {
    const texts = textInput(call);
    checkDimensions(family, call.dimensions);
    const meter = new UpstreamMeter(ctx.now, countBatches(texts.length, maxBatchSize));
    let tokens = 0;
    try {
      const vectors = await runBatched(
        texts,
        { maxBatchSize, concurrency, signal: call.signal, deadline: call.deadline },
        async (batch, signal) => {
          const body = family === 'titan-v2' ? titanBody(batch.items[0]!, call.dimensions) : cohereBody(batch.items);
          const res = await invokeWithRetry(body, ctx, meter, signal);
          try {
            const parsed =
              family === 'titan-v2' ? parseTitan(res.body, call.dimensions) : parseCohere(res.body, batch.items.length, call.dimensions);
            tokens += parsed.tokens ?? res.inputTokens ?? 0;
            return parsed.items;
          } catch (e) {
            if (e instanceof InvalidUpstreamResponse) {
              throw upstreamFailure('invalid_response', { ...meter.snapshot(), status: res.status }, { detail: e.message });
            }
            throw e;
          }
        },
      );
      return { vectors, usage: { promptTokens: tokens, totalTokens: tokens }, upstream: meter.snapshot() };
    } catch (e) {
      if (e instanceof UpstreamError) throw withStats(e, meter.snapshot());
      if (call.signal?.aborted) throw upstreamFailure('aborted', meter.snapshot(), { cause: call.signal.reason });
      throw e;
    }
  }

  return { kind: 'bedrock', embed };
}

function textInput(call: EmbeddingCall): readonly string[] {
  if (call.input.some((item) => typeof item !== 'string')) {
    throw invalidRequest('This model accepts text input only, not token ids.', 'tokens_not_supported', 'input');
  }
  return call.input as readonly string[];
}

function checkDimensions(family: BedrockFamily, dimensions: number | undefined): void {
  if (dimensions === undefined) return;
  const allowed = family === 'titan-v2' ? TITAN_V2_DIMENSIONS : [COHERE_V3_DIMENSIONS];
  if (!allowed.includes(dimensions)) {
    throw invalidRequest(`This model supports dimensions ${allowed.join(', ')} only.`, 'unsupported_dimensions', 'dimensions');
  }
}

function titanBody(text: string, dimensions: number | undefined): string {
  return JSON.stringify({ inputText: text, ...(dimensions === undefined ? {} : { dimensions }), normalize: true });
}

function cohereBody(texts: readonly string[]): string {
  return JSON.stringify({ texts, input_type: 'search_document', truncate: 'NONE', embedding_types: ['float'] });
}

interface Parsed {
  readonly items: IndexedResult<Float32Array>[];
  /** Tokens reported in the body, if it reports them. */
  readonly tokens?: number;
}

function parseTitan(body: unknown, dimensions: number | undefined): Parsed {
  if (!isRecord(body)) throw new InvalidUpstreamResponse('the body is not a JSON object');
  const byType = isRecord(body.embeddingsByType) ? body.embeddingsByType.float : undefined;
  const vector = toVector(body.embedding ?? byType, 'embedding', dimensions);
  const count = body.inputTextTokenCount;
  return {
    items: [{ index: 0, value: vector }],
    tokens: typeof count === 'number' && Number.isFinite(count) && count >= 0 ? count : undefined,
  };
}

function parseCohere(body: unknown, expected: number, dimensions: number | undefined): Parsed {
  if (!isRecord(body)) throw new InvalidUpstreamResponse('the body is not a JSON object');
  const embeddings = isRecord(body.embeddings) ? body.embeddings.float : body.embeddings;
  if (!Array.isArray(embeddings)) throw new InvalidUpstreamResponse('"embeddings" is neither an array nor an object with a "float" array');
  if (embeddings.length !== expected) throw new InvalidUpstreamResponse(`expected ${expected} embeddings, got ${embeddings.length}`);
  let length = dimensions;
  const items = embeddings.map((e: unknown, i) => {
    const value = toVector(e, `embeddings[${i}]`, length);
    length ??= value.length;
    return { index: i, value };
  });
  return { items };
}

function toVector(v: unknown, where: string, length: number | undefined): Float32Array {
  if (!Array.isArray(v) || v.length === 0) throw new InvalidUpstreamResponse(`${where} is not a non-empty array of numbers`);
  if (length !== undefined && v.length !== length)
    throw new InvalidUpstreamResponse(`${where} has ${v.length} dimensions, expected ${length}`);
  const out = new Float32Array(v.length);
  for (let k = 0; k < v.length; k++) {
    const x: unknown = v[k];
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new InvalidUpstreamResponse(`${where}[${k}] is not a finite number`);
    out[k] = x;
    if (!Number.isFinite(out[k])) throw new InvalidUpstreamResponse(`${where}[${k}] is out of float32 range`);
  }
  return out;
}

interface InvokeContext {
  readonly invoke: BedrockInvoke;
  readonly modelId: string;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly random: () => number;
  readonly now: () => number;
  readonly policy: RetryPolicy;
}

interface Invoked {
  readonly status: number;
  readonly body: unknown;
  /** `x-amzn-bedrock-input-token-count`, when Bedrock sent it. */
  readonly inputTokens?: number;
}

type Outcome =
  | { readonly kind: 'ok'; readonly invoked: Invoked }
  | { readonly kind: 'failed'; readonly error: unknown; readonly status?: number }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'aborted' };

/** One InvokeModel exchange with the retry rules of the module doc; throws `UpstreamError`. */
async function invokeWithRetry(body: string, ctx: InvokeContext, meter: UpstreamMeter, signal: AbortSignal): Promise<Invoked> {
  let lastStatus: number | undefined;
  const stats = (): UpstreamStats => ({ ...meter.snapshot(), status: lastStatus });
  for (let attempt = 0; ; attempt++) {
    if (signal.aborted) throw upstreamFailure('aborted', stats(), { cause: signal.reason });
    const outcome = await invokeOnce(body, ctx, meter, signal);
    if (outcome.kind === 'ok') return outcome.invoked;
    if (outcome.kind === 'aborted') throw upstreamFailure('aborted', stats(), { cause: signal.reason });
    let failure: Classified;
    if (outcome.kind === 'timeout') {
      failure = { kind: 'timeout', retry: true };
    } else {
      lastStatus = outcome.status;
      failure = classify(outcome.error, outcome.status);
    }
    const cause = outcome.kind === 'failed' ? outcome.error : undefined;
    if (!failure.retry || attempt >= ctx.policy.maxRetries) throw upstreamFailure(failure.kind, stats(), { detail: failure.detail, cause });
    try {
      await ctx.sleep(backoffDelay(attempt, ctx.random, ctx.policy.baseDelayMs, ctx.policy.maxDelayMs), signal);
    } catch (e) {
      if (!signal.aborted) throw e;
    }
    if (signal.aborted) throw upstreamFailure('aborted', stats(), { cause: signal.reason });
  }
}

/** Marks a 2xx answer whose body is not JSON. */
class NotJson extends Error {}

async function invokeOnce(body: string, ctx: InvokeContext, meter: UpstreamMeter, signal: AbortSignal): Promise<Outcome> {
  const deadline = attemptDeadline(signal, ctx.policy.timeoutMs);
  let status: number | undefined;
  meter.attemptStarted();
  try {
    const out = await ctx.invoke(
      { modelId: ctx.modelId, body: new TextEncoder().encode(body) },
      {
        signal: deadline.signal,
        onResponse: (s) => {
          status = s;
          meter.responded(s);
        },
      },
    );
    status = out.status;
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(out.body));
    } catch {
      return { kind: 'failed', error: new NotJson('the body is not JSON'), status };
    }
    return { kind: 'ok', invoked: { status, body: parsed, ...(out.inputTokens !== undefined ? { inputTokens: out.inputTokens } : {}) } };
  } catch (error) {
    if (signal.aborted) return { kind: 'aborted' };
    if (deadline.timedOut()) return { kind: 'timeout' };
    return { kind: 'failed', error, status: status ?? httpStatusOf(error) };
  } finally {
    meter.attemptEnded();
    deadline.dispose();
  }
}

interface Classified {
  readonly kind: UpstreamFailureKind;
  readonly retry: boolean;
  readonly detail?: string;
}

const BY_ERROR_NAME: Readonly<Record<string, Omit<Classified, 'detail'>>> = {
  ThrottlingException: { kind: 'rate_limited', retry: true },
  ModelNotReadyException: { kind: 'rate_limited', retry: true },
  ServiceQuotaExceededException: { kind: 'rate_limited', retry: false },
  InternalServerException: { kind: 'server_error', retry: true },
  ServiceUnavailableException: { kind: 'server_error', retry: true },
  ModelErrorException: { kind: 'server_error', retry: false },
  ModelTimeoutException: { kind: 'timeout', retry: true },
  AccessDeniedException: { kind: 'auth', retry: false },
  UnrecognizedClientException: { kind: 'auth', retry: false },
  InvalidSignatureException: { kind: 'auth', retry: false },
  IncompleteSignatureException: { kind: 'auth', retry: false },
  ExpiredTokenException: { kind: 'auth', retry: false },
  MissingAuthenticationTokenException: { kind: 'auth', retry: false },
  ValidationException: { kind: 'rejected', retry: false },
  ResourceNotFoundException: { kind: 'unexpected_status', retry: false },
};

/** How a failed InvokeModel maps to a failure kind (see the module doc). */
function classify(error: unknown, status: number | undefined): Classified {
  if (error instanceof NotJson) return { kind: 'invalid_response', retry: false, detail: error.message };
  const name = error instanceof Error ? error.name : '';
  const byName = BY_ERROR_NAME[name];
  const detail = (kind: UpstreamFailureKind): string | undefined =>
    kind === 'rejected' && error instanceof Error ? upstreamMessage(error.message, (t) => t) : undefined;
  if (byName) return { ...byName, detail: detail(byName.kind) };
  if (status === undefined) return { kind: 'network', retry: true };
  if (status === 429) return { kind: 'rate_limited', retry: true };
  if (status === 408) return { kind: 'timeout', retry: true };
  if (status === 401 || status === 403) return { kind: 'auth', retry: false };
  if (status >= 400 && status < 500) return { kind: 'rejected', retry: false, detail: detail('rejected') };
  if (status === 500 || status === 502 || status === 503 || status === 504) return { kind: 'server_error', retry: true };
  if (status >= 500) return { kind: 'server_error', retry: false };
  return { kind: 'unexpected_status', retry: false };
}

function httpStatusOf(error: unknown): number | undefined {
  const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
