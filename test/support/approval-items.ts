/**
 * Approvals for adapter tests, and a DynamoDB table for them on dynalite (same key schema as the
 * `ApprovalWorkflow` construct's table).
 */
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { APPROVAL_ATTRIBUTES as A, APPROVAL_STATUS_INDEX } from '../../lambda/adapters/aws/dynamodb-approvals';
import type { Approval, PrincipalRef } from '../../lambda/core/ports';

export const T0 = Date.UTC(2030, 0, 15, 9, 0, 0);
export const REQUESTER: PrincipalRef = { issuer: 'https://issuer.example.com', subject: 'svc-rag', clientId: 'client-rag' };

/** A pending approval created at `T0`, expiring an hour later, with `over` applied. */
export function pendingApproval(id: string, over: Partial<Approval> = {}): Approval {
  return {
    id,
    revision: 0,
    status: 'pending',
    requester: REQUESTER,
    requestSessionId: `session-${id}`,
    model: 'titan-v2',
    ruleId: 'rag-export',
    policyVersion: 'sha256:policy',
    triggers: ['batch_over:10'],
    payloadSha256: `sha256:${'a'.repeat(64)}`,
    preview: 'quarterly [EMAIL] report',
    reviewerGroups: ['reviewers'],
    reviewerSubjects: [],
    requiredApprovals: 1,
    decisions: [],
    createdAt: T0,
    expiresAt: T0 + 3_600_000,
    decidedAt: null,
    useBy: null,
    grantUntil: null,
    grantMinutes: null,
    usedAt: null,
    usedBySessionId: null,
    taskToken: null,
    ...over,
  };
}

let tables = 0;

/** Create an empty table with partition key `pk` (string) and the status index, as the construct does; resolves to its name. */
export async function createApprovalTable(client: DynamoDBClient): Promise<string> {
  const name = `approvals-${++tables}`;
  await client.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: A.status, AttributeType: 'S' },
        { AttributeName: A.createdAt, AttributeType: 'N' },
      ],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: APPROVAL_STATUS_INDEX,
          KeySchema: [
            { AttributeName: A.status, KeyType: 'HASH' },
            { AttributeName: A.createdAt, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return name;
}
