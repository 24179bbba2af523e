/** What every provider may be given: the world outside the providers, as ports and defaults. */
import type { ModelConfig } from '../../shared/config';
import type { EmbeddingProvider, SecretStore } from '../core/ports';
import type { UpstreamFetch } from './node-http-fetch';

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
