import { DetectPiiEntitiesCommand } from '@aws-sdk/client-comprehend';
import type { ComprehendClient, LanguageCode } from '@aws-sdk/client-comprehend';
import type { PiiDetector, PiiEntity } from '../../core/ports';
import { runWithConcurrency } from '../../core/util/concurrency';
import { chunkText, codePointMap, defaultOverlapBytes, MIN_CHUNK_BYTES, type TextChunk } from '../../core/util/text-chunks';

export { chunkText, utf8Bytes, type TextChunk } from '../../core/util/text-chunks';

/**
 * `DetectPiiEntities` accepts at most 100 KB of UTF-8 text per call (API reference: "A UTF-8 text
 * string. The maximum string size is 100 KB"). 100 000 bytes is below that limit whether a KB is
 * 1000 or 1024 bytes.
 */
export const COMPREHEND_PII_MAX_TEXT_BYTES = 100_000;

/** Options of {@link ComprehendPiiDetector}. */
export interface ComprehendPiiDetectorOptions {
  /** `LanguageCode` sent with every call (`DetectPiiEntities` supports `en` and `es`). @default 'en' */
  readonly languageCode?: string;
  /** Entities scoring below this are dropped, in [0, 1]. @default 0.8 */
  readonly minScore?: number;
  /** Most `DetectPiiEntities` calls in flight for one `detect` (a positive integer). @default 4 */
  readonly concurrency?: number;
  /**
   * Most UTF-8 bytes of text per call; longer texts are split into chunks.
   * @default 100000 ({@link COMPREHEND_PII_MAX_TEXT_BYTES}, the API's limit)
   */
  readonly maxChunkBytes?: number;
  /** Keep only entities of these types (e.g. `['EMAIL', 'SSN']`); all types when omitted. */
  readonly entityTypes?: readonly string[];
  /** Time limit of each `DetectPiiEntities` call, ms; none of its own when omitted. */
  readonly timeoutMs?: number;
}

/** Why a detection failed. */
export type ComprehendPiiFailure =
  /** The caller's signal aborted. */
  | 'aborted'
  /** A call took longer than `timeoutMs`. */
  | 'timeout'
  /** Comprehend throttled a call (TooManyRequests / Throttling / 429). */
  | 'throttled'
  /** Comprehend failed (5xx) or could not be reached. */
  | 'unavailable'
  /** Comprehend refused the credentials or the IAM permissions. */
  | 'denied'
  /** Comprehend rejected the request (unsupported language, text too large, ...): a setting is wrong. */
  | 'invalid_request'
  /** Comprehend answered with something that is not a valid `DetectPiiEntities` response. */
  | 'invalid_response';

/**
 * A detection failed. The message names the cause and, for rejected requests, the setting to fix;
 * it never contains the scanned text, and neither does anything attached to the error (the SDK's
 * error is not kept as `cause`, since service messages may quote the input).
 */
export class ComprehendPiiError extends Error {
  readonly reason: ComprehendPiiFailure;
  /** Whether the same call may succeed later (throttling, 5xx, timeouts, network). */
  readonly retryable: boolean;
  /** The service's error code (e.g. `TooManyRequestsException`), when it answered with one. */
  readonly code: string | undefined;
  /** HTTP status of the failed call, when one arrived. */
  readonly status: number | undefined;
  /** The `x-amzn-requestid` of the failed call, when one arrived. */
  readonly requestId: string | undefined;

  constructor(
    message: string,
    opts: { reason: ComprehendPiiFailure; retryable: boolean; code?: string; status?: number; requestId?: string; cause?: unknown },
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ComprehendPiiError';
    this.reason = opts.reason;
    this.retryable = opts.retryable;
    this.code = opts.code;
    this.status = opts.status;
    this.requestId = opts.requestId;
  }
}

