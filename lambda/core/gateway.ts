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
import type {
  Approval,
  ApprovalStatus,
  ApprovalStore,
  ApprovalWorkflow,
  Archive,
  Clock,
  EmbeddingCall,
  EmbeddingProvider,
  EmbeddingResult,
  Ids,
  RevocationList,
} from './ports';
import {
  APPROVAL_HEADER,
  APPROVAL_ID_PATTERN,
  approvalNotFound,
  approvalPreview,
  approvalTriggers,
  approvalView,
  canView,
  casUpdate,
  decideApproval,
  APPROVAL_STATUSES,
  effectiveStatus,
  newestFirst,
  storedStatusesFor,
  grantOf,
  MAX_REASON_CHARS,
  newApproval,
  payloadSha256,
  principalRef,
  recordApproval,
  releaseApproval,
  samePrincipal,
  expireApproval,
  useApproval,
} from './approvals';
import { MaskingError, ruleMaskingStrategies, type Masker, type MaskItemsResult } from './masking';
import {
  fingerprintVectors,
  RECORD_SCHEMA,
  recordPrincipal,
  sealRecord,
  toLittleEndianBytes,
  type Outcome,
  type RecordApproval,
  type SessionRecord,
} from './record';
import { checkResponseFits, fitResponseBody, LAMBDA_PAYLOAD_LIMIT_BYTES } from './payload-limits';
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
  /**
   * Where held requests wait for reviewers. Absent: no approvals; a request a rule holds for
   * approval is then refused with 503 (fail closed), never forwarded.
   */
  readonly approvals?: { readonly store: ApprovalStore; readonly workflow: ApprovalWorkflow };
  /** Called with errors that must not change the answer (e.g. releasing a workflow after a decision). */
  readonly onBackgroundError?: (what: string, error: unknown) => void;
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
  approval: RecordApproval | null;
  /** Runs once the record is durable (releasing an approval's workflow after a decision). */
  afterRecord?: () => Promise<void>;
  /**
   * Undoes what this request did when its record cannot be archived in fail-closed mode (the
   * client gets 503 and nothing else, so nothing may take effect without its record).
   */
  compensate?: () => Promise<void>;
}

