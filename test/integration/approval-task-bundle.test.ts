/**
 * The BUILT approval task bundle (assets/approval-task/index.mjs, what the `ApprovalWorkflow`
 * construct deploys) run as a Lambda handler in its own process (test/support/lambda-runner.ts),
 * with the real SDK clients inside the bundle reaching dynalite (approvals), a fake Step
 * Functions API and s3rver (the archive) only through the SDK's service-specific endpoint
 * variables. Events are the ones the state machine's Lambda tasks send.
 *
 * Needs the bundles: `npm run build` (part of `npm test`).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DynamoDbApprovalStore } from '../../lambda/adapters/aws/dynamodb-approvals';
import type { SessionRecord } from '../../lambda/core/record';
import { S3RVER_CREDENTIALS, startDynalite, startS3rver, type StandIn } from '../support/aws-standins';
import { createApprovalTable, pendingApproval, REQUESTER } from '../support/approval-items';
import { startFakeStepFunctions, type FakeStepFunctions } from '../support/fake-step-functions';
import { bundlePath, LambdaInvocationError, startLambdaRunner, type LambdaRunner } from '../support/lambda-runner';
import { shipConfig } from '../../shared/config';

const REGION = 'us-east-1';
const BUCKET = 'embedgate-archive-approvals';
const KMS_KEY_ARN = `arn:aws:kms:${REGION}:123456789012:key/11111111-2222-3333-4444-555555555555`;
const ID = (n: number) => `0190a6b2-7c4d-7e00-8000-${String(n).padStart(12, '0')}`;

let s3: StandIn;
let dynamo: StandIn;
let sfn: FakeStepFunctions;
let fn: LambdaRunner;
let ddb: DynamoDBClient;
let s3Client: S3Client;
let store: DynamoDbApprovalStore;

// As the construct ships it: normalised and sealed.
const configJson = JSON.stringify(
  shipConfig({
    issuers: [{ id: 'corp', issuer: REQUESTER.issuer, audiences: ['embedgate'], jwksUri: 'https://issuer.example.com/jwks' }],
    models: [{ name: 'titan-v2', provider: 'local', dimensions: 4 }],
    policy: { rules: [{ id: 'rag-export', effect: 'allow', approval: { reviewers: { groups: ['reviewers'] } } }] },
  }),
);

beforeAll(async () => {
  const bundle = bundlePath('approval-task');
  [s3, dynamo, sfn] = await Promise.all([startS3rver([BUCKET]), startDynalite(), startFakeStepFunctions()]);
  ddb = new DynamoDBClient({ endpoint: dynamo.endpoint, region: REGION, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  s3Client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: REGION, credentials: S3RVER_CREDENTIALS });
  const table = await createApprovalTable(ddb);
  store = new DynamoDbApprovalStore(ddb, { tableName: table });
  fn = await startLambdaRunner({
    bundle,
    files: { 'config.json': configJson },
    functionName: 'embedgate-approval-task',
    env: {
      EMBEDGATE_APPROVAL_TABLE: table,
      EMBEDGATE_APPROVAL_STATE_MACHINE: sfn.stateMachineArn,
      EMBEDGATE_ARCHIVE_BUCKET: BUCKET,
      EMBEDGATE_ARCHIVE_KEY_ARN: KMS_KEY_ARN,
      POWERTOOLS_SERVICE_NAME: 'embedgate-test',
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SFN: sfn.endpoint,
    },
  });
}, 60_000);

afterAll(async () => {
  await fn?.close();
  ddb?.destroy();
  s3Client?.destroy();
  await Promise.allSettled([s3?.close(), dynamo?.close(), sfn?.close()]);
});

test('register stores the task token in DynamoDB; the token never appears in the logs', async () => {
  await store.create(pendingApproval(ID(1)));
  const token = sfn.issueToken(ID(1));
  await expect(fn.invoke({ action: 'register', approvalId: ID(1), taskToken: token })).resolves.toEqual({ status: 'pending' });
  await expect(store.get(ID(1))).resolves.toMatchObject({ revision: 1, taskToken: token });
  expect(fn.output()).toContain(`"approval_id":"${ID(1)}"`);
  expect(fn.output()).not.toContain(token);
});

test('register on an approval decided already releases the workflow through the Step Functions API', async () => {
  await store.create({ ...pendingApproval(ID(2)), status: 'approved', decidedAt: Date.now(), useBy: Date.now() + 900_000 });
  const token = sfn.issueToken(ID(2));
  await expect(fn.invoke({ action: 'register', approvalId: ID(2), taskToken: token })).resolves.toEqual({ status: 'approved' });
  expect(JSON.parse(sfn.released.get(token)!)).toEqual({ status: 'approved' });
  expect(sfn.requests.at(-1)).toMatchObject({ target: 'AWSStepFunctions.SendTaskSuccess' });
});

test('confirm answers the status the table holds, whatever released the wait; an unknown approval fails the task', async () => {
  const a = pendingApproval(ID(4), { expiresAt: Date.UTC(2030, 0, 15, 10, 0, 0, 250) });
  await store.create(a);
  // The deadline too, rounded up to the second (a Wait state drops milliseconds).
  await expect(fn.invoke({ action: 'confirm', approvalId: ID(4) })).resolves.toEqual({
    status: 'pending',
    decideBy: '2030-01-15T10:00:01.000Z',
  });
  await store.create({ ...pendingApproval(ID(5)), status: 'denied', decidedAt: Date.now() });
  await expect(fn.invoke({ action: 'confirm', approvalId: ID(5) })).resolves.toMatchObject({ status: 'denied' });
  await expect(fn.invoke({ action: 'confirm', approvalId: ID(99) })).rejects.toThrow(/not found/);
});

test('expire marks the approval expired and writes its record to the archive, the execution id as its request id', async () => {
  await store.create(pendingApproval(ID(3)));
  const executionId = `arn:aws:states:${REGION}:123456789012:execution:Approvals:${ID(3)}`;
  await expect(fn.invoke({ action: 'expire', approvalId: ID(3), executionId })).resolves.toEqual({ status: 'expired' });
  await expect(store.get(ID(3))).resolves.toMatchObject({ status: 'expired' });
  const listed = await s3Client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'sessions/' }));
  expect(listed.Contents).toHaveLength(1);
  const object = await s3Client.send(new GetObjectCommand({ Bucket: BUCKET, Key: listed.Contents![0]!.Key! }));
  const record = JSON.parse(await object.Body!.transformToString()) as SessionRecord;
  expect(record).toMatchObject({
    request: { method: 'WORKFLOW', request_id: executionId },
    approval: { id: ID(3), step: 'expired', status: 'expired' },
    decision: { reason: 'approval_expired' },
  });
  // A second expiry (a retried task) changes nothing and writes nothing.
  await expect(fn.invoke({ action: 'expire', approvalId: ID(3), executionId })).resolves.toEqual({ status: 'expired' });
  expect((await s3Client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'sessions/' }))).Contents).toHaveLength(1);
});

test('a failing task rejects (Step Functions retries it, then the execution fails and alarms)', async () => {
  const err = await fn.invoke({ action: 'register', approvalId: ID(404), taskToken: 't' }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(LambdaInvocationError);
  expect((err as LambdaInvocationError).message).toMatch(/No such approval/);
});
