/**
 * StepFunctionsApprovalWorkflow with the real SFNClient against a fake of the Step Functions
 * JSON 1.0 protocol: StartExecution (named after the approval, idempotent on retry) and
 * SendTaskSuccess (only with a token; tokens nobody waits for are ignored; other errors propagate).
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { StepFunctionsApprovalWorkflow, taskStatus } from '../../../lambda/adapters/aws/step-functions-approvals';
import { reviewerNotification } from '../../../lambda/core/approvals/notification';
import type { ApprovalNotice, ApprovalStatus } from '../../../lambda/core/ports';
import { pendingApproval } from '../../support/approval-items';
import { startFakeStepFunctions } from '../../support/fake-step-functions';
import type { FakeStepFunctions } from '../../support/fake-step-functions';

const ID = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';

let sfn: FakeStepFunctions;
let client: SFNClient;
let workflow: StepFunctionsApprovalWorkflow;

beforeAll(async () => {
  sfn = await startFakeStepFunctions();
  client = new SFNClient({
    endpoint: sfn.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake-secret' },
    maxAttempts: 1,
  });
  workflow = new StepFunctionsApprovalWorkflow(client, { stateMachineArn: sfn.stateMachineArn });
});
beforeEach(() => {
  sfn.requests.length = 0;
  sfn.failWith(undefined);
});
afterAll(async () => {
  client.destroy();
  await sfn.close();
});

const notice = (id = ID): ApprovalNotice => ({
  approval: pendingApproval(id),
  pollPath: `/v1/approvals/${id}`,
  decisionPath: `/v1/approvals/${id}/decision`,
});

describe('start', () => {
  it("starts one execution named after the approval, with the core's execution input (plain text and Chatbot format)", async () => {
    const n = notice();
    await workflow.start(n);
    expect(sfn.requests).toHaveLength(1);
    expect(sfn.requests[0]!.target).toBe('AWSStepFunctions.StartExecution');
    expect(sfn.requests[0]!.body).toEqual({
      stateMachineArn: sfn.stateMachineArn,
      name: ID,
      input: JSON.stringify(reviewerNotification(n, { reviewPage: false })),
    });
    const input = JSON.parse(sfn.executions.get(ID)!.input) as Record<string, unknown>;
    expect(input).toMatchObject({
      approvalId: ID,
      timeoutSeconds: 3600,
      notification: { subject: expect.any(String), message: expect.stringContaining(`/v1/approvals/${ID}/decision`) },
    });
  });

  it('a retried start is success: while the execution runs (same input) and after it ended (ExecutionAlreadyExists)', async () => {
    const id = '0190a1b2-c3d4-7e5f-8a9b-000000000002';
    await workflow.start(notice(id));
    await expect(workflow.start(notice(id))).resolves.toBeUndefined();
    sfn.end(id);
    await expect(workflow.start(notice(id))).resolves.toBeUndefined();
    expect(sfn.requests).toHaveLength(3);
    expect(sfn.executions.get(id)).toBeDefined();
  });

  it('rejects when Step Functions cannot start it (the gateway then does not answer 202)', async () => {
    sfn.failWith({ status: 400, type: 'AccessDeniedException' });
    await expect(workflow.start(notice('0190a1b2-c3d4-7e5f-8a9b-000000000003'))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    sfn.failWith(undefined);
    const wrong = new StepFunctionsApprovalWorkflow(client, { stateMachineArn: `${sfn.stateMachineArn}-other` });
    await expect(wrong.start(notice('0190a1b2-c3d4-7e5f-8a9b-000000000004'))).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
  });
});

describe('settle', () => {
  const decided = (status: ApprovalStatus, taskToken: string | null) => pendingApproval(ID, { status, taskToken, revision: 2 });

  it.each([
    ['approved', 'approved'],
    ['used', 'approved'],
    ['denied', 'denied'],
    ['expired', 'expired'],
  ] as const)('%s: releases its task with {"status":"%s"}', async (status, output) => {
    const token = sfn.issueToken(ID);
    await workflow.settle(decided(status, token));
    expect(sfn.requests.map((r) => r.target)).toEqual(['AWSStepFunctions.SendTaskSuccess']);
    expect(sfn.requests[0]!.body).toEqual({ taskToken: token, output: JSON.stringify({ status: output }) });
    expect(JSON.parse(sfn.released.get(token)!)).toEqual({ status: output });
  });

  it('does nothing before the workflow registered a token', async () => {
    await workflow.settle(decided('approved', null));
    expect(sfn.requests).toEqual([]);
  });

  it('refuses to release a pending approval, without calling Step Functions', async () => {
    await expect(workflow.settle(decided('pending', sfn.issueToken(ID)))).rejects.toThrow(/still pending/);
    expect(sfn.requests).toEqual([]);
    expect(() => taskStatus({ id: 'x', status: 'pending' })).toThrow(/x is still pending/);
  });

  it('ignores a token nobody waits for: timed out, already released, not a token', async () => {
    const late = sfn.issueToken(ID);
    sfn.timeOut(late);
    await expect(workflow.settle(decided('approved', late))).resolves.toBeUndefined();
    const twice = sfn.issueToken(ID);
    await workflow.settle(decided('denied', twice));
    await expect(workflow.settle(decided('denied', twice))).resolves.toBeUndefined();
    await expect(workflow.settle(decided('approved', 'not-a-token'))).resolves.toBeUndefined();
    expect(sfn.requests).toHaveLength(4);
  });

  it('other errors propagate (the caller logs them; the decision stands)', async () => {
    sfn.failWith({ status: 400, type: 'AccessDeniedException' });
    await expect(workflow.settle(decided('approved', sfn.issueToken(ID)))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    sfn.failWith({ status: 500, type: 'InternalFailure' });
    await expect(workflow.settle(decided('approved', sfn.issueToken(ID)))).rejects.toMatchObject({ $metadata: { httpStatusCode: 500 } });
  });
});
