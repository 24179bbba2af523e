/**
 * The reviewer API: `GET /v1/approvals` (the approvals this principal may see, newest first),
 * `GET /v1/approvals/{id}` (requester or reviewer), `POST /v1/approvals/{id}/decision` (a
 * reviewer: `{"decision": "approve" | "deny", "reason": "..."}`). A decision stands only with its
 * record: unrecorded, it is taken back; once recorded, its grant is stored and the workflow released.
 */
import {
  APPROVAL_STATUSES,
  approvalNotFound,
  approvalView,
  APPROVAL_ID_PATTERN,
  canView,
  casUpdate,
  decideApproval,
  effectiveStatus,
  grantOf,
  MAX_REASON_CHARS,
  newestFirst,
  recordApproval,
  storedStatusesFor,
} from './rules';
import { approvalUrls } from './urls';
import { GatewayError, invalidRequest } from '../errors';
import type { Answer, GatewayRequest, Session } from '../exchange';
import type { Principal } from '../principal';
import type { Approval, ApprovalStatus } from '../ports';
import type { ApprovalDeps } from '../stages/approval';

/** The reviewer API's paths (after the issuer prefix). */
export const APPROVAL_PATH = /^\/v1\/approvals\/([^/]+)(\/decision)?$/;

export class ReviewerApi {
  constructor(private readonly deps: ApprovalDeps) {}

  /** `GET /v1/approvals`, `GET /v1/approvals/{id}`, `POST /v1/approvals/{id}/decision`. */
  async route(req: GatewayRequest, s: Session, principal: Principal, prefix: string, path: string): Promise<Answer> {
    const approvals = this.deps.approvals;
    if (!approvals)
      throw new GatewayError('Approvals are not enabled in this deployment.', {
        status: 404,
        type: 'not_found_error',
        code: 'approvals_not_enabled',
      });
    const p = principal;
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
        body: JSON.stringify({
          object: 'list',
          data: visible.map((a) => approvalView(a, now, approvalUrls(this.deps.config, req, a.id, prefix))),
        }),
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
      return { status: 200, body: JSON.stringify(approvalView(found, now, approvalUrls(this.deps.config, req, found.id, prefix))) };
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
    return { status: 200, body: JSON.stringify(approvalView(decided, now, approvalUrls(this.deps.config, req, decided.id, prefix))) };
  }
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
