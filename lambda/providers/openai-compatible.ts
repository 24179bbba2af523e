/**
 * The HTTP provider for OpenAI, Azure OpenAI and any OpenAI-compatible server (TEI, vLLM, Ollama).
 *
 * - OpenAI / compatible: `POST {baseUrl}/embeddings`, `Authorization: Bearer <key>` (no header
 *   when the model has no `apiKey`, for keyless local servers).
 * - Azure OpenAI: `POST {baseUrl}/openai/deployments/{upstreamModel}/embeddings?api-version=...`
 *   with an `api-key: <key>` header.
 *
 * Vectors are requested as base64 (whatever the client asked: a quarter of the size of float text,
 * and the cheapest to decompress, parse and check) and decoded to `Float32Array`; number arrays
 * are accepted too. When the upstream's encoding of a vector is the one the client asked for
 * (`EmbeddingCall.encodingFormat`), it is kept as is (`EmbeddingResult.encoded`) for the response.
 * The key is read from the `SecretStore` once per call (the store caches) and never appears in
 * an error message. When the upstream answers 401/403, the key may have been rotated: the store's
 * cached value is invalidated (`SecretStore.invalidate`), the key is read again and, if it
 * changed, the batch is sent once more with it (one refresh per call, shared by its batches);
 * an unchanged key, a failed re-read or a second 401/403 ends in `upstream_auth_failed`.
 */
import type { ModelConfig } from '../../shared/config';
import type { EmbeddingCall, EmbeddingProvider, EmbeddingResult, EncodedVector } from '../core/ports';
import { UpstreamError } from '../core/errors';
import { countBatches, runBatched } from './batching';
import type { ProviderDeps } from './deps';
import { nodeHttpFetch } from './node-http-fetch';
import { defaultSleep, postJsonWithRetry, UpstreamMeter, upstreamFailure, withStats } from './retry';
import type { RetryDeps } from './retry';
import { InvalidUpstreamResponse, parseEmbeddingsResponse, type KeepEncoding, type ParsedEmbeddings } from './upstream-response';

/** How one HTTP embeddings API is spoken: where to send a batch, how, and how to read the answer. */
export interface WireProtocol {
  readonly url: string;
  headers(key: string | undefined): Record<string, string>;
  /** The request body of one batch; may throw a `GatewayError` for input the API cannot take. */
  body(items: readonly (string | readonly number[])[], call: EmbeddingCall): string;
  /**
   * Throws `InvalidUpstreamResponse` when the answer is not what the API promises. `keep`: keep
   * the upstream's own encoding of vectors written in `keep.format` (`ParsedEmbeddings.encoded`),
   * where the API has the OpenAI response shape; other protocols ignore it.
   */
  parse(body: unknown, expectedCount: number, expectedDimensions?: number, keep?: KeepEncoding): ParsedEmbeddings;
}

/** The OpenAI embeddings API (OpenAI, Azure OpenAI, OpenAI-compatible servers). */
export function openAiProtocol(model: ModelConfig): WireProtocol {
  const upstreamModel = model.upstreamModel ?? model.name;
  return {
    url: embeddingsUrl(model),
    headers: (key) => requestHeaders(model, key),
    body: (items, call) =>
      JSON.stringify({ model: upstreamModel, input: items, dimensions: call.dimensions, user: call.user, encoding_format: 'base64' }),
    parse: parseEmbeddingsResponse,
  };
}

/** Create the HTTP provider for a model whose `provider` is `openai`, `azure-openai` or `openai-compatible`. */
export function createOpenAiCompatibleProvider(model: ModelConfig, deps: ProviderDeps): EmbeddingProvider {
  return createHttpProvider(model, deps, openAiProtocol(model));
}

/**
 * An HTTP embeddings provider: batching with bounded concurrency and order kept, retries, the
 * key from the secret store with one refresh after a 401/403, strict answers.
 */
