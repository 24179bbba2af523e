/**
 * Approvals in `embedgate dev`: the same core rules (lambda/core/approvals.ts) on an in-memory
 * store, and a timer standing in for the Step Functions workflow (notify, register the task
 * token, wait, expire), so the whole flow runs on a laptop.
 */
import { type ApprovalExecutionInput, type ApprovalTaskEvent } from '../../core/approvals/task';
import { newestFirst } from '../../core/approvals/rules';
import { reviewerNotification, type ReviewerNotificationInput } from '../../core/approvals/notification';
import type {
  Approval,
  ApprovalCap,
  ApprovalGrant,
  ApprovalNotice,
  ApprovalStatus,
  ApprovalStore,
  ApprovalWorkflow,
  PrincipalRef,
} from '../../core/ports';

const grantKey = (r: PrincipalRef, model: string, ruleId: string): string => JSON.stringify([r.issuer, r.subject, model, ruleId]);
const requestedKey = (r: PrincipalRef, ruleId: string, hash: string): string => JSON.stringify([r.issuer, r.subject, ruleId, hash]);
const copy = <T>(v: T): T => structuredClone(v);

/** Approvals and grants in memory, with the DynamoDB adapter's compare-and-set semantics. */
export class InMemoryApprovalStore implements ApprovalStore {
  private readonly approvals = new Map<string, Approval>();
  private readonly grants = new Map<string, ApprovalGrant>();
  private readonly requested = new Map<string, string>();

  async create(approval: Approval, cap?: ApprovalCap): Promise<boolean> {
    if (this.approvals.has(approval.id)) throw new Error(`approval ${approval.id} exists`);
    // Check and insert with no await between them: atomic, as the DynamoDB adapter's reservation.
    if (cap && this.pendingOf(approval.requester, approval.ruleId, cap.now, cap.maxPending) >= cap.maxPending) return false;
    this.approvals.set(approval.id, copy(approval));
    this.requested.set(requestedKey(approval.requester, approval.ruleId, approval.payloadSha256), approval.id);
    return true;
  }

  async get(id: string): Promise<Approval | null> {
    const a = this.approvals.get(id);
    return a ? copy(a) : null;
  }

  async update(next: Approval, expectedRevision: number): Promise<boolean> {
    const cur = this.approvals.get(next.id);
    if (!cur || cur.revision !== expectedRevision) return false;
    if (next.revision !== expectedRevision + 1) throw new Error(`approval ${next.id}: next revision must be ${expectedRevision + 1}`);
    this.approvals.set(next.id, copy(next));
    return true;
  }

  async list(filter: { readonly status?: ApprovalStatus; readonly limit: number }): Promise<Approval[]> {
    return [...this.approvals.values()]
      .filter((a) => !filter.status || a.status === filter.status)
      .sort(newestFirst)
      .slice(0, filter.limit)
      .map(copy);
  }

  async findRequested(requester: PrincipalRef, ruleId: string, payloadSha256: string): Promise<string | null> {
    return this.requested.get(requestedKey(requester, ruleId, payloadSha256)) ?? null;
  }

  private pendingOf(requester: PrincipalRef, ruleId: string, now: number, atMost: number): number {
    let n = 0;
    for (const a of this.approvals.values()) {
      if (n >= atMost) break;
      if (
        a.status === 'pending' &&
        a.expiresAt > now &&
        a.ruleId === ruleId &&
        a.requester.issuer === requester.issuer &&
        a.requester.subject === requester.subject
      )
        n++;
    }
    return n;
  }

  /** Record a grant; an existing longer grant is kept (a grant is never shortened, as in DynamoDB). */
  async putGrant(grant: ApprovalGrant): Promise<void> {
    const key = grantKey(grant.requester, grant.model, grant.ruleId);
    const cur = this.grants.get(key);
    if (!cur || cur.until < grant.until) this.grants.set(key, copy(grant));
  }

  async findGrant(requester: PrincipalRef, model: string, ruleId: string): Promise<ApprovalGrant | null> {
    const g = this.grants.get(grantKey(requester, model, ruleId));
    return g ? copy(g) : null;
  }
}

export interface LocalApprovalWorkflowOptions {
  /** Runs a workflow task (`handleApprovalTask` with the dev runtime's store and archive). */
  readonly runTask: (event: ApprovalTaskEvent) => Promise<unknown>;
  /** Where reviewer notifications go (the SNS message in AWS). @default stderr */
  readonly notify?: (input: ApprovalExecutionInput) => void;
  /** The server serves the reviewer page: notifications link to it. @default false */
  readonly reviewPage?: boolean;
  /** Reports a task that failed (they run in the background). @default stderr */
  readonly onError?: (error: unknown) => void;
}

/**
 * The approval workflow of `embedgate dev`, step for step the state machine's: notify, register
 * the task token (the same core task the Lambda runs), wait for a decision with a timeout,
 * expire. The state machine's `Confirm` has no counterpart: here only the gateway releases the
 * wait, after the store holds the decision. Timers are unref'd: a pending approval never keeps
 * the process alive.
 */
export class LocalApprovalWorkflow implements ApprovalWorkflow {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly notify: (input: ApprovalExecutionInput) => void;
  private readonly onError: (error: unknown) => void;
  /** Notifications sent, oldest first (tests and the demo read them). */
  readonly notifications: ReviewerNotificationInput[] = [];

  constructor(private readonly opts: LocalApprovalWorkflowOptions) {
    this.notify =
      opts.notify ??
      ((i) =>
        process.stderr.write(
          `embedgate dev: approval needed\n  ${i.notification.subject}\n  ${i.notification.message.replace(/\n/g, '\n  ')}\n`,
        ));
    this.onError = opts.onError ?? ((e) => process.stderr.write(`embedgate dev: approval workflow task failed: ${(e as Error).message}\n`));
  }

  async start(notice: ApprovalNotice): Promise<void> {
    const input = reviewerNotification(notice, { reviewPage: this.opts.reviewPage ?? false });
    this.notifications.push(input);
    this.notify(input);
    const id = input.approvalId;
    await this.opts.runTask({ action: 'register', approvalId: id, taskToken: `local:${id}` });
    const timer = setTimeout(() => {
      this.timers.delete(id);
      this.opts.runTask({ action: 'expire', approvalId: id, executionId: `local:${id}` }).catch(this.onError);
    }, input.timeoutSeconds * 1000);
    timer.unref();
    this.timers.set(id, timer);
  }

  async settle(approval: Approval): Promise<void> {
    if (!approval.taskToken) return;
    const timer = this.timers.get(approval.id);
    if (timer) clearTimeout(timer);
    this.timers.delete(approval.id);
  }

  /** Stop every timer (the dev server is closing). */
  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
