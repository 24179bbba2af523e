/**
 * The approvals adapters of the proxy: the DynamoDB approval store and the Step Functions
 * workflow, with its client. The proxy entry imports this module with `import()` only (a chunk of
 * the bundle of its own): gateways without a rule that holds requests never load it, and those
 * with one load it during init.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { ApprovalStore, ApprovalWorkflow } from '../../core/ports';
import { DynamoDbApprovalStore } from './dynamodb-approvals';
import { StepFunctionsApprovalWorkflow } from './step-functions-approvals';

export function approvalAdapters(
  dynamodb: DynamoDBClient,
  tableName: string,
  stateMachineArn: string,
  opts: { reviewPage?: boolean } = {},
): { store: ApprovalStore; workflow: ApprovalWorkflow } {
  return {
    store: new DynamoDbApprovalStore(dynamodb, { tableName }),
    workflow: new StepFunctionsApprovalWorkflow(new SFNClient({}), { stateMachineArn, reviewPage: opts.reviewPage ?? false }),
  };
}
