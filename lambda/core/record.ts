/**
 * Session record, schema v1 (`embedgate.session.v1`): exactly one per request, allowed, denied,
 * invalid or failed. Field names are snake_case so the Glue table and Athena queries read them
 * as they are. Documented in docs/session-record.md; keep both in step.
 *
 * What never goes in: bearer tokens, upstream keys, raw vectors, values masking found. The input
 * is kept as it left for the model (masked), within a budget (`input.kept`; lambda/core/kept-input.ts),
 * unless the configuration omits it (`recording.inputText`).
 *
 * Fields added to v1 after its first release (`input.kept`, `input.tokens`, `input.cut`,
 * `output.encoding_format`) are absent from older records: readers treat an absent field as null.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../shared/canonical';
import type { Principal } from './principal';

export const RECORD_SCHEMA = 'embedgate.session.v1';

/** `held`: the request waits for approval (202); nothing was sent upstream. */
export type Outcome = 'allow' | 'held' | 'deny' | 'invalid' | 'error';

export interface SessionRecord {
  readonly schema: typeof RECORD_SCHEMA;
  readonly session_id: string;
  /** ISO-8601 UTC, when the gateway received the request. */
  readonly started_at: string;
  /** ISO-8601 UTC, when the record was built (response about to leave). */
  readonly ended_at: string;
  readonly request: {
    readonly method: string;
    readonly path: string;
    /** API Gateway / dev server request id. */
    readonly request_id: string | null;
    readonly source_ip: string | null;
    readonly user_agent: string | null;
  };
  /** Null when no token could be verified. */
  readonly principal: RecordPrincipal | null;
  /** Null when no model was named or the body was unreadable. */
  readonly model: { readonly name: string; readonly provider: string | null; readonly upstream_model: string | null } | null;
  readonly decision: {
    readonly outcome: Outcome;
    /** HTTP status returned to the client. */
    readonly status: number;
    /** Stable reason code (e.g. `rule_allow`, `token_expired`, `no_matching_rule`). */
    readonly reason: string;
    readonly rule_id: string | null;
    readonly policy_version: string;
  };
  readonly input: {
    readonly kind: 'text' | 'tokens' | null;
    readonly items: number;
    /** Characters over all text items (token ids for token inputs). */
    readonly characters: number;
    readonly encoding_format: string | null;
    readonly dimensions: number | null;
    readonly request_bytes: number;
  } & KeptInputFields;
  /** What masking found and did; null when masking is off (or the request ended before it). */
  readonly masking: {
    /** False for token-id inputs let through unscanned (`masking.tokenInputs: "allow"`). */
    readonly scanned: boolean;
    /** Per item and entity type: detector, strategy, count, offsets in the original text. Never values. */
    readonly findings: ReadonlyArray<{
      readonly item: number;
      readonly type: string;
      readonly detector: string;
      readonly strategy: string;
      readonly count: number;
      readonly offsets: ReadonlyArray<ReadonlyArray<number>>;
      /** Pseudonym tokens written for this type (keyed HMACs, never values); empty unless pseudonymized. */
      readonly pseudonyms: readonly string[];
    }>;
    /** Values found per entity type over all items. */
    readonly counts: ReadonlyArray<{ readonly type: string; readonly count: number }>;
    /** Entity types whose strategy is `block` (the request was refused). */
    readonly blocked: readonly string[];
    /** The external detector's outcome (Comprehend), or null when none is configured. */
    readonly external: { readonly detector: string; readonly status: string } | null;
  } | null;
  readonly upstream: {
    readonly status: number | null;
    readonly latency_ms: number;
    readonly attempts: number;
    readonly batches: number;
  } | null;
  readonly usage: { readonly prompt_tokens: number; readonly total_tokens: number } | null;
  readonly output: {
    readonly vectors: number;
    readonly dimensions: number;
    /** `sha256:<hex>` over the little-endian float32 bytes of every vector, in order. */
    readonly fingerprint: string;
    /** How the vectors were returned to the client (`float`, `base64`). Absent in older records. */
    readonly encoding_format?: string;
  } | null;
  readonly timings: {
    readonly total_ms: number;
    readonly auth_ms: number;
    readonly upstream_ms: number;
  };
  /**
   * What this request did to an approval (requested, decided, used, refused, expired, viewed);
   * null when it touched none. Records of one approval share `approval.id`: the chain.
   */
  readonly approval: RecordApproval | null;
  /**
   * The record's seal: `sha256:<hex>` over the canonical JSON (`canonicalJson`: keys sorted at
   * every depth, no whitespace) of the record without this field. See {@link sealRecord}.
   */
  readonly record_sha256: string;
}

/** The `input` section of a record. */
export type RecordInput = SessionRecord['input'];

