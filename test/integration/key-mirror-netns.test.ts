/**
 * Keys without egress, proven with the BUILT bundles: the proxy (assets/proxy) runs inside a
 * network namespace that can reach only the stand-ins (DynamoDB and S3, on the far end of a veth
 * pair); the issuer (a JWKS and discovery server on the host's loopback) cannot be reached from
 * there, which the test checks first. The key mirror (assets/key-mirror) runs on the host, where
 * the issuer is reachable, and writes the issuer's discovery document and JWKS into the
 * issuer-keys table the proxy reads.
 *
 * Shown: without the table the proxy refuses every token (jwks_unavailable); with it, tokens
 * verify; a rotated key verifies within seconds without the schedule: its unknown kid makes the
 * proxy write a refresh request, whose stream record runs the mirror (dynalite has no streams:
 * the test builds the record from the item, as Lambda would deliver it), and the proxy's next
 * read after its 5 s cooldown sees the key; a key the issuer never published fails closed; a
 * flood of forged kids writes one refresh request per interval and makes the issuer fetch once.
 *
 * Needs root (ip netns) and the bundles (`npm run build`); skipped, with the reason, without root.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { CreateTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { shipConfig } from '../../shared/config';
import { ISSUER_KEYS_TABLE, refreshRequestKey } from '../../shared/issuer-keys-table';
import { S3RVER_CREDENTIALS } from '../support/aws-standins';
import { generateTestKey, signToken, startJwksServer, type JwksServer, type TestKey } from '../support/jwks';
import { bundlePath, startLambdaRunner, type LambdaRunner } from '../support/lambda-runner';

const isRoot = process.getuid?.() === 0 && spawnSync('ip', ['-V']).status === 0;
const maybe = isRoot ? describe : describe.skip;
if (!isRoot) process.stderr.write('key-mirror-netns.test.ts: skipped (needs root and iproute2 for ip netns)\n');

const REGION = 'us-east-1';
const BUCKET = 'embedgate-archive-netns';
const REVOCATIONS = 'embedgate-revocations-netns';
const ISSUER_KEYS = 'embedgate-issuer-keys-netns';
const AUDIENCE = 'api://embedgate';
const KMS_KEY_ARN = `arn:aws:kms:${REGION}:123456789012:key/11111111-2222-3333-4444-555555555555`;

const tag = String(process.pid % 100000);
const NS = `egkm${tag}`;
const VETH_HOST = `egh${tag}`;
const VETH_NS = `egn${tag}`;
const octet = 1 + (process.pid % 250);
const HOST_IP = `10.231.${octet}.1`;
const NS_IP = `10.231.${octet}.2`;

const sh = (...args: string[]) => execFileSync(args[0]!, args.slice(1), { stdio: 'pipe' });

interface ApiResult {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

let jwks: JwksServer;
let key1: TestKey;
let dynamo: Server;
let s3: { httpServer?: Server; close(): Promise<void> };
let s3Dir: string;
let dynamoEndpoint: string;
let s3Endpoint: string;
let mirror: LambdaRunner;
let proxy: LambdaRunner;
let proxyWithoutMirror: LambdaRunner;

function env(withKeysTable: boolean): Record<string, string> {
  return {
    EMBEDGATE_ARCHIVE_BUCKET: BUCKET,
    EMBEDGATE_ARCHIVE_KEY_ARN: KMS_KEY_ARN,
    EMBEDGATE_REVOCATION_TABLE: REVOCATIONS,
    ...(withKeysTable ? { EMBEDGATE_ISSUER_KEYS_TABLE: ISSUER_KEYS } : {}),
    POWERTOOLS_SERVICE_NAME: 'embedgate-netns-test',
    POWERTOOLS_METRICS_DISABLED: 'true',
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: s3Endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
  };
}

function configJson(): string {
  return JSON.stringify(
    shipConfig({
      // No jwksUri: the verifier asks for the discovery document first, through the mirror too.
      issuers: [{ id: 'corp', issuer: jwks.issuer, audiences: [AUDIENCE], algorithms: ['RS256'] }],
      models: [{ name: 'local-small', provider: 'local', dimensions: 8 }],
      policy: { rules: [{ id: 'allow-corp', effect: 'allow', match: { issuer: ['corp'] }, models: ['*'] }] },
    }),
  );
}

async function token(key: TestKey, subject = 'svc-indexer'): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signToken(key, {
    iss: jwks.issuer,
    aud: AUDIENCE,
    sub: subject,
    iat: now,
    exp: now + 600,
    jti: `${subject}-${now}-${Math.random()}`,
  });
}

function modelsEvent(bearer: string) {
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: 'GET /v1/models',
    rawPath: '/v1/models',
    rawQueryString: '',
    headers: { authorization: `Bearer ${bearer}`, host: 'abc.execute-api.us-east-1.amazonaws.com' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc',
      domainName: 'abc.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abc',
      http: { method: 'GET', path: '/v1/models', protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'netns-test' },
      requestId: `netns-${now}-${Math.random()}`,
      routeKey: 'GET /v1/models',
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
    },
    isBase64Encoded: false,
  };
}

async function refreshItem() {
  const ddb = new DynamoDBClient({ endpoint: dynamoEndpoint, region: REGION, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  try {
    const out = await ddb.send(new GetItemCommand({ TableName: ISSUER_KEYS, Key: { url: { S: refreshRequestKey(jwks.issuer) } } }));
    return out.Item;
  } finally {
    ddb.destroy();
  }
}

/** The table's stream record of refresh requests, as Lambda delivers it (KEYS_ONLY view). */
function streamEvent(...keys: string[]) {
  return {
    Records: keys.map((key, i) => ({
      eventID: String(i),
      eventName: 'MODIFY',
      eventSource: 'aws:dynamodb',
      awsRegion: REGION,
      dynamodb: { Keys: { url: { S: key } }, SequenceNumber: String(i), StreamViewType: 'KEYS_ONLY' },
    })),
  };
}

