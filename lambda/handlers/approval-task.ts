/**
 * The approval workflow's task handler (invoked by Step Functions, see lib/approval-workflow.ts):
 * `register` keeps the task token the workflow waits on, `expire` ends an undecided approval.
 * Thin: the event goes to the core's `handleApprovalTask`; one log line per invocation with the
 * approval id and its status, never the task token.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context } from 'aws-lambda';
import { handleApprovalTask, type ApprovalTaskDeps, type ApprovalTaskEvent } from '../core/approvals/task';
import type { ApprovalStatus } from '../core/ports';
import { logger } from './powertools';

export type ApprovalTaskHandler = (event: ApprovalTaskEvent, context: Context) => Promise<{ status: ApprovalStatus }>;

/** The handler's core, without middleware (tested on its own). Rejects on failure, so Step Functions retries. */
export function approvalTaskCore(deps: ApprovalTaskDeps): ApprovalTaskHandler {
  return async (event) => {
    const fields = {
      action: typeof event?.action === 'string' ? event.action : null,
      approval_id: typeof event?.approvalId === 'string' ? event.approvalId : null,
    };
    try {
      const result = await handleApprovalTask(event, deps);
      logger.info('approval task', { ...fields, status: result.status });
      return result;
    } catch (e) {
      logger.error('approval task failed', {
        ...fields,
        error: e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) },
      });
      throw e;
    }
  };
}

/** The Lambda handler. Events are never logged (`logEvent: false`): `register` carries a task token. */
export function createApprovalTaskHandler(deps: ApprovalTaskDeps): ApprovalTaskHandler {
  return middy(approvalTaskCore(deps)).use(
    injectLambdaContext(logger, { resetKeys: true, logEvent: false }),
  ) as unknown as ApprovalTaskHandler;
}
