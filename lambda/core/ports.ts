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
  /**
   * Forget any cached value of `ref`, so the next `get` fetches it afresh (a provider calls this
   * when the upstream answers 401/403, in case the key was rotated). Optional: stores that do not
   * cache need not implement it.
   */
  invalidate?(ref: SecretRef): void;
}

/**
 * Where an upstream key comes from: Secrets Manager in AWS; an environment variable or a file
 * in `embedgate dev`.
 */
export type SecretRef =
  | { readonly source: 'secretsManager'; readonly secretId: string; readonly field?: string }
  | { readonly source: 'env'; readonly name: string }
  | { readonly source: 'file'; readonly path: string };

/** One entry of the runtime deny list. */
export interface Revocation {
  /** What is revoked: every token of a subject, of an OAuth client, or one token (its `jti`). */
  readonly kind: 'subject' | 'client' | 'token';
  /** The subject, the client id or the token id. */
  readonly value: string;
  /** The issuer (`iss`) it applies to; null = any issuer (not allowed for `token`). */
  readonly issuer: string | null;
  readonly reason: string | null;
  /** End of the revocation, epoch ms; null = forever. */
  readonly until: number | null;
  /** When it was created, epoch ms. */
  readonly createdAt: number;
  /** Who created it (free text, e.g. an operator's identity). */
  readonly createdBy: string | null;
}

/** The runtime deny list: cuts off a subject, a client id or one token without a deploy. */
export interface RevocationList {
  /**
   * The first revocation that applies to this principal now, or null. Rejects when the list
   * cannot be read (the gateway then fails closed).
   */
  find(p: { issuer: string; subject: string; clientId: string | null; tokenId: string | null }): Promise<Revocation | null>;
}

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
  /**
   * The encoding the client asked for. A provider whose upstream answers a vector in this
   * encoding may return that encoding as it came (`EmbeddingResult.encoded`), so the response
   * needs no re-encoding. It does not change what the provider asks of its upstream.
   */
  readonly encodingFormat?: VectorEncoding;
}

/** How vectors are written in an OpenAI embeddings response. */
export type VectorEncoding = 'float' | 'base64';

/**
 * One vector as the upstream wrote it, safe to put into a JSON response as is:
 * - `base64`: the base64 string (without quotes) of its little-endian float32 bytes, canonical
 *   (only `A-Z a-z 0-9 + / =`);
 * - `float`: the exact JSON text of its number array, compact (only `[ ] , 0-9 - + . e E`).
 * Providers create it only from validated upstream answers; it decodes (`float`: rounds to float32)
 * to exactly the values of the vector it stands for.
 */
export interface EncodedVector {
  readonly format: VectorEncoding;
  readonly text: string;
}

/** What a provider returns: one float vector per input item, in input order. */
export interface EmbeddingResult {
  readonly vectors: Float32Array[];
  /**
   * Per vector (same positions as `vectors`), the upstream's own encoding of it when the provider
   * kept one in the call's `encodingFormat`; undefined entries (or no array) otherwise.
   */
  readonly encoded?: ReadonlyArray<EncodedVector | undefined>;
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

/** A span of sensitive data found by a detector, in UTF-16 code units of the scanned text. */
export interface PiiEntity {
  /** Detector-specific entity type (Comprehend: `EMAIL`, `CREDIT_DEBIT_NUMBER`, ...). */
  readonly type: string;
  /** Start offset (inclusive). */
  readonly start: number;
  /** End offset (exclusive). */
  readonly end: number;
  /** Confidence in [0, 1] (1 for validated regex detectors). */
  readonly score: number;
}

/** An external PII detector (Amazon Comprehend `DetectPiiEntities` in AWS). */
export interface PiiDetector {
  /** Name for records and logs, e.g. `comprehend`. */
  readonly name: string;
  /** Entities in `text`, offsets into `text`. Rejects when the detector cannot answer. */
  detect(text: string, signal?: AbortSignal): Promise<PiiEntity[]>;
}
