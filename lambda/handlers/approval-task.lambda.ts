/**
 * The approval task Lambda's entry (bundled into assets/approval-task/index.mjs). Same
 * configuration document and archive as the proxy; the approval table and the state machine
 * from the environment the construct sets.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { HANDLER_ENV } from '../../shared/contract';
import { DynamoDbApprovalStore } from '../adapters/aws/dynamodb-approvals';
import { StepFunctionsApprovalWorkflow } from '../adapters/aws/step-functions-approvals';
import { systemClock, uuidv7Ids } from '../core/ids';
import { createApprovalTaskHandler } from './approval-task';
import { config } from './config.mjs';
import { deployedArchive, requiredEnv } from './deployed';

export const handler = createApprovalTaskHandler({
  config,
  store: new DynamoDbApprovalStore(new DynamoDBClient({}), { tableName: requiredEnv(HANDLER_ENV.approvalTable) }),
  workflow: new StepFunctionsApprovalWorkflow(new SFNClient({}), { stateMachineArn: requiredEnv(HANDLER_ENV.approvalStateMachine) }),
  archive: deployedArchive(),
  clock: systemClock,
  ids: uuidv7Ids(systemClock),
});