/**
 * PII detection with Amazon Comprehend `DetectPiiEntities`.
 *
 * - Text longer than `maxChunkBytes` UTF-8 bytes is split into chunks by the shared chunker
 *   (core/util/text-chunks: paragraph, sentence, whitespace; never inside a surrogate pair; chunks
 *   at least half full).
 * - Consecutive chunks overlap by about min(512, maxChunkBytes / 8) bytes, widened to start at a
 *   word boundary, so an entity cut by a chunk boundary is found whole in the next chunk when it is
 *   no longer than the overlap.
 * - Comprehend's `BeginOffset`/`EndOffset` count Unicode code points (its API reference: "the
 *   position of each UTF-8 code point"; `EndOffset` is exclusive). They are mapped back to UTF-16
 *   offsets in the original string, as {@link PiiEntity} requires: an emoji is one code point but
 *   two UTF-16 code units.
 * - Entities of the same type that overlap (found twice in an overlap, or cut in one chunk and
 *   whole in the next) are merged into one covering both, with the higher score.
 * - At most `concurrency` calls run at once; the first failure stops the others and rejects with a
 *   {@link ComprehendPiiError}; aborting `signal` does too (reason `aborted`).
 * - Entities below `minScore` or of a type outside `entityTypes` are dropped; the result is sorted
 *   by start offset.
 */
export class ComprehendPiiDetector implements PiiDetector {
  readonly name = 'comprehend';
  private readonly languageCode: string;
  private readonly minScore: number;
  private readonly concurrency: number;
  private readonly maxChunkBytes: number;
  private readonly overlapBytes: number;
  private readonly entityTypes: ReadonlySet<string> | undefined;
  private readonly timeoutMs: number | undefined;

