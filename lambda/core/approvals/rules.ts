/**
 * Just-in-time approvals: the rules, as pure functions over an {@link Approval}, and the small
 * service that applies them through the ports (store, workflow, archive).
 *
 * - An allow rule with `approval` holds a request when one of its conditions holds (no
 *   conditions: always). The client gets 202 with the approval's id; reviewers are told (SNS in
 *   AWS); the approval waits for decisions until `timeoutSeconds`.
 * - A reviewer is a principal in one of the rule's reviewer groups (or with a listed subject),
 *   never the requester (same issuer and subject). A deny by any reviewer denies; approval needs
 *   `requiredApprovals` distinct reviewers (the two-person rule with 2).
 * - After approval the client re-sends the same request with `x-embedgate-approval-id`. It is
 *   forwarded only if the approval is approved, belongs to this principal, was granted under the
 *   same rule, covers the same masked payload (SHA-256 of its canonical form), is within
 *   `useWithinSeconds` of the approval, and was not used: using it is one compare-and-set, so a
 *   replay (even a concurrent one) is refused. A rule with `grantMinutes` instead grants the
 *   principal the model for that long; no header is needed then.
 * - Every step is a session record with an `approval` field (see docs/session-record.md).
 */
import type { ApprovalConfig, PolicyRule } from '../../../shared/config';
import { matchesAny } from '../../../shared/glob';
import { GatewayError } from '../errors';
import type { Principal } from '../principal';
import type { Approval, ApprovalDecision, ApprovalGrant, ApprovalStatus, ApprovalStore, PrincipalRef } from '../ports';
import type { RecordApproval } from '../record';
/** The header a client re-sends an approved request with. */
export const APPROVAL_HEADER = 'x-embedgate-approval-id';
/** Approval ids are UUIDv7 strings. */
export const APPROVAL_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** Longest reviewer reason kept, characters. */
export const MAX_REASON_CHARS = 500;
/** How many times a compare-and-set is retried when another writer came first. */
const CAS_ATTEMPTS = 5;

export function recordApproval(
  a: Approval,
  step: RecordApproval['step'],
  extra: { decision?: RecordApproval['decision']; reviewer?: RecordApproval['reviewer']; grant?: boolean } = {},
): RecordApproval {
  return {
    id: a.id,
    step,
    status: a.status,
    rule_id: a.ruleId,
    payload_sha256: a.payloadSha256,
    triggers: [...a.triggers],
    decision: extra.decision ?? null,
    reviewer: extra.reviewer ?? null,
    via_grant: extra.grant ?? false,
  };
}

export const principalRef = (p: Principal): PrincipalRef => ({ issuer: p.issuer, subject: p.subject, clientId: p.clientId });
/** The same principal: same issuer and subject (client ids do not make another principal). */
export const samePrincipal = (a: PrincipalRef, b: PrincipalRef): boolean => a.issuer === b.issuer && a.subject === b.subject;

/**
 * May this principal decide on this approval? Never the requester; only a principal of one of the
 * reviewer issuers (by default the requester's own issuer: a group or subject name means nothing
 * across identity providers), in a reviewer group or with a reviewer subject.
 */
export function isReviewer(a: Approval, p: Principal): boolean {
  if (samePrincipal(a.requester, p)) return false;
  const issuers = a.reviewerIssuers ?? [a.requester.issuer];
  if (!(matchesAny(issuers, p.issuer) || matchesAny(issuers, p.issuerId))) return false;
  return p.groups.some((g) => matchesAny(a.reviewerGroups, g)) || matchesAny(a.reviewerSubjects, p.subject);
}

/** May this principal see this approval? Its requester and its reviewers. */
export function canView(a: Approval, p: Principal): boolean {
  return samePrincipal(a.requester, p) || isReviewer(a, p);
}

/** Every approval status (the `Record` makes the compiler check that none is missing). */
export const APPROVAL_STATUSES = Object.keys({ pending: 0, approved: 0, denied: 0, expired: 0, used: 0 } satisfies Record<
  ApprovalStatus,
  0
>) as readonly ApprovalStatus[];

/** The status as of `now`: a pending approval past its deadline is expired even before the workflow says so. */
export function effectiveStatus(a: Approval, now: number): ApprovalStatus {
  if (a.status === 'pending' && now >= a.expiresAt) return 'expired';
  if (a.status === 'approved' && a.grantMinutes === null && a.useBy !== null && now >= a.useBy) return 'expired';
  return a.status;
}

