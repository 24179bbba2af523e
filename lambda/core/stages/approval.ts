/**
 * Stage `approval`: a request its allow rule holds for a human is not forwarded. In: the masked
 * input (this stage never sees the raw one), the admitted rule, the principal. Out: forward (with
 * the undo to run if the upstream call then fails), or the 202 answer of a held request.
 *
 * - No condition of the rule holds: forward.
 * - The request carries `x-embedgate-approval-id`: the approval is used (one compare-and-set, so
 *   a replay is refused), or refused with the approval in the record.
 * - A live grant of this principal for the model and rule: forward.
 * - The same held request again while its approval is pending: the same approval (no new workflow,
 *   no new notification).
 * - Otherwise a new approval (at most `maxPending` per principal and rule) and its workflow; 202.
 * Whatever takes effect here is undone when the request's record cannot be archived
 * (`Session.compensate`).
 */
import type { GatewayConfig } from '../../../shared/config';
import {
  APPROVAL_HEADER,
  APPROVAL_ID_PATTERN,
  approvalNotFound,
  casUpdate,
  effectiveStatus,
  expireApproval,
  newApproval,
  principalRef,
  recordApproval,
  releaseApproval,
  samePrincipal,
  useApproval,
} from '../approvals/rules';
import { approvalPreview, approvalTriggers, payloadSha256 } from '../approvals/triggers';
import { approvalUrls, type ApprovalUrls } from '../approvals/urls';
import { GatewayError, unavailable } from '../errors';
import type { Answer, GatewayRequest, Session } from '../exchange';
import type { Principal } from '../principal';
import type { Approval, ApprovalStore, ApprovalWorkflow, Clock, Ids } from '../ports';
import type { EmbeddingsRequest } from '../request';
import type { MaskedInput } from './masking';

export interface ApprovalDeps {
  readonly config: GatewayConfig;
  readonly clock: Clock;
  readonly ids: Ids;
  /** Absent: no approvals in this deployment; a held request is refused with 503, never forwarded. */
  readonly approvals?: { readonly store: ApprovalStore; readonly workflow: ApprovalWorkflow };
  readonly onBackgroundError?: (what: string, error: unknown) => void;
}

/** What the gate decided: forward (`release` gives a used approval back if the upstream call fails), or the held answer. */
export type GateResult =
  { readonly kind: 'forward'; readonly release?: () => Promise<void> } | { readonly kind: 'held'; readonly answer: Answer };

/** The request facts an approval covers (besides the masked input). */
type Held = Pick<EmbeddingsRequest, 'model' | 'encodingFormat' | 'dimensions' | 'user'>;

const FORWARD: GateResult = { kind: 'forward' };

export class ApprovalGate {
  constructor(private readonly deps: ApprovalDeps) {}

  async check(
    req: GatewayRequest,
    s: Session,
    principal: Principal,
    request: Held,
    input: MaskedInput,
    ruleId: string,
  ): Promise<GateResult> {
    const { config, clock } = this.deps;
    const rule = config.policy.rules.find((r) => r.id === ruleId);
    if (!rule?.approval) return FORWARD;
    const triggers = approvalTriggers(rule.approval, principal, input, input.found);
    if (triggers.length === 0) return FORWARD;
    const approvals = this.deps.approvals;
    if (!approvals) {
      throw unavailable(
        'This request needs approval, but approvals are not available in this deployment; nothing was sent.',
        'approvals_unavailable',
      );
    }
    const now = clock.now();
    const hash = payloadSha256({
      model: request.model,
      input: input.items,
      encodingFormat: request.encodingFormat,
      dimensions: request.dimensions,
      user: request.user,
    });
    const header = req.headers[APPROVAL_HEADER];
    if (header !== undefined) return this.use(approvals.store, s, principal, header.trim(), { model: request.model, ruleId, hash, now });
    const grant = await approvals.store.findGrant(principalRef(principal), request.model, ruleId);
    if (grant && grant.until > now) {
      const a = await approvals.store.get(grant.approvalId);
      if (a && effectiveStatus(a, now) === 'approved') {
        s.approval = recordApproval(a, 'used', { grant: true });
        return FORWARD;
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
      return { kind: 'held', answer: heldAnswer(previous, ruleId, approvalUrls(config, req, previous.id)) };
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
      preview: approvalPreview({ kind: input.kind, count: input.items.length, review: (n) => input.review(n), noPreview: input.noPreview }),
      now,
    });
    const paths = approvalUrls(config, req, approval.id);
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
      throw unavailable(
        'This request needs approval, but the approval could not be started; nothing was sent. Try again later.',
        'approvals_unavailable',
        {
          retryAfter: 5,
          cause,
        },
      );
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
    return { kind: 'held', answer: heldAnswer(approval, ruleId, paths) };
  }

  /** A re-sent request with its approval id: use the approval (once), or refuse with it recorded. */
  private async use(
    store: ApprovalStore,
    s: Session,
    principal: Principal,
    id: string,
    p: { model: string; ruleId: string; hash: string; now: number },
  ): Promise<GateResult> {
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
      used = await casUpdate(store, id, (a) => {
        seen = a;
        return useApproval(a, { principal, model: p.model, ruleId: p.ruleId, payloadSha256: p.hash, sessionId: s.id, now: p.now });
      });
    } catch (e) {
      if (e instanceof GatewayError) refuse(e, seen);
      throw e;
    }
    s.approval = recordApproval(used, 'used', { grant: used.grantMinutes !== null });
    if (used.grantMinutes !== null) return FORWARD;
    // Forwarded but unrecorded: the client gets 503 and nothing else, so the use is given back.
    s.compensate = () => this.releaseUsed(store, used, s);
    // The client got no output when the upstream call fails: the use is given back so the same request can be retried.
    return { kind: 'forward', release: () => this.releaseUsed(store, used, s) };
  }

  private async releaseUsed(store: ApprovalStore, used: Approval, s: Session): Promise<void> {
    try {
      const back = await casUpdate(store, used.id, (a) => (a.status === 'used' && a.usedBySessionId === s.id ? releaseApproval(a) : a));
      s.approval = recordApproval(back, 'released');
    } catch (e) {
      this.deps.onBackgroundError?.('approval release failed', e);
    }
  }

  /** `cancel` for an approval that may not exist: null when it does not (or cannot be read). */
  private async cancelIfStored(id: string): Promise<Approval | null> {
    const stored = await this.deps.approvals!.store.get(id).catch((e: unknown) => {
      this.deps.onBackgroundError?.('reading an approval to withdraw it failed', e);
      return null;
    });
    return stored ? this.cancel(id).catch(() => null) : null;
  }

  /** Withdraw a pending approval (marked expired); best effort, the deadline expires it anyway. */
  private async cancel(id: string): Promise<Approval> {
    const store = this.deps.approvals!.store;
    try {
      return await casUpdate(store, id, expireApproval);
    } catch (e) {
      this.deps.onBackgroundError?.('withdrawing an approval failed', e);
      const a = await store.get(id).catch(() => null);
      if (!a) throw e;
      return a;
    }
  }
}

/** The 202 answer for a held request. */
function heldAnswer(approval: Approval, ruleId: string, paths: ApprovalUrls): Answer {
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
      triggers: approval.triggers,
      message: `This request needs approval (rule "${ruleId}"). Poll poll_url; once approved, re-send the same request with the header ${APPROVAL_HEADER}: ${approval.id}.`,
    }),
  };
}
