/**
 * The BUILT Lambda bundles (assets/proxy/index.mjs and assets/edge-recorder/index.mjs, exactly
 * what the construct deploys) run as Lambda handlers against local stand-ins, with the real AWS
 * SDK clients inside the bundle: s3rver for the archive, dynalite for the revocation table, a fake
 * Secrets Manager, a local JWKS server and a fake OpenAI-compatible upstream.
 *
 * Each function runs in its own Node process (test/support/lambda-runner.ts) from a task root
 * holding `index.mjs` and `config.json`, with the environment the construct gives it: the
 * configuration document carries the upstream key's secret id as `${env:EMBEDGATE_REF_0}`, as
 * the construct writes deploy-time references. The SDK clients (created with `{}` in the
 * entries) reach the stand-ins only through the SDK's service-specific endpoint variables
 * (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`). No
 * path-style setting is needed for s3rver: with an IP-literal endpoint (127.0.0.1) the S3
 * endpoint rules address buckets path-style by themselves.
 *
 * Between the functions and s3rver sits a small recording front (see `startS3Front`): it shows
 * what the bundled S3 client actually sent (If-None-Match, SSE-KMS, checksum) and answers 412 to
 * a conditional PUT of a key already written through it, which s3rver itself ignores.
 *
 * The proxy bundle is split (scripts/bundle.mjs): the Bedrock runtime and Comprehend clients are
 * chunks it loads with `import()` only when the configuration names them. One function runs with
 * both configured, against a fake Bedrock Runtime and a fake Comprehend (through
 * `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` / `AWS_ENDPOINT_URL_COMPREHEND`); another runs without them
 * from a task root that lacks every lazily loaded chunk, which shows they are not needed there.
 *
 * Needs the bundles: `npm run build` (part of `npm test`).
 */
