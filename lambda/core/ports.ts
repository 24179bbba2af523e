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

/**
 * Where the token verifier gets an issuer's OIDC discovery document and key set (JWKS): a
 * fetch-shaped function, so jose's remote key set can use it as its `customFetch`. The network in
 * `embedgate dev` and in a gateway with egress (adapters/network); a key mirror the proxy reads
 * through a VPC endpoint where the VPC has no way out. Rejects, or answers a non-2xx `Response`,
 * when it cannot: the issuer's tokens then fail closed.
 */
export type KeySetFetch = (
  url: string,
  init: {
    readonly signal?: AbortSignal;
    readonly headers?: Record<string, string> | Headers;
    readonly method?: string;
    readonly redirect?: 'manual' | 'follow' | 'error';
  },
) => Promise<Response>;

/**
 * Asks for an issuer's keys to be fetched again now (where they come from a key mirror: the proxy
 * cannot reach the issuer itself). `issuer` is a configured issuer's exact `iss`. Resolves true
 * when the request was made, false when one was made recently (rate-limited); rejects when it
 * cannot be made. Verification never waits for the refresh itself.
 */
export type KeyRefreshRequest = (issuer: string) => Promise<boolean>;

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
  /**
   * Journal a request's intent while its upstream call runs (issue 16): the record the request
   * would leave if it never got an outcome (decision `no_outcome`), written under its own key so
   * that `put` of the final record stays write-once by session id. A journal that has this method
   * completes an intent whose final record never came (the function died during the upstream
   * call) with the intent itself, after a grace period, so every request that reached its
   * upstream call leaves exactly one record. Archives without a journal leave it out.
   */
  putIntent?(intent: SessionRecord): Promise<void>;
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
   * Epoch ms by which the call must be over (all batches, all retries, backoff included): the
   * request's deadline. Upstream calls still running then are aborted (504 `deadline_exceeded`).
   */
  readonly deadline?: number;
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

/**
 * One Amazon Bedrock `InvokeModel` exchange, as the Bedrock provider needs it (the AWS SDK lives in
 * adapters/aws/bedrock-runtime.ts). Resolves with the HTTP status, the raw body and the input
 * token count Bedrock reported; rejects with the SDK's error (its `name` and
 * `$metadata.httpStatusCode` classify it). `onResponse` is told the status as soon as the HTTP
 * response arrives, error responses included. Aborts when `signal` does.
 */
export type BedrockInvoke = (
  request: { readonly modelId: string; readonly body: Uint8Array },
  opts: { readonly signal: AbortSignal; readonly onResponse: (status: number) => void },
) => Promise<{ readonly status: number; readonly body: Uint8Array; readonly inputTokens?: number }>;

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

// ---- approvals ------------------------------------------------------------------------------

/** Who an approval belongs to or who decided it: the stable part of a principal. */
export interface PrincipalRef {
  readonly issuer: string;
  readonly subject: string;
  readonly clientId: string | null;
}

/**
 * Lifecycle of an approval: `pending` until enough reviewers approve (`approved`), one denies
 * (`denied`) or its deadline passes (`expired`); an approved single-use approval becomes `used`
 * when the gateway forwards the request it was granted for.
 */
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'used';

export interface ApprovalDecision {
  readonly reviewer: PrincipalRef;
  readonly decision: 'approve' | 'deny';
  /** The reviewer's reason (required, at most 500 characters). */
  readonly reason: string;
  /** Epoch ms. */
  readonly at: number;
}

/**
 * A request held for a human decision (see `lambda/core/approvals/rules.ts` for the rules). Stored by
 * an {@link ApprovalStore}; every change is a compare-and-set on `revision`.
 */
