/** The approval task Lambda handler: Step Functions task events in, the core's answer out, one log line, never the task token. */
import type { Context } from 'aws-lambda';
import { loadConfig } from '../../shared/config';
import type { ApprovalTaskEvent } from '../../lambda/core/approvals/task';
import type { Approval, ApprovalNotice, ApprovalWorkflow } from '../../lambda/core/ports';
import type { SessionRecord } from '../../lambda/core/record';
import { InMemoryApprovalStore } from '../../lambda/adapters/local/approvals';
import { createApprovalTaskHandler } from '../../lambda/handlers/approval-task';
import { pendingApproval, REQUESTER, T0 } from '../support/approval-items';

const ID = '0190a6b2-7c4d-7e00-8000-000000000001';
const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAV-task-token-that-must-not-leak';

const config = loadConfig({
  issuers: [{ id: 'corp', issuer: REQUESTER.issuer, audiences: 'embedgate', jwksUri: 'https://issuer.example.com/jwks' }],
  models: [{ name: 'titan-v2', provider: 'local', dimensions: 4 }],
  policy: { rules: [{ id: 'rag-export', effect: 'allow', approval: { reviewers: { groups: ['reviewers'] } } }] },
});
const context = {
  awsRequestId: 'lambda-req-1',
  functionName: 'approval-task',
  functionVersion: '1',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:approval-task',
  memoryLimitInMB: '256',
  logGroupName: 'g',
  logStreamName: 's',
  callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => 10_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
} as Context;

let store: InMemoryApprovalStore;
let records: SessionRecord[];
let settled: Approval[];
let handler: ReturnType<typeof createApprovalTaskHandler>;
let out: string[];
let spies: jest.SpyInstance[];

beforeEach(async () => {
  store = new InMemoryApprovalStore();
  records = [];
  settled = [];
  const workflow: ApprovalWorkflow = { start: async (_n: ApprovalNotice) => undefined, settle: async (a) => void settled.push(a) };
  let n = 0;
  handler = createApprovalTaskHandler({
    config,
    store,
    workflow,
    archive: { put: async (r) => (records.push(r), { key: r.session_id }) },
    clock: { now: () => T0 + 3_600_000 },
    ids: { sessionId: () => `0190a6b2-7c4d-7e00-8000-${String(++n).padStart(12, '0')}` },
  });
  await store.create(pendingApproval(ID));
  out = [];
  // Powertools writes INFO to stdout and ERROR to stderr.
  spies = [process.stdout, process.stderr].map((s) =>
    jest.spyOn(s, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true)),
  );
});
afterEach(() => spies.forEach((s) => s.mockRestore()));

const logLines = () =>
  out
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('register keeps the task token on the approval and logs the id and status, never the token', async () => {
  await expect(handler({ action: 'register', approvalId: ID, taskToken: TOKEN }, context)).resolves.toEqual({ status: 'pending' });
  await expect(store.get(ID)).resolves.toMatchObject({ revision: 1, taskToken: TOKEN });
  expect(settled).toEqual([]);
  expect(logLines()).toEqual([
    expect.objectContaining({
      level: 'INFO',
      message: 'approval task',
      action: 'register',
      approval_id: ID,
      status: 'pending',
      function_request_id: 'lambda-req-1',
    }),
  ]);
  expect(out.join('')).not.toContain(TOKEN);
});

test('register on an approval decided before the workflow got there releases it at once', async () => {
  await store.update({ ...pendingApproval(ID), revision: 1, status: 'denied', decidedAt: T0 + 1 }, 0);
  await expect(handler({ action: 'register', approvalId: ID, taskToken: TOKEN }, context)).resolves.toEqual({ status: 'denied' });
  expect(settled.map((a) => [a.status, a.taskToken])).toEqual([['denied', TOKEN]]);
});

test('expire marks a pending approval expired and writes its record with the execution id', async () => {
  const executionId = `arn:aws:states:eu-west-1:123456789012:execution:Approvals:${ID}`;
  await expect(handler({ action: 'expire', approvalId: ID, executionId }, context)).resolves.toEqual({ status: 'expired' });
  await expect(store.get(ID)).resolves.toMatchObject({ status: 'expired' });
  expect(records).toHaveLength(1);
  expect(records[0]).toMatchObject({
    request: { method: 'WORKFLOW', request_id: executionId },
    decision: { reason: 'approval_expired' },
    // The expiry record carries no input and says so (issue 23: "not kept" told from "empty").
    input: { items: 0, kept: 'none', text: null, tokens: null, cut: null },
    approval: { id: ID, step: 'expired' },
  });
  expect(logLines()).toEqual([expect.objectContaining({ action: 'expire', approval_id: ID, status: 'expired' })]);
});

test('a failure is logged (without the token) and rethrown, so Step Functions retries', async () => {
  const unknown = '0190a6b2-7c4d-7e00-8000-00000000ffff';
  await expect(handler({ action: 'register', approvalId: unknown, taskToken: TOKEN }, context)).rejects.toThrow();
  await expect(handler({ action: 'explode', approvalId: ID } as unknown as ApprovalTaskEvent, context)).rejects.toThrow(/unknown action/);
  const lines = logLines();
  expect(lines.map((l) => [l.level, l.message, l.action, l.approval_id])).toEqual([
    ['ERROR', 'approval task failed', 'register', unknown],
    ['ERROR', 'approval task failed', 'explode', ID],
  ]);
  expect(out.join('')).not.toContain(TOKEN);
});
