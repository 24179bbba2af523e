/**
 * The core request pipeline, independent of Lambda and HTTP frameworks:
 *
 *   identity -> revocation -> request validation -> policy -> limits -> provider -> response -> record
 *
 * Every request that reaches `handle` (every route but the health check) ends in exactly one
 * session record. With `archiveFailMode: "closed"` (the default) a response leaves only after its
 * record is durable; when the archive refuses it, the client gets 503 and no model output.
 */
import type { GatewayConfig, ModelConfig } from '../../shared/config';
import { forbidden, GatewayError, invalidRequest, UpstreamError, unauthenticated } from './errors';
import { issuerPrefix, resolveRoute } from './routes';
import { extractBearerToken, type Principal } from './identity';
import { allowedModels, decide } from './policy';
import type { Archive, Clock, EmbeddingCall, EmbeddingProvider, EmbeddingResult, Ids, RevocationList } from './ports';
import { MaskingError, ruleMaskingStrategies, type Masker, type MaskItemsResult } from './masking';
import { fingerprintVectors, RECORD_SCHEMA, recordPrincipal, sealRecord, toLittleEndianBytes, type Outcome, type SessionRecord } from './record';
import { bodyBytes, enforceLimits, parseEmbeddingsRequest, summarizeInput, type EmbeddingsRequest, type InputSummary } from './request';

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
  /** Epoch ms when the request arrived (defaults to the clock at `handle`). */
  readonly receivedAt?: number;
}

export interface GatewayResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** What `handle` returns: the response, its record, and an unexpected error worth logging. */
export interface HandledRequest {
  readonly response: GatewayResponse;
  readonly record: SessionRecord;
  /** Set when the record could not be archived (the response is then 503 in fail-closed mode). */
  readonly archiveError?: unknown;
  /** Set for 5xx answers caused by something other than a mapped upstream failure. */
  readonly internalError?: unknown;
}

export interface GatewayDeps {
  readonly config: GatewayConfig;
  /** Verifies bearer tokens (a `TokenVerifier` in production). */
  readonly verifier: { verify(token: string): Promise<Principal> };
  /** The provider for a configured model (created once per model by the caller). */
  readonly provider: (model: ModelConfig) => EmbeddingProvider;
  readonly archive: Archive;
  /** The runtime deny list, checked after identity on every route. */
  readonly revocations: RevocationList;
  /** The masker (see `lazyMasker`); absent when masking is off. */
  readonly masker?: () => Promise<Masker>;
  readonly clock: Clock;
  readonly ids: Ids;
}

/** Mutable facts gathered while a request runs; turned into the record at the end. */
interface Session {
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
  inputText: string[] | null;
  authMs: number;
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' } as const;

export class Gateway {
  constructor(private readonly deps: GatewayDeps) {}

  /**
   * Run one request to its response and its record.
   * @param opts.rejectedAtEdge the error API Gateway answered with (its JWT authorizer, a missing
   *   route, throttling): the request never reached the handler, and is only recorded.
   * @param opts.sessionId use this session id (a deterministic one for redelivered events).
   */
  async handle(req: GatewayRequest, opts: { readonly rejectedAtEdge?: GatewayError; readonly sessionId?: string } = {}): Promise<HandledRequest> {
    const { clock, ids, config } = this.deps;
    const s: Session = {
      id: opts.sessionId ?? ids.sessionId(),
      startedAt: req.receivedAt ?? clock.now(),
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
      inputText: null,
      authMs: 0,
    };
    let status: number;
    let body: string;
    let headers: Record<string, string> = {};
    let internalError: unknown;
    try {
      if (opts.rejectedAtEdge) throw opts.rejectedAtEdge;
      ({ status, body } = await this.route(req, s));
    } catch (e) {
      if (e instanceof GatewayError) {
        status = e.status;
        body = JSON.stringify(e.toBody());
        headers = { ...e.headers };
        s.reason = e.reason;
        if (e instanceof UpstreamError) s.upstream = upstreamOf(e.upstream);
      } else {
        internalError = e;
        status = 500;
        body = JSON.stringify(new GatewayError('The gateway failed to process the request.', { status: 500, type: 'server_error', code: 'internal_error' }).toBody());
        s.reason = 'internal_error';
      }
    }

    const endedAt = clock.now();
    const record = this.buildRecord(req, s, status, endedAt);
    const upstreamMs = s.upstream?.latency_ms ?? 0;
    const gatewayMs = Math.max(0, endedAt - s.startedAt - upstreamMs);
    const responseHeaders = (): Record<string, string> => ({
      ...JSON_HEADERS,
      ...headers,
      'x-embedgate-session-id': s.id,
      'server-timing': `gateway;dur=${(gatewayMs + (clock.now() - endedAt)).toFixed(2)}${s.upstream ? `, upstream;dur=${upstreamMs.toFixed(2)}` : ''}`,
    });
    try {
      await this.deps.archive.put(record);
    } catch (archiveError) {
      if (config.gateway.archiveFailMode === 'closed') {
        headers = {};
        const unavailable = new GatewayError('The gateway cannot record this request right now; nothing was returned. Try again later.', {
          status: 503, type: 'server_error', code: 'archive_unavailable',
        });
        return { response: { status: 503, headers: { ...responseHeaders(), 'retry-after': '1' }, body: JSON.stringify(unavailable.toBody()) }, record, archiveError, internalError };
      }
      return { response: { status, headers: responseHeaders(), body }, record, archiveError, internalError };
    }
    return { response: { status, headers: responseHeaders(), body }, record, ...(internalError ? { internalError } : {}) };
  }

