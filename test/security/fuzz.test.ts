/**
 * Fuzzing the local runtime (fast-check, bounded, seeded): arbitrary methods, paths, headers,
 * bodies and signed tokens with arbitrary claims go over HTTP to one `embedgate dev` child process
 * (the same handler the Lambda runs). Whatever comes in:
 *
 * - the gateway itself never answers 5xx (its only upstream here always answers, so any 5xx would
 *   be the gateway's own failure);
 * - it does not crash: the process keeps answering, and logs no internal error;
 * - every request but the health check (`GET /health`) leaves exactly one record, whose status is
 *   the status the client saw, under the session id the client saw.
 *
 * Framing headers (Host, Content-Length, Transfer-Encoding, Connection, Expect, Upgrade, TE,
 * Trailer) are not fuzzed: a request the HTTP parser cannot frame never reaches the gateway, in
 * AWS as here. The seed is fixed (override with FUZZ_SEED=<n>; FUZZ_RUNS=<n> scales the runs).
 */
import { Agent } from 'node:http';
import fc from 'fast-check';
import { readLocalArchive } from '../../cli/archive-reader';
import { generateTestKey, signToken, startJwksServer, type JwksServer, type TestKey } from '../support/jwks';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';
import { send, startGateway, type GatewayProcess, type RawResponse } from '../support/security-harness';

const AUD = 'https://embedgate.fuzz.test';
const SEED = Number(process.env.FUZZ_SEED ?? 20261129);
const SCALE = Number(process.env.FUZZ_RUNS ?? 1);
const runs = (n: number): number => Math.max(1, Math.round(n * SCALE));

let corpKey: TestKey;
let partnerKey: TestKey;
let idpA: JwksServer;
let idpB: JwksServer;
let upstream: FakeUpstream;
let gw: GatewayProcess;
let agent: Agent;
let corpToken: string;
let partnerToken: string;
/** session id -> status, as the clients saw them. */
const seen = new Map<string, number>();
let nonHealth = 0;
const failures: string[] = [];
beforeEach(() => {
  failures.length = 0;
});

beforeAll(async () => {
  [corpKey, partnerKey] = await Promise.all([
    generateTestKey('RS256', { kid: 'fuzz-corp' }),
    generateTestKey('ES256', { kid: 'fuzz-partner' }),
  ]);
  [idpA, idpB, upstream] = await Promise.all([
    startJwksServer({ keys: [corpKey], issuerPath: '/corp' }),
    startJwksServer({ keys: [partnerKey], issuerPath: '/partner' }),
    startFakeUpstream({ dimensions: 8 }),
  ]);
  gw = await startGateway({
    config: {
      issuers: [
        { id: 'corp', issuer: idpA.issuer, jwksUri: idpA.jwksUri, audiences: [AUD] },
        {
          id: 'partner',
          issuer: idpB.issuer,
          jwksUri: idpB.jwksUri,
          audiences: [AUD],
          algorithms: ['ES256'],
          claims: { groups: ['groups', 'realm_access.roles'] },
        },
      ],
      models: [
        { name: 'local-small', provider: 'local', dimensions: 16, limits: { maxInputs: 16, maxInputChars: 2000 } },
        {
          name: 'remote',
          provider: 'openai-compatible',
          baseUrl: upstream.url,
          apiKey: { source: 'env', name: 'FUZZ_UPSTREAM_KEY' },
          limits: { maxInputs: 16, allowedDimensions: [4, 8] },
          upstream: { maxRetries: 0, maxBatchSize: 4 },
        },
      ],
      policy: {
        rules: [
          { id: 'deny-quarantine', effect: 'deny', match: { subject: 'quarantine-*' } },
          { id: 'corp', effect: 'allow', match: { issuer: 'corp' } },
          {
            id: 'partner-local',
            effect: 'allow',
            match: { issuer: 'partner', groups: 'search*' },
            models: 'local-*',
            limits: { maxInputs: 4 },
          },
        ],
      },
      gateway: { maxRequestBytes: 8192, maxTokenBytes: 4096 },
    },
    env: { FUZZ_UPSTREAM_KEY: 'sk-fuzz-upstream-key-0000000000' },
  });
  agent = new Agent({ keepAlive: true, maxSockets: 4 });
  corpToken = await sign(corpKey, idpA.issuer, {});
  partnerToken = await sign(partnerKey, idpB.issuer, { groups: ['search-team'] });
});