/** A route's answer (errors are thrown as GatewayError). */
interface Routed {
  readonly status: number;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
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
  async handle(
    req: GatewayRequest,
    opts: { readonly rejectedAtEdge?: GatewayError; readonly sessionId?: string } = {},
  ): Promise<HandledRequest> {
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
      approval: null,
    };
    let status: number;
    let body: string;
    let headers: Record<string, string> = {};
    let internalError: unknown;
    try {
      if (opts.rejectedAtEdge) throw opts.rejectedAtEdge;
      const routed = await this.route(req, s);
      ({ status, body } = routed);
      if (routed.headers) headers = { ...routed.headers };
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
        body = JSON.stringify(
          new GatewayError('The gateway failed to process the request.', {
            status: 500,
            type: 'server_error',
            code: 'internal_error',
          }).toBody(),
        );
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
        if (s.compensate)
          await s.compensate().catch((e: unknown) => this.deps.onBackgroundError?.('undoing an unrecorded approval step failed', e));
        headers = {};
        const unavailable = new GatewayError('The gateway cannot record this request right now; nothing was returned. Try again later.', {
          status: 503,
          type: 'server_error',
          code: 'archive_unavailable',
        });
        return {
          response: { status: 503, headers: { ...responseHeaders(), 'retry-after': '1' }, body: JSON.stringify(unavailable.toBody()) },
          record,
          archiveError,
          internalError,
        };
      }
      return { response: { status, headers: responseHeaders(), body }, record, archiveError, internalError };
    }
    if (s.afterRecord) await s.afterRecord().catch((e: unknown) => this.deps.onBackgroundError?.('approval follow-up failed', e));
    return { response: { status, headers: responseHeaders(), body }, record, ...(internalError ? { internalError } : {}) };
  }

  private async route(req: GatewayRequest, s: Session): Promise<Routed> {
    const route = resolveRoute(this.deps.config, req.path);
    const path = route.path;
    const known = routeMethod(path);
    if (!known)
      throw new GatewayError(`Unknown route ${req.method} ${truncate(path, 100)}.`, {
        status: 404,
        type: 'not_found_error',
        code: 'route_not_found',
      });
    if (known !== req.method.toUpperCase()) {
      throw new GatewayError(`${truncate(path, 100)} accepts ${known} only.`, {
        status: 405,
        type: 'invalid_request_error',
        code: 'method_not_allowed',
        headers: { allow: known },
      });
    }
    const t0 = this.deps.clock.now();
    const token = extractBearerToken(req, this.deps.config.gateway.maxTokenBytes);
    s.principal = await this.deps.verifier.verify(token);
    s.authMs = this.deps.clock.now() - t0;
    if (s.principal.issuerId !== route.issuerId) {
      throw unauthenticated(
        `Tokens of this issuer are accepted at ${issuerPrefix(this.deps.config, s.principal.issuerId)}/v1 only.`,
        'issuer_route_mismatch',
      );
    }
    const p = s.principal;
    const revoked = await this.deps.revocations.find({ issuer: p.issuer, subject: p.subject, clientId: p.clientId, tokenId: p.tokenId });
    if (revoked) throw forbidden('Access for this principal has been revoked.', 'principal_revoked', `revoked_${revoked.kind}`);
    if (path === '/v1/models') return this.listModels(s);
    if (path === '/v1/embeddings') return this.embeddings(req, s);
    return this.approvalRoute(req, s, route.prefix, path);
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

  private async embeddings(req: GatewayRequest, s: Session): Promise<Routed> {
    const { config } = this.deps;
    const request: EmbeddingsRequest = parseEmbeddingsRequest(req.body, req.isBase64Encoded, config.gateway.maxRequestBytes);
    s.input = summarizeInput(request.input);
    s.encodingFormat = request.encodingFormat;
    s.dimensions = request.dimensions ?? null;
    s.model = { name: request.model, provider: null, upstream_model: null };

    const decision = decide(config, s.principal!, request.model);
    s.ruleId = decision.ruleId;
    if (decision.model) {
      s.model = {
        name: decision.model.name,
        provider: decision.model.provider,
        upstream_model: decision.model.upstreamModel ?? decision.model.name,
      };
    }
    if (decision.effect === 'deny') {
      throw new GatewayError(`You are not allowed to use model "${truncate(request.model, 128)}".`, {
        status: 403,
        type: 'permission_error',
        code: 'model_not_allowed',
        param: 'model',
        reason: decision.reason,
      });
    }
    enforceLimits(request, decision.limits!);
    checkResponseFits(request, decision.model!, config.gateway.maxResponseBytes ?? LAMBDA_PAYLOAD_LIMIT_BYTES);

    const input = await this.mask(request, decision.ruleId, s);
    const held = await this.approvalGate(req, s, request, input, decision.ruleId!);
    if (held && 'status' in held) return held;
    const provider = this.deps.provider(decision.model!);
    let result: EmbeddingResult;
    try {
      result = await provider.embed({
        input,
        ...(request.dimensions !== undefined ? { dimensions: request.dimensions } : {}),
        ...(request.user !== undefined ? { user: request.user } : {}),
        encodingFormat: request.encodingFormat,
        ...(req.deadline !== undefined ? { deadline: req.deadline } : {}),
      });
    } catch (e) {
      // The client got no output: give a used single-use approval back so the same request can be retried.
      if (held?.used) await this.releaseUsed(held.used, s);
      throw e;
    }
    s.upstream = upstreamOf(result.upstream);
    const limit = config.gateway.maxResponseBytes ?? LAMBDA_PAYLOAD_LIMIT_BYTES;
    const body = fitResponseBody(embeddingsBody(request, decision.model!.name, result), request, decision.model!, limit);
    s.result = result;
    s.reason = decision.reason;
    return { status: 200, body };
  }

  /**
   * Approval for a request its allow rule holds: nothing when no condition holds; a use of an
   * approval or grant (the caller forwards); or the 202 answer after a new approval was stored
   * and its workflow started. Refusals are thrown (403/409, with the approval in the record; 429 past the rule's `maxPending`).
   */
  private async approvalGate(
    req: GatewayRequest,
    s: Session,
    request: EmbeddingsRequest,
    maskedInput: EmbeddingCall['input'],
    ruleId: string,
  ): Promise<Routed | { used: Approval | null } | null> {
    const { config, clock } = this.deps;
    const rule = config.policy.rules.find((r) => r.id === ruleId);
    if (!rule?.approval) return null;
    const maskedTypes = new Set(s.masking?.counts.filter((c) => c.count > 0).map((c) => c.type) ?? []);
    const triggers = approvalTriggers(rule.approval, s.principal!, request.input, maskedTypes);
    if (triggers.length === 0) return null;
    const approvals = this.deps.approvals;
    if (!approvals) {
      throw new GatewayError('This request needs approval, but approvals are not available in this deployment; nothing was sent.', {
        status: 503,
        type: 'server_error',
        code: 'approvals_unavailable',
      });
    }
    const principal = s.principal!;
    const now = clock.now();
    const hash = payloadSha256({
      model: request.model,
      input: maskedInput,
      encodingFormat: request.encodingFormat,
      dimensions: request.dimensions,
      user: request.user,
    });
    const header = req.headers[APPROVAL_HEADER];
    if (header !== undefined) {
      const id = header.trim();
      const refuse = (e: GatewayError, a: Approval | null): never => {
        // Recorded even for another principal's approval (answered like an unknown id): an attempt worth auditing.
        if (a) s.approval = recordApproval(a, 'refused');
        throw e;
      };
      if (!APPROVAL_ID_PATTERN.test(id)) refuse(approvalNotFound(), null);
      // The approval as last read by the compare-and-set (null when there is none): what a refusal records.
      let seen: Approval | null = null;
      let used: Approval;
      try {
        used = await casUpdate(approvals.store, id, (a) => {
          seen = a;
          return useApproval(a, { principal, model: request.model, ruleId, payloadSha256: hash, sessionId: s.id, now });
        });
      } catch (e) {
        if (e instanceof GatewayError) refuse(e, seen);
        throw e;
      }
      s.approval = recordApproval(used, 'used', { grant: used.grantMinutes !== null });
      if (used.grantMinutes === null) {
        // Forwarded but unrecorded: the client gets 503 and nothing else, so the use is given back.
        s.compensate = () => this.releaseUsed(used, s);
        return { used };
      }
      return { used: null };
    }
    const grant = await approvals.store.findGrant(principalRef(principal), request.model, ruleId);
    if (grant && grant.until > now) {
      const a = await approvals.store.get(grant.approvalId);
      if (a && effectiveStatus(a, now) === 'approved') {
        s.approval = recordApproval(a, 'used', { grant: true });
        return { used: null };
      }
    }
    // The same held request sent again while its approval is pending: the same approval, no new
    // workflow and no new notification (a client that polls by re-sending cannot flood reviewers).
    const previousId = await approvals.store.findRequested(principalRef(principal), ruleId, hash);
    const previous = previousId ? await approvals.store.get(previousId) : null;
    if (
      previous &&
      samePrincipal(previous.requester, principal) &&
      previous.ruleId === ruleId &&
      previous.payloadSha256 === hash &&
      effectiveStatus(previous, now) === 'pending'
    ) {
      s.approval = recordApproval(previous, 'requested');
      s.reason = 'approval_pending';
      return this.heldAnswer(previous, ruleId, this.approvalUrls(req, previous.id));
    }
    const approval = newApproval({
      id: this.deps.ids.sessionId(),
      requester: principal,
      requestSessionId: s.id,
      model: request.model,
      rule: rule as typeof rule & { approval: NonNullable<typeof rule.approval> },
      policyVersion: config.version,
      triggers,
      payloadSha256: hash,
      preview: approvalPreview(request.input, s.masking?.scanned ? s.masking.findings : null),
      now,
    });
    const paths = this.approvalUrls(req, approval.id);
    // A cap on holds per principal and rule (checked and taken atomically by the store): each hold
    // notifies the reviewers and starts a workflow, so a principal, or a stolen token, cannot
    // flood reviewers with requests for approval.
    const { maxPending } = rule.approval;
    let created = false;
    try {
      created = await approvals.store.create(approval, { maxPending, now });
      if (created) await approvals.workflow.start({ approval, pollPath: paths.poll, decisionPath: paths.decision });
    } catch (cause) {
      // Never leave a pending approval nobody holds: reviewers could still approve it. A create
      // that failed may have stored it all the same (a write applied, its answer lost).
      const withdrawn = created ? await this.cancel(approval.id) : await this.cancelIfStored(approval.id);
      if (withdrawn) s.approval = recordApproval(withdrawn, 'expired');
      throw new GatewayError('This request needs approval, but the approval could not be started; nothing was sent. Try again later.', {
        status: 503,
        type: 'server_error',
        code: 'approvals_unavailable',
        headers: { 'retry-after': '5' },
        cause,
      });
    }
    if (!created) {
      // No Retry-After: waiting alone does not clear it (and the OpenAI SDKs would wait it out on each retry).
      throw new GatewayError(
        `This request needs approval (rule "${ruleId}"), but ${maxPending} of your requests for it are already waiting for a decision; nothing was sent and no approval was requested. Try again once one of them is decided or expires (GET approvals?status=pending, under the same base URL, lists them).`,
        { status: 429, type: 'rate_limit_error', code: 'too_many_pending_approvals', reason: 'approval_pending_limit' },
      );
    }
    s.approval = recordApproval(approval, 'requested');
    s.reason = 'approval_required';
    // Held but unrecorded: the client gets 503, so the approval is withdrawn.
    s.compensate = async () => void (await this.cancel(approval.id));
    return this.heldAnswer(approval, ruleId, paths);
  }

  /** The 202 answer for a held request. */
  private heldAnswer(approval: Approval, ruleId: string, paths: { poll: string; decision: string }): Routed {
    const triggers = approval.triggers;
    return {
      status: 202,
      headers: { 'retry-after': '10', location: paths.poll },
      body: JSON.stringify({
        object: 'approval',
        approval_id: approval.id,
        status: 'pending',
        poll_url: paths.poll,
        decision_url: paths.decision,
        expires_at: new Date(approval.expiresAt).toISOString(),
        rule_id: ruleId,
        triggers,
        message: `This request needs approval (rule "${ruleId}"). Poll poll_url; once approved, re-send the same request with the header ${APPROVAL_HEADER}: ${approval.id}.`,
      }),
    };
  }

  private async releaseUsed(used: Approval, s: Session): Promise<void> {
    const store = this.deps.approvals!.store;
    try {
      const back = await casUpdate(store, used.id, (a) => (a.status === 'used' && a.usedBySessionId === s.id ? releaseApproval(a) : a));
      s.approval = recordApproval(back, 'released');
    } catch (e) {
      this.deps.onBackgroundError?.('approval release failed', e);
    }
  }

  /** Withdraw a pending approval (marked expired); best effort, the deadline expires it anyway. */
  /** `cancel` for an approval that may not exist: null when it does not (or cannot be read). */
  private async cancelIfStored(id: string): Promise<Approval | null> {
    const stored = await this.deps.approvals!.store.get(id).catch((e: unknown) => {
      this.deps.onBackgroundError?.('reading an approval to withdraw it failed', e);
      return null;
    });
    return stored ? this.cancel(id).catch(() => null) : null;
  }

  private async cancel(id: string): Promise<Approval> {
    try {
      return await casUpdate(this.deps.approvals!.store, id, expireApproval);
    } catch (e) {
      this.deps.onBackgroundError?.('withdrawing an approval failed', e);
      const a = await this.deps.approvals!.store.get(id).catch(() => null);
      if (!a) throw e;
      return a;
    }
  }

  /** `GET /v1/approvals`, `GET /v1/approvals/{id}`, `POST /v1/approvals/{id}/decision`. */
  private async approvalRoute(req: GatewayRequest, s: Session, prefix: string, path: string): Promise<Routed> {
    const approvals = this.deps.approvals;
    if (!approvals)
      throw new GatewayError('Approvals are not enabled in this deployment.', {
        status: 404,
        type: 'not_found_error',
        code: 'approvals_not_enabled',
      });
    const p = s.principal!;
    const now = this.deps.clock.now();
    if (path === '/v1/approvals') {
      const status = new URLSearchParams(req.rawQueryString).get('status');
      if (status !== null && !(APPROVAL_STATUSES as readonly string[]).includes(status)) {
        throw invalidRequest(`status must be one of ${APPROVAL_STATUSES.join(', ')}.`, 'invalid_status', 'status');
      }
      // Filtered on the status as of now (a pending approval past its deadline is expired), so a
      // status reads every stored status that can be it now.
      const listed =
        status === null
          ? await approvals.store.list({ limit: 1000 })
          : (await Promise.all(storedStatusesFor(status as ApprovalStatus).map((st) => approvals.store.list({ status: st, limit: 1000 }))))
              .flat()
              .sort(newestFirst);
      const visible = listed.filter((a) => canView(a, p) && (status === null || effectiveStatus(a, now) === status)).slice(0, 100);
      s.reason = 'approvals_listed';
      return {
        status: 200,
        body: JSON.stringify({ object: 'list', data: visible.map((a) => approvalView(a, now, this.approvalUrls(req, a.id, prefix))) }),
      };
    }
    const [, id, decision] = APPROVAL_PATH.exec(path)!;
    const found = APPROVAL_ID_PATTERN.test(id!) ? await approvals.store.get(id!) : null;
    if (!found || !canView(found, p)) throw approvalNotFound();
    s.model = { name: found.model, provider: null, upstream_model: null };
    s.ruleId = found.ruleId;
    if (!decision) {
      s.approval = recordApproval({ ...found, status: effectiveStatus(found, now) }, 'viewed');
      s.reason = 'approval_viewed';
      return { status: 200, body: JSON.stringify(approvalView(found, now, this.approvalUrls(req, found.id, prefix))) };
    }
    const body = parseDecisionBody(req);
    const rule = this.deps.config.policy.rules.find((r) => r.id === found.ruleId);
    const useWithin = rule?.approval?.useWithinSeconds ?? 900;
    let decided: Approval;
    try {
      decided = await casUpdate(approvals.store, found.id, (a) => decideApproval(a, p, body.decision, body.reason, now, useWithin));
    } catch (e) {
      if (e instanceof GatewayError)
        s.approval = recordApproval(found, 'refused', { decision: body.decision, reviewer: { issuer: p.issuer, subject: p.subject } });
      throw e;
    }
    s.approval = recordApproval(decided, 'decided', { decision: body.decision, reviewer: { issuer: p.issuer, subject: p.subject } });
    s.reason = `approval_${body.decision === 'approve' ? 'approved' : 'denied'}`;
    // The decision stands only with its record: unrecorded, it is taken back (unless others moved on since).
    s.compensate = async () => {
      await casUpdate(approvals.store, decided.id, (a) => (a.revision === decided.revision ? undoDecision(a, found) : a));
    };
    // Once the decision is recorded: its grant (if the rule grants), then the workflow is released.
    const grant = grantOf(decided);
    if (decided.status !== 'pending') {
      s.afterRecord = async () => {
        if (grant) await approvals.store.putGrant(grant);
        await approvals.workflow.settle(decided);
      };
    }
    return { status: 200, body: JSON.stringify(approvalView(decided, now, this.approvalUrls(req, decided.id, prefix))) };
  }

  /** Absolute URLs of an approval's resources, on the host and issuer prefix the client used. */
  private approvalUrls(req: GatewayRequest, id: string, prefix?: string): { poll: string; decision: string } {
    const pre = prefix ?? resolveRoute(this.deps.config, req.path).prefix;
    // The API's own domain, never the client's Host or X-Forwarded-* headers: these URLs reach
    // reviewers, and a requester must not be able to point them elsewhere.
    const host = req.domainName;
    const base = host && /^[A-Za-z0-9.:[\]-]+$/.test(host) ? `${isLoopbackHost(host) ? 'http' : 'https'}://${host}` : '';
    const poll = `${base}${pre}/v1/approvals/${id}`;
    return { poll, decision: `${poll}/decision` };
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
        status: 503,
        type: 'server_error',
        code: 'masking_unavailable',
        reason: 'masking_unavailable',
        cause,
      });
    }
    if (request.input.kind === 'tokens') {
      if (masker.tokenInputs === 'refuse') {
        throw invalidRequest(
          'Token-id inputs cannot be scanned for sensitive data and are refused while masking is on; send text.',
          'tokens_not_scannable',
          'input',
        );
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
      findings: r.findings.flatMap((fs, item) =>
        fs.map((f) => ({
          item,
          type: f.type,
          detector: f.detector,
          strategy: f.strategy,
          count: f.count,
          offsets: f.offsets.map(([a, b]) => [a, b]),
          pseudonyms: [...(f.pseudonyms ?? [])],
        })),
      ),
      counts: Object.entries(r.counts).map(([type, count]) => ({ type, count })),
      blocked: r.blocked,
      external: r.external ? { detector: r.external.detector, status: r.external.status } : null,
    };
    if (masker.storeInputText) s.inputText = r.items;
    if (r.blocked.length > 0) {
      throw new GatewayError(`The input contains sensitive data of a type this policy blocks: ${r.blocked.join(', ')}.`, {
        status: 422,
        type: 'invalid_request_error',
        code: 'sensitive_data_blocked',
        param: 'input',
        reason: 'masking_blocked',
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
      approval: s.approval,
    });
  }
}