const errorCode = (r: ApiResult) => (JSON.parse(r.body) as { error?: { code?: string } }).error?.code;

maybe('keys without egress: the built proxy in a network namespace that cannot reach the issuer', () => {
  beforeAll(async () => {
    const proxyBundle = bundlePath('proxy');
    const mirrorBundle = bundlePath('key-mirror');
    // The namespace: its own loopback and one veth link to the host; no route anywhere else.
    sh('ip', 'netns', 'add', NS);
    sh('ip', 'link', 'add', VETH_HOST, 'type', 'veth', 'peer', 'name', VETH_NS);
    sh('ip', 'link', 'set', VETH_NS, 'netns', NS);
    sh('ip', 'addr', 'add', `${HOST_IP}/30`, 'dev', VETH_HOST);
    sh('ip', 'link', 'set', VETH_HOST, 'up');
    sh('ip', 'netns', 'exec', NS, 'ip', 'addr', 'add', `${NS_IP}/30`, 'dev', VETH_NS);
    sh('ip', 'netns', 'exec', NS, 'ip', 'link', 'set', VETH_NS, 'up');
    sh('ip', 'netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up');

    // The stand-ins listen on the host end of the link only; the issuer on the host's loopback only.
    key1 = await generateTestKey('RS256');
    jwks = await startJwksServer({ keys: [key1] });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const dynalite = require('dynalite') as (o: object) => Server;
    dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise<void>((r) => dynamo.listen(0, HOST_IP, () => r()));
    dynamoEndpoint = `http://${HOST_IP}:${(dynamo.address() as AddressInfo).port}`;
    s3Dir = await mkdtemp(join(tmpdir(), 'embedgate-netns-s3-'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const S3rver = require('s3rver') as new (o: object) => {
      run(): Promise<{ port: number }>;
      httpServer?: Server;
      close(): Promise<void>;
    };
    const s3rver = new S3rver({ address: HOST_IP, port: 0, silent: true, directory: s3Dir, configureBuckets: [{ name: BUCKET }] });
    const { port } = await s3rver.run();
    s3 = s3rver;
    s3Endpoint = `http://${HOST_IP}:${port}`;

    const ddb = new DynamoDBClient({ endpoint: dynamoEndpoint, region: REGION, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    for (const [TableName, name] of [
      [REVOCATIONS, 'pk'],
      [ISSUER_KEYS, 'url'],
    ] as const) {
      await ddb.send(
        new CreateTableCommand({
          TableName,
          AttributeDefinitions: [{ AttributeName: name, AttributeType: 'S' }],
          KeySchema: [{ AttributeName: name, KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
    }
    ddb.destroy();

    const files = { 'config.json': configJson() };
    const inNs = ['ip', 'netns', 'exec', NS];
    [mirror, proxy, proxyWithoutMirror] = await Promise.all([
      startLambdaRunner({ bundle: mirrorBundle, files, env: env(true), functionName: 'embedgate-key-mirror' }),
      startLambdaRunner({ bundle: proxyBundle, files, env: env(true), functionName: 'embedgate-proxy', launcher: inNs }),
      startLambdaRunner({ bundle: proxyBundle, files, env: env(false), functionName: 'embedgate-proxy-no-mirror', launcher: inNs }),
    ]);
  }, 90_000);

  afterAll(async () => {
    await Promise.allSettled([mirror?.close(), proxy?.close(), proxyWithoutMirror?.close()]);
    await Promise.allSettled([jwks?.stop(), s3?.close(), new Promise<void>((r) => (dynamo ? dynamo.close(() => r()) : r()))]);
    if (s3Dir) await rm(s3Dir, { recursive: true, force: true });
    spawnSync('ip', ['link', 'del', VETH_HOST]);
    spawnSync('ip', ['netns', 'del', NS]);
  });

  test('the namespace reaches the stand-ins and nothing else: the issuer cannot be reached from it', async () => {
    // Asynchronous: the stand-ins answer from this process's event loop.
    const exitCode = (args: string[]) =>
      new Promise<number | null>((resolve) => spawn(args[0]!, args.slice(1), { stdio: 'ignore' }).once('exit', (code) => resolve(code)));
    const fetchExit = (url: string) =>
      `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(3000) }).then(() => process.exit(0), () => process.exit(3))`;
    const fromNs = (url: string) => exitCode(['ip', 'netns', 'exec', NS, process.execPath, '-e', fetchExit(url)]);
    expect(await fromNs(jwks.discoveryUrl)).toBe(3);
    expect(await fromNs('http://1.1.1.1/')).toBe(3);
    expect(await fromNs(dynamoEndpoint)).toBe(0);
    // ... while the host reaches the issuer (the mirror's side).
    expect(await exitCode([process.execPath, '-e', fetchExit(jwks.discoveryUrl)])).toBe(0);
  }, 30_000);

  test('without the mirror, the proxy refuses every token: the issuer is out of reach (fail closed)', async () => {
    const res = await proxyWithoutMirror.invoke<ApiResult>(modelsEvent(await token(key1)));
    expect(res.statusCode).toBe(401);
    expect(errorCode(res)).toBe('invalid_token');
    expect(proxyWithoutMirror.output()).toContain('jwks_unavailable');
  }, 30_000);

  test('with the mirror, the proxy verifies tokens from the table, and records the request', async () => {
    // Before the first mirror run the table is empty: refused.
    const before = await proxy.invoke<ApiResult>(modelsEvent(await token(key1)));
    expect(before.statusCode).toBe(401);

    expect(await mirror.invoke({})).toEqual({ mirrored: 1, failed: 0 });
    jwks.resetCounts();
    // The discovery failure above holds the issuer back for the proxy's cooldown (5 s with the mirror).
    await new Promise((r) => setTimeout(r, 5_500));
    const ok = await proxy.invoke<ApiResult>(modelsEvent(await token(key1)));
    expect(ok.statusCode).toBe(200);
    expect(JSON.parse(ok.body).data.map((m: { id: string }) => m.id)).toEqual(['local-small']);
    // The proxy never reached the issuer (it cannot): every document came from the table.
    expect(jwks.count('all')).toBe(0);
    const s3c = new S3Client({ endpoint: s3Endpoint, forcePathStyle: true, region: REGION, credentials: S3RVER_CREDENTIALS });
    const listed = await s3c.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'sessions/' }));
    s3c.destroy();
    expect(listed.Contents?.some((o) => o.Key!.endsWith(`${ok.headers['x-embedgate-session-id']}.json`))).toBe(true);
  }, 60_000);

  test('a rotated key verifies within seconds, without the schedule: the unknown kid writes a refresh request, its stream record runs the mirror', async () => {
    const key2 = await generateTestKey('RS256');
    jwks.rotate(key2, { keepOld: true });
    jwks.resetCounts();
    const started = Date.now();
    const early = await proxy.invoke<ApiResult>(modelsEvent(await token(key2)));
    expect(early.statusCode).toBe(401);
    expect(proxy.output()).toContain('unknown_key');

    // The proxy (inside the namespace) wrote the issuer's refresh request: the issuer only, no URL.
    const request = await refreshItem();
    expect(request).toBeDefined();
    expect(Object.keys(request!).sort()).toEqual(['expiresAt', 'requestedAt', 'url']);
    expect(Number(request!.expiresAt!.N)).toBeGreaterThan(Date.now() / 1000);

    // The table's stream hands it to the mirror (dynalite has no streams: the record is built from the item).
    expect(await mirror.invoke(streamEvent(request!.url!.S!))).toEqual({ mirrored: 1, failed: 0, skipped: 0, ignored: 0 });
    expect(jwks.count('jwks')).toBe(1);
    let res: ApiResult;
    do {
      await new Promise((r) => setTimeout(r, 250));
      res = await proxy.invoke<ApiResult>(modelsEvent(await token(key2)));
    } while (res.statusCode !== 200 && Date.now() - started < 20_000);
    expect(res.statusCode).toBe(200);
    // The proxy's 5 s unknown-kid cooldown plus the mirror's run: seconds, not the schedule's minute.
    const elapsed = Date.now() - started;
    process.stderr.write(`key-mirror-netns: rotated key verified ${elapsed} ms after its first use (refresh on unknown kid)\n`);
    expect(elapsed).toBeLessThan(8_000);

    const rogue = await generateTestKey('RS256');
    const refused = await proxy.invoke<ApiResult>(modelsEvent(await token({ ...rogue, kid: key2.kid })));
    expect(refused.statusCode).toBe(401);
    const unknown = await proxy.invoke<ApiResult>(modelsEvent(await token(rogue)));
    expect(unknown.statusCode).toBe(401);
  }, 60_000);

  test('forged kids do not amplify: a flood writes at most one refresh request per interval, and the mirror fetches only configured issuers, at most once per interval', async () => {
    // Past the refresh interval of the previous test's request, so the flood may write one.
    const before = await refreshItem();
    const wait = Number(before!.requestedAt!.N) + ISSUER_KEYS_TABLE.refreshIntervalMs + 200 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    jwks.resetCounts();
    const flood = [];
    for (let i = 0; i < 20; i++) flood.push(await proxy.invoke<ApiResult>(modelsEvent(await token(await generateTestKey('RS256')))));
    expect(flood.every((r) => r.statusCode === 401)).toBe(true);
    const after = await refreshItem();
    // One new request for the whole flood (the proxy instance's limit; the conditional write bounds all instances).
    expect(Number(after!.requestedAt!.N)).toBeGreaterThan(Number(before!.requestedAt!.N));
    const written = after!.requestedAt!.N;
    for (let i = 0; i < 5; i++) await proxy.invoke<ApiResult>(modelsEvent(await token(await generateTestKey('RS256'))));
    expect((await refreshItem())!.requestedAt!.N).toBe(written);

    // The mirror, driven as the stream would: the first request fetches, repeats within the interval do not.
    expect(await mirror.invoke(streamEvent(after!.url!.S!))).toEqual({ mirrored: 1, failed: 0, skipped: 0, ignored: 0 });
    expect(await mirror.invoke(streamEvent(after!.url!.S!))).toEqual({ mirrored: 0, failed: 0, skipped: 1, ignored: 0 });
    // A request naming an issuer that is not configured (or carrying a URL) fetches nothing.
    const hostile = await mirror.invoke(streamEvent(`refresh#http://${HOST_IP}:1/evil`, 'refresh#https://attacker.example'));
    expect(hostile).toEqual({ mirrored: 0, failed: 0, skipped: 0, ignored: 2 });
    // The issuer saw exactly one discovery and one JWKS fetch for all of it, and none from the proxy.
    expect(jwks.count('all')).toBe(2);
  }, 90_000);
});