  constructor(
    private readonly client: ComprehendClient,
    opts: ComprehendPiiDetectorOptions = {},
  ) {
    this.languageCode = opts.languageCode ?? 'en';
    if (typeof this.languageCode !== 'string' || this.languageCode.trim() === '')
      throw new RangeError('ComprehendPiiDetector: languageCode must be a non-empty string (e.g. "en")');
    this.minScore = opts.minScore ?? 0.8;
    if (!(this.minScore >= 0 && this.minScore <= 1))
      throw new RangeError(`ComprehendPiiDetector: minScore must be in [0, 1], got ${opts.minScore}`);
    this.concurrency = opts.concurrency ?? 4;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1)
      throw new RangeError(`ComprehendPiiDetector: concurrency must be a positive integer, got ${opts.concurrency}`);
    this.maxChunkBytes = opts.maxChunkBytes ?? COMPREHEND_PII_MAX_TEXT_BYTES;
    if (!Number.isInteger(this.maxChunkBytes) || this.maxChunkBytes < MIN_CHUNK_BYTES) {
      throw new RangeError(
        `ComprehendPiiDetector: maxChunkBytes must be an integer of at least ${MIN_CHUNK_BYTES}, got ${opts.maxChunkBytes}`,
      );
    }
    this.overlapBytes = defaultOverlapBytes(this.maxChunkBytes);
    if (opts.entityTypes !== undefined) {
      if (opts.entityTypes.length === 0)
        throw new RangeError('ComprehendPiiDetector: entityTypes is empty, which would drop every entity; omit it to keep all types');
      this.entityTypes = new Set(opts.entityTypes);
    }
    this.timeoutMs = opts.timeoutMs;
    if (this.timeoutMs !== undefined && !(this.timeoutMs > 0 && Number.isFinite(this.timeoutMs))) {
      throw new RangeError(`ComprehendPiiDetector: timeoutMs must be a positive number of milliseconds, got ${opts.timeoutMs}`);
    }
  }

  /** PII entities in `text`, offsets in UTF-16 code units of `text`; see the class doc. */
  async detect(text: string, signal?: AbortSignal): Promise<PiiEntity[]> {
    if (signal?.aborted) throw aborted(signal);
    const chunks = chunkText(text, this.maxChunkBytes, this.overlapBytes).filter((c) => /\S/.test(c.text));
    if (chunks.length === 0) return [];
    let perChunk: PiiEntity[][];
    try {
      perChunk = await runWithConcurrency(
        chunks,
        this.concurrency,
        (chunk, _i, groupSignal) => this.detectChunk(chunk, groupSignal, signal),
        signal,
      );
    } catch (error) {
      if (signal?.aborted) throw aborted(signal);
      throw error;
    }
    return mergeEntities(perChunk.flat());
  }

  /** One call; entities already filtered and in offsets of the original string. */
  private async detectChunk(chunk: TextChunk, groupSignal: AbortSignal, callerSignal: AbortSignal | undefined): Promise<PiiEntity[]> {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(groupSignal.reason);
    if (groupSignal.aborted) onAbort();
    else groupSignal.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timer =
      this.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            controller.abort(new Error('timeout'));
          }, this.timeoutMs);
    let out;
    try {
      out = await this.client.send(new DetectPiiEntitiesCommand({ Text: chunk.text, LanguageCode: this.languageCode as LanguageCode }), {
        abortSignal: controller.signal,
      });
    } catch (error) {
      if (callerSignal?.aborted) throw aborted(callerSignal);
      if (timedOut) {
        throw new ComprehendPiiError(`Comprehend DetectPiiEntities did not answer within timeoutMs (${this.timeoutMs} ms)`, {
          reason: 'timeout',
          retryable: true,
        });
      }
      throw this.describe(error);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      groupSignal.removeEventListener('abort', onAbort);
    }
    return this.toEntities(chunk, out.Entities, out.$metadata.requestId);
  }

  /** Check, map to original offsets and filter one response's entities. */
  private toEntities(
    chunk: TextChunk,
    raw: readonly { Type?: string; Score?: number; BeginOffset?: number; EndOffset?: number }[] | undefined,
    requestId: string | undefined,
  ): PiiEntity[] {
    if (raw === undefined) return [];
    const invalid = (what: string): ComprehendPiiError =>
      new ComprehendPiiError(`Comprehend DetectPiiEntities answered with an invalid entity (${what})`, {
        reason: 'invalid_response',
        retryable: false,
        requestId,
      });
    if (!Array.isArray(raw)) throw invalid('Entities is not a list');
    const toUtf16 = codePointMap(chunk.text);
    const out: PiiEntity[] = [];
    for (const e of raw) {
      const { Type: type, Score: score, BeginOffset: begin, EndOffset: end } = e ?? {};
      if (typeof type !== 'string' || type === '') throw invalid('no Type');
      if (typeof score !== 'number' || !(score >= 0 && score <= 1)) throw invalid('Score missing or outside [0, 1]');
      if (!Number.isInteger(begin) || !Number.isInteger(end) || begin! < 0 || end! < begin! || end! > toUtf16.length) {
        throw invalid(`offsets ${begin}..${end} outside the ${toUtf16.length} code points sent`);
      }
      if (end === begin) continue;
      if (score < this.minScore) continue;
      if (this.entityTypes && !this.entityTypes.has(type)) continue;
      out.push({ type, score, start: chunk.start + toUtf16.at(begin!), end: chunk.start + toUtf16.at(end!) });
    }
    return out;
  }

  /** A failed call as a {@link ComprehendPiiError}; never quotes the SDK's message. */
  private describe(error: unknown): ComprehendPiiError {
    const e = (typeof error === 'object' && error !== null ? error : {}) as {
      name?: unknown;
      $fault?: unknown;
      $metadata?: { httpStatusCode?: unknown; requestId?: unknown };
      $retryable?: { throttling?: unknown };
    };
    const code = typeof e.name === 'string' ? e.name : 'Error';
    const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
    const requestId = typeof e.$metadata?.requestId === 'string' ? e.$metadata.requestId : undefined;
    const meta = { code, ...(status === undefined ? {} : { status }), ...(requestId === undefined ? {} : { requestId }) };
    const what = `${code}${status === undefined ? '' : `, HTTP ${status}`}${requestId === undefined ? '' : `, request id ${requestId}`}`;
    const fail = (reason: ComprehendPiiFailure, retryable: boolean, message: string): ComprehendPiiError =>
      new ComprehendPiiError(message, { reason, retryable, ...meta });

    if (THROTTLING.has(code) || status === 429 || e.$retryable?.throttling === true) {
      return fail(
        'throttled',
        true,
        `Comprehend throttled DetectPiiEntities (${what}); lower concurrency (now ${this.concurrency}) or raise the account's Comprehend quota`,
      );
    }
    if (code === 'UnsupportedLanguageException') {
      return fail(
        'invalid_request',
        false,
        `Comprehend DetectPiiEntities does not support languageCode "${this.languageCode}" (${what}); set languageCode to a supported language (en, es)`,
      );
    }
    if (code === 'TextSizeLimitExceededException') {
      return fail(
        'invalid_request',
        false,
        `Comprehend DetectPiiEntities refused a chunk as too large (${what}); lower maxChunkBytes (now ${this.maxChunkBytes}, the API's limit is 100 KB)`,
      );
    }
    if (code === 'ValidationException' || code === 'InvalidRequestException' || code === 'SerializationException') {
      return fail(
        'invalid_request',
        false,
        `Comprehend DetectPiiEntities rejected the request (${what}); check languageCode ("${this.languageCode}": en or es) and maxChunkBytes (${this.maxChunkBytes})`,
      );
    }
    if (DENIED.has(code) || status === 401 || status === 403) {
      return fail(
        'denied',
        false,
        `Comprehend refused DetectPiiEntities (${what}); check the credentials and the comprehend:DetectPiiEntities permission`,
      );
    }
    if (status !== undefined && status >= 500) return fail('unavailable', true, `Comprehend DetectPiiEntities failed (${what})`);
    if (e.$fault === 'server' || code === 'InternalServerException')
      return fail('unavailable', true, `Comprehend DetectPiiEntities failed (${what})`);
    if (status === undefined) return fail('unavailable', true, `Comprehend could not be reached (${what})`);
    if (status >= 200 && status < 300)
      return fail('invalid_response', false, `Comprehend DetectPiiEntities answered with a response that could not be read (${what})`);
    return fail(
      'invalid_request',
      false,
      `Comprehend DetectPiiEntities rejected the request (${what}); check languageCode ("${this.languageCode}") and maxChunkBytes (${this.maxChunkBytes})`,
    );
  }
}

