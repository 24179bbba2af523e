import { SendTaskSuccessCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { reviewerNotification } from '../../core/approvals/notification';
import type { Approval, ApprovalNotice, ApprovalWorkflow } from '../../core/ports';

/** Options of {@link StepFunctionsApprovalWorkflow}. */
export interface StepFunctionsApprovalWorkflowOptions {
  /** ARN of the approval state machine (the `ApprovalWorkflow` construct's). */
  readonly stateMachineArn: string;
  /** The gateway serves the reviewer page: notifications link to it. @default false */
  readonly reviewPage?: boolean;
}

/** What releases the waiting task when a reviewer decides; the workflow then confirms the status from the table (it does not route on this). */
export interface ApprovalTaskOutput {
  readonly status: 'approved' | 'denied' | 'expired';
}

/**
 * Errors of `SendTaskSuccess` that mean nobody waits for this token any more: the task timed out
 * (the workflow expires the approval), the execution ended, or the token is not one.
 */
const GONE = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

/**
 * The approval workflow as a Step Functions standard workflow (see lib/approval-workflow.ts):
 * `start` starts an execution named after the approval; `settle` releases the task waiting for
 * the decision with `SendTaskSuccess`.
 */
export class StepFunctionsApprovalWorkflow implements ApprovalWorkflow {
  private readonly arn: string;
  private readonly reviewPage: boolean;

  constructor(
    private readonly client: SFNClient,
    opts: StepFunctionsApprovalWorkflowOptions,
  ) {
    this.arn = opts.stateMachineArn;
    this.reviewPage = opts.reviewPage ?? false;
  }

  /**
   * Start the execution `<approval id>`. An execution of that name already exists when a start
   * is retried: that is success (execution names are unique per state machine for 90 days).
   */
  async start(notice: ApprovalNotice): Promise<void> {
    try {
      await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.arn,
          name: notice.approval.id,
          input: JSON.stringify(reviewerNotification(notice, { reviewPage: this.reviewPage })),
        }),
      );
    } catch (e) {
      if (!(e instanceof Error && e.name === 'ExecutionAlreadyExists')) throw e;
    }
  }

  /**
   * Release the waiting task with the approval's outcome. Nothing to do before the workflow
   * registered its token. A token nobody waits for any more is ignored; other errors propagate
   * (the caller logs them: the decision stands, the workflow then times out and finds it made).
   */
  async settle(approval: Approval): Promise<void> {
    if (!approval.taskToken) return;
    const output: ApprovalTaskOutput = { status: taskStatus(approval) };
    try {
      await this.client.send(new SendTaskSuccessCommand({ taskToken: approval.taskToken, output: JSON.stringify(output) }));
    } catch (e) {
      if (!(e instanceof Error && GONE.has(e.name))) throw e;
    }
  }
}

/** The outcome the workflow routes on. A used approval was approved. A pending one is never settled. */
export function taskStatus(a: Pick<Approval, 'id' | 'status'>): ApprovalTaskOutput['status'] {
  switch (a.status) {
    case 'approved':
    case 'used':
      return 'approved';
    case 'denied':
      return 'denied';
    case 'expired':
      return 'expired';
    default:
      throw new Error(`approval ${a.id} is still ${a.status}: only a decided or expired approval releases the workflow`);
  }
}