  private async route(req: GatewayRequest, s: Session): Promise<{ status: number; body: string }> {
    const route = resolveRoute(this.deps.config, req.path);
    const path = route.path;
    const known = ROUTES[path];
    if (!known) throw new GatewayError(`Unknown route ${req.method} ${truncate(path, 100)}.`, { status: 404, type: 'not_found_error', code: 'route_not_found' });
    if (known !== req.method.toUpperCase()) {
      throw new GatewayError(`${truncate(path, 100)} accepts ${known} only.`, { status: 405, type: 'invalid_request_error', code: 'method_not_allowed', headers: { allow: known } });
    }
    const t0 = this.deps.clock.now();
    const token = extractBearerToken(req, this.deps.config.gateway.maxTokenBytes);
    s.principal = await this.deps.verifier.verify(token);
    s.authMs = this.deps.clock.now() - t0;
    if (s.principal.issuerId !== route.issuerId) {
      throw unauthenticated(`Tokens of this issuer are accepted at ${issuerPrefix(this.deps.config, s.principal.issuerId)}/v1 only.`, 'issuer_route_mismatch');
    }
    const p = s.principal;
    const revoked = await this.deps.revocations.find({ issuer: p.issuer, subject: p.subject, clientId: p.clientId, tokenId: p.tokenId });
    if (revoked) throw forbidden('Access for this principal has been revoked.', 'principal_revoked', `revoked_${revoked.kind}`);
    return path === '/v1/models' ? this.listModels(s) : this.embeddings(req, s);
  }

  private listModels(s: Session): { status: number; body: string } {
    const models = allowedModels(this.deps.config, s.principal!);
    s.reason = 'models_listed';
    const created = Math.floor(s.startedAt / 1000);
    return {
      status: 200,
      body: JSON.stringify({ object: 'list', data: models.map((m) => ({ id: m.name, object: 'model', created, owned_by: 'embedgate' })) }),
    };
  }

  private async embeddings(req: GatewayRequest, s: Session): Promise<{ status: number; body: string }> {
    const { config } = this.deps;
    const request: EmbeddingsRequest = parseEmbeddingsRequest(req.body, req.isBase64Encoded, config.gateway.maxRequestBytes);
    s.input = summarizeInput(request.input);
    s.encodingFormat = request.encodingFormat;
    s.dimensions = request.dimensions ?? null;
    s.model = { name: request.model, provider: null, upstream_model: null };

    const decision = decide(config, s.principal!, request.model);
    s.ruleId = decision.ruleId;
    if (decision.model) {
      s.model = { name: decision.model.name, provider: decision.model.provider, upstream_model: decision.model.upstreamModel ?? decision.model.name };
    }
    if (decision.effect === 'deny') {
      throw new GatewayError(`You are not allowed to use model "${truncate(request.model, 128)}".`, {
        status: 403, type: 'permission_error', code: 'model_not_allowed', param: 'model', reason: decision.reason,
      });
    }
    enforceLimits(request, decision.limits!);

    const input = await this.mask(request, decision.ruleId, s);
    const provider = this.deps.provider(decision.model!);
    const result = await provider.embed({
      input,
      ...(request.dimensions !== undefined ? { dimensions: request.dimensions } : {}),
      ...(request.user !== undefined ? { user: request.user } : {}),
      encodingFormat: request.encodingFormat,
    });
    s.result = result;
    s.upstream = upstreamOf(result.upstream);
    s.reason = decision.reason;
    return { status: 200, body: embeddingsBody(request, decision.model!.name, result) };
  }