afterAll(async () => {
  agent?.destroy();
  await gw?.stop();
  await Promise.all([idpA?.stop(), idpB?.stop(), upstream?.close()]);
});

async function sign(key: TestKey, iss: string, extra: Record<string, unknown>): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signToken(key, { iss, aud: AUD, sub: 'svc-fuzz', iat: now, exp: now + 900, ...extra });
}

const isHealth = (method: string, path: string): boolean => method === 'GET' && new URL(`http://localhost${path}`).pathname === '/health';

/** Send one request and check the per-request invariants; failures are collected, not thrown, so shrinking stays quiet. */
async function probe(
  method: string,
  path: string,
  headers: Record<string, string | string[]>,
  body: string | Uint8Array | undefined,
  contentType: string | null,
): Promise<boolean> {
  let res: RawResponse;
  try {
    res = await send(gw.url, path, { method, headers, ...(body === undefined ? {} : { body }), contentType, agent });
  } catch (e) {
    failures.push(`${method} ${path}: no answer (${(e as Error).message})`);
    return false;
  }
  const problems: string[] = [];
  if (res.status >= 500) problems.push(`status ${res.status}: ${res.body.slice(0, 200)}`);
  if (isHealth(method, path)) {
    if (res.sessionId !== undefined) problems.push('the health check carries a session id');
  } else {
    nonHealth++;
    if (!res.sessionId) problems.push(`no session id (status ${res.status})`);
    else if (seen.has(res.sessionId)) problems.push(`duplicate session id ${res.sessionId}`);
    else seen.set(res.sessionId, res.status);
  }
  if (problems.length)
    failures.push(
      `${problems.join('; ')}: ${method} ${path} ${JSON.stringify(headers).slice(0, 2000)} body ${JSON.stringify(typeof body === 'string' ? body.slice(0, 300) : body?.length)} (${contentType})`,
    );
  return problems.length === 0;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'] as const;
const KNOWN_PATHS = [
  '/v1/embeddings',
  '/v1/models',
  '/health',
  '/health/',
  '/partner/v1/embeddings',
  '/partner/v1/models',
  '/v1/embeddings/',
  '/V1/EMBEDDINGS',
  '/v1//embeddings',
  '/v1/approvals/abc',
  '/',
  '/partner',
  '/partner/v1',
  '/unknown/v1/models',
  '//v1/embeddings',
  '/v1/embeddings/..',
  '/%2e%2e/v1/models',
  '//[',
  '/v1/embeddings?access_token=abc',
  '/v1/models?API_KEY=x&y=1',
  '/health?token=x',
];
const PATH_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;=:@/[]".split('');
const QUERY_CHARS = [...PATH_CHARS, '?', '='];

const arbPath = fc.oneof(
  fc.constantFrom(...KNOWN_PATHS),
  fc
    .tuple(fc.constantFrom('', '/partner', '/v1', '/', '/..'), fc.string({ unit: fc.constantFrom(...PATH_CHARS), maxLength: 40 }))
    .map(([a, b]) => `${a}/${b}`),
  fc
    .tuple(fc.constantFrom(...KNOWN_PATHS), fc.string({ unit: fc.constantFrom(...QUERY_CHARS), maxLength: 40 }))
    .map(([p, q]) => `${p}?${q}`),
);

const FRAMING = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'expect',
  'upgrade',
  'te',
  'trailer',
  'keep-alive',
  'proxy-connection',
  'content-type',
]);
const arbHeaderName = fc
  .oneof(
    fc.constantFrom(
      'authorization',
      'user-agent',
      'accept',
      'cookie',
      'x-forwarded-for',
      'x-amzn-trace-id',
      'content-encoding',
      'x-embedgate-session-id',
      'origin',
      'x-api-key',
      'api-key',
    ),
    fc
      .string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'.split('')), minLength: 1, maxLength: 24 })
      .map((s) => `x-${s}`),
  )
  .filter((n) => !FRAMING.has(n));
