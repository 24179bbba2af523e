/**
 * The approval workflow's side (Step Functions): what an execution is started with (the reviewers'
 * notification) and the Lambda task it calls (register the task token, confirm, expire with its
 * record).
 */
import type { GatewayConfig } from '../../../shared/config';
import { keepInput } from '../kept-input';
import { isArchiveConflict } from '../errors';
import { uuidv7From } from '../ids';
import type { Approval, ApprovalNotice, ApprovalStatus, ApprovalStore, ApprovalWorkflow, Archive, Clock, Ids } from '../ports';
import { RECORD_SCHEMA, sealRecord, type SessionRecord } from '../record';
import { APPROVAL_ID_PATTERN, casUpdate, expireApproval, recordApproval } from './rules';

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
    input: {
      kind: null,
      items: 0,
      characters: 0,
      encoding_format: null,
      dimensions: null,
      request_bytes: 0,
      ...keepInput(null, deps.config.recording),
    },
    masking: null,
    upstream: null,
    usage: null,
    output: null,
    timings: { total_ms: 0, auth_ms: 0, upstream_ms: 0 },
    approval: recordApproval(a, 'expired'),
  });
}
