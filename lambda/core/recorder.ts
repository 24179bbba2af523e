/**
 * The record stage (Kong's `log` phase): every request, however it ended, leaves exactly one
 * session record, made durable before its answer leaves. With `archiveFailMode: "closed"` (the
 * default) an answer whose record the archive refused becomes 503 and no model output; whatever
 * the request did is undone (`Session.compensate`).
 *
 * It works on its own: the gateway ends every request here, and the edge recorder records the
 * requests API Gateway refused itself (`recordRefusal`) with no gateway at all.
 */
import type { GatewayConfig } from '../../shared/config';
import { GatewayError, unavailable, UpstreamError } from './errors';
import { JSON_HEADERS, newSession, truncate, type Answer, type GatewayRequest, type HandledRequest, type Session } from './exchange';
import type { Archive, Clock, EmbeddingResult } from './ports';
import { fingerprintVectors, RECORD_SCHEMA, recordPrincipal, sealRecord, type Outcome, type SessionRecord } from './record';
import { bodyBytes } from './request';
import { keepInput } from './kept-input';

export interface RecorderDeps {
  readonly config: GatewayConfig;
  readonly archive: Archive;
  readonly clock: Clock;
  /** Told about failures that must not change the answer (an undo or a follow-up that failed). */
  readonly onBackgroundError?: (what: string, error: unknown) => void;
}

/** How a request ended: an answer, or the error it was refused with. */
export type Ending = { readonly answer: Answer } | { readonly error: unknown };

/**
 * The decision a request's intent carries (issue 16): the record it leaves if its function ends
 * during the upstream call (a timeout, a crash) and no final record follows. 504: the gateway
 * never answered it. The journal's compactor archives the intent as the request's one record
 * after a grace period; a request that ends normally replaces it with its final record.
 */
export const NO_OUTCOME = { status: 504, reason: 'no_outcome' } as const;

export class SessionRecorder {
  /** The intent writes under way, by session (see `begin`). */
  private readonly intents = new WeakMap<Session, Promise<unknown>>();

  constructor(private readonly deps: RecorderDeps) {}

  /**
   * The upstream call is about to start: journal the request's intent now, so the write overlaps
   * the call (issue 16). Does not wait; `finish` does, alongside the final record. Without a
   * journal (`Archive.putIntent` absent) there is nothing to do.
   */
  begin(req: GatewayRequest, s: Session): void {
    const { archive, clock, config } = this.deps;
    if (!archive.putIntent) return;
    const intent = buildRecord(config, req, { ...s, reason: NO_OUTCOME.reason }, NO_OUTCOME.status, clock.now());
    const written = archive.putIntent(intent);
    written.catch(() => undefined); // awaited (and reported) in finish
    this.intents.set(s, written);
  }

  /**
   * End a request: its answer (an error becomes its OpenAI-shaped answer, with its reason in the
   * session), its record made durable, the follow-ups and undos that depend on that, the
   * gateway's headers (`x-embedgate-session-id`, `Server-Timing`).
   */
  async finish(req: GatewayRequest, s: Session, ending: Ending): Promise<HandledRequest> {
    const { clock, config } = this.deps;
    const { status, body, headers, internalError } = answerOf(s, ending);
    const endedAt = clock.now();
    const record = buildRecord(config, req, s, status, endedAt);
    const upstreamMs = s.upstream?.latency_ms ?? 0;
    const gatewayMs = Math.max(0, endedAt - s.startedAt - upstreamMs);
    const responseHeaders = (own: Readonly<Record<string, string>>): Record<string, string> => ({
      ...JSON_HEADERS,
      ...own,
      'x-embedgate-session-id': s.id,
      'server-timing': `gateway;dur=${(gatewayMs + (clock.now() - endedAt)).toFixed(2)}${s.upstream ? `, upstream;dur=${upstreamMs.toFixed(2)}` : ''}`,
    });
    try {
      // Settling the limits (real token usage, in-flight place; it never rejects) overlaps the archive write.
      // The intent (started before the upstream call) is long done by now; it only guards a request
      // that never gets here, so its failure does not change the answer once the final record is durable.
      const intent = this.intents.get(s)?.catch((e: unknown) => this.background('journaling the request intent failed', e));
      await Promise.all([this.deps.archive.put(record), s.admission?.settle(s.result?.usage.totalTokens ?? null), intent]);
    } catch (archiveError) {
      if (config.gateway.archiveFailMode === 'closed') {
        if (s.compensate) await s.compensate().catch((e: unknown) => this.background('undoing an unrecorded approval step failed', e));
        const refused = unavailable(
          'The gateway cannot record this request right now; nothing was returned. Try again later.',
          'archive_unavailable',
        );
        const response = {
          status: 503,
          headers: { ...responseHeaders({}), 'retry-after': '1' },
          body: JSON.stringify(refused.toBody()),
        };
        return { response, record, archiveError, internalError };
      }
      return { response: { status, headers: responseHeaders(headers), body }, record, archiveError, internalError };
    }
    if (s.afterRecord) await s.afterRecord().catch((e: unknown) => this.background('approval follow-up failed', e));
    return { response: { status, headers: responseHeaders(headers), body }, record, ...(internalError ? { internalError } : {}) };
  }

