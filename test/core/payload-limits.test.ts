import { loadConfig, type GatewayConfigInput } from '../../shared/config';
import { Gateway } from '../../lambda/core/gateway';
import { unauthenticated } from '../../lambda/core/errors';
import type { Principal } from '../../lambda/core/principal';
import type { Archive, EmbeddingCall, EmbeddingProvider, EmbeddingResult } from '../../lambda/core/ports';
import type { SessionRecord } from '../../lambda/core/record';
import { InMemoryRevocationList } from '../../lambda/adapters/local/revocations';
import {
  checkResponseFits,
  estimateResponseBytes,
  escapedBytes,
  fitResponseBody,
  itemsThatFit,
  LAMBDA_PAYLOAD_LIMIT_BYTES,
} from '../../lambda/core/payload-limits';
import { embeddingsBody } from '../../lambda/core/gateway';

const P: Principal = {
  issuerId: 'corp',
  issuer: 'https://idp.example.com',
  subject: 'svc',
  clientId: 'svc',
  groups: ['g'],
  scopes: [],
  tokenId: null,
  expiresAt: null,
};

const DOC: GatewayConfigInput = {
  issuers: [{ id: 'corp', issuer: 'https://idp.example.com', audiences: 'embedgate', jwksUri: 'https://idp.example.com/jwks' }],
  models: [
    { name: 'text-embedding-3-small', provider: 'openai', baseUrl: 'https://api.openai.com/v1', apiKey: { source: 'env', name: 'K' } },
    { name: 'unknown-dims', provider: 'openai', baseUrl: 'https://api.openai.com/v1', apiKey: { source: 'env', name: 'K' } },
  ],
  policy: { rules: [{ id: 'all', effect: 'allow', match: { groups: 'g' }, models: '*' }] },
};

/** A provider that answers with vectors of `dims` components written as long float64 text. */
class Upstream implements EmbeddingProvider {
  readonly kind = 'fake';
  calls: EmbeddingCall[] = [];
  constructor(private readonly dims: number) {}
  async embed(call: EmbeddingCall): Promise<EmbeddingResult> {
    this.calls.push(call);
    const vectors = call.input.map(() => Float32Array.from({ length: call.dimensions ?? this.dims }, (_, j) => -0.0123456789 * (j + 1)));
    const encoded = vectors.map((v) => ({ format: 'float' as const, text: `[${Array.from(v, (x) => x.toFixed(17)).join(',')}]` }));
    return {
      vectors,
      ...(call.encodingFormat === 'float' ? { encoded } : {}),
      usage: { promptTokens: 1, totalTokens: 1 },
      upstream: { status: 200, latencyMs: 1, attempts: 1, batches: 1 },
    };
  }
}

function setup(dims = 1536, gateway: GatewayConfigInput['gateway'] = undefined) {
  const config = loadConfig({ ...DOC, ...(gateway ? { gateway } : {}) });
  const records: SessionRecord[] = [];
  const archive: Archive = { put: async (r) => (records.push(r), { key: r.session_id }) };
  const upstream = new Upstream(dims);
  let n = 0;
  const gw = new Gateway({
    config,
    verifier: {
      async verify(t) {
        if (t !== 'tok') throw unauthenticated('bad', 'bad_signature');
        return P;
      },
    },
    provider: () => upstream,
    revocations: new InMemoryRevocationList(),
    archive,
    clock: { now: () => 1_800_000_000_000 },
    ids: { sessionId: () => `s-${++n}` },
  });
  const call = (body: unknown) =>
    gw.handle({
      method: 'POST',
      path: '/v1/embeddings',
      headers: { authorization: 'Bearer tok' },
      rawQueryString: '',
      body: JSON.stringify(body),
      isBase64Encoded: false,
      requestId: null,
      sourceIp: null,
    });
  return { call, records, upstream };
}

const model = { name: 'text-embedding-3-small', provider: 'openai' as const, dimensions: undefined, upstreamModel: undefined };