export interface Approval {
  /** UUIDv7 (time-ordered); also the Step Functions execution name. */
  readonly id: string;
  /** Incremented by every update; the store refuses an update made from a stale copy. */
  readonly revision: number;
  readonly status: ApprovalStatus;
  readonly requester: PrincipalRef;
  /** Session id of the request that asked for approval (its record has step `requested`). */
  readonly requestSessionId: string;
  /** The model name the client asked for. */
  readonly model: string;
  /** The allow rule that requires the approval. */
  readonly ruleId: string;
  /** Policy version (configuration hash) at the time of the request. */
  readonly policyVersion: string;
  /** What triggered it, e.g. `always`, `batch_over:100`, `input_matches:ITAR`, `masking_found:SSN`. */
  readonly triggers: readonly string[];
  /** `sha256:<hex>` of the canonical masked payload (see `payloadSha256`). */
  readonly payloadSha256: string;
  /** Masked, shortened preview of the input for reviewers (never raw values). */
  readonly preview: string;
  /**
   * Issuers (ids or URLs, globs) whose principals may review; absent in approvals stored before
   * this field existed, which then mean the requester's issuer.
   */
  readonly reviewerIssuers?: readonly string[];
  /** Reviewer group globs and subject globs copied from the rule at request time. */
  readonly reviewerGroups: readonly string[];
  readonly reviewerSubjects: readonly string[];
  /** Distinct reviewers that must approve (2 or more: the two-person rule). */
  readonly requiredApprovals: number;
  readonly decisions: readonly ApprovalDecision[];
  /** Epoch ms. */
  readonly createdAt: number;
  /** Deadline for a decision, epoch ms; after it a pending approval is expired. */
  readonly expiresAt: number;
  /** When it was approved or denied, epoch ms. */
  readonly decidedAt: number | null;
  /** An approved single-use approval must be used before this, epoch ms. */
  readonly useBy: number | null;
  /** A time-boxed grant: the rule grants this principal the model until this time, epoch ms. */
  readonly grantUntil: number | null;
  /** Grant length the rule asks for, minutes; null for single-use approvals. */
  readonly grantMinutes: number | null;
  /** When it was used, epoch ms, and by which session. */
  readonly usedAt: number | null;
  readonly usedBySessionId: string | null;
  /** The workflow's task token while it waits for a decision (internal; never shown to clients). */
  readonly taskToken: string | null;
}

/** A time-boxed grant: this principal may use this model under this rule until `until`. */
export interface ApprovalGrant {
  readonly requester: PrincipalRef;
  readonly model: string;
  readonly ruleId: string;
  readonly approvalId: string;
  /** Epoch ms. */
  readonly until: number;
}

/** A cap on the approvals of one rule one requester may have pending at once (`ApprovalStore.create`). */
export interface ApprovalCap {
  readonly maxPending: number;
  /** Epoch ms: approvals whose deadline is not after it no longer count. */
  readonly now: number;
}

/** Where approvals live: DynamoDB in AWS, memory in `embedgate dev`. */
export interface ApprovalStore {
  /**
   * Store a new approval (revision 0). Rejects if the id exists. With `cap`, the approval is
   * stored only if its requester has fewer than `cap.maxPending` approvals of the same rule
   * pending (not decided, deadline after `cap.now`): checked and taken in one atomic step, so
   * concurrent holds cannot pass the cap. Resolves false, storing nothing, when the cap is reached.
   */
  create(approval: Approval, cap?: ApprovalCap): Promise<boolean>;
  get(id: string): Promise<Approval | null>;
  /**
   * Replace the approval with `next` (whose revision must be `expectedRevision + 1`) only if the
   * stored revision is still `expectedRevision`. Resolves false when another writer came first.
   */
  update(next: Approval, expectedRevision: number): Promise<boolean>;
  /** Approvals, newest first, optionally of one status; at most `limit`. */
  list(filter: { readonly status?: ApprovalStatus; readonly limit: number }): Promise<Approval[]>;
  /**
   * The id of the approval last created for this requester, rule and payload hash (`create`
   * remembers it), or null: a held request sent again while its approval is pending is answered
   * with that approval instead of a new one.
   */
  findRequested(requester: PrincipalRef, ruleId: string, payloadSha256: string): Promise<string | null>;
  /** Record (or extend) a grant. */
  putGrant(grant: ApprovalGrant): Promise<void>;
  /** The grant of this principal for this model and rule, if one exists (it may have ended). */
  findGrant(requester: PrincipalRef, model: string, ruleId: string): Promise<ApprovalGrant | null>;
}

/** What the gateway tells reviewers and the workflow when an approval starts. */
export interface ApprovalNotice {
  readonly approval: Approval;
  /** Absolute path of the status resource, e.g. `/v1/approvals/<id>`. */
  readonly pollPath: string;
  /** Absolute path of the decision resource. */
  readonly decisionPath: string;
}

/**
 * The workflow that holds an approval: in AWS a Step Functions standard workflow (notify
 * reviewers by SNS, wait for the task token with a timeout, expire); in `embedgate dev` a timer.
 */
export interface ApprovalWorkflow {
  /** Start waiting for a decision on a new pending approval. Rejects when it cannot start. */
  start(notice: ApprovalNotice): Promise<void>;
  /**
   * The approval reached a final status (approved or denied): release the waiting workflow.
   * Best effort: an error here must not undo the decision (the workflow then times out and
   * finds the approval already decided).
   */
  settle(approval: Approval): Promise<void>;
}
