/**
 * The Step Functions client and the approval workflow bound to it. The proxy entry imports this
 * module with `import()` only (a chunk of the bundle of its own): gateways without approvals
 * never load the client.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import type { ApprovalWorkflow } from '../../core/ports';
import { StepFunctionsApprovalWorkflow } from './step-functions-approvals';

export function stepFunctionsApprovalWorkflow(stateMachineArn: string): ApprovalWorkflow {
  return new StepFunctionsApprovalWorkflow(new SFNClient({}), { stateMachineArn });
}
