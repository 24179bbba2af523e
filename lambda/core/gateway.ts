/**
 * The gateway: routes a request through the pipeline's named stages and ends it in the recorder.
 *
 *   identity -> revocation -> policy -> limits -> masking -> approval -> upstream -> record
 *
 * Each stage is a module of `./stages/` with a narrow input and output; this file only composes
 * them (see `embeddings`). Every request that reaches `handle` (every route but the health
 * check) ends in exactly one session record (`SessionRecorder.finish`), however it ended. With
 * `archiveFailMode: "closed"` (the default) a response leaves only after its record is durable.
 */
import type { GatewayConfig, ModelConfig } from '../../shared/config';
import { APPROVAL_PATH, ReviewerApi } from './approvals/reviewer-api';
import { GatewayError } from './errors';
import { newSession, truncate, type Answer, type GatewayRequest, type HandledRequest, type Session } from './exchange';
import type { Masker } from './masking';
import { allowedModels } from './policy';
import type { Principal } from './principal';
import type { ApprovalStore, ApprovalWorkflow, Archive, Clock, EmbeddingProvider, Ids, RevocationList } from './ports';
import { SessionRecorder, type Ending } from './recorder';
import { parseEmbeddingsRequest, summarizeInput } from './request';
import { resolveRoute } from './routes';
import { ApprovalGate } from './stages/approval';
import { identify, type Verifier } from './stages/identity';
import { alongsideLimits } from './limits/admission';
import { applyLimits, checkRateLimits, responseLimit, type RateLimiterPort } from './stages/limits';
import { maskInput } from './stages/masking';
import { admit } from './stages/policy';
import { checkRevocation } from './stages/revocation';
import { callUpstream } from './stages/upstream';

export type { Answer, GatewayRequest, GatewayResponse, HandledRequest } from './exchange';
export { outcomeOf } from './recorder';
export { embeddingsBody } from './stages/upstream';

export interface GatewayDeps {
  readonly config: GatewayConfig;
  /** Verifies bearer tokens (a `TokenVerifier` in production). */
  readonly verifier: Verifier;
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
  /** The per-principal rate limits and quotas (`RateLimiter`, lambda/core/limits/stage.ts); absent: none. */
  readonly limits?: RateLimiterPort;
}

export class Gateway {
  private readonly recorder: SessionRecorder;
  private readonly approval: ApprovalGate;
  private readonly reviewers: ReviewerApi;

  constructor(private readonly deps: GatewayDeps) {
    this.recorder = new SessionRecorder(deps);
    this.approval = new ApprovalGate(deps);
    this.reviewers = new ReviewerApi(deps);
  }

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
    const s = newSession(opts.sessionId ?? this.deps.ids.sessionId(), req.receivedAt ?? this.deps.clock.now());
    if (opts.rejectedAtEdge) return this.recorder.finish(req, s, { error: opts.rejectedAtEdge });
    let ending: Ending;
    try {
      ending = { answer: await this.route(req, s) };
    } catch (error) {
      ending = { error };
    }
    return this.recorder.finish(req, s, ending);
  }

  /** The route table; identity and revocation apply to every route. */
  private async route(req: GatewayRequest, s: Session): Promise<Answer> {
    const route = resolveRoute(this.deps.config, req.path);
    const { path } = route;
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
    const principal = await identify(this.deps, req, route, s);
    await checkRevocation(this.deps.revocations, principal);
    if (path === '/v1/models') return this.listModels(principal, s);
    if (path === '/v1/embeddings') return this.embeddings(req, principal, s);
    return this.reviewers.route(req, s, principal, route.prefix, path);
  }

  /** `POST /v1/embeddings`: the pipeline's stages, in order. */
  private async embeddings(req: GatewayRequest, principal: Principal, s: Session): Promise<Answer> {
    const { config } = this.deps;
    const request = parseEmbeddingsRequest(req.body, req.isBase64Encoded, config.gateway.maxRequestBytes);
    s.input = summarizeInput(request.input);
    s.encodingFormat = request.encodingFormat;
    s.dimensions = request.dimensions ?? null;
    s.model = { name: request.model, provider: null, upstream_model: null };

    const admitted = admit(config, principal, request.model, s);
    applyLimits(request, admitted, config);
    const limited = checkRateLimits(this.deps.limits, principal, admitted, request, s);
    const [input, admission] = await alongsideLimits(maskInput(this.deps.masker, config, request, admitted.ruleId, s), limited);
    s.admission = admission;
    const gate = await this.approval.check(req, s, principal, request, input, admitted.ruleId);
    if (gate.kind === 'held') return gate.answer;
    this.recorder.begin(req, s); // the record's request part, journaled while the upstream call runs
    return callUpstream(
      this.deps.provider(admitted.model),
      { request, input, admitted, deadline: req.deadline, responseLimit: responseLimit(config) },
      s,
      gate.release,
    );
  }

  /** `GET /v1/models`: the models this principal may use. */
  private listModels(principal: Principal, s: Session): Answer {
    const models = allowedModels(this.deps.config, principal);
    s.reason = 'models_listed';
    const created = Math.floor(s.startedAt / 1000);
    return {
      status: 200,
      body: JSON.stringify({ object: 'list', data: models.map((m) => ({ id: m.name, object: 'model', created, owned_by: 'embedgate' })) }),
    };
  }
}

const ROUTES: Readonly<Record<string, string>> = { '/v1/embeddings': 'POST', '/v1/models': 'GET', '/v1/approvals': 'GET' };

/** The method a known path accepts, or undefined for an unknown path. */
function routeMethod(path: string): string | undefined {
  const fixed = ROUTES[path];
  if (fixed) return fixed;
  const m = APPROVAL_PATH.exec(path);
  return m ? (m[2] ? 'POST' : 'GET') : undefined;
}
