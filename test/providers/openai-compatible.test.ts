import type { UpstreamError } from '../../lambda/core/errors';
import { createProvider } from '../../lambda/providers';
import { fakeEmbedding, fakeTokenCount, startFakeUpstream } from '../support/fake-upstream';
import type { FakeUpstream } from '../support/fake-upstream';
import { caught, fakeSecrets, instantDeps, modelConfig, UPSTREAM_KEY } from './fixtures';

let upstream: FakeUpstream;

beforeAll(async () => {
  upstream = await startFakeUpstream({ dimensions: 8 });
});
afterEach(() => upstream.reset());
afterAll(() => upstream.close());

const expected = (items: readonly (string | readonly number[])[], dims = 8): number[][] =>
  items.map((i) => Array.from(fakeEmbedding(i, dims)));
const plain = (vectors: Float32Array[]): number[][] => vectors.map((v) => Array.from(v));

describe('request shape', () => {
  it('OpenAI: POST {baseUrl}/embeddings with a bearer key and the documented body', async () => {
    const deps = instantDeps({ secrets: fakeSecrets() });
    const model = modelConfig({ baseUrl: `${upstream.url}/`, upstreamModel: 'text-embedding-3-large' });
    const provider = createProvider(model, deps);
    await provider.embed({ input: ['hello', 'world'], dimensions: 8, user: 'svc-42' });

    expect(provider.kind).toBe('openai');
    expect(upstream.requests).toHaveLength(1);
    const [req] = upstream.requests;
    expect(req!.method).toBe('POST');
    expect(req!.url).toBe('/v1/embeddings');
    expect(req!.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(req!.headers['api-key']).toBeUndefined();
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.body).toEqual({
      model: 'text-embedding-3-large',
      input: ['hello', 'world'],
      dimensions: 8,
      user: 'svc-42',
      encoding_format: 'base64',
    });
  });

  it('sends the model name upstream when there is no upstreamModel, and omits absent fields', async () => {
    const provider = createProvider(modelConfig({ baseUrl: upstream.url, name: 'my-model' }), instantDeps());
    await provider.embed({ input: ['x'] });
    expect(upstream.requests[0]!.body).toEqual({ model: 'my-model', input: ['x'], encoding_format: 'base64' });
  });

  it('OpenAI-compatible without apiKey: no Authorization header and no secret lookup', async () => {
    const secrets = fakeSecrets();
    const model = modelConfig({ provider: 'openai-compatible', baseUrl: upstream.url, apiKey: undefined });
    const provider = createProvider(model, instantDeps({ secrets }));
    await provider.embed({ input: ['a'] });
    expect(provider.kind).toBe('openai-compatible');
    expect(upstream.requests[0]!.headers.authorization).toBeUndefined();
    expect(upstream.requests[0]!.headers['api-key']).toBeUndefined();
    expect(secrets.refs).toEqual([]);
  });

  it('OpenAI-compatible with apiKey sends it as a bearer key', async () => {
    const model = modelConfig({ provider: 'openai-compatible', baseUrl: upstream.url });
    await createProvider(model, instantDeps()).embed({ input: ['a'] });
    expect(upstream.requests[0]!.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
  });

  it('Azure OpenAI: deployment path, api-version query and api-key header', async () => {
    const secrets = fakeSecrets();
    const model = modelConfig({
      provider: 'azure-openai',
      baseUrl: upstream.origin,
      upstreamModel: 'emb deploy',
      apiVersion: '2024-10-21',
      apiKey: { source: 'secretsManager', secretId: 'azure/key' },
    });
    const provider = createProvider(model, instantDeps({ secrets }));
    const result = await provider.embed({ input: ['a', 'b'] });

    expect(provider.kind).toBe('azure-openai');
    const [req] = upstream.requests;
    expect(req!.url).toBe('/openai/deployments/emb%20deploy/embeddings?api-version=2024-10-21');
    expect(req!.headers['api-key']).toBe(UPSTREAM_KEY);
    expect(req!.headers.authorization).toBeUndefined();
    expect(secrets.refs).toEqual([{ source: 'secretsManager', secretId: 'azure/key' }]);
    expect(plain(result.vectors)).toEqual(expected(['a', 'b']));
  });

  it('reads the key once per call, not per batch, and again on the next call (no caching here)', async () => {
    const secrets = fakeSecrets();
    const provider = createProvider(modelConfig({ baseUrl: upstream.url, upstream: { maxBatchSize: 1 } }), instantDeps({ secrets }));
    await provider.embed({ input: ['a', 'b', 'c'] });
    expect(upstream.requests).toHaveLength(3);
    expect(secrets.refs).toHaveLength(1);
    await provider.embed({ input: ['d'] });
    expect(secrets.refs).toHaveLength(2);
  });

  it('sends token-id input as arrays of ids', async () => {
    const input = [
      [1, 2, 3],
      [40, 50],
    ];
    const result = await createProvider(modelConfig({ baseUrl: upstream.url }), instantDeps()).embed({ input });
    expect((upstream.requests[0]!.body as { input: unknown }).input).toEqual(input);
    expect(plain(result.vectors)).toEqual(expected(input));
    expect(result.usage).toEqual({ promptTokens: 5, totalTokens: 5 });
  });
});

describe('decoding', () => {
  it('float and base64 answers decode to the same Float32 values', async () => {
    const provider = createProvider(modelConfig({ baseUrl: upstream.url }), instantDeps());
    const input = ['alpha', 'beta gamma'];
    upstream.enqueue({ kind: 'success' }, { kind: 'success', encoding: 'float' });
    const fromBase64 = await provider.embed({ input });
    const fromFloat = await provider.embed({ input });

    // Both asked for base64; the fake answered the first in base64 and the second with numbers.
    expect(upstream.requests.map((r) => (r.body as { encoding_format: string }).encoding_format)).toEqual(['base64', 'base64']);
    for (const v of fromBase64.vectors) expect(v).toBeInstanceOf(Float32Array);
    for (const v of fromFloat.vectors) expect(v).toBeInstanceOf(Float32Array);
    expect(plain(fromBase64.vectors)).toEqual(expected(input));
    expect(plain(fromFloat.vectors)).toEqual(plain(fromBase64.vectors));
  });

  it('decodes little-endian float32 exactly, including values that need all 32 bits', async () => {
    const values = [1.5, -0.1, 3.4028234663852886e38, 1e-45, 0];
    const bytes = Buffer.alloc(values.length * 4);
    values.forEach((v, i) => bytes.writeFloatLE(v, i * 4));
    upstream.enqueue({ kind: 'json', body: { data: [{ index: 0, embedding: bytes.toString('base64') }] } });
    const result = await createProvider(modelConfig({ baseUrl: upstream.url }), instantDeps()).embed({ input: ['x'] });
    expect(Array.from(result.vectors[0]!)).toEqual(Array.from(Float32Array.from(values)));
  });

  it('sums usage over batches and defaults missing usage to 0', async () => {
    const input = ['one two', 'three', 'four five six', 'seven'];
    const provider = createProvider(modelConfig({ baseUrl: upstream.url, upstream: { maxBatchSize: 2 } }), instantDeps());
    const result = await provider.embed({ input });
    const tokens = input.reduce((s, i) => s + fakeTokenCount(i), 0);
    expect(tokens).toBe(7);
    expect(result.usage).toEqual({ promptTokens: 7, totalTokens: 7 });

    upstream.setBehaviour({ kind: 'success', omitUsage: true });
    const bare = await provider.embed({ input });
    expect(bare.usage).toEqual({ promptTokens: 0, totalTokens: 0 });
  });
});

describe('batching over HTTP', () => {
  it('splits to maxBatchSize, keeps input order with shuffled data and out-of-order batches', async () => {
    const input = Array.from({ length: 10 }, (_, i) => `text number ${i}`);
    // The first batch answers last; every answer lists `data` in shuffled order.
    upstream.setScript((req) => {
      const first = (req.body as { input: string[] }).input[0];
      return { kind: 'success', order: 'shuffle', latencyMs: first === input[0] ? 60 : 0 };
    });
    const provider = createProvider(modelConfig({ baseUrl: upstream.url, upstream: { maxBatchSize: 3, concurrency: 4 } }), instantDeps());
    const result = await provider.embed({ input });

    const sent = upstream.requests.map((r) => (r.body as { input: string[] }).input);
    expect(sent.map((s) => s.length).sort()).toEqual([1, 3, 3, 3]);
    expect(plain(result.vectors)).toEqual(expected(input));
    expect(result.upstream).toMatchObject({ status: 200, attempts: 4, batches: 4 });
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    upstream.setBehaviour({ kind: 'success', latencyMs: 30 });
    const input = Array.from({ length: 12 }, (_, i) => `t${i}`);
    const provider = createProvider(modelConfig({ baseUrl: upstream.url, upstream: { maxBatchSize: 2, concurrency: 2 } }), instantDeps());
    const result = await provider.embed({ input });
    expect(upstream.requests).toHaveLength(6);
    expect(upstream.maxInFlight).toBe(2);
    expect(plain(result.vectors)).toEqual(expected(input));
  });

  it('returns no vectors and makes no request for empty input', async () => {
    const result = await createProvider(modelConfig({ baseUrl: upstream.url }), instantDeps()).embed({ input: [] });
    expect(result.vectors).toEqual([]);
    expect(result.upstream).toEqual({ status: undefined, latencyMs: 0, attempts: 0, batches: 0 });
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('strict response validation', () => {
  const provider = (): ReturnType<typeof createProvider> =>
    createProvider(modelConfig({ baseUrl: upstream.url, upstream: { maxRetries: 2 } }), instantDeps());

  it.each([
    ['invalid JSON', { kind: 'invalid-json' as const }, /not JSON/],
    ['one item too few', { kind: 'wrong-count' as const, delta: -1 }, /expected 2 embeddings, got 1/],
    ['one item too many', { kind: 'wrong-count' as const, delta: 1 }, /expected 2 embeddings, got 3/],
    ['no data array', { kind: 'json' as const, body: { object: 'list' } }, /"data" is not an array/],
    ['a JSON array body', { kind: 'json' as const, body: [] }, /not a JSON object/],
    [
      'a duplicate index',
      {
        kind: 'json' as const,
        body: {
          data: [
            { index: 0, embedding: [1] },
            { index: 0, embedding: [1] },
          ],
        },
      },
      /more than once/,
    ],
    [
      'a fractional index',
      {
        kind: 'json' as const,
        body: {
          data: [
            { index: 0.5, embedding: [1] },
            { index: 1, embedding: [1] },
          ],
        },
      },
      /index is not an integer/,
    ],
    [
      'an index out of range',
      {
        kind: 'json' as const,
        body: {
          data: [
            { index: 0, embedding: [1] },
            { index: 2, embedding: [1] },
          ],
        },
      },
      /index is not an integer in 0..1/,
    ],
    [
      'vectors of different lengths',
      {
        kind: 'json' as const,
        body: {
          data: [
            { index: 0, embedding: [1, 2] },
            { index: 1, embedding: [1] },
          ],
        },
      },
      /has 1 dimensions, expected 2/,
    ],
    [
      'an empty vector',
      {
        kind: 'json' as const,
        body: {
          data: [
            { index: 0, embedding: [] },
            { index: 1, embedding: [] },
          ],
        },
      },
      /is empty/,
    ],
    [
      'a non-number value',
      {
        kind: 'json' as const,
        body: {
          data: [
            { index: 0, embedding: [1, '2'] },
            { index: 1, embedding: [1, 2] },
          ],
        },
      },
      /not a finite number/,
    ],
    [
      'bad base64',
      {
        kind: 'json' as const,
        body: {
          data: [
            { index: 0, embedding: 'AAA*' },
            { index: 1, embedding: 'AAAAAA==' },
          ],
        },
      },
      /not base64 of float32/,
    ],
    [
      'base64 of a partial float',
      {
        kind: 'json' as const,
        body: {
          data: [
            { index: 0, embedding: 'AAAAAAA=' },
            { index: 1, embedding: 'AAAAAA==' },
          ],
        },
      },
      /not base64 of float32/,
    ],
    [
      'a missing embedding',
      { kind: 'json' as const, body: { data: [{ index: 0 }, { index: 1, embedding: [1] }] } },
      /neither a base64 string nor an array/,
    ],
  ])('%s -> 502 upstream_invalid_response, not retried', async (_what, behaviour, message) => {
    upstream.setBehaviour(behaviour);
    const err = await caught<UpstreamError>(() => provider().embed({ input: ['a', 'b'] }));
    expect(err.name).toBe('UpstreamError');
    expect(err).toMatchObject({ status: 502, type: 'upstream_error', code: 'upstream_unavailable', reason: 'upstream_invalid_response' });
    expect(err.message).toMatch(message);
    expect(err.upstream).toMatchObject({ status: 200, attempts: 1, batches: 1 });
    expect(upstream.requests).toHaveLength(1);
  });

  it('rejects vectors whose length differs from the requested dimensions', async () => {
    upstream.setBehaviour({ kind: 'json', body: { data: [{ index: 0, embedding: [1, 2, 3] }] } });
    const err = await caught<UpstreamError>(() => provider().embed({ input: ['a'], dimensions: 4 }));
    expect(err).toMatchObject({ status: 502, reason: 'upstream_invalid_response' });
    expect(err.message).toMatch(/has 3 dimensions, expected 4/);
  });
});