import { dirname } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { shipConfig } from '../../shared/config';
import { fingerprintVectors, RECORD_SCHEMA, type SessionRecord } from '../../lambda/core/record';
import { uuidv7From } from '../../lambda/core/ids';
import { deadEndpoint, S3RVER_CREDENTIALS, startDynalite, startS3rver, type StandIn } from '../support/aws-standins';
import { bundleGraph } from '../support/bundle-graph';
import { startFakeBedrock, type FakeBedrock } from '../support/fake-bedrock';
import { startFakeComprehend, type FakeComprehend } from '../support/fake-comprehend';
import { startFakeSecretsManager, type FakeSecretsManager } from '../support/fake-secrets-manager';
import { fakeEmbedding, startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';
import { generateTestKey, signToken, startJwksServer, type JwksServer, type TestKey } from '../support/jwks';
import { bundlePath, LambdaInvocationError, startLambdaRunner, type LambdaRunner } from '../support/lambda-runner';
import { listenLocal } from '../support/listen';

const REGION = 'us-east-1';
const BUCKET = 'embedgate-archive-test';
const TABLE = 'embedgate-revocations-test';
const KMS_KEY_ARN = `arn:aws:kms:${REGION}:123456789012:key/11111111-2222-3333-4444-555555555555`;
/** The secret id as CloudFormation resolves the construct's token (a secret ARN). */
const SECRET_ID = `arn:aws:secretsmanager:${REGION}:123456789012:secret:embedgate/upstream-key-AbCdEf`;
const UPSTREAM_KEY = 'sk-upstream-key-from-fake-secrets-manager';
const AUDIENCE = 'api://embedgate';
const REMOTE_MODEL = 'remote-embed';
const LOCAL_MODEL = 'local-small';

interface ApiResult {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly isBase64Encoded?: boolean;
}

interface EdgeResult {
  readonly recorded: number;
  readonly duplicates: number;
  readonly skipped: number;
}

let s3: StandIn;
let s3Front: S3Front;
let dynamo: StandIn;
let secrets: FakeSecretsManager;
let upstream: FakeUpstream;
let jwks: JwksServer;
let key: TestKey;
let proxy: LambdaRunner;
let proxyArchiveDown: LambdaRunner;
let edge: LambdaRunner;
let s3Client: S3Client;

/** The configuration document as the construct ships it (`config.json` next to index.mjs): normalised and sealed. */
function configJson(): string {
  return JSON.stringify(shipConfig(configSource()));
}

/** The configuration document before the construct validates, normalises and seals it. */
function configSource(): Record<string, unknown> {
  return {
    issuers: [{ id: 'corp', issuer: jwks.issuer, audiences: [AUDIENCE], jwksUri: jwks.jwksUri, algorithms: ['RS256'] }],
    models: [
      {
        name: REMOTE_MODEL,
        provider: 'openai-compatible',
        upstreamModel: 'fake-embedding-model',
        baseUrl: upstream.url,
        apiKey: { source: 'secretsManager', secretId: '${env:EMBEDGATE_REF_0}' },
        upstream: { maxRetries: 0, timeoutMs: 10_000 },
      },
      { name: LOCAL_MODEL, provider: 'local', dimensions: 8 },
    ],
    policy: { rules: [{ id: 'allow-corp', effect: 'allow', match: { issuer: ['corp'] }, models: ['*'] }] },
    gateway: { maxRequestBytes: 2 * 1024 * 1024, maxTokenBytes: 8192, archiveFailMode: 'closed' },
  };
}

/** The function environment: what the construct sets, plus region, credentials and endpoints. */
function functionEnv(s3Endpoint: string, withRevocationTable: boolean): Record<string, string> {
  return {
    EMBEDGATE_REF_0: SECRET_ID,
    EMBEDGATE_ARCHIVE_BUCKET: BUCKET,
    EMBEDGATE_ARCHIVE_KEY_ARN: KMS_KEY_ARN,
    ...(withRevocationTable ? { EMBEDGATE_REVOCATION_TABLE: TABLE } : {}),
    POWERTOOLS_SERVICE_NAME: 'embedgate-test',
    POWERTOOLS_METRICS_NAMESPACE: 'embedgate',
    POWERTOOLS_METRICS_DISABLED: 'true',
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: s3Endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
  };
}

beforeAll(async () => {
  // Fail first, and clearly, when the bundles were not built.
  const proxyBundle = bundlePath('proxy');
  const edgeBundle = bundlePath('edge-recorder');

  [s3, dynamo, secrets, upstream, key] = await Promise.all([
    startS3rver([BUCKET]),
    startDynalite(),
    startFakeSecretsManager({ [SECRET_ID]: UPSTREAM_KEY }),
    startFakeUpstream(),
    generateTestKey('RS256'),
  ]);
  jwks = await startJwksServer({ keys: [key] });
  s3Front = await startS3Front(s3.endpoint);
  s3Client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: REGION, credentials: S3RVER_CREDENTIALS });

  const ddb = new DynamoDBClient({ endpoint: dynamo.endpoint, region: REGION, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  await ddb.send(
    new CreateTableCommand({
      TableName: TABLE,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  // A subject revocation, in the key layout of lambda/core/revocation.ts: sub#<issuer>#<subject>.
  await ddb.send(
    new PutItemCommand({
      TableName: TABLE,
      Item: {
        pk: { S: `sub#${jwks.issuer}#svc-revoked` },
        reason: { S: 'leaked credentials' },
        createdAt: { N: String(Date.now()) },
        createdBy: { S: 'lambda-bundles-test' },
      },
    }),
  );
  ddb.destroy();

  const files = { 'config.json': configJson() };
  const dead = await deadEndpoint();
  [proxy, proxyArchiveDown, edge] = await Promise.all([
    startLambdaRunner({ bundle: proxyBundle, files, env: functionEnv(s3Front.endpoint, true), functionName: 'embedgate-proxy' }),
    startLambdaRunner({ bundle: proxyBundle, files, env: functionEnv(dead, true), functionName: 'embedgate-proxy-archive-down' }),
    startLambdaRunner({ bundle: edgeBundle, files, env: functionEnv(s3Front.endpoint, false), functionName: 'embedgate-edge-recorder' }),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([proxy?.close(), proxyArchiveDown?.close(), edge?.close()]);
  s3Client?.destroy();
  await Promise.allSettled([s3Front?.close(), s3?.close(), dynamo?.close(), secrets?.close(), upstream?.close(), jwks?.stop()]);
});

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

let requestSeq = 0;

/** An API Gateway HTTP API (payload 2.0) event, as the integration delivers it. */
function apiEvent(method: string, path: string, opts: { token?: string; body?: unknown; timeEpoch?: number } = {}) {
  const requestId = `Req${String(++requestSeq).padStart(4, '0')}=`;
  const timeEpoch = opts.timeEpoch ?? Date.now();
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers: {
      accept: 'application/json',
      host: 'abc123.execute-api.us-east-1.amazonaws.com',
      'user-agent': 'lambda-bundles-test/1.0',
      'x-forwarded-for': '203.0.113.7',
      ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}),
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'lambda-bundles-test/1.0' },
      requestId,
      routeKey: `${method} ${path}`,
      stage: '$default',
      time: new Date(timeEpoch).toISOString(),
      timeEpoch,
    },
    ...(body !== undefined ? { body } : {}),
    isBase64Encoded: false,
  };
}

async function token(subject: string, claims: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signToken(key, {
    iss: jwks.issuer,
    aud: AUDIENCE,
    sub: subject,
    client_id: `client-${subject}`,
    groups: ['rag-readers'],
    scope: 'embeddings',
    jti: `jti-${subject}-${now}`,
    iat: now,
    exp: now + 600,
    ...claims,
  });
}

/** The archive key of a record started at `epochMs` (sessions/dt=YYYY-MM-DD/hr=HH/<id>.json). */
function recordKeyAt(epochMs: number, sessionId: string): string {
  const iso = new Date(epochMs).toISOString();
  return `sessions/dt=${iso.slice(0, 10)}/hr=${iso.slice(11, 13)}/${sessionId}.json`;
}

/** The record stored in s3rver at `key` (one JSON line). */
async function storedRecord(key: string): Promise<SessionRecord> {
  const out = await s3Client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  const text = await out.Body!.transformToString('utf8');
  expect(text.endsWith('\n')).toBe(true);
  expect(text.trimEnd().includes('\n')).toBe(false);
  return JSON.parse(text) as SessionRecord;
}

async function listKeys(prefix = 'sessions/'): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3Client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) keys.push(o.Key!);
    token = page.NextContinuationToken;
  } while (token);
  return keys.sort();
}

