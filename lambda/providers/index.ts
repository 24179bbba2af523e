/**
 * Embedding providers: one `EmbeddingProvider` per configured model.
 *
 * `openai`, `azure-openai`, `openai-compatible` and `cohere` go over HTTP (`nodeHttpFetch`:
 * `node:http`/`node:https` with keep-alive agents) with batching, bounded concurrency, retries and
 * strict response validation; `local` is a deterministic, offline feature-hashing embedder for
 * demos and tests.
 */
import type { ModelConfig } from '../../shared/config';
import type { EmbeddingProvider } from '../core/ports';
import type { ProviderDeps } from './deps';
import { createCohereProvider } from './cohere';
import { createLocalProvider } from './local';
import { createOpenAiCompatibleProvider } from './openai-compatible';

/** Create the provider for `model` according to its `provider` kind. */
export function createProvider(model: ModelConfig, deps: ProviderDeps): EmbeddingProvider {
  switch (model.provider) {
    case 'local':
      return createLocalProvider(model, deps);
    case 'openai':
    case 'azure-openai':
    case 'openai-compatible':
      return createOpenAiCompatibleProvider(model, deps);
    case 'cohere':
      return createCohereProvider(model, deps);
    case 'bedrock':
      if (!deps.bedrock) {
        throw new Error(
          `model ${model.name} is on Amazon Bedrock, which needs the AWS runtime (embedgate dev cannot call it); use a local or OpenAI-compatible model locally`,
        );
      }
      return deps.bedrock(model);
    default: {
      const unknown: never = model.provider;
      throw new Error(`unknown provider kind ${String(unknown)}`);
    }
  }
}

export { createLocalProvider, embedLocal } from './local';
export { createOpenAiCompatibleProvider } from './openai-compatible';
export { nodeHttpFetch, upstreamAgents } from './node-http-fetch';
export type { UpstreamFetch, UpstreamFetchInit, UpstreamFetchResponse } from './node-http-fetch';
export type { ProviderDeps } from './deps';