/** What the record keeps of the input itself (lambda/core/kept-input.ts). */
export interface KeptInputFields {
  /**
   * `all`: every item is in `text` / `tokens`; `partial`: a prefix is, the rest is in `cut`;
   * `omitted`: the configuration keeps no input (`recording.inputText: "omit"`); `none`: the
   * request ended before its input was prepared for the model (nothing to keep). Absent in
   * records written before input was kept by default.
   */
  readonly kept?: 'all' | 'partial' | 'omitted' | 'none';
  /**
   * Text items as they left for the model (a prefix; item i at index i): masked when masking is
   * on, with values found under a `detect` strategy shown as `[TYPE]` (a record never holds a
   * value masking found). Null for token inputs and when nothing was kept.
   */
  readonly text: string[] | null;
  /** Token-id items as they left for the model (a prefix). Null for text inputs and when nothing was kept. */
  readonly tokens?: number[][] | null;
  /** Items past the budget: SHA-256 and byte length per item (or per run of items); null when none was cut. */
  readonly cut?: ReadonlyArray<{ readonly item: number; readonly items: number; readonly sha256: string; readonly bytes: number }> | null;
}

/** The `approval` field of a session record. */
export interface RecordApproval {
  readonly id: string;
  /** What this request did to the approval. */
  readonly step: 'requested' | 'decided' | 'used' | 'released' | 'refused' | 'expired' | 'viewed';
  /** The approval's status after this step. */
  readonly status: 'pending' | 'approved' | 'denied' | 'expired' | 'used';
  readonly rule_id: string;
  readonly payload_sha256: string;
  readonly triggers: readonly string[];
  /** For `decided`: the reviewer's decision and who made it. */
  readonly decision: 'approve' | 'deny' | null;
  readonly reviewer: { readonly issuer: string; readonly subject: string } | null;
  /** True when the request went through on a time-boxed grant. */
  readonly via_grant: boolean;
}

/** A record before it is sealed: every field but `record_sha256`. */
export type UnsealedRecord = Omit<SessionRecord, 'record_sha256'>;

export interface RecordPrincipal {
  readonly issuer: string;
  readonly issuer_id: string;
  readonly subject: string;
  readonly client_id: string | null;
  readonly groups: readonly string[];
  readonly scopes: readonly string[];
  /** `jti` of the token (an identifier, not the token). */
  readonly token_id: string | null;
  /** `exp` of the token, ISO-8601. */
  readonly token_expires_at: string | null;
}

export function recordPrincipal(p: Principal): RecordPrincipal {
  return {
    issuer: p.issuer,
    issuer_id: p.issuerId,
    subject: p.subject,
    client_id: p.clientId,
    groups: p.groups,
    scopes: p.scopes,
    token_id: p.tokenId,
    token_expires_at: p.expiresAt === null ? null : new Date(p.expiresAt * 1000).toISOString(),
  };
}

/**
 * The seal of a record: `sha256:<hex>` over the UTF-8 bytes of `canonicalJson` of the record
 * without `record_sha256` (a `record_sha256` present in `record` is ignored). Canonical, so it
 * does not depend on key order or whitespace: a record read back with `JSON.parse` gives the same
 * seal as the object the gateway built (JSON numbers round-trip exactly in JavaScript).
 */
export function recordSha256(record: UnsealedRecord | SessionRecord): string {
  const { record_sha256: _ignored, ...body } = record as SessionRecord;
  return `sha256:${createHash('sha256').update(canonicalJson(body), 'utf8').digest('hex')}`;
}

/** The record with its seal (`record_sha256`) as its last field. */
export function sealRecord(record: UnsealedRecord): SessionRecord {
  const { record_sha256: _ignored, ...body } = record as SessionRecord;
  return { ...body, record_sha256: recordSha256(body) };
}

/** SHA-256 over the little-endian float32 bytes of every vector, in order. */
export function fingerprintVectors(vectors: readonly Float32Array[]): string {
  const h = createHash('sha256');
  for (const v of vectors) {
    h.update(toLittleEndianBytes(v));
  }
  return `sha256:${h.digest('hex')}`;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The bytes of a float32 vector in little-endian order (the layout OpenAI's base64 encoding uses). */
export function toLittleEndianBytes(v: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  const out = new DataView(new ArrayBuffer(v.byteLength));
  v.forEach((x, i) => out.setFloat32(i * 4, x, true));
  return new Uint8Array(out.buffer);
}

/**
 * Archive key of a record: `sessions/dt=YYYY-MM-DD/hr=HH/<session_id>.json`, one object per
 * record (Object Lock retains each on its own), partitioned for Glue partition projection.
 */
export function recordKey(record: Pick<SessionRecord, 'session_id' | 'started_at'>): string {
  const t = record.started_at;
  return `sessions/dt=${t.slice(0, 10)}/hr=${t.slice(11, 13)}/${record.session_id}.json`;
}
