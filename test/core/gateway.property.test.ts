/**
 * Property: whatever body arrives, the gateway answers without a 5xx of its own, without
 * throwing, and with exactly one record whose session id is the one in the response.
 */
import fc from 'fast-check';
import { loadConfig } from '../../shared/config';
import { Gateway } from '../../lambda/core/gateway';
import type { Principal } from '../../lambda/core/principal';
import type { Archive } from '../../lambda/core/ports';
import type { SessionRecord } from '../../lambda/core/record';
import { LocalSecretStore } from '../../lambda/adapters/local/secrets';
import { createProvider } from '../../lambda/providers';
import { InMemoryRevocationList } from '../../lambda/adapters/local/revocations';

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
  models: [{ name: 'local', provider: 'local', dimensions: 16, limits: { maxInputs: 16, maxInputChars: 200, allowedDimensions: [8, 16] } }],
  policy: { rules: [{ id: 'all', effect: 'allow', match: { groups: 'g' } }] },
  gateway: { maxRequestBytes: 4096 },
});

const records: SessionRecord[] = [];
const archive: Archive = { put: async (r) => (records.push(r), { key: r.session_id }) };
let n = 0;
const gateway = new Gateway({
  config,
  verifier: { verify: async () => PRINCIPAL },
  provider: (m) => createProvider(m, { secrets: new LocalSecretStore({}) }),
  revocations: new InMemoryRevocationList(),
  archive,
  clock: { now: () => Date.now() },
  ids: { sessionId: () => `s-${++n}` },
});

const embeddingsLike = fc.record(
  {
    model: fc.oneof(fc.constant('local'), fc.string(), fc.integer(), fc.constant(null)),
    input: fc.oneof(
      fc.string(),
      fc.array(fc.string(), { maxLength: 20 }),
      fc.array(fc.integer({ min: -5, max: 2 ** 32 }), { maxLength: 20 }),
      fc.array(fc.array(fc.nat(), { maxLength: 5 }), { maxLength: 5 }),
      fc.jsonValue(),
    ),
    encoding_format: fc.oneof(fc.constant('float'), fc.constant('base64'), fc.string(), fc.jsonValue()),
    dimensions: fc.oneof(fc.constant(8), fc.integer(), fc.double(), fc.jsonValue()),
    user: fc.oneof(fc.string(), fc.jsonValue()),
  },
  { requiredKeys: [] },
);

const body = fc.oneof(
  embeddingsLike.map((o) => JSON.stringify(o)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constant(undefined),
);

test('arbitrary bodies never produce a gateway 5xx, an exception, or a request without its record', async () => {
  await fc.assert(
    fc.asyncProperty(body, fc.boolean(), async (b, base64) => {
      const before = records.length;
      const encoded = b !== undefined && base64 ? Buffer.from(b).toString('base64') : b;
      const { response, record } = await gateway.handle({
        method: 'POST',
        path: '/v1/embeddings',
        headers: { authorization: 'Bearer a.b.c' },
        rawQueryString: '',
        body: encoded,
        isBase64Encoded: base64 && b !== undefined,
        requestId: null,
        sourceIp: null,
      });
      expect(response.status).toBeLessThan(500);
      expect(records.length).toBe(before + 1);
      expect(records.at(-1)).toBe(record);
      expect(response.headers['x-embedgate-session-id']).toBe(record.session_id);
      expect(record.decision.status).toBe(response.status);
      const parsed = JSON.parse(response.body) as { error?: { type: string; code: string } };
      if (response.status !== 200)
        expect(parsed.error).toEqual(expect.objectContaining({ type: expect.any(String), code: expect.any(String) }));
    }),
    { numRuns: 400 },
  );
});