describe('payload limits (pure)', () => {
  it('estimates float at about three times base64, and 200 float vectors of 1536 dimensions near 6 MB', () => {
    const f = estimateResponseBytes(200, 1536, 'float', 'm');
    const b = estimateResponseBytes(200, 1536, 'base64', 'm');
    expect(f / b).toBeGreaterThan(2.5);
    expect(f / b).toBeLessThan(4.5);
    expect(f).toBeGreaterThan(5.5e6);
    expect(f).toBeLessThan(7.2e6);
  });

  it('lets a request through whose answer fits, and refuses one whose answer cannot fit, naming what to do', () => {
    const items = (n: number) => ({ kind: 'text' as const, items: Array.from({ length: n }, () => 'x') });
    expect(() => checkResponseFits({ input: items(100), encodingFormat: 'float' }, model, LAMBDA_PAYLOAD_LIMIT_BYTES)).not.toThrow();
    expect(() => checkResponseFits({ input: items(400), encodingFormat: 'base64' }, model, LAMBDA_PAYLOAD_LIMIT_BYTES)).not.toThrow();
    let err: unknown;
    try {
      checkResponseFits({ input: items(400), encodingFormat: 'float' }, model, LAMBDA_PAYLOAD_LIMIT_BYTES);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ status: 422, code: 'response_too_large', reason: 'response_too_large', param: 'input' });
    expect((err as Error).message).toMatch(/400 embeddings of 1536 dimensions as float/);
    expect((err as Error).message).toMatch(/at most \d+ items per request/);
    expect((err as Error).message).toMatch(/"encoding_format": "base64"/);
  });

  it('the items it advises fit, and one more does not', () => {
    const limit = LAMBDA_PAYLOAD_LIMIT_BYTES - 8 * 1024;
    for (const f of ['float', 'base64'] as const) {
      const fit = itemsThatFit(1536, f, model.name, limit);
      const items = (n: number) => ({ kind: 'text' as const, items: Array.from({ length: n }, () => 'x') });
      expect(() => checkResponseFits({ input: items(fit), encodingFormat: f }, model, LAMBDA_PAYLOAD_LIMIT_BYTES)).not.toThrow();
      expect(() => checkResponseFits({ input: items(fit + 1), encodingFormat: f }, model, LAMBDA_PAYLOAD_LIMIT_BYTES)).toThrow(
        /too|larger/,
      );
    }
  });

  it('uses the requested dimensions, and skips the estimate when dimensions are unknown', () => {
    const input = { kind: 'text' as const, items: Array.from({ length: 2000 }, () => 'x') };
    expect(() => checkResponseFits({ input, encodingFormat: 'float', dimensions: 64 }, model, LAMBDA_PAYLOAD_LIMIT_BYTES)).not.toThrow();
    expect(() =>
      checkResponseFits({ input, encodingFormat: 'float' }, { ...model, name: 'unknown-dims' }, LAMBDA_PAYLOAD_LIMIT_BYTES),
    ).not.toThrow();
  });

  it('measures a body as it is escaped inside the invocation response', () => {
    expect(escapedBytes('{"a":1}')).toBe('{\\"a\\":1}'.length);
    const big = `{"x":"${'"'.repeat(100)}"}`;
    expect(() => fitResponseBody(big, { input: { kind: 'text', items: ['x'] }, encodingFormat: 'float' }, model, 8 * 1024 + 150)).toThrow(
      /cannot be delivered/,
    );
    expect(fitResponseBody(big, { input: { kind: 'text', items: ['x'] }, encodingFormat: 'float' }, model, 8 * 1024 + 250)).toBe(big);
  });
});

describe('payload limits (gateway)', () => {
  it('a large float batch is refused before anything is sent upstream, with a 422 and one record', async () => {
    const g = setup();
    const handled = await g.call({ model: 'text-embedding-3-small', input: Array.from({ length: 500 }, (_, i) => `item ${i}`) });
    expect(handled.response.status).toBe(422);
    expect(JSON.parse(handled.response.body).error).toMatchObject({ code: 'response_too_large', param: 'input' });
    expect(g.upstream.calls).toHaveLength(0);
    expect(g.records).toHaveLength(1);
    expect(g.records[0]!.decision).toMatchObject({ status: 422, reason: 'response_too_large' });
    expect(g.records[0]!.upstream).toBeNull();
  });

  it('the same batch as base64 is answered, and its response fits the limit', async () => {
    const g = setup();
    const handled = await g.call({
      model: 'text-embedding-3-small',
      input: Array.from({ length: 500 }, (_, i) => `item ${i}`),
      encoding_format: 'base64',
    });
    expect(handled.response.status).toBe(200);
    expect(escapedBytes(handled.response.body)).toBeLessThan(LAMBDA_PAYLOAD_LIMIT_BYTES);
  });

  it('a body longer than the estimate is refused after the upstream answered, recorded with the upstream stats', async () => {
    // Unknown dimensions (no estimate); the upstream answers 3000 dims of long float text.
    const g = setup(3000);
    const handled = await g.call({ model: 'unknown-dims', input: Array.from({ length: 120 }, (_, i) => `item ${i}`) });
    expect(g.upstream.calls).toHaveLength(1);
    expect(handled.response.status).toBe(422);
    expect(handled.response.body.length).toBeLessThan(2000);
    expect(g.records[0]!.decision).toMatchObject({ status: 422, reason: 'response_too_large_after_upstream' });
    expect(g.records[0]!.upstream).toMatchObject({ status: 200, attempts: 1 });
    expect(g.records[0]!.output ?? null).toBeNull();
  });

  it('a configured lower limit applies', async () => {
    const g = setup(1536, { maxResponseBytes: 256 * 1024 });
    const handled = await g.call({ model: 'text-embedding-3-small', input: Array.from({ length: 20 }, () => 'x') });
    expect(handled.response.status).toBe(422);
    const ok = await g.call({ model: 'text-embedding-3-small', input: Array.from({ length: 20 }, () => 'x'), encoding_format: 'base64' });
    expect(ok.response.status).toBe(200);
  });

  it('the float body the gateway writes itself stays within the estimate', () => {
    const vectors = Array.from({ length: 10 }, () => Float32Array.from({ length: 1536 }, (_, j) => Math.sin(j * 7.3) * 0.09));
    const body = embeddingsBody({ encodingFormat: 'float' }, 'm', {
      vectors,
      usage: { promptTokens: 1, totalTokens: 1 },
      upstream: { latencyMs: 0, attempts: 1, batches: 1 },
    });
    expect(escapedBytes(body)).toBeLessThanOrEqual(estimateResponseBytes(10, 1536, 'float', 'm'));
  });
});
