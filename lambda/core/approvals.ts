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
import type { ApprovalConfig, GatewayConfig, PolicyRule } from '../../shared/config';
import { canonicalJson, sha256Hex } from '../../shared/canonical';
import { matchesAny } from '../../shared/glob';
import { GatewayError, isArchiveConflict } from './errors';
import { uuidv7From } from './ids';
import type { Principal } from './identity';
import type {
  Approval,
  ApprovalDecision,
  ApprovalGrant,
  ApprovalNotice,
  ApprovalStatus,
  ApprovalStore,
  ApprovalWorkflow,
  Archive,
  Clock,
  Ids,
  PrincipalRef,
} from './ports';
import { RECORD_SCHEMA, sealRecord, type RecordApproval, type SessionRecord } from './record';
import type { EmbeddingsRequest } from './request';

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

// ---- conditions ------------------------------------------------------------------------------

const compiled = new Map<string, RegExp>();
function patternOf(p: { pattern: string; flags?: string | undefined }): RegExp {
  const key = `${p.flags ?? ''}/${p.pattern}`;
  let re = compiled.get(key);
  if (!re) compiled.set(key, (re = new RegExp(p.pattern, p.flags ?? '')));
  return re;
}

/**
 * Which of the rule's approval conditions this request meets (empty: no approval needed).
 * `input` is the request's input as sent (patterns look at what the client wrote);
 * `maskedTypes` the entity types masking found in it.
 */
export function approvalTriggers(
  a: ApprovalConfig,
  principal: Pick<Principal, 'groups'>,
  input: EmbeddingsRequest['input'],
  maskedTypes: ReadonlySet<string>,
): string[] {
  const w = a.when;
  if (
    !w ||
    (w.principalOutsideGroups === undefined && w.batchOver === undefined && w.inputMatches === undefined && w.maskingFound === undefined)
  ) {
    return ['always'];
  }
  const out: string[] = [];
  if (w.principalOutsideGroups && !principal.groups.some((g) => matchesAny(w.principalOutsideGroups!, g)))
    out.push('principal_outside_groups');
  if (w.batchOver !== undefined && input.items.length > w.batchOver) out.push(`batch_over:${w.batchOver}`);
  if (w.inputMatches && input.kind === 'text') {
    const texts = input.items.map(normaliseForMatching);
    for (const p of w.inputMatches) {
      const re = patternOf(p);
      if (texts.some((t) => re.test(t))) out.push(`input_matches:${p.name}`);
    }
  }
  if (w.maskingFound) for (const t of w.maskingFound) if (maskedTypes.has(t)) out.push(`masking_found:${t}`);
  // Token ids cannot be read: a rule that looks at the input holds them rather than let them pass unread.
  if ((w.inputMatches || w.maskingFound) && input.kind === 'tokens') out.push('input_unscannable');
  return out;
}

/**
 * The text regulated-language patterns look at: NFKC (compatibility forms folded, e.g. full-width
 * letters) without format characters (zero-width spaces and joiners, bidi controls), so
 * `I\u200BTAR` or `ＩＴＡＲ` match a pattern for `ITAR`.
 */
export function normaliseForMatching(text: string): string {
  return text.normalize('NFKC').replace(/\p{Cf}/gu, '');
}

/**
 * `sha256:<hex>` of the payload an approval covers: the canonical JSON of the model, the MASKED
 * input items and every other parameter that changes what is sent or returned. Any change to
 * any of them is a different payload.
 */
export function payloadSha256(p: {
  model: string;
  input: EmbeddingsRequest['input']['items'];
  encodingFormat: string;
  dimensions?: number | undefined;
  user?: string | undefined;
}): string {
  return `sha256:${sha256Hex(canonicalJson({ model: p.model, input: p.input, encoding_format: p.encodingFormat, dimensions: p.dimensions ?? null, user: p.user ?? null }))}`;
}

/**
 * A short preview of the input for reviewers: the first items, shortened, with EVERY value
 * masking found replaced by `[TYPE]` whatever the rule's strategy (a `detect` strategy passes the
 * value upstream, but reviewers' mailboxes are no place for it), control characters removed
 * (a requester cannot lay out fake instructions). Without masking there is no preview: nothing
 * says what the text holds.
 */
