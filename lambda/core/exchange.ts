/**
 * The shapes a request and its answer have in the core (built from an API Gateway v2 event by the
 * handler, or by `embedgate dev`), and the facts a request gathers on its way through the pipeline
 * (the session), from which the recorder makes its one record.
 */
import type { Principal } from './principal';
import type { EmbeddingResult } from './ports';
import type { RecordApproval, SessionRecord } from './record';
import type { InputSummary } from './request';
import type { Admission } from './limits/admission';
import type { SentInput } from './kept-input';

/** An HTTP request as the core sees it (built from an API Gateway v2 event or by `embedgate dev`). */
export interface GatewayRequest {
  readonly method: string;
  readonly path: string;
  /** Lower-cased names; repeated headers joined with "," (API Gateway's convention). */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly rawQueryString: string;
  readonly body: string | undefined;
  readonly isBase64Encoded: boolean;
  readonly requestId: string | null;
  readonly sourceIp: string | null;
  /**
   * The domain the API answered on (API Gateway's `requestContext.domainName`; the dev server's
   * own address): approval URLs are built from it, never from the client's Host header.
   */
  readonly domainName?: string;
  /** Epoch ms when the request arrived (defaults to the clock at `handle`). */
  readonly receivedAt?: number;
  /** Epoch ms by which upstream work must end, leaving time to answer and record (the handler's: Lambda's remaining time less a reserve). */
  readonly deadline?: number;
}

export interface GatewayResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** What a request came to: the response, its record, and an unexpected error worth logging. */
export interface HandledRequest {
  readonly response: GatewayResponse;
  readonly record: SessionRecord;
  /** Set when the record could not be archived (the response is then 503 in fail-closed mode). */
  readonly archiveError?: unknown;
  /** Set for 5xx answers caused by something other than a mapped upstream failure. */
  readonly internalError?: unknown;
}

/** A route's answer (refusals are thrown as `GatewayError`). */
export interface Answer {
  readonly status: number;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Facts gathered while a request runs, each set by the stage that learns it; the recorder turns
 * them into the record at the end, however the request ended.
 */
export interface Session {
  readonly id: string;
  readonly startedAt: number;
  principal: Principal | null;
  model: { name: string; provider: string | null; upstream_model: string | null } | null;
  input: InputSummary;
  encodingFormat: string | null;
  dimensions: number | null;
  ruleId: string | null;
  reason: string;
  result: EmbeddingResult | null;
  upstream: SessionRecord['upstream'];
  masking: SessionRecord['masking'];
  /**
   * The input as it left (or, held or refused after masking, would have left) for the model, in
   * the form the record may keep (set by the masking stage); null before that.
   */
  sentInput: SentInput | null;
  authMs: number;
  approval: RecordApproval | null;
  /** The limits stage's admission, settled (usage counted, in-flight place released) when the request ends. */
  admission?: Admission | null;
  /** Runs once the record is durable (releasing an approval's workflow after a decision). */
  afterRecord?: () => Promise<void>;
  /**
   * Undoes what this request did when its record cannot be archived in fail-closed mode (the
   * client gets 503 and nothing else, so nothing may take effect without its record).
   */
  compensate?: () => Promise<void>;
}

/** A session that has learnt nothing yet. */
export function newSession(id: string, startedAt: number): Session {
  return {
    id,
    startedAt,
    principal: null,
    model: null,
    input: { kind: null, items: 0, characters: 0 },
    encodingFormat: null,
    dimensions: null,
    ruleId: null,
    reason: 'unknown',
    result: null,
    upstream: null,
    masking: null,
    sentInput: null,
    authMs: 0,
    approval: null,
  };
}

export const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' } as const;

export const truncate = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n)}…` : s);