  /**
   * Mask every input item (order and count kept) when masking is on; never pass on text it was
   * asked to protect unscanned. Blocked entity types refuse the request (422, types named, never
   * values). Findings go into the record.
   */
  private async mask(request: EmbeddingsRequest, ruleId: string | null, s: Session): Promise<EmbeddingCall['input']> {
    if (!this.deps.masker) return request.input.items;
    let masker: Masker;
    try {
      masker = await this.deps.masker();
    } catch (cause) {
      throw new GatewayError('Sensitive-data masking is unavailable right now; nothing was sent. Try again later.', {
        status: 503, type: 'server_error', code: 'masking_unavailable', reason: 'masking_unavailable', cause,
      });
    }
    if (request.input.kind === 'tokens') {
      if (masker.tokenInputs === 'refuse') {
        throw invalidRequest('Token-id inputs cannot be scanned for sensitive data and are refused while masking is on; send text.', 'tokens_not_scannable', 'input');
      }
      s.masking = { scanned: false, findings: [], counts: [], blocked: [], external: null };
      return request.input.items;
    }
    let r: MaskItemsResult;
    try {
      r = await masker.maskItems(request.input.items, ruleMaskingStrategies(this.deps.config, ruleId));
    } catch (e) {
      if (!(e instanceof MaskingError)) throw e;
      const tooLarge = e.code === 'too_large';
      throw new GatewayError(e.message, {
        status: e.status,
        type: tooLarge ? 'invalid_request_error' : 'server_error',
        code: tooLarge ? 'input_too_large_to_scan' : 'masking_unavailable',
        param: tooLarge ? 'input' : null,
        reason: `masking_${e.code}`,
        cause: e,
      });
    }
    s.masking = {
      scanned: true,
      findings: r.findings.flatMap((fs, item) => fs.map((f) => ({ item, type: f.type, detector: f.detector, strategy: f.strategy, count: f.count, offsets: f.offsets.map(([a, b]) => [a, b]), pseudonyms: [...(f.pseudonyms ?? [])] }))),
      counts: Object.entries(r.counts).map(([type, count]) => ({ type, count })),
      blocked: r.blocked,
      external: r.external ? { detector: r.external.detector, status: r.external.status } : null,
    };
    if (masker.storeInputText) s.inputText = r.items;
    if (r.blocked.length > 0) {
      throw new GatewayError(`The input contains sensitive data of a type this policy blocks: ${r.blocked.join(', ')}.`, {
        status: 422, type: 'invalid_request_error', code: 'sensitive_data_blocked', param: 'input', reason: 'masking_blocked',
      });
    }
    return r.items;
  }

  private buildRecord(req: GatewayRequest, s: Session, status: number, endedAt: number): SessionRecord {
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
        policy_version: this.deps.config.version,
      },
      input: {
        kind: s.input.kind,
        items: s.input.items,
        characters: s.input.characters,
        encoding_format: s.encodingFormat,
        dimensions: s.dimensions,
        request_bytes: bodyBytes(req.body, req.isBase64Encoded),
        text: s.inputText,
      },
      masking: s.masking,
      upstream: s.upstream,
      usage: r ? { prompt_tokens: r.usage.promptTokens, total_tokens: r.usage.totalTokens } : null,
      output: r ? { vectors: r.vectors.length, dimensions: r.vectors[0]?.length ?? 0, fingerprint: fingerprintVectors(r.vectors) } : null,
      timings: { total_ms: round(endedAt - s.startedAt), auth_ms: round(s.authMs), upstream_ms: round(s.upstream?.latency_ms ?? 0) },
    });
  }
}

const ROUTES: Readonly<Record<string, string>> = { '/v1/embeddings': 'POST', '/v1/models': 'GET' };

/** Outcome class of a status: 2xx allow; 401/403 deny; 429 and 5xx error; other 4xx invalid. */
export function outcomeOf(status: number): Outcome {
  if (status < 300) return 'allow';
  if (status === 401 || status === 403) return 'deny';
  if (status === 429 || status >= 500) return 'error';
  return 'invalid';
}

/**
 * The OpenAI-shaped body of a successful embeddings answer, in the client's `encoding_format`:
 * `{"object":"list","data":[{"object":"embedding","index":i,"embedding":...}],"model":...,"usage":{...}}`.
 *
 * Pass-through: a vector the provider kept in the upstream's own encoding (`r.encoded`), when that
 * is the client's encoding, goes out as the upstream wrote it (a canonical base64 string, or a
 * compact number array's exact text) instead of being encoded again; others are encoded from the
 * float32 values (`Array.from` for floats, so the numbers are the exact float32 values). Either
 * way the values are the ones the record's `output.fingerprint` covers. Embeddings responses hold
 * no text, so no response masking applies to them.
 */
export function embeddingsBody(req: Pick<EmbeddingsRequest, 'encodingFormat'>, model: string, r: EmbeddingResult): string {
  const format = req.encodingFormat === 'base64' ? 'base64' : 'float';
  let data = '';
  for (let i = 0; i < r.vectors.length; i++) {
    const kept = r.encoded?.[i];
    let embedding: string;
    if (kept !== undefined && kept.format === format) embedding = format === 'base64' ? `"${kept.text}"` : kept.text;
    else if (format === 'float') embedding = JSON.stringify(Array.from(r.vectors[i]!));
    else {
      const bytes = toLittleEndianBytes(r.vectors[i]!);
      embedding = `"${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}"`;
    }
    data += `${i === 0 ? '' : ','}{"object":"embedding","index":${i},"embedding":${embedding}}`;
  }
  const usage = `{"prompt_tokens":${JSON.stringify(r.usage.promptTokens)},"total_tokens":${JSON.stringify(r.usage.totalTokens)}}`;
  return `{"object":"list","data":[${data}],"model":${JSON.stringify(model)},"usage":${usage}}`;
}

function upstreamOf(u: EmbeddingResult['upstream']): NonNullable<SessionRecord['upstream']> {
  return { status: u.status ?? null, latency_ms: round(u.latencyMs), attempts: u.attempts, batches: u.batches };
}

const round = (ms: number): number => Math.round(ms * 100) / 100;
const truncate = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n)}…` : s);
