/**
 * The BUILT proxy bundle (assets/proxy/index.mjs) with approvals wired as the construct wires
 * them (EMBEDGATE_APPROVAL_TABLE, EMBEDGATE_APPROVAL_STATE_MACHINE): a held request is stored
 * in the DynamoDB table (dynalite) and its workflow started through the Step Functions API (a
 * fake), reviewers decide through the same function, the decision releases the workflow's task
 * token, and the approved re-send is forwarded once. Without the variables, a held request is
 * refused 503 (fail closed).
 *
 * Needs the bundles: `npm run build` (part of `npm test`).
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbApprovalStore } from '../../lambda/adapters/aws/dynamodb-approvals';
import { handleApprovalTask, type ApprovalExecutionInput } from '../../lambda/core/approvals/task';
import { loadConfig, shipConfig } from '../../shared/config';
import { StepFunctionsApprovalWorkflow } from '../../lambda/adapters/aws/step-functions-approvals';
import { SFNClient } from '@aws-sdk/client-sfn';
import { S3RVER_CREDENTIALS, startDynalite, startS3rver, type StandIn } from '../support/aws-standins';
import { createApprovalTable } from '../support/approval-items';
import { startFakeStepFunctions, type FakeStepFunctions } from '../support/fake-step-functions';
import { generateTestKey, signToken, startJwksServer, type JwksServer, type TestKey } from '../support/jwks';
import { bundlePath, startLambdaRunner, type LambdaRunner } from '../support/lambda-runner';

const REGION = 'us-east-1';
const BUCKET = 'embedgate-archive-proxy-approvals';
const REVOCATIONS = 'embedgate-revocations-approvals';
const KMS_KEY_ARN = `arn:aws:kms:${REGION}:123456789012:key/11111111-2222-3333-4444-555555555555`;
const AUDIENCE = 'api://embedgate';

let s3: StandIn;
let dynamo: StandIn;
let sfn: FakeStepFunctions;
let jwks: JwksServer;
let key: TestKey;
let proxy: LambdaRunner;
let proxyWithout: LambdaRunner;
/** Approvals configured, but the function's code lacks the approvals chunk (it cannot load). */
let proxyNoChunk: LambdaRunner;
let ddb: DynamoDBClient;
let table: string;
let configJson: string;