// Latin-1 without controls other than tab: what node:http lets a client put in a header value.
const arbHeaderValue = fc.string({
  unit: fc
    .integer({ min: 0x20, max: 0xff })
    .filter((c) => c !== 0x7f)
    .map((c) => String.fromCharCode(c)),
  maxLength: 120,
});
const arbHeaders = fc.dictionary(arbHeaderName, fc.oneof(arbHeaderValue, fc.array(arbHeaderValue, { minLength: 2, maxLength: 3 })), {
  maxKeys: 6,
});

const arbInput = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.array(fc.string({ maxLength: 30 }), { maxLength: 20 }),
  fc.array(fc.integer({ min: -5, max: 2 ** 32 }), { maxLength: 20 }),
  fc.array(fc.array(fc.integer({ min: -1, max: 100_000 }), { maxLength: 5 }), { maxLength: 6 }),
  fc.array(fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant(null)), { maxLength: 5 }),
  fc.jsonValue({ maxDepth: 3 }),
);
const arbEmbeddingsBody = fc
  .record(
    {
      model: fc.oneof(
        fc.constantFrom('local-small', 'remote', 'missing-model', ''),
        fc.string({ maxLength: 300 }),
        fc.jsonValue({ maxDepth: 1 }),
      ),
      input: arbInput,
      encoding_format: fc.oneof(fc.constantFrom('float', 'base64', 'FLOAT', null), fc.jsonValue({ maxDepth: 1 })),
      dimensions: fc.oneof(fc.constantFrom(4, 8, 16, 0, -1, 1.5, 16_385, 2 ** 53), fc.jsonValue({ maxDepth: 1 })),
      user: fc.oneof(fc.string({ maxLength: 300 }), fc.jsonValue({ maxDepth: 1 })),
      extra: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: [] },
  )
  .map((o) => JSON.stringify(o));
const NASTY_BODIES = [
  '{"__proto__":{"model":"remote","input":"x"}}',
  '{"model":"local-small","input":"x","__proto__":{"dimensions":8}}',
  '{"constructor":{"prototype":{"admin":true}},"model":"local-small","input":"x"}',
  '{"model":"local-small","model":"remote","input":"x"}',
  '{"model":"local-small","input":"x"}garbage',
  '[{"model":"local-small","input":"x"}]',
  '{"model":"local-small","input":"\\ud800"}',
  `{"model":"local-small","input":${'['.repeat(2000)}${']'.repeat(2000)}}`,
  '{"model":"local-small","input":1e400}',
  '\u0000\u0001\u0002',
  'null',
];
const arbBody = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 5, arbitrary: arbEmbeddingsBody },
  { weight: 1, arbitrary: fc.constantFrom(...NASTY_BODIES) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 8000, max: 12_000 }).map((n) => JSON.stringify({ model: 'local-small', input: 'x'.repeat(n) })),
  },
);
const arbContentType = fc.constantFrom<string | null>(
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/octet-stream',
  'multipart/form-data; boundary=x',
  null,
);
const arbAuth = fc.oneof(
  fc.constant<undefined>(undefined),
  fc.constant('corp'),
  fc.constant('partner'),
  arbHeaderValue,
  arbHeaderValue.map((v) => `Bearer ${v}`),
);

const authHeader = (a: string | undefined): Record<string, string> =>
  a === undefined ? {} : { authorization: a === 'corp' ? `Bearer ${corpToken}` : a === 'partner' ? `Bearer ${partnerToken}` : a };

const options = (numRuns: number) => ({ numRuns: runs(numRuns), seed: SEED, endOnFailure: true });

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