const THROTTLING = new Set([
  'TooManyRequestsException',
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'LimitExceededException',
]);
const DENIED = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'ExpiredTokenException',
  'MissingAuthenticationTokenException',
  'CredentialsProviderError',
]);

function aborted(signal: AbortSignal): ComprehendPiiError {
  return new ComprehendPiiError('PII detection with Comprehend was aborted', { reason: 'aborted', retryable: false, cause: signal.reason });
}

/**
 * Sort by start, and merge entities of one type that overlap (the same entity found in two
 * chunks, or cut in one and whole in the other) into one spanning both, with the higher score.
 */
function mergeEntities(entities: readonly PiiEntity[]): PiiEntity[] {
  const sorted = [...entities].sort((a, b) => a.start - b.start || a.end - b.end || a.type.localeCompare(b.type));
  const out: { type: string; start: number; end: number; score: number }[] = [];
  const lastOfType = new Map<string, { type: string; start: number; end: number; score: number }>();
  for (const e of sorted) {
    const last = lastOfType.get(e.type);
    if (last && e.start < last.end) {
      last.end = Math.max(last.end, e.end);
      last.score = Math.max(last.score, e.score);
      continue;
    }
    const copy = { type: e.type, start: e.start, end: e.end, score: e.score };
    out.push(copy);
    lastOfType.set(e.type, copy);
  }
  return out;
}