/** The stored statuses an approval can have while `effectiveStatus` gives `status` (what a store is asked for). */
export function storedStatusesFor(status: ApprovalStatus): readonly ApprovalStatus[] {
  return status === 'expired' ? ['expired', 'pending', 'approved'] : [status];
}

/** Newest first; UUIDv7 ids (time-ordered) break ties between approvals of the same millisecond. */
export function newestFirst(a: Approval, b: Approval): number {
  return b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

// ---- transitions (pure) ----------------------------------------------------------------------

const approvalError = (status: number, code: string, message: string, headers?: Record<string, string>): GatewayError =>
  new GatewayError(message, {
    status,
    type: status === 404 ? 'not_found_error' : status === 403 ? 'permission_error' : 'invalid_request_error',
    code,
    ...(headers ? { headers } : {}),
  });

/** Not found, or not yours to see: one answer for both, so ids cannot be probed. */
export const approvalNotFound = (): GatewayError =>
  approvalError(404, 'approval_not_found', 'No such approval, or it is not yours to see.');

/** A new pending approval for a held request. */
export function newApproval(p: {
  id: string;
  requester: Principal;
  requestSessionId: string;
  model: string;
  rule: PolicyRule & { approval: ApprovalConfig };
  policyVersion: string;
  triggers: readonly string[];
  payloadSha256: string;
  preview: string;
  now: number;
}): Approval {
  const a = p.rule.approval;
  return {
    id: p.id,
    revision: 0,
    status: 'pending',
    requester: principalRef(p.requester),
    requestSessionId: p.requestSessionId,
    model: p.model,
    ruleId: p.rule.id,
    policyVersion: p.policyVersion,
    triggers: [...p.triggers],
    payloadSha256: p.payloadSha256,
    preview: p.preview,
    reviewerIssuers: a.reviewers.issuers ? [...a.reviewers.issuers] : [p.requester.issuer],
    reviewerGroups: [...(a.reviewers.groups ?? [])],
    reviewerSubjects: [...(a.reviewers.subjects ?? [])],
    requiredApprovals: a.requiredApprovals,
    decisions: [],
    createdAt: p.now,
    expiresAt: p.now + a.timeoutSeconds * 1000,
    decidedAt: null,
    useBy: null,
    grantUntil: null,
    grantMinutes: a.grantMinutes ?? null,
    usedAt: null,
    usedBySessionId: null,
    taskToken: null,
  };
}

/**
 * A reviewer's decision applied to an approval. Throws a GatewayError (with a stable code) when
 * the reviewer may not decide: not a reviewer (403 `not_a_reviewer`), the requester
 * (403 `self_approval`), decided already (409 `already_decided`), not pending
 * (409 `approval_not_pending`), past its deadline (409 `approval_expired`), no reason (400).
 */
export function decideApproval(
  a: Approval,
  reviewer: Principal,
  decision: 'approve' | 'deny',
  reason: string,
  now: number,
  useWithinSeconds: number,
): Approval {
  if (samePrincipal(a.requester, reviewer)) throw approvalError(403, 'self_approval', 'The requester of an approval cannot decide on it.');
  if (!isReviewer(a, reviewer)) throw approvalError(403, 'not_a_reviewer', 'You are not a reviewer of this approval.');
  const status = effectiveStatus(a, now);
  if (status === 'expired' && a.status === 'pending')
    throw approvalError(409, 'approval_expired', 'This approval expired before it was decided.');
  if (status !== 'pending') throw approvalError(409, 'approval_not_pending', `This approval is ${status}; it cannot be decided again.`);
  if (a.decisions.some((d) => samePrincipal(d.reviewer, reviewer))) {
    throw approvalError(409, 'already_decided', 'You have decided on this approval already; another reviewer must decide.');
  }
  const d: ApprovalDecision = { reviewer: principalRef(reviewer), decision, reason, at: now };
  const decisions = [...a.decisions, d];
  const approvals = decisions.filter((x) => x.decision === 'approve').length;
  const next = { ...a, revision: a.revision + 1, decisions };
  if (decision === 'deny') return { ...next, status: 'denied', decidedAt: now };
  if (approvals < a.requiredApprovals) return next;
  return {
    ...next,
    status: 'approved',
    decidedAt: now,
    useBy: a.grantMinutes === null ? now + useWithinSeconds * 1000 : null,
    grantUntil: a.grantMinutes === null ? null : now + a.grantMinutes * 60_000,
  };
}

/**
 * The approval used by a re-sent request: checks it (in this order: owner, status, rule,
 * payload) and returns it marked used. Every refusal is a 403 (409 while still pending) with a
 * code naming what failed; an approval of another principal answers like an unknown id.
 */
export function useApproval(
  a: Approval,
  p: { principal: Principal; model: string; ruleId: string; payloadSha256: string; sessionId: string; now: number },
): Approval {
  if (!samePrincipal(a.requester, p.principal)) throw approvalNotFound();
  const status = effectiveStatus(a, p.now);
  if (status === 'pending')
    throw approvalError(409, 'approval_pending', 'This approval is still pending; poll it and re-send once it is approved.', {
      'retry-after': '5',
    });
  if (status === 'denied') throw approvalError(403, 'approval_denied', 'This request was denied by a reviewer.');
  if (status === 'expired')
    throw approvalError(403, 'approval_expired', 'This approval has expired; send the request again without the approval id to ask anew.');
  if (status === 'used') throw approvalError(403, 'approval_used', 'This approval has been used already; approvals are single use.');
  if (a.ruleId !== p.ruleId)
    throw approvalError(403, 'approval_rule_mismatch', 'The policy that decides this request changed since it was approved; ask anew.');
  if (a.model !== p.model) throw approvalError(403, 'approval_payload_mismatch', `This approval is for model "${a.model}" only.`);
  if (a.grantMinutes !== null) {
    if (a.grantUntil === null || p.now >= a.grantUntil)
      throw approvalError(403, 'approval_expired', 'This grant has ended; send the request again without the approval id to ask anew.');
    return a;
  }
  if (a.payloadSha256 !== p.payloadSha256) {
    throw approvalError(
      403,
      'approval_payload_mismatch',
      'This request differs from the one that was approved (model, input after masking, or parameters); re-send exactly the approved request.',
    );
  }
  return { ...a, revision: a.revision + 1, status: 'used', usedAt: p.now, usedBySessionId: p.sessionId };
}

/** Undo a use whose forward failed upstream (the client never got output), so it can be retried. */
export function releaseApproval(a: Approval): Approval {
  return { ...a, revision: a.revision + 1, status: 'approved', usedAt: null, usedBySessionId: null };
}

/** An approval marked expired (only a pending one changes). */
export function expireApproval(a: Approval): Approval {
  return a.status === 'pending' ? { ...a, revision: a.revision + 1, status: 'expired' } : a;
}

/** The grant an approved grant-approval gives. */
export function grantOf(a: Approval): ApprovalGrant | null {
  return a.status === 'approved' && a.grantUntil !== null
    ? { requester: a.requester, model: a.model, ruleId: a.ruleId, approvalId: a.id, until: a.grantUntil }
    : null;
}

// ---- views -----------------------------------------------------------------------------------

/** An approval as the API shows it (never the task token). */
export function approvalView(a: Approval, now: number, paths: { poll: string; decision: string }): Record<string, unknown> {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    object: 'approval',
    id: a.id,
    status: effectiveStatus(a, now),
    model: a.model,
    rule_id: a.ruleId,
    policy_version: a.policyVersion,
    triggers: a.triggers,
    payload_sha256: a.payloadSha256,
    preview: a.preview,
    requester: { issuer: a.requester.issuer, subject: a.requester.subject, client_id: a.requester.clientId },
    required_approvals: a.requiredApprovals,
    approvals: a.decisions.filter((d) => d.decision === 'approve').length,
    decisions: a.decisions.map((d) => ({
      reviewer: { issuer: d.reviewer.issuer, subject: d.reviewer.subject },
      decision: d.decision,
      reason: d.reason,
      at: iso(d.at),
    })),
    created_at: iso(a.createdAt),
    expires_at: iso(a.expiresAt),
    decided_at: iso(a.decidedAt),
    use_by: iso(a.useBy),
    grant_until: iso(a.grantUntil),
    used_at: iso(a.usedAt),
    request_session_id: a.requestSessionId,
    used_by_session_id: a.usedBySessionId,
    poll_url: paths.poll,
    decision_url: paths.decision,
  };
}

/**
 * Read, change, compare-and-set, retried when another writer came first. `change` returns the
 * next approval (revision + 1) or the same object to leave it as it is.
 */
export async function casUpdate(store: ApprovalStore, id: string, change: (a: Approval) => Approval): Promise<Approval> {
  for (let i = 0; i < CAS_ATTEMPTS; i++) {
    const cur = await store.get(id);
    if (!cur) throw approvalNotFound();
    const next = change(cur);
    if (next === cur) return cur;
    if (await store.update(next, cur.revision)) return next;
  }
  throw new GatewayError('The approval is being changed by others right now; try again.', {
    status: 409,
    type: 'invalid_request_error',
    code: 'approval_conflict',
    headers: { 'retry-after': '1' },
  });
}