describe('fuzzing embedgate dev (seeded, bounded)', () => {
  it('arbitrary methods, paths, headers and bodies, with or without a token: no 5xx, a record each', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...METHODS),
        arbPath,
        arbHeaders,
        arbAuth,
        arbBody,
        arbContentType,
        async (method, path, headers, auth, body, ct) =>
          probe(method, path, { ...headers, ...authHeader(auth) }, method === 'GET' || method === 'HEAD' ? undefined : body, ct),
      ),
      options(150),
    );
    expect(failures).toEqual([]);
  });

  it('arbitrary embeddings bodies from trusted principals of both issuers: no 5xx, a record each', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('corp', 'partner'), arbBody, arbContentType, fc.boolean(), async (who, body, ct, trailingSlash) =>
        probe('POST', `${who === 'partner' ? '/partner' : ''}/v1/embeddings${trailingSlash ? '/' : ''}`, authHeader(who), body, ct),
      ),
      options(150),
    );
    expect(failures).toEqual([]);
  });

  it('validly signed tokens with arbitrary claim values: no 5xx, a record each', async () => {
    const claimValue = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.jsonValue({ maxDepth: 3 }),
      fc.array(fc.string({ maxLength: 10 }), { maxLength: 4 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            sub: fc.oneof(fc.string({ maxLength: 40 }), fc.constant('quarantine-1'), fc.jsonValue({ maxDepth: 1 })),
            client_id: claimValue,
            azp: claimValue,
            groups: claimValue,
            scope: claimValue,
            scp: claimValue,
            jti: claimValue,
            realm_access: fc.oneof(claimValue, fc.record({ roles: claimValue })),
            nbf: fc.oneof(fc.constant(0), fc.jsonValue({ maxDepth: 0 })),
            aud: fc.oneof(fc.constant(AUD), fc.constant([AUD, 'other']), fc.jsonValue({ maxDepth: 1 })),
          },
          { requiredKeys: [] },
        ),
        fc.constantFrom('corp', 'partner'),
        fc.constantFrom('/v1/models', '/v1/embeddings'),
        async (claims, who, route) => {
          const token = who === 'corp' ? await sign(corpKey, idpA.issuer, claims) : await sign(partnerKey, idpB.issuer, claims);
          const prefix = who === 'partner' ? '/partner' : '';
          const isGet = route === '/v1/models';
          return probe(
            isGet ? 'GET' : 'POST',
            `${prefix}${route}`,
            { authorization: `Bearer ${token}` },
            isGet ? undefined : JSON.stringify({ model: 'local-small', input: ['a', 'b'] }),
            'application/json',
          );
        },
      ),
      options(80),
    );
    expect(failures).toEqual([]);
  });

  it('arbitrary bytes (base64-encoded events) from a trusted principal: no 5xx, a record each', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 600 }),
        fc.constantFrom('application/octet-stream', 'image/png', 'application/json'),
        async (bytes, ct) => probe('POST', '/v1/embeddings', authHeader('corp'), bytes, ct),
      ),
      options(50),
    );
    expect(failures).toEqual([]);
  });

  it('afterwards the server still answers, logged no internal error, and holds exactly one record per request', async () => {
    const health = await send(gw.url, '/health', { method: 'GET' });
    expect(health.status).toBe(200);
    expect(gw.alive()).toBe(true);
    expect(gw.output()).not.toMatch(/request failed|response failed|internal_error|Unhandled|TypeError|RangeError/);

    const records = await readLocalArchive(gw.archiveDir);
    expect(nonHealth).toBeGreaterThan(300);
    expect(records).toHaveLength(nonHealth);
    expect(records.filter((r) => r.decision.reason === 'internal_error')).toEqual([]);
    const mismatched = records
      .filter((r) => seen.get(r.session_id) !== r.decision.status)
      .map((r) => `${r.session_id}: record ${r.decision.status}, client ${seen.get(r.session_id)}`);
    expect(mismatched).toEqual([]);
    expect(new Set(records.map((r) => r.session_id)).size).toBe(records.length);

    // The fuzz reached every layer: edge, routing, parsing, policy, limits, providers.
    const reasons = new Set(records.map((r) => r.decision.reason));
    expect([...reasons].sort()).toEqual(
      expect.arrayContaining([
        'missing_token',
        'malformed_authorization',
        'token_in_query',
        'issuer_route_mismatch',
        'route_not_found',
        'method_not_allowed',
        'invalid_json',
        'invalid_body',
        'invalid_model',
        'invalid_input',
        'empty_input',
        'request_too_large',
        'model_unknown',
        'rule_deny',
        'rule_allow',
        'models_listed',
      ]),
    );
  });
});