beforeAll(async () => {
  const bundle = bundlePath('proxy');
  [s3, dynamo, sfn, key] = await Promise.all([startS3rver([BUCKET]), startDynalite(), startFakeStepFunctions(), generateTestKey('RS256')]);
  jwks = await startJwksServer({ keys: [key] });
  ddb = new DynamoDBClient({ endpoint: dynamo.endpoint, region: REGION, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  table = await createApprovalTable(ddb);
  await ddb.send(
    new CreateTableCommand({
      TableName: REVOCATIONS,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  // As the construct ships it: normalised and sealed.
  configJson = JSON.stringify(
    shipConfig({
      issuers: [{ id: 'corp', issuer: jwks.issuer, audiences: [AUDIENCE], jwksUri: jwks.jwksUri, algorithms: ['RS256'] }],
      models: [{ name: 'local-small', provider: 'local', dimensions: 8 }],
      policy: {
        rules: [
          {
            id: 'held',
            effect: 'allow',
            match: { groups: ['search-team'] },
            models: ['*'],
            approval: { reviewers: { groups: ['reviewers'] } },
          },
        ],
      },
    }),
  );
  const env = {
    EMBEDGATE_ARCHIVE_BUCKET: BUCKET,
    EMBEDGATE_ARCHIVE_KEY_ARN: KMS_KEY_ARN,
    EMBEDGATE_REVOCATION_TABLE: REVOCATIONS,
    POWERTOOLS_SERVICE_NAME: 'embedgate-test',
    POWERTOOLS_METRICS_DISABLED: 'true',
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_SFN: sfn.endpoint,
  };
  const approvalsChunk = readdirSync(join(dirname(bundle), 'chunks'))
    .filter((f) => f.startsWith('approvals-client-'))
    .map((f) => `chunks/${f}`);
  expect(approvalsChunk).toHaveLength(1);
  const approvalEnv = { ...env, EMBEDGATE_APPROVAL_TABLE: table, EMBEDGATE_APPROVAL_STATE_MACHINE: sfn.stateMachineArn };
  [proxy, proxyWithout, proxyNoChunk] = await Promise.all([
    startLambdaRunner({ bundle, files: { 'config.json': configJson }, functionName: 'embedgate-proxy', env: approvalEnv }),
    startLambdaRunner({ bundle, files: { 'config.json': configJson }, functionName: 'embedgate-proxy-no-approvals', env }),
    startLambdaRunner({
      bundle,
      omit: approvalsChunk,
      files: { 'config.json': configJson },
      functionName: 'embedgate-proxy-no-approvals-chunk',
      env: approvalEnv,
    }),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([proxy?.close(), proxyWithout?.close(), proxyNoChunk?.close()]);
  ddb?.destroy();
  await Promise.allSettled([s3?.close(), dynamo?.close(), sfn?.close(), jwks?.stop()]);
});

let seq = 0;
async function call(
  fn: LambdaRunner,
  who: { sub: string; groups: string[] },
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const token = await signToken(key, {
    iss: jwks.issuer,
    aud: AUDIENCE,
    sub: who.sub,
    groups: who.groups,
    exp: Math.floor(Date.now() / 1000) + 300,
    iat: Math.floor(Date.now() / 1000),
  });
  const text = body === undefined ? undefined : JSON.stringify(body);
  const now = Date.now();
  const res = (await fn.invoke({
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers: {
      host: 'abc.execute-api.us-east-1.amazonaws.com',
      authorization: `Bearer ${token}`,
      ...(text ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    requestContext: {
      accountId: '1',
      apiId: 'abc',
      domainName: 'abc.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abc',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 't' },
      requestId: `R${++seq}`,
      routeKey: '$default',
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
    },
    ...(text ? { body: text } : {}),
    isBase64Encoded: false,
  })) as { statusCode: number; body: string };
  return { status: res.statusCode, json: JSON.parse(res.body) as Record<string, unknown> & { error?: { code: string } } };
}

const INDEXER = { sub: 'svc-indexer', groups: ['search-team'] };
const ALICE = { sub: 'alice', groups: ['reviewers'] };
const BODY = { model: 'local-small', input: ['quarterly numbers'] };

test('held (202) in DynamoDB with a started execution; approved by a reviewer, which releases the task token; forwarded once', async () => {
  const held = await call(proxy, INDEXER, 'POST', '/v1/embeddings', BODY);
  expect(held.status).toBe(202);
  const id = held.json.approval_id as string;
  expect(held.json.poll_url).toBe(`https://abc.execute-api.us-east-1.amazonaws.com/v1/approvals/${id}`);
  const store = new DynamoDbApprovalStore(ddb, { tableName: table });
  expect((await store.get(id))!.status).toBe('pending');
  const execution = sfn.executions.get(id)!;
  const input = JSON.parse(execution.input) as ApprovalExecutionInput;
  expect(input).toMatchObject({ approvalId: id, timeoutSeconds: 3600, notification: { subject: expect.stringContaining('local-small') } });
  expect(input.notification.message).toContain(`https://abc.execute-api.us-east-1.amazonaws.com/v1/approvals/${id}/decision`);

  // The workflow's task registers its token (as the state machine's WaitForDecision does).
  const token = sfn.issueToken(id);
  const config = loadConfig(JSON.parse(configJson));
  const sfnClient = new SFNClient({ endpoint: sfn.endpoint, region: REGION, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  await handleApprovalTask(
    { action: 'register', approvalId: id, taskToken: token },
    {
      config,
      store,
      workflow: new StepFunctionsApprovalWorkflow(sfnClient, { stateMachineArn: sfn.stateMachineArn }),
      archive: { put: async () => ({ key: 'k' }) },
      clock: { now: Date.now },
      ids: { sessionId: () => 'x' },
    },
  );
  sfnClient.destroy();

  expect(
    (await call(proxy, INDEXER, 'POST', `/v1/approvals/${id}/decision`, { decision: 'approve', reason: 'mine' })).json.error!.code,
  ).toBe('self_approval');
  const decided = await call(proxy, ALICE, 'POST', `/v1/approvals/${id}/decision`, { decision: 'approve', reason: 'fine' });
  expect(decided.json.status).toBe('approved');
  expect(JSON.parse(await sfn.waitForRelease(token))).toEqual({ status: 'approved' });

  const used = await call(proxy, INDEXER, 'POST', '/v1/embeddings', BODY, { 'x-embedgate-approval-id': id });
  expect(used.status).toBe(200);
  expect((used.json.data as unknown[]).length).toBe(1);
  expect((await call(proxy, INDEXER, 'POST', '/v1/embeddings', BODY, { 'x-embedgate-approval-id': id })).json.error!.code).toBe(
    'approval_used',
  );
  expect((await store.get(id))!.status).toBe('used');
}, 60_000);

test('approvals configured but their chunk missing: held requests, re-sends with an approval id and the approvals API fail closed (503 approvals_unavailable)', async () => {
  const before = sfn.executions.size;
  const held = await call(proxyNoChunk, INDEXER, 'POST', '/v1/embeddings', BODY);
  expect(held.status).toBe(503);
  expect(held.json.error!.code).toBe('approvals_unavailable');
  const resend = await call(proxyNoChunk, INDEXER, 'POST', '/v1/embeddings', BODY, {
    'x-embedgate-approval-id': '0190a6b2-7c4d-7e00-8000-000000000001',
  });
  expect(resend.status).toBe(503);
  expect(resend.json.error!.code).toBe('approvals_unavailable');
  const list = await call(proxyNoChunk, ALICE, 'GET', '/v1/approvals');
  expect(list.status).toBe(503);
  expect(sfn.executions.size).toBe(before);
  expect(proxyNoChunk.output()).toContain('loading the approvals adapters failed');
});

test('without the approval table and state machine, a held request fails closed (503) and nothing is stored', async () => {
  const before = sfn.executions.size;
  const r = await call(proxyWithout, INDEXER, 'POST', '/v1/embeddings', BODY);
  expect(r.status).toBe(503);
  expect(r.json.error!.code).toBe('approvals_unavailable');
  expect(sfn.executions.size).toBe(before);
});

test('a principal past maxPending (default 10) is refused 429 through the bundle (its pending list in DynamoDB), and no execution starts; the approvals list reads the status index', async () => {
  const flooder = { sub: 'svc-flooder', groups: ['search-team'] };
  for (let i = 0; i < 10; i++) {
    expect((await call(proxy, flooder, 'POST', '/v1/embeddings', { model: 'local-small', input: [`batch ${i}`] })).status).toBe(202);
  }
  const before = sfn.executions.size;
  const r = await call(proxy, flooder, 'POST', '/v1/embeddings', { model: 'local-small', input: ['batch 10'] });
  expect(r.status).toBe(429);
  expect(r.json.error!.code).toBe('too_many_pending_approvals');
  expect(sfn.executions.size).toBe(before);
  // Another principal is not held back by it.
  expect(
    (
      await call(proxy, { sub: 'svc-other', groups: ['search-team'] }, 'POST', '/v1/embeddings', {
        model: 'local-small',
        input: ['batch 10'],
      })
    ).status,
  ).toBe(202);
  // The flooder's own pending approvals, through the status index (GET without query string: all statuses, newest first).
  const mine = await call(proxy, flooder, 'GET', '/v1/approvals');
  expect(mine.status).toBe(200);
  const data = mine.json.data as { status: string; created_at?: string }[];
  expect(data).toHaveLength(10);
  expect(data.every((a) => a.status === 'pending')).toBe(true);
}, 60_000);