export function createHttpProvider(model: ModelConfig, deps: ProviderDeps, protocol: WireProtocol): EmbeddingProvider {
  const retryDeps: RetryDeps = {
    fetch: deps.fetch ?? nodeHttpFetch,
    sleep: deps.sleep ?? defaultSleep,
    random: deps.random ?? Math.random,
    now: deps.now ?? Date.now,
  };
  const { url } = protocol;
  const { maxBatchSize, concurrency, timeoutMs, maxRetries } = model.upstream;

  async function embed(call: EmbeddingCall): Promise<EmbeddingResult> {
    const meter = new UpstreamMeter(retryDeps.now, countBatches(call.input.length, maxBatchSize));
    const keys = new KeyHolder(model, deps, await loadKey(model, deps, meter));
    const redact = (text: string): string => keys.redact(text);
    let promptTokens = 0;
    let totalTokens = 0;
    try {
      const results = await runBatched(
        call.input as readonly (string | readonly number[])[],
        { maxBatchSize, concurrency, signal: call.signal, deadline: call.deadline },
        async (batch, signal) => {
          const body = protocol.body(batch.items, call);
          const send = (key: string | undefined): Promise<{ status: number; body: unknown; text: string }> =>
            postJsonWithRetry(
              { url, headers: protocol.headers(key), body },
              { policy: { maxRetries, timeoutMs }, deps: retryDeps, meter, signal, deadline: call.deadline, redact },
            );
          const usedKey = keys.current;
          let res: { status: number; body: unknown; text: string };
          try {
            res = await send(usedKey);
          } catch (e) {
            if (!(e instanceof UpstreamError) || e.reason !== 'upstream_auth_failed' || usedKey === undefined) throw e;
            const fresh = await keys.refreshed(usedKey);
            if (fresh === undefined) throw e;
            res = await send(fresh);
          }
          try {
            const keep = call.encodingFormat ? { format: call.encodingFormat, text: res.text } : undefined;
            const parsed = protocol.parse(res.body, batch.items.length, call.dimensions, keep);
            promptTokens += parsed.promptTokens;
            totalTokens += parsed.totalTokens;
            return parsed.items.map((item, k) => ({ index: item.index, value: { vector: item.value, encoded: parsed.encoded?.[k] } }));
          } catch (e) {
            if (e instanceof InvalidUpstreamResponse) {
              throw upstreamFailure('invalid_response', { ...meter.snapshot(), status: res.status }, { detail: e.message });
            }
            throw e;
          }
        },
      );
      const vectors = results.map((r) => r.vector);
      const encoded: (EncodedVector | undefined)[] | undefined = results.some((r) => r.encoded) ? results.map((r) => r.encoded) : undefined;
      return { vectors, ...(encoded ? { encoded } : {}), usage: { promptTokens, totalTokens }, upstream: meter.snapshot() };
    } catch (e) {
      if (e instanceof UpstreamError) throw withStats(e, meter.snapshot());
      if (call.signal?.aborted) throw upstreamFailure('aborted', meter.snapshot(), { cause: call.signal.reason });
      throw e;
    }
  }

  return { kind: model.provider, embed };
}

/** The embeddings endpoint of a model (see the module doc). */
export function embeddingsUrl(model: ModelConfig): string {
  if (!model.baseUrl) throw new Error(`model ${model.name}: baseUrl is required for provider ${model.provider}`);
  const base = model.baseUrl.replace(/\/+$/, '');
  if (model.provider !== 'azure-openai') return `${base}/embeddings`;
  const deployment = encodeURIComponent(model.upstreamModel ?? model.name);
  return `${base}/openai/deployments/${deployment}/embeddings?api-version=${encodeURIComponent(model.apiVersion ?? '')}`;
}

/**
 * The upstream key of one `embed` call: the key in use, the one refresh allowed after a 401/403,
 * and redaction of every key seen.
 */
class KeyHolder {
  private readonly seen = new Set<string>();
  private refresh: Promise<string | undefined> | undefined;

  constructor(
    private readonly model: ModelConfig,
    private readonly deps: ProviderDeps,
    public current: string | undefined,
  ) {
    if (current) this.seen.add(current);
  }

  /**
   * A different key to retry with after `used` was refused, or undefined when there is none (the
   * store gave the same key back or failed). All batches of the call share one refresh, so a
   * batch refused with the new key gets undefined.
   */
  async refreshed(used: string): Promise<string | undefined> {
    const ref = this.model.apiKey;
    if (!ref) return undefined;
    this.refresh ??= (async () => {
      this.deps.secrets.invalidate?.(ref);
      try {
        return await this.deps.secrets.get(ref);
      } catch {
        return undefined;
      }
    })();
    const fresh = await this.refresh;
    if (fresh === undefined || fresh === '' || fresh === used) return undefined;
    this.seen.add(fresh);
    this.current = fresh;
    return fresh;
  }

  /** `text` with every key of this call replaced by `[redacted]`. */
  redact(text: string): string {
    let out = text;
    for (const k of this.seen) out = out.split(k).join('[redacted]');
    return out;
  }
}

function requestHeaders(model: ModelConfig, key: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (key !== undefined) {
    if (model.provider === 'azure-openai') headers['api-key'] = key;
    else headers.authorization = `Bearer ${key}`;
  }
  return headers;
}

async function loadKey(model: ModelConfig, deps: ProviderDeps, meter: UpstreamMeter): Promise<string | undefined> {
  if (!model.apiKey) return undefined;
  try {
    return await deps.secrets.get(model.apiKey);
  } catch (cause) {
    throw upstreamFailure('credentials', meter.snapshot(), { cause });
  }
}