function parseBody(r: ApiResult): Record<string, unknown> {
  return JSON.parse(r.body) as Record<string, unknown>;
}

/** The archive PUTs the function sent for this key, through the recording front. */
const putsOf = (k: string) => s3Front.requests.filter((r) => r.method === 'PUT' && r.key === k);

/** The function's own S3 request carried the archive adapter's parameters (real SDK, bundled). */
function expectArchivePutHeaders(headers: IncomingHttpHeaders): void {
  expect(headers['if-none-match']).toBe('*');
  expect(headers['x-amz-server-side-encryption']).toBe('aws:kms');
  expect(headers['x-amz-server-side-encryption-aws-kms-key-id']).toBe(KMS_KEY_ARN);
  expect(headers['x-amz-checksum-sha256']).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  expect(headers['content-type']).toBe('application/x-ndjson');
  expect(String(headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=S3RVER\/\d{8}\/us-east-1\/s3\/aws4_request/);
}

// ---------------------------------------------------------------------------------------------
// Proxy bundle
// ---------------------------------------------------------------------------------------------

describe('proxy bundle (assets/proxy/index.mjs)', () => {
  test('POST /v1/embeddings with a valid RS256 token: 200, the key came from Secrets Manager, the record is in S3', async () => {
    const jwt = await token('svc-indexer');
    const input = ['hello world', 'a second item'];
    const event = apiEvent('POST', '/v1/embeddings', { token: jwt, body: { model: REMOTE_MODEL, input } });
    const upstreamBefore = upstream.requests.length;
    const secretGetsBefore = secrets.getCount;

    const res = await proxy.invoke<ApiResult>(event);

    expect(res.statusCode).toBe(200);
    const body = parseBody(res) as { object: string; model: string; data: { index: number; embedding: number[] }[]; usage: unknown };
    expect(body.object).toBe('list');
    expect(body.model).toBe(REMOTE_MODEL);
    const expected = input.map((i) => fakeEmbedding(i, 8));
    expect(body.data.map((d) => d.index)).toEqual([0, 1]);
    body.data.forEach((d, i) => expect(d.embedding).toEqual(Array.from(expected[i]!)));

    // The upstream stand-in got the key the fake Secrets Manager holds for the secret id the
    // environment reference resolved to.
    const sent = upstream.requests.slice(upstreamBefore);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.url).toBe('/v1/embeddings');
    expect(sent[0]!.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(sent[0]!.body).toMatchObject({ model: 'fake-embedding-model', input });
    expect(secrets.getCount).toBe(secretGetsBefore + 1);
    const get = secrets.requests.filter((r) => r.target === 'secretsmanager.GetSecretValue').at(-1)!;
    expect(get.body).toMatchObject({ SecretId: SECRET_ID });
    expect(String(get.headers.authorization)).toContain(`/${REGION}/secretsmanager/aws4_request`);

    // The record: at sessions/dt=.../hr=.../<session id>.json, with the expected fields.
    const sessionId = res.headers['x-embedgate-session-id']!;
    expect(sessionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const k = recordKeyAt(event.requestContext.timeEpoch, sessionId);
    const record = await storedRecord(k);
    expect(record).toMatchObject({
      schema: RECORD_SCHEMA,
      session_id: sessionId,
      started_at: new Date(event.requestContext.timeEpoch).toISOString(),
      request: {
        method: 'POST',
        path: '/v1/embeddings',
        request_id: event.requestContext.requestId,
        source_ip: '203.0.113.7',
        user_agent: 'lambda-bundles-test/1.0',
      },
      principal: {
        issuer: jwks.issuer,
        issuer_id: 'corp',
        subject: 'svc-indexer',
        client_id: 'client-svc-indexer',
        groups: ['rag-readers'],
        scopes: ['embeddings'],
      },
      model: { name: REMOTE_MODEL, provider: 'openai-compatible', upstream_model: 'fake-embedding-model' },
      decision: { outcome: 'allow', status: 200, rule_id: 'allow-corp' },
      input: { kind: 'text', items: 2, characters: input.join('').length },
      upstream: { status: 200, attempts: 1, batches: 1 },
      usage: { prompt_tokens: 5, total_tokens: 5 },
      output: { vectors: 2, dimensions: 8, fingerprint: fingerprintVectors(expected) },
    });
    expect(record.decision.policy_version).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(record.principal!.token_id).toMatch(/^jti-svc-indexer-/);

    // What the bundled S3 client sent: one conditional, KMS-encrypted, checksummed PUT.
    const puts = putsOf(k);
    expect(puts).toHaveLength(1);
    expectArchivePutHeaders(puts[0]!.headers);

    // Neither the bearer token nor the upstream key is in the record or the function's logs.
    const raw = JSON.stringify(record);
    for (const secret of [jwt, UPSTREAM_KEY]) {
      expect(raw).not.toContain(secret);
      expect(proxy.output()).not.toContain(secret);
    }
    expect(proxy.output()).toContain(sessionId);
  });

  test('a revoked subject (an item in the DynamoDB revocation table): 403 principal_revoked, and a record', async () => {
    const event = apiEvent('POST', '/v1/embeddings', {
      token: await token('svc-revoked'),
      body: { model: REMOTE_MODEL, input: 'blocked' },
    });
    const upstreamBefore = upstream.requests.length;

    const res = await proxy.invoke<ApiResult>(event);

    expect(res.statusCode).toBe(403);
    expect(parseBody(res)).toMatchObject({ error: { type: 'permission_error', code: 'principal_revoked' } });
    expect(upstream.requests.length).toBe(upstreamBefore);
    const sessionId = res.headers['x-embedgate-session-id']!;
    const record = await storedRecord(recordKeyAt(event.requestContext.timeEpoch, sessionId));
    expect(record).toMatchObject({
      session_id: sessionId,
      principal: { issuer: jwks.issuer, subject: 'svc-revoked' },
      decision: { outcome: 'deny', status: 403, reason: 'revoked_subject' },
      upstream: null,
      output: null,
    });
  });

  test('a bad token (signed by a key the issuer never published): 401 invalid_token, and a record', async () => {
    const stranger = await generateTestKey('RS256', { kid: key.kid });
    const now = Math.floor(Date.now() / 1000);
    const forged = await signToken(stranger, { iss: jwks.issuer, aud: AUDIENCE, sub: 'svc-forged', iat: now, exp: now + 600 });
    const event = apiEvent('POST', '/v1/embeddings', { token: forged, body: { model: LOCAL_MODEL, input: 'x' } });

    const res = await proxy.invoke<ApiResult>(event);

    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(parseBody(res)).toMatchObject({ error: { type: 'authentication_error', code: 'invalid_token' } });
    const sessionId = res.headers['x-embedgate-session-id']!;
    const record = await storedRecord(recordKeyAt(event.requestContext.timeEpoch, sessionId));
    expect(record).toMatchObject({
      session_id: sessionId,
      principal: null,
      request: { method: 'POST', path: '/v1/embeddings', request_id: event.requestContext.requestId },
      decision: { outcome: 'deny', status: 401 },
      output: null,
    });
    expect(JSON.stringify(record)).not.toContain(forged);
  });

  test('GET /health: 200 {"status":"ok"}, without a record', async () => {
    const before = s3Front.requests.length;
    const res = await proxy.invoke<ApiResult>(apiEvent('GET', '/health'));
    expect(res.statusCode).toBe(200);
    expect(parseBody(res)).toEqual({ status: 'ok' });
    expect(s3Front.requests.length).toBe(before);
  });

  test('the archive unreachable: 503 archive_unavailable, and no vectors leave', async () => {
    const event = apiEvent('POST', '/v1/embeddings', {
      token: await token('svc-indexer'),
      body: { model: LOCAL_MODEL, input: ['kept back'] },
    });

    const res = await proxyArchiveDown.invoke<ApiResult>(event);

    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    const body = parseBody(res);
    expect(body).toEqual({ error: expect.objectContaining({ type: 'server_error', code: 'archive_unavailable' }) });
    expect(res.body).not.toContain('embedding');
    expect(proxyArchiveDown.output()).toContain('archive write failed');
    // Nothing of this request reached the real archive.
    const sessionId = res.headers['x-embedgate-session-id']!;
    expect((await listKeys()).filter((k) => k.includes(sessionId))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Proxy bundle: the lazily loaded chunks (Bedrock runtime, Comprehend, approvals)
// ---------------------------------------------------------------------------------------------

/** The lazily loaded chunks but the S3 archive's and what it loads. */
function withoutS3Archive(graph: { lazy: string[]; closure(file: string): string[] }): string[] {
  const s3 = graph.lazy.find((f) => /^chunks\/s3-archive-client-[A-Z0-9]+\.mjs$/.test(f));
  if (!s3) throw new Error('the proxy bundle has no s3-archive-client chunk');
  const keep = new Set(graph.closure(s3));
  return graph.lazy.filter((f) => !keep.has(f));
}

describe('proxy bundle: lazily loaded chunks', () => {
  const BEDROCK_MODEL = 'titan-v2';
  const TITAN = 'amazon.titan-embed-text-v2:0';
  let bedrockFake: FakeBedrock;
  let comprehendFake: FakeComprehend;
  let proxyAws: LambdaRunner;
  let proxyLean: LambdaRunner;
  let lazy: string[];

  beforeAll(async () => {
    const graph = await bundleGraph(dirname(bundlePath('proxy')));
    lazy = graph.lazy;
    [bedrockFake, comprehendFake] = await Promise.all([startFakeBedrock(), startFakeComprehend()]);
    const doc = configSource() as { models: unknown[]; masking?: unknown };
    doc.models.push({ name: BEDROCK_MODEL, provider: 'bedrock', upstreamModel: TITAN, upstream: { maxRetries: 0, timeoutMs: 10_000 } });
    doc.masking = { enabled: true, strategies: { EMAIL: 'redact' }, comprehend: { enabled: true, failMode: 'closed' } };
    [proxyAws, proxyLean] = await Promise.all([
      startLambdaRunner({
        bundle: bundlePath('proxy'),
        files: { 'config.json': JSON.stringify(shipConfig(doc)) },
        env: {
          ...functionEnv(s3Front.endpoint, true),
          AWS_ENDPOINT_URL_BEDROCK_RUNTIME: bedrockFake.endpoint,
          AWS_ENDPOINT_URL_COMPREHEND: comprehendFake.endpoint,
        },
        functionName: 'embedgate-proxy-bedrock-comprehend',
      }),
      // No Bedrock model, no Comprehend: the function's code without any lazily loaded chunk but
      // the S3 archive's (this function writes records to S3, not to the journal).
      startLambdaRunner({
        bundle: bundlePath('proxy'),
        omit: withoutS3Archive(graph),
        files: { 'config.json': configJson() },
        env: functionEnv(s3Front.endpoint, true),
        functionName: 'embedgate-proxy-lean',
      }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([proxyAws?.close(), proxyLean?.close()]);
    await Promise.allSettled([bedrockFake?.close(), comprehendFake?.close()]);
  });

  test('the Bedrock runtime and Comprehend clients and the approvals adapters are chunks of their own, outside what the entry loads at start', () => {
    expect(lazy).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^chunks\/bedrock-runtime-[A-Z0-9]+\.mjs$/),
        expect.stringMatching(/^chunks\/comprehend-client-[A-Z0-9]+\.mjs$/),
        expect.stringMatching(/^chunks\/approvals-client-[A-Z0-9]+\.mjs$/),
      ]),
    );
  });

  test('with both configured: masked by Comprehend, embedded by Bedrock, signed with the environment credentials', async () => {
    const input = ['write to jane.doe@example.com about the report'];
    const event = apiEvent('POST', '/v1/embeddings', { token: await token('svc-bedrock'), body: { model: BEDROCK_MODEL, input } });

    const res = await proxyAws.invoke<ApiResult>(event);

    expect(res.statusCode).toBe(200);
    const body = parseBody(res) as { model: string; data: { embedding: number[] }[] };
    expect(body.model).toBe(BEDROCK_MODEL);
    expect(body.data).toHaveLength(1);
    expect(body.data[0]!.embedding).toHaveLength(1024);

    // Comprehend (the lazily loaded client) saw the raw text; Bedrock only the masked one.
    expect(comprehendFake.texts).toContain(input[0]);
    const detect = comprehendFake.requests.at(-1)!;
    expect(String(detect.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=S3RVER\/\d{8}\/us-east-1\/comprehend\/aws4_request/);
    expect(bedrockFake.requests).toHaveLength(1);
    const invoke = bedrockFake.requests[0]!;
    expect(invoke.modelId).toBe(TITAN);
    expect(JSON.stringify(invoke.body)).not.toContain('jane.doe@example.com');
    expect(invoke.body).toMatchObject({ inputText: expect.stringContaining('write to ') });
    expect(String(invoke.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=S3RVER\/\d{8}\/us-east-1\/bedrock\/aws4_request/);

    const record = await storedRecord(recordKeyAt(event.requestContext.timeEpoch, res.headers['x-embedgate-session-id']!));
    expect(record).toMatchObject({
      model: { name: BEDROCK_MODEL, provider: 'bedrock', upstream_model: TITAN },
      decision: { outcome: 'allow', status: 200 },
      masking: { scanned: true, external: { detector: 'comprehend', status: 'ok' } },
      upstream: { status: 200 },
    });
  });

  test('without them, the function starts and serves requests with no lazily loaded chunk in its code', async () => {
    const remote = apiEvent('POST', '/v1/embeddings', { token: await token('svc-lean'), body: { model: REMOTE_MODEL, input: 'lean' } });
    const local = apiEvent('POST', '/v1/embeddings', { token: await token('svc-lean'), body: { model: LOCAL_MODEL, input: 'lean' } });

    expect((await proxyLean.invoke<ApiResult>(remote)).statusCode).toBe(200);
    expect((await proxyLean.invoke<ApiResult>(local)).statusCode).toBe(200);
    expect(proxyLean.output()).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find module/);
  });

  test('the configuration schema (zod) is a lazily loaded chunk too: the lean function, without it, read its sealed config.json', () => {
    expect(lazy).toEqual(expect.arrayContaining([expect.stringMatching(/^chunks\/config-[A-Z0-9]+\.mjs$/)]));
  });
});

describe('proxy bundle: reading config.json', () => {
  const runners: LambdaRunner[] = [];
  afterAll(async () => {
    await Promise.allSettled(runners.map((r) => r.close()));
  });
  const start = async (configJsonText: string, functionName: string, omit?: readonly string[]) => {
    const r = await startLambdaRunner({
      bundle: bundlePath('proxy'),
      ...(omit ? { omit } : {}),
      files: { 'config.json': configJsonText },
      env: functionEnv(s3Front.endpoint, true),
      functionName,
    });
    runners.push(r);
    return r;
  };

  test('an unsealed document (an older construct, or written by hand) is validated by the schema, loaded on demand', async () => {
    const legacy = await start(JSON.stringify(configSource()), 'embedgate-proxy-unsealed');
    const res = await legacy.invoke<ApiResult>(
      apiEvent('POST', '/v1/embeddings', { token: await token('svc-unsealed'), body: { model: LOCAL_MODEL, input: 'x' } }),
    );
    expect(res.statusCode).toBe(200);
    // Without the schema's chunk, the same document cannot start: the sealed one does not need it.
    const graph = await bundleGraph(dirname(bundlePath('proxy')));
    await expect(start(JSON.stringify(configSource()), 'embedgate-proxy-unsealed-lean', graph.lazy)).rejects.toThrow(/init of .* failed/);
  });

  test('a config.json changed after synth: the function does not start, and says why', async () => {
    const doc = JSON.parse(configJson()) as { gateway: { archiveFailMode: string } };
    doc.gateway.archiveFailMode = 'open';
    await expect(start(JSON.stringify(doc), 'embedgate-proxy-tampered')).rejects.toThrow(
      /ConfigError: [\s\S]*config\.json does not match the digest written at synth/,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Edge recorder bundle
// ---------------------------------------------------------------------------------------------

describe('edge recorder bundle (assets/edge-recorder/index.mjs)', () => {
  /** A CloudWatch Logs subscription event (gzipped, base64) carrying these access-log entries. */
  function logsEvent(entries: readonly Record<string, string>[]) {
    const data = {
      messageType: 'DATA_MESSAGE',
      owner: '123456789012',
      logGroup: '/aws/apigateway/embedgate-access',
      logStream: 'abc123_$default',
      subscriptionFilters: ['EdgeRecords'],
      logEvents: entries.map((e, i) => ({
        id: `3800000000000000000000000000000000000000000000000${i}`,
        timestamp: Number(e.time),
        message: JSON.stringify(e),
      })),
    };
    return { awslogs: { data: gzipSync(Buffer.from(JSON.stringify(data))).toString('base64') } };
  }

  // A fixed past hour, so these records have a partition of their own.
  const t0 = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
  const entries = [
    {
      requestId: 'EdgeReq1=',
      time: String(t0),
      ip: '198.51.100.1',
      userAgent: 'curl/8.5',
      method: 'POST',
      path: '/v1/embeddings',
      status: '401',
      integrationStatus: '-',
      authorizerError: 'Unauthorized',
    },
    {
      requestId: 'EdgeReq2=',
      time: String(t0 + 1),
      ip: '198.51.100.2',
      userAgent: '-',
      method: 'GET',
      path: '/v2/unknown',
      status: '404',
      integrationStatus: '-',
      authorizerError: '-',
    },
  ];
  const prefix = 'sessions/dt=2025-01-02/hr=03/';
  const expectedKeys = entries.map((e) => recordKeyAt(Number(e.time), uuidv7From(Number(e.time), `apigw:${e.requestId}`))).sort();

  test('two access-log entries become two records; a redelivery writes nothing new', async () => {
    const event = logsEvent(entries);

    const first = await edge.invoke<EdgeResult>(event);
    expect(first).toEqual({ recorded: 2, duplicates: 0, skipped: 0 });
    expect(await listKeys(prefix)).toEqual(expectedKeys);
    const r1 = await storedRecord(expectedKeys.find((k) => k.includes(uuidv7From(t0, 'apigw:EdgeReq1=')))!);
    expect(r1).toMatchObject({
      principal: null,
      request: { method: 'POST', path: '/v1/embeddings', request_id: 'EdgeReq1=', source_ip: '198.51.100.1', user_agent: 'curl/8.5' },
      decision: { outcome: 'deny', status: 401, reason: 'edge_token_rejected' },
      started_at: new Date(t0).toISOString(),
    });
    const r2 = await storedRecord(expectedKeys.find((k) => k.includes(uuidv7From(t0 + 1, 'apigw:EdgeReq2=')))!);
    expect(r2).toMatchObject({
      request: { method: 'GET', path: '/v2/unknown', request_id: 'EdgeReq2=', user_agent: null },
      decision: { outcome: 'invalid', status: 404, reason: 'edge_route_not_found' },
    });
    for (const k of expectedKeys) {
      expect(putsOf(k)).toHaveLength(1);
      expectArchivePutHeaders(putsOf(k)[0]!.headers);
    }

    // At-least-once delivery: the same batch again. The same deterministic keys are targeted
    // with a conditional PUT (the recording front answers 412, as S3 does), nothing is added.
    const again = await edge.invoke<EdgeResult>(event);
    expect(again).toEqual({ recorded: 0, duplicates: 2, skipped: 0 });
    expect(await listKeys(prefix)).toEqual(expectedKeys);
    for (const k of expectedKeys) {
      const puts = putsOf(k);
      expect(puts).toHaveLength(2);
      expect(puts[1]!.headers['if-none-match']).toBe('*');
      expect(puts[1]!.status).toBe(412);
    }
  });

  test('entries the proxy handled itself are skipped; an archive failure fails the invocation (Lambda retries it)', async () => {
    const handled = { ...entries[0]!, requestId: 'HandledReq=', integrationStatus: '200', status: '200' };
    expect(await edge.invoke<EdgeResult>(logsEvent([handled]))).toEqual({ recorded: 0, duplicates: 0, skipped: 1 });

    s3Front.failNextPuts(1);
    const failing = { ...entries[0]!, requestId: 'EdgeReq3=', time: String(t0 + 2) };
    await expect(edge.invoke(logsEvent([failing]))).rejects.toBeInstanceOf(LambdaInvocationError);
    expect(await listKeys(prefix)).toEqual(expectedKeys);
  });
});

// ---------------------------------------------------------------------------------------------
// A recording front for s3rver
// ---------------------------------------------------------------------------------------------

interface S3FrontRequest {
  readonly method: string;
  /** Object key (decoded), or '' for bucket-level requests. */
  readonly key: string;
  readonly headers: IncomingHttpHeaders;
  /** Status answered (set once answered). */
  status?: number;
}

interface S3Front {
  readonly endpoint: string;
  readonly requests: S3FrontRequest[];
  /** Answer the next `n` PUTs with 400 InvalidRequest (an error the SDK does not retry). */
  failNextPuts(n: number): void;
  close(): Promise<void>;
}

/**
 * A pass-through HTTP front for s3rver that records every request (path-style: /<bucket>/<key>)
 * and adds what s3rver lacks: a conditional PUT (`If-None-Match: *`) of a key already written
 * through it is answered 412 PreconditionFailed, as S3 does. Headers (Host included) are passed
 * on unchanged, so s3rver still verifies the SigV4 signature the function computed.
 */
async function startS3Front(target: string): Promise<S3Front> {
  const requests: S3FrontRequest[] = [];
  const written = new Set<string>();
  let failPuts = 0;
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const [, , ...rest] = path.split('/');
    const objectKey = rest.map((p) => decodeURIComponent(p)).join('/');
    const seen: S3FrontRequest = { method: req.method ?? '', key: objectKey, headers: req.headers };
    requests.push(seen);
    const answerError = (status: number, code: string, message: string) => {
      req.resume();
      req.once('end', () => {
        seen.status = status;
        const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>front</RequestId></Error>`;
        res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml), 'x-amz-request-id': 'front' });
        res.end(xml);
      });
    };
    if (req.method === 'PUT' && failPuts > 0) {
      failPuts--;
      answerError(400, 'InvalidRequest', 'Injected failure');
      return;
    }
    if (req.method === 'PUT' && req.headers['if-none-match'] === '*' && written.has(path)) {
      answerError(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
      return;
    }
    const upstreamReq = httpRequest(`${target}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (up) => {
      seen.status = up.statusCode;
      if (req.method === 'PUT' && (up.statusCode ?? 500) < 300) written.add(path);
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstreamReq.on('error', () => res.destroy());
    req.pipe(upstreamReq);
  });
  const endpoint = await listenLocal(server);
  return {
    endpoint,
    requests,
    failNextPuts: (n) => void (failPuts = n),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