const ROUTES: Readonly<Record<string, string>> = { '/v1/embeddings': 'POST', '/v1/models': 'GET', '/v1/approvals': 'GET' };
const APPROVAL_PATH = /^\/v1\/approvals\/([^/]+)(\/decision)?$/;

/** The method a known path accepts, or undefined for an unknown path. */
function routeMethod(path: string): string | undefined {
  const fixed = ROUTES[path];
  if (fixed) return fixed;
  const m = APPROVAL_PATH.exec(path);
  return m ? (m[2] ? 'POST' : 'GET') : undefined;
}

/** Outcome class of a status: 202 held (for approval); other 2xx allow; 401/403 deny; 429 and 5xx error; other 4xx invalid. */
export function outcomeOf(status: number): Outcome {
  if (status === 202) return 'held';
  if (status < 300) return 'allow';
  if (status === 401 || status === 403) return 'deny';
  if (status === 429 || status >= 500) return 'error';
  return 'invalid';
}

/** `{"decision": "approve" | "deny", "reason": "..."}`. */
function parseDecisionBody(req: GatewayRequest): { decision: 'approve' | 'deny'; reason: string } {
  let raw: unknown;
  try {
    const text = req.body === undefined ? '' : req.isBase64Encoded ? Buffer.from(req.body, 'base64').toString('utf8') : req.body;
    if (text.length > 16_384) throw invalidRequest('The decision body is too large.', 'body_too_large', null, 413);
    raw = JSON.parse(text);
  } catch (e) {
    if (e instanceof GatewayError) throw e;
    throw invalidRequest('The body must be JSON: {"decision": "approve" | "deny", "reason": "..."}.', 'invalid_json');
  }
  const b = raw as { decision?: unknown; reason?: unknown } | null;
  if (!b || typeof b !== 'object' || Array.isArray(b))
    throw invalidRequest('The body must be a JSON object: {"decision": "approve" | "deny", "reason": "..."}.', 'invalid_body');
  if (b.decision !== 'approve' && b.decision !== 'deny')
    throw invalidRequest('decision must be "approve" or "deny".', 'invalid_decision', 'decision');
  if (typeof b.reason !== 'string' || b.reason.trim().length === 0)
    throw invalidRequest('reason is required: say why you decide so.', 'reason_required', 'reason');
  if (b.reason.length > MAX_REASON_CHARS)
    throw invalidRequest(`reason must be at most ${MAX_REASON_CHARS} characters.`, 'reason_too_long', 'reason');
  for (const k of Object.keys(b))
    if (k !== 'decision' && k !== 'reason')
      throw invalidRequest(`Unknown field ${JSON.stringify(k.slice(0, 64))}.`, 'unknown_parameter', k.slice(0, 64));
  return { decision: b.decision, reason: b.reason.trim() };
}

/** The approval as it was before a decision (`before`), one revision on. */
function undoDecision(a: Approval, before: Approval): Approval {
  return {
    ...a,
    revision: a.revision + 1,
    status: before.status,
    decisions: before.decisions,
    decidedAt: before.decidedAt,
    useBy: before.useBy,
    grantUntil: before.grantUntil,
  };
}

function isLoopbackHost(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
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