  /**
   * Record a request that was refused before any stage ran (API Gateway's own answers, read from
   * its access log by the edge recorder): the same record shape as a refusal by the gateway.
   */
  recordRefusal(req: GatewayRequest, error: GatewayError, sessionId: string): Promise<HandledRequest> {
    const s = newSession(sessionId, req.receivedAt ?? this.deps.clock.now());
    return this.finish(req, s, { error });
  }

  private background(what: string, e: unknown): void {
    this.deps.onBackgroundError?.(what, e);
  }
}

/** The answer of an ending; an error's reason (and upstream facts) go into the session. */
function answerOf(
  s: Session,
  ending: Ending,
): { status: number; body: string; headers: Readonly<Record<string, string>>; internalError?: unknown } {
  if ('answer' in ending) return { status: ending.answer.status, body: ending.answer.body, headers: ending.answer.headers ?? {} };
  const e = ending.error;
  if (e instanceof GatewayError) {
    s.reason = e.reason;
    if (e instanceof UpstreamError) s.upstream = upstreamOf(e.upstream);
    return { status: e.status, body: JSON.stringify(e.toBody()), headers: e.headers };
  }
  s.reason = 'internal_error';
  const generic = new GatewayError('The gateway failed to process the request.', {
    status: 500,
    type: 'server_error',
    code: 'internal_error',
  });
  return { status: 500, body: JSON.stringify(generic.toBody()), headers: {}, internalError: e };
}

/** The sealed record of a session that ended with `status`. */
export function buildRecord(config: GatewayConfig, req: GatewayRequest, s: Session, status: number, endedAt: number): SessionRecord {
  const r = s.result;
  return sealRecord({
    schema: RECORD_SCHEMA,
    session_id: s.id,
    started_at: new Date(s.startedAt).toISOString(),
    ended_at: new Date(endedAt).toISOString(),
    request: {
      method: truncate(req.method, 16),
      path: truncate(req.path, 256),
      request_id: req.requestId,
      source_ip: req.sourceIp,
      user_agent: req.headers['user-agent'] ? truncate(req.headers['user-agent'], 256) : null,
    },
    principal: s.principal ? recordPrincipal(s.principal) : null,
    model: s.model ? { ...s.model, name: truncate(s.model.name, 256) } : null,
    decision: {
      outcome: outcomeOf(status),
      status,
      reason: s.reason,
      rule_id: s.ruleId,
      policy_version: config.version,
    },
    input: {
      kind: s.input.kind,
      items: s.input.items,
      characters: s.input.characters,
      encoding_format: s.encodingFormat,
      dimensions: s.dimensions,
      request_bytes: bodyBytes(req.body, req.isBase64Encoded),
      ...keepInput(s.sentInput, config.recording),
    },
    masking: s.masking,
    upstream: s.upstream,
    usage: r ? { prompt_tokens: r.usage.promptTokens, total_tokens: r.usage.totalTokens } : null,
    output: r
      ? {
          vectors: r.vectors.length,
          dimensions: r.vectors[0]?.length ?? 0,
          fingerprint: fingerprintVectors(r.vectors),
          encoding_format: s.encodingFormat ?? 'float',
        }
      : null,
    timings: { total_ms: round(endedAt - s.startedAt), auth_ms: round(s.authMs), upstream_ms: round(s.upstream?.latency_ms ?? 0) },
    approval: s.approval,
  });
}

/** Outcome class of a status: 202 held (for approval); other 2xx allow; 401/403 deny; 429 and 5xx error; other 4xx invalid. */
export function outcomeOf(status: number): Outcome {
  if (status === 202) return 'held';
  if (status < 300) return 'allow';
  if (status === 401 || status === 403) return 'deny';
  if (status === 429 || status >= 500) return 'error';
  return 'invalid';
}

/** The record's `upstream` section from a provider's stats. */
export function upstreamOf(u: EmbeddingResult['upstream']): NonNullable<SessionRecord['upstream']> {
  return { status: u.status ?? null, latency_ms: round(u.latencyMs), attempts: u.attempts, batches: u.batches };
}

const round = (ms: number): number => Math.round(ms * 100) / 100;