export function approvalPreview(
  input: EmbeddingsRequest['input'],
  findings: ReadonlyArray<{ readonly item: number; readonly type: string; readonly offsets: ReadonlyArray<ReadonlyArray<number>> }> | null,
): string {
  if (input.kind === 'tokens') return `[${input.items.length} item(s) of token ids: no preview]`;
  if (findings === null) return '[no preview: masking is off, the text was not scanned]';
  const shown = input.items.slice(0, 3).map((text, i) => {
    const spans = findings
      .filter((f) => f.item === i)
      .flatMap((f) => f.offsets.map(([a, b]) => ({ a: a!, b: b!, type: f.type })))
      .sort((x, y) => y.a - x.a);
    let t = text;
    for (const { a, b, type } of spans) t = `${t.slice(0, a)}[${type}]${t.slice(b)}`;
    t = t.replace(/[\p{Cc}\p{Cf}\u2028\u2029]+/gu, ' ');
    return `  [${i}] ${t.length > 160 ? `${t.slice(0, 160)}…` : t}`;
  });
  if (input.items.length > 3) shown.push(`  (+${input.items.length - 3} more item(s))`);
  return shown.join('\n');
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

// ---- the workflow's side ---------------------------------------------------------------------

/** Input of a Step Functions execution of the approval workflow (its name is the approval id). */
export interface ApprovalExecutionInput {
  readonly approvalId: string;
  /** How long the workflow waits for a decision. */
  readonly timeoutSeconds: number;
  /** What reviewers are told (SNS subject and message): who, which model, which rule, a masked preview, how to decide. */
  readonly notification: { readonly subject: string; readonly message: string };
}

export function approvalExecutionInput(notice: ApprovalNotice): ApprovalExecutionInput {
  const a = notice.approval;
  const who = `${a.requester.subject}${a.requester.clientId && a.requester.clientId !== a.requester.subject ? ` (client ${a.requester.clientId})` : ''}`;
  const scope =
    a.grantMinutes === null
      ? 'Approving lets this principal send THIS request (the payload below, by its hash) once.'
      : `Approving GRANTS this principal model "${a.model}" under this rule for ${a.grantMinutes} minute(s): ANY request, not only the one previewed.`;
  const message = [
    `${who} asks to use model "${a.model}" and needs approval under rule "${a.ruleId}".`,
    `Why: ${a.triggers.join(', ')}.`,
    `Issuer: ${a.requester.issuer}`,
    `Payload: ${a.payloadSha256}`,
    scope,
    `Reviewers needed: ${a.requiredApprovals} (the requester cannot approve).`,
    `Decide before: ${new Date(a.expiresAt).toISOString()}`,
    '',
    "To decide (with your reviewer token; the URL is the gateway's own):",
    `  embedgate approvals approve ${a.id} --reason "..." --url <gateway URL>`,
    `  embedgate approvals deny ${a.id} --reason "..." --url <gateway URL>`,
    `  or POST {"decision":"approve"|"deny","reason":"..."} to ${notice.decisionPath}`,
    `Status: ${notice.pollPath}`,
    '',
    "---- preview of the input as the requester sent it (sensitive values replaced by their type; text between the lines is the requester's, not instructions) ----",
    a.preview,
    '---- end of preview ----',
  ].join('\n');
  // SNS subjects: at most 100 printable ASCII characters.
  const subject = `embedgate approval: ${a.model} for ${a.requester.subject}`.replace(/[^\x20-\x7e]/g, '?').slice(0, 100);
  return {
    approvalId: a.id,
    timeoutSeconds: Math.max(1, Math.ceil((a.expiresAt - a.createdAt) / 1000)),
    notification: { subject, message: message.slice(0, 200_000) },
  };
}

/** What the workflow's Lambda task receives. */
export type ApprovalTaskEvent =
  | { readonly action: 'register'; readonly approvalId: string; readonly taskToken: string }
  | { readonly action: 'expire'; readonly approvalId: string; readonly executionId?: string }
  | { readonly action: 'confirm'; readonly approvalId: string };

export interface ApprovalTaskDeps {
  readonly config: GatewayConfig;
  readonly store: ApprovalStore;
  readonly workflow: ApprovalWorkflow;
  readonly archive: Archive;
  readonly clock: Clock;
  readonly ids: Ids;
}

/**
 * The workflow's task: `register` keeps the task token on the approval (and releases it at once
 * when the approval was decided before the workflow got there); `confirm` answers the stored
 * status and deadline after the wait ended (the workflow trusts the table, not whoever released
 * it);
 * `expire` marks a pending approval expired and writes its record.
 */
export async function handleApprovalTask(
  event: ApprovalTaskEvent,
  deps: ApprovalTaskDeps,
): Promise<{ status: ApprovalStatus; decideBy?: string }> {
  if (!event || typeof event.approvalId !== 'string' || !APPROVAL_ID_PATTERN.test(event.approvalId))
    throw new Error('approval task: approvalId must be an approval id');
  if (event.action === 'register') {
    if (typeof event.taskToken !== 'string' || event.taskToken.length === 0) throw new Error('approval task: taskToken is required');
    const a = await casUpdate(deps.store, event.approvalId, (cur) => ({ ...cur, revision: cur.revision + 1, taskToken: event.taskToken }));
    if (a.status !== 'pending') await deps.workflow.settle(a);
    return { status: a.status };
  }
  if (event.action === 'confirm') {
    const a = await deps.store.get(event.approvalId);
    if (!a) throw new Error(`approval task: approval ${event.approvalId} not found`);
    // The deadline from the table too, rounded up to a whole second (a Wait state drops milliseconds).
    return { status: a.status, decideBy: new Date(Math.ceil(a.expiresAt / 1000) * 1000).toISOString() };
  }
  if (event.action === 'expire') {
    const before = await deps.store.get(event.approvalId);
    if (!before) throw new Error(`approval task: approval ${event.approvalId} not found`);
    const a = before.status === 'pending' ? await casUpdate(deps.store, event.approvalId, expireApproval) : before;
    // Written whenever the approval is expired, so a retry after a failed write still writes it;
    // the record's session id and time derive from the approval, so a second write is refused as
    // a conflict (already written), never duplicated.
    if (a.status === 'expired') {
      try {
        await deps.archive.put(expiredRecord(a, deps, event.executionId ?? null));
      } catch (e) {
        if (!isArchiveConflict(e)) throw e;
      }
    }
    return { status: a.status };
  }
  throw new Error(`approval task: unknown action ${JSON.stringify((event as { action?: unknown }).action)}`);
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

/** The record of an expiry (a workflow event, not an HTTP request: method `WORKFLOW`). */
function expiredRecord(a: Approval, deps: ApprovalTaskDeps, executionId: string | null): SessionRecord {
  const at = new Date(a.expiresAt).toISOString();
  const issuer = deps.config.issuers.find((i) => i.issuer === a.requester.issuer);
  const model = deps.config.models.find((m) => m.name === a.model);
  return sealRecord({
    schema: RECORD_SCHEMA,
    session_id: uuidv7From(a.expiresAt, `approval-expired:${a.id}`),
    started_at: at,
    ended_at: at,
    request: { method: 'WORKFLOW', path: `/v1/approvals/${a.id}`, request_id: executionId, source_ip: null, user_agent: null },
    principal: {
      issuer: a.requester.issuer,
      issuer_id: issuer?.id ?? '',
      subject: a.requester.subject,
      client_id: a.requester.clientId,
      groups: [],
      scopes: [],
      token_id: null,
      token_expires_at: null,
    },
    model: { name: a.model, provider: model?.provider ?? null, upstream_model: model ? (model.upstreamModel ?? model.name) : null },
    decision: { outcome: 'deny', status: 403, reason: 'approval_expired', rule_id: a.ruleId, policy_version: deps.config.version },
    input: { kind: null, items: 0, characters: 0, encoding_format: null, dimensions: null, request_bytes: 0, text: null },
    masking: null,
    upstream: null,
    usage: null,
    output: null,
    timings: { total_ms: 0, auth_ms: 0, upstream_ms: 0 },
    approval: recordApproval(a, 'expired'),
  });
}
