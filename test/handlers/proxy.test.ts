/** The Lambda handler: API Gateway v2 events in, results out, one structured log line per request. */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { loadConfig } from '../../shared/config';
import { unauthenticated } from '../../lambda/core/errors';
import { Gateway } from '../../lambda/core/gateway';
import type { Principal } from '../../lambda/core/principal';
import type { SessionRecord } from '../../lambda/core/record';
import { createProxyHandler } from '../../lambda/handlers/proxy';
import { createProvider } from '../../lambda/providers';
import { LocalSecretStore } from '../../lambda/adapters/local/secrets';
import { InMemoryRevocationList } from '../../lambda/adapters/local/revocations';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzdmMifQ.c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw';
const PRINCIPAL: Principal = {
  issuerId: 'corp',
  issuer: 'https://idp.example.com',
  subject: 'svc',
  clientId: 'svc',
  groups: ['g'],
  scopes: [],
  tokenId: null,
  expiresAt: null,
};

const config = loadConfig({
  issuers: [{ id: 'corp', issuer: 'https://idp.example.com', audiences: 'embedgate', jwksUri: 'https://idp.example.com/jwks' }],
  models: [{ name: 'local', provider: 'local', dimensions: 4 }],
  policy: { rules: [{ id: 'all', effect: 'allow', match: { groups: 'g' } }] },
});
const records: SessionRecord[] = [];
const gateway = new Gateway({
  config,
  verifier: {
    verify: async (t) => {
      if (t !== TOKEN) throw unauthenticated('bad', 'bad_signature');
      return PRINCIPAL;
    },
  },
  provider: (m) => createProvider(m, { secrets: new LocalSecretStore({}) }),
  revocations: new InMemoryRevocationList(),
  archive: { put: async (r) => (records.push(r), { key: r.session_id }) },
  clock: { now: () => Date.now() },
  ids: { sessionId: () => `s-${records.length + 1}` },
});
const handler = createProxyHandler(gateway);

const context = {
  awsRequestId: 'lambda-req-1',
  functionName: 'proxy',
  functionVersion: '1',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:proxy',
  memoryLimitInMB: '1024',
  logGroupName: 'g',
  logStreamName: 's',
  callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => 10_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
} as Context;

function event(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` },
): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...headers },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'x',
      domainPrefix: 'x',
      requestId: 'apigw-1',
      routeKey: '$default',
      stage: '$default',
      time: '29/Nov/2026:10:00:00 +0000',
      timeEpoch: Date.now(),
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '198.51.100.7', userAgent: 'jest' },
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    isBase64Encoded: false,
  };
}

let out: string[];
let spy: jest.SpyInstance;
beforeEach(() => {
  out = [];
  spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
});
afterEach(() => spy.mockRestore());

test('answers an embeddings event and logs one line with the session id and reason, never the token', async () => {
  const res = await handler(event('POST', '/v1/embeddings', { model: 'local', input: 'hello' }), context);
  expect(res.statusCode).toBe(200);
  const headers = res.headers as Record<string, string>;
  expect(headers['x-embedgate-session-id']).toBe(records.at(-1)!.session_id);
  expect(JSON.parse(res.body!).data[0].embedding).toHaveLength(4);
  expect(records.at(-1)!.request).toMatchObject({ request_id: 'apigw-1', source_ip: '198.51.100.7' });
  const lines = out
    .join('')
    .split('\n')
    .filter((l) => l.includes('"message":"request"'));
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0]!)).toMatchObject({
    level: 'INFO',
    session_id: records.at(-1)!.session_id,
    reason: 'rule_allow',
    subject: 'svc',
    function_request_id: 'lambda-req-1',
  });
  expect(out.join('')).not.toContain(TOKEN);
  expect(out.join('')).not.toContain('hello');
});

test('answers 401 for a bad token, in the OpenAI error shape', async () => {
  const res = await handler(event('POST', '/v1/embeddings', { model: 'local', input: 'x' }, { authorization: 'Bearer a.b.c' }), context);
  expect(res.statusCode).toBe(401);
  expect(JSON.parse(res.body!).error.type).toBe('authentication_error');
  expect(records.at(-1)!.decision.reason).toBe('bad_signature');
});

test('answers the health check without a record', async () => {
  const before = records.length;
  const res = await handler(event('GET', '/health', undefined, {}), context);
  expect(res.statusCode).toBe(200);
  expect(records).toHaveLength(before);
});
