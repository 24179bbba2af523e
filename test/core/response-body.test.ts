/**
 * The embeddings response body: with the upstream's encoding passed through it is byte for byte
 * what re-encoding gave before (base64), or carries the upstream's exact number text (float);
 * either way the vectors, and the record's fingerprint over them, are unchanged.
 */
import * as fc from 'fast-check';
import { loadConfig } from '../../shared/config';
import { unauthenticated } from '../../lambda/core/errors';
import { embeddingsBody, Gateway } from '../../lambda/core/gateway';
import type { Principal } from '../../lambda/core/principal';
import type { EmbeddingResult, EncodedVector } from '../../lambda/core/ports';
import { fingerprintVectors, toLittleEndianBytes, type SessionRecord } from '../../lambda/core/record';
import { InMemoryRevocationList } from '../../lambda/adapters/local/revocations';
import { createProvider } from '../../lambda/providers';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';
import { instantDeps } from '../providers/fixtures';

/** The body as the gateway built it before pass-through (one JSON.stringify of the whole answer). */
function reencodedBody(format: 'float' | 'base64', model: string, r: EmbeddingResult): string {
  const data = r.vectors.map((v, index) => ({
    object: 'embedding',
    index,
    embedding: format === 'base64' ? Buffer.from(toLittleEndianBytes(v)).toString('base64') : Array.from(v),
  }));
  return JSON.stringify({ object: 'list', data, model, usage: { prompt_tokens: r.usage.promptTokens, total_tokens: r.usage.totalTokens } });
}

const result = (vectors: Float32Array[], encoded?: (EncodedVector | undefined)[]): EmbeddingResult => ({
  vectors,
  ...(encoded ? { encoded } : {}),
  usage: { promptTokens: 12, totalTokens: 12 },
  upstream: { status: 200, latencyMs: 1, attempts: 1, batches: 1 },
});
const b64 = (v: Float32Array): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
const vectorsArb = fc
  .integer({ min: 1, max: 9 })
  .chain((dims) => fc.array(fc.float32Array({ minLength: dims, maxLength: dims, noNaN: true, noDefaultInfinity: true }), { maxLength: 5 }));

describe('embeddingsBody', () => {
  it('without kept encodings: byte-identical to the re-encoded body, float and base64 (property)', () => {
    fc.assert(
      fc.property(vectorsArb, fc.string(), fc.nat(), fc.nat(), (vectors, model, prompt, total) => {
        const r = { ...result(vectors), usage: { promptTokens: prompt, totalTokens: total } };
        for (const format of ['float', 'base64'] as const)
          expect(embeddingsBody({ encodingFormat: format }, model, r)).toBe(reencodedBody(format, model, r));
      }),
    );
  });

  it('base64 passed through: byte-identical to the re-encoded body (property)', () => {
    fc.assert(
      fc.property(vectorsArb, (vectors) => {
        const kept = vectors.map((v) => ({ format: 'base64' as const, text: b64(v) }));
        expect(embeddingsBody({ encodingFormat: 'base64' }, 'm', result(vectors, kept))).toBe(
          reencodedBody('base64', 'm', result(vectors)),
        );
      }),
    );
  });

  it('float passed through: the upstream number text as is, same float32 values', () => {
    const vectors = [Float32Array.from([0.1, -2e-3]), Float32Array.from([1, 0])];
    const kept: (EncodedVector | undefined)[] = [{ format: 'float', text: '[0.1,-2E-3]' }, undefined];
    const body = embeddingsBody({ encodingFormat: 'float' }, 'm', result(vectors, kept));
    expect(body).toBe(
      '{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-2E-3]},{"object":"embedding","index":1,"embedding":[1,0]}],"model":"m","usage":{"prompt_tokens":12,"total_tokens":12}}',
    );
    const parsed = JSON.parse(body) as { data: { embedding: number[] }[] };
    expect(parsed.data.map((d) => Float32Array.from(d.embedding))).toEqual(vectors);
  });

  it('a kept encoding in the other format is ignored: the vectors are encoded as asked', () => {
    const vectors = [Float32Array.from([0.5, 0.25])];
    expect(embeddingsBody({ encodingFormat: 'float' }, 'm', result(vectors, [{ format: 'base64', text: b64(vectors[0]!) }]))).toBe(
      reencodedBody('float', 'm', result(vectors)),
    );
    expect(embeddingsBody({ encodingFormat: 'base64' }, 'm', result(vectors, [{ format: 'float', text: '[0.5,0.25]' }]))).toBe(
      reencodedBody('base64', 'm', result(vectors)),
    );
  });
});

