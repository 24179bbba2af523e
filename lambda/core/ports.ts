/**
 * Ports: the only ways the core talks to the world. Adapters implement them
 * (`lambda/adapters/local` for `embedgate dev`, `lambda/adapters/aws` in the Lambda).
 * Nothing in the core imports an AWS SDK, an HTTP framework or Lambda types.
 */
import type { SessionRecord } from './record';

/** Wall clock, injectable so tests control time. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** Id generator (session ids are time-ordered UUIDv7 strings). */
export interface Ids {
  sessionId(): string;
}

/** Where upstream credentials live. A reference is opaque to the core. */
export interface SecretStore {
  /** Resolve a secret reference to its value. Throws `SecretUnavailableError` when it cannot. */
  get(ref: SecretRef): Promise<string>;
}

/**
 * Where an upstream key comes from: Secrets Manager in AWS; an environment variable or a file
 * in `embedgate dev`.
 */
export type SecretRef =
  | { readonly source: 'secretsManager'; readonly secretId: string; readonly field?: string }
  | { readonly source: 'env'; readonly name: string }
  | { readonly source: 'file'; readonly path: string };

/** Durable, write-once storage for session records. */
export interface Archive {
  /**
   * Persist one record. Resolves only when the record is durable; rejects otherwise.
   * Implementations never overwrite or delete an existing record.
   */
  put(record: SessionRecord): Promise<{ readonly key: string }>;
}

/** One embedding call as a provider sees it, after validation, policy and masking. */
export interface EmbeddingCall {
  /** Text items, or token-id arrays; never mixed. Order is significant. */
  readonly input: readonly string[] | readonly (readonly number[])[];
  readonly dimensions?: number;
  readonly user?: string;
  /** Abort signal bounding the whole call (all batches, all retries). */
  readonly signal?: AbortSignal;
}

/** What a provider returns: one float vector per input item, in input order. */
export interface EmbeddingResult {
  readonly vectors: Float32Array[];
  readonly usage: { readonly promptTokens: number; readonly totalTokens: number };
  /** Observed upstream facts for the session record. */
  readonly upstream: UpstreamStats;
}

export interface UpstreamStats {
  /** HTTP status of the last upstream response (200 on success); undefined when none arrived. */
  readonly status?: number;
  /** Wall time spent in upstream calls, ms (from first request to last response). */
  readonly latencyMs: number;
  /** Number of HTTP requests made, retries included. */
  readonly attempts: number;
  /** Number of batches the input was split into. */
  readonly batches: number;
}

/** A provider of embeddings behind one interface (OpenAI, Azure OpenAI, OpenAI-compatible, local). */
export interface EmbeddingProvider {
  /** Provider kind, for records and logs. */
  readonly kind: string;
  embed(call: EmbeddingCall): Promise<EmbeddingResult>;
}
