/**
 * Cohere's own embed API (v2): `POST {baseUrl}/v2/embed` with `Authorization: Bearer <key>`,
 * `{ model, texts, input_type: "search_document", embedding_types: ["float"], truncate: "NONE" }`,
 * answered with `{ embeddings: { float: number[][] }, meta: { billed_units: { input_tokens } } }`.
 * Batches of at most 96 texts (Cohere's limit), through the shared HTTP provider.
 */
import type { ModelConfig } from '../../shared/config';
import { invalidRequest } from '../core/errors';
import type { EmbeddingProvider } from '../core/ports';
import type { ProviderDeps } from './deps';
import { createHttpProvider, type WireProtocol } from './openai-compatible';
import { InvalidUpstreamResponse, parseEmbeddingsResponse } from './upstream-response';

/** Cohere's most texts per request. */
export const COHERE_MAX_TEXTS = 96;

export function cohereProtocol(model: ModelConfig): WireProtocol {
  if (!model.baseUrl) throw new Error(`model ${model.name}: baseUrl is required for provider cohere`);
  return {
    url: `${model.baseUrl.replace(/\/+$/, '')}/v2/embed`,
    headers: (key) => ({
      'content-type': 'application/json',
      accept: 'application/json',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    }),
    body: (items, call) => {
      if (items.some((i) => typeof i !== 'string')) {
        throw invalidRequest('This model takes text input only, not token ids.', 'tokens_not_supported', 'input');
      }
      return JSON.stringify({
        model: model.upstreamModel ?? model.name,
        texts: items,
        input_type: 'search_document',
        embedding_types: ['float'],
        truncate: 'NONE',
        ...(call.dimensions !== undefined ? { output_dimension: call.dimensions } : {}),
      });
    },
    parse: (body, expectedCount, expectedDimensions) => {
      const b = body as { embeddings?: { float?: unknown }; meta?: { billed_units?: { input_tokens?: unknown } } } | null;
      const floats = b?.embeddings?.float;
      if (!Array.isArray(floats)) throw new InvalidUpstreamResponse('"embeddings.float" is not an array');
      const tokens = typeof b?.meta?.billed_units?.input_tokens === 'number' ? b.meta.billed_units.input_tokens : 0;
      // Same strict checks as the OpenAI shape (count, lengths, finite numbers).
      return parseEmbeddingsResponse(
        { data: floats.map((embedding, index) => ({ index, embedding })), usage: { prompt_tokens: tokens, total_tokens: tokens } },
        expectedCount,
        expectedDimensions,
      );
    },
  };
}

export function createCohereProvider(model: ModelConfig, deps: ProviderDeps): EmbeddingProvider {
  const capped = { ...model, upstream: { ...model.upstream, maxBatchSize: Math.min(model.upstream.maxBatchSize, COHERE_MAX_TEXTS) } };
  return createHttpProvider(capped, deps, cohereProtocol(capped));
}