describe('Gateway with an OpenAI upstream: pass-through end to end', () => {
  let upstream: FakeUpstream;
  beforeAll(async () => {
    upstream = await startFakeUpstream({ dimensions: 24 });
  });
  afterEach(() => upstream.reset());
  afterAll(() => upstream.close());

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

  function gateway() {
    const config = loadConfig({
      issuers: [{ id: 'corp', issuer: 'https://idp.example.com', audiences: 'embedgate', jwksUri: 'https://idp.example.com/jwks' }],
      models: [
        { name: 'emb', provider: 'openai', baseUrl: upstream.url, apiKey: { source: 'env', name: 'K' }, upstream: { maxBatchSize: 2 } },
      ],
      policy: { rules: [{ id: 'all', effect: 'allow', match: { groups: 'g' }, models: '*' }] },
      masking: { enabled: true },
    });
    const records: SessionRecord[] = [];
    const provider = createProvider(config.models[0]!, instantDeps());
    const gw = new Gateway({
      config,
      verifier: { verify: async (t) => (t === 'ok' ? PRINCIPAL : Promise.reject(unauthenticated('bad', 'bad_signature'))) },
      provider: () => provider,
      revocations: new InMemoryRevocationList(),
      archive: { put: async (r) => (records.push(r), { key: r.session_id }) },
      clock: { now: () => Date.now() },
      ids: { sessionId: () => `s-${records.length}` },
    });
    const call = (body: unknown) =>
      gw.handle({
        method: 'POST',
        path: '/v1/embeddings',
        headers: { authorization: 'Bearer ok' },
        rawQueryString: '',
        body: JSON.stringify(body),
        isBase64Encoded: false,
        requestId: null,
        sourceIp: null,
      });
    return { call, records };
  }

  const input = ['one', 'two words', 'three more words'];
  type Body = { data: { index: number; embedding: string | number[] }[] };

  it('base64 client: the upstream strings; float client: re-encoded floats; same fingerprint for both', async () => {
    const { call } = gateway();
    const b = await call({ model: 'emb', input, encoding_format: 'base64' });
    const f = await call({ model: 'emb', input, encoding_format: 'float' });
    expect([b.response.status, f.response.status]).toEqual([200, 200]);
    // Two batches per request (maxBatchSize 2), base64 asked upstream both times.
    expect(upstream.requests.map((q) => (q.body as { encoding_format: string }).encoding_format)).toEqual([
      'base64',
      'base64',
      'base64',
      'base64',
    ]);
    // The fake is deterministic: ask it again for each item's string.
    const answers = await Promise.all(
      input.map(
        async (item) =>
          (
            (await (
              await fetch(`${upstream.url}/embeddings`, {
                method: 'POST',
                body: JSON.stringify({ input: [item], encoding_format: 'base64' }),
              })
            ).json()) as Body
          ).data[0]!.embedding,
      ),
    );
    const bBody = JSON.parse(b.response.body) as Body;
    const fBody = JSON.parse(f.response.body) as Body;
    expect(bBody.data.map((d) => d.embedding)).toEqual(answers);
    const fromB = bBody.data.map((d) => {
      const buf = Buffer.from(d.embedding as string, 'base64');
      return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    });
    const fromF = fBody.data.map((d) => Float32Array.from(d.embedding as number[]));
    expect(fromF).toEqual(fromB);
    expect(b.record.output!.fingerprint).toBe(fingerprintVectors(fromB));
    expect(f.record.output!.fingerprint).toBe(b.record.output!.fingerprint);
  });

  it('float client, float-only upstream: the upstream number texts, and the same fingerprint as base64', async () => {
    const { call } = gateway();
    const b = await call({ model: 'emb', input, encoding_format: 'base64' });
    upstream.setBehaviour({ kind: 'success', encoding: 'float' });
    const f = await call({ model: 'emb', input });
    expect(f.response.status).toBe(200);
    const texts = await Promise.all(
      input.map(async (item) =>
        JSON.stringify(
          ((await (await fetch(`${upstream.url}/embeddings`, { method: 'POST', body: JSON.stringify({ input: [item] }) })).json()) as Body)
            .data[0]!.embedding,
        ),
      ),
    );
    for (const t of texts) expect(f.response.body.includes(`"embedding":${t}}`)).toBe(true);
    expect(f.record.output!.fingerprint).toBe(b.record.output!.fingerprint);
    expect(f.record.output).toEqual({ vectors: 3, dimensions: 24, fingerprint: b.record.output!.fingerprint, encoding_format: 'float' });
  });
});
