/**
 * Embedding providers: one `EmbeddingProvider` per configured model.
 *
 * `openai`, `azure-openai`, `openai-compatible` and `cohere` go over HTTP (`nodeHttpFetch`:
 * `node:http`/`node:https` with keep-alive agents) with batching, bounded concurrency, retries and
 * strict response validation; `local` is a deterministic, offline feature-hashing embedder for
 * demos and tests.
 */
import type { ModelConfig } from '../../shared/config';
import type { EmbeddingProvider, SecretStore } from '../core/ports';
import { createCohereProvider } from './cohere';
import { createLocalProvider } from './local';
import type { UpstreamFetch } from './node-http-fetch';
import { createOpenAiCompatibleProvider } from './openai-compatible';

/** What providers need from the outside world; everything but `secrets` has a real default. */
export interface ProviderDeps {
  /** Resolves `model.apiKey`; called once per `embed` call (the store is expected to cache). */
  readonly secrets: SecretStore;
  /** The HTTP transport; any `fetch`-shaped function (tests pass fakes). @default nodeHttpFetch */
  readonly fetch?: UpstreamFetch;
  /** Wait `ms`, rejecting as soon as `signal` aborts. @default a `setTimeout` timer */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Uniform in [0, 1), for backoff jitter. @default Math.random */
  readonly random?: () => number;
  /** Milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
  /**
   * Creates Bedrock providers (the AWS runtime passes one bound to its SDK client; the core
   * cannot import the SDK). @default - Bedrock models are refused
   */
  readonly bedrock?: (model: ModelConfig) => EmbeddingProvider;
}

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
