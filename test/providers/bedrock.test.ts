/**
 * The Bedrock provider with the real BedrockRuntimeClient (SigV4 with static fake credentials)
 * against the fake InvokeModel server.
 */
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import type { GatewayError, UpstreamError } from '../../lambda/core/errors';
import { bedrockFamily, createBedrockProvider } from '../../lambda/providers/bedrock';
import { bedrockInvoke } from '../../lambda/adapters/aws/bedrock-runtime';
import type { BedrockProviderDeps } from '../../lambda/providers/bedrock';
import type { ModelConfig } from '../../shared/config';
import { deadEndpoint } from '../support/aws-standins';
import { BEDROCK_ERRORS, startFakeBedrock } from '../support/fake-bedrock';
import type { FakeBedrock } from '../support/fake-bedrock';
import { fakeEmbedding, fakeTokenCount } from '../support/fake-upstream';
import { caught, modelConfig } from './fixtures';

const TITAN = 'amazon.titan-embed-text-v2:0';
const COHERE = 'cohere.embed-english-v3';

let bedrock: FakeBedrock;
let client: BedrockRuntimeClient;

const newClient = (endpoint: string): BedrockRuntimeClient =>
  new BedrockRuntimeClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDFAKEBEDROCK', secretAccessKey: 'fake-secret' },
    maxAttempts: 1,
  });

beforeAll(async () => {
  bedrock = await startFakeBedrock();
  client = newClient(bedrock.endpoint);
});
afterEach(() => bedrock.reset());
afterAll(async () => {
  client.destroy();
  await bedrock.close();
});

function bedrockModel(upstreamModel: string, upstream: Partial<ModelConfig['upstream']> = {}): ModelConfig {
  return modelConfig({
    name: 'emb',
    provider: 'bedrock' as ModelConfig['provider'],
    upstreamModel,
    baseUrl: undefined,
    apiKey: undefined,
    upstream,
  });
}

function deps(extra: Partial<BedrockProviderDeps> = {}): BedrockProviderDeps & { sleeps: number[] } {
  const sleeps: number[] = [];
  return { invoke: bedrockInvoke(client), sleep: async (ms) => void sleeps.push(ms), random: () => 0.5, sleeps, ...extra };
}

const plain = (vs: Float32Array[]): number[][] => vs.map((v) => Array.from(v));
const expected = (texts: string[], dims: number): number[][] => texts.map((t) => Array.from(fakeEmbedding(t, dims)));
const texts = (n: number): string[] => Array.from({ length: n }, (_, i) => `text number ${i}`);

describe('Titan Text Embeddings v2', () => {
  it('POSTs /model/{id}/invoke, SigV4-signed, with the documented body', async () => {
    const provider = createBedrockProvider(bedrockModel(TITAN), deps());
    const result = await provider.embed({ input: ['hello world'] });
    expect(provider.kind).toBe('bedrock');
    expect(bedrock.requests).toHaveLength(1);
    const [req] = bedrock.requests;
    expect(req!.method).toBe('POST');
    expect(req!.path).toBe('/model/amazon.titan-embed-text-v2%3A0/invoke');
    expect(req!.modelId).toBe(TITAN);
    expect(req!.body).toEqual({ inputText: 'hello world', normalize: true });
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.headers.accept).toBe('application/json');
    expect(req!.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDFAKEBEDROCK\/\d{8}\/us-east-1\/bedrock\/aws4_request, SignedHeaders=[^,]*(host|:authority)[^,]*, Signature=[0-9a-f]{64}$/,
    );
    expect(req!.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    expect(plain(result.vectors)).toEqual(expected(['hello world'], 1024));
    expect(result.usage).toEqual({ promptTokens: 2, totalTokens: 2 });
    expect(result.upstream).toMatchObject({ status: 200, attempts: 1, batches: 1 });
  });

  it('passes dimensions and checks the answer has them', async () => {
    const result = await createBedrockProvider(bedrockModel(TITAN), deps()).embed({ input: ['a', 'b'], dimensions: 256 });
    expect(bedrock.requests.map((r) => r.body)).toEqual([
      { inputText: 'a', dimensions: 256, normalize: true },
      { inputText: 'b', dimensions: 256, normalize: true },
    ]);
    expect(plain(result.vectors)).toEqual(expected(['a', 'b'], 256));
  });

  it('one call per text, at most `concurrency` at once, results in input order', async () => {
    const input = texts(12);
    // Later texts answer sooner, so completion order is the reverse of input order.
    bedrock.setScript((req) => ({
      kind: 'success',
      latencyMs: 5 + 3 * (12 - input.indexOf((req.body as { inputText: string }).inputText)),
    }));
    const result = await createBedrockProvider(bedrockModel(TITAN, { concurrency: 3 }), deps()).embed({ input });
    expect(bedrock.requests).toHaveLength(12);
    expect(bedrock.maxInFlight).toBe(3);
    expect(plain(result.vectors)).toEqual(expected(input, 1024));
    expect(result.usage.promptTokens).toBe(input.reduce((s, t) => s + fakeTokenCount(t), 0));
    expect(result.upstream).toMatchObject({ attempts: 12, batches: 12 });
  });

  it('refuses dimensions Titan v2 does not offer, without calling', async () => {
    const err = await caught<GatewayError>(() =>
      createBedrockProvider(bedrockModel(TITAN), deps()).embed({ input: ['a'], dimensions: 100 }),
    );
    expect(err).toMatchObject({ status: 400, code: 'unsupported_dimensions', param: 'dimensions' });
    expect(bedrock.requests).toHaveLength(0);
  });

  it('accepts the embeddingsByType shape too', async () => {
    bedrock.enqueue({ kind: 'json', body: { embeddingsByType: { float: [0.5, -0.25] }, inputTextTokenCount: 7 } });
    const result = await createBedrockProvider(bedrockModel(TITAN), deps()).embed({ input: ['a'] });
    expect(plain(result.vectors)).toEqual([[0.5, -0.25]]);
    expect(result.usage.promptTokens).toBe(7);
  });
});

describe('Cohere Embed v3 on Bedrock', () => {
  it('batches at most 96 texts with the documented body, keeping order', async () => {
    const input = texts(200);
    bedrock.setScript((_req, n) => ({ kind: 'success', latencyMs: n === 0 ? 30 : 0 }));
    const result = await createBedrockProvider(bedrockModel(COHERE), deps()).embed({ input });
    const bodies = bedrock.requests.map((r) => r.body as { texts: string[] });
    expect(bodies.map((b) => b.texts.length)).toEqual([96, 96, 8]);
    expect(bodies.flatMap((b) => b.texts).sort()).toEqual([...input].sort());
    expect(bedrock.requests[0]!.body).toEqual({
      texts: input.slice(0, 96),
      input_type: 'search_document',
      truncate: 'NONE',
      embedding_types: ['float'],
    });
    expect(bedrock.requests[0]!.path).toBe('/model/cohere.embed-english-v3/invoke');
    expect(plain(result.vectors)).toEqual(expected(input, 1024));
    // No count in the body: the x-amzn-bedrock-input-token-count header is used.
    expect(result.usage.promptTokens).toBe(input.reduce((s, t) => s + fakeTokenCount(t), 0));
    expect(result.upstream).toMatchObject({ batches: 3, attempts: 3 });
  });

  it('uses a smaller maxBatchSize when configured', async () => {
    await createBedrockProvider(bedrockModel('cohere.embed-multilingual-v3', { maxBatchSize: 10 }), deps()).embed({ input: texts(25) });
    expect(bedrock.requests.map((r) => (r.body as { texts: string[] }).texts.length)).toEqual([10, 10, 5]);
  });

  it('accepts the plain `embeddings: number[][]` answer', async () => {
    bedrock.setScript(() => ({ kind: 'success', cohereShape: 'floats' }));
    const result = await createBedrockProvider(bedrockModel(COHERE), deps()).embed({ input: ['x', 'y'] });
    expect(plain(result.vectors)).toEqual(expected(['x', 'y'], 1024));
  });

  it('allows dimensions only at its native 1024', async () => {
    await createBedrockProvider(bedrockModel(COHERE), deps()).embed({ input: ['x'], dimensions: 1024 });
    const err = await caught<GatewayError>(() =>
      createBedrockProvider(bedrockModel(COHERE), deps()).embed({ input: ['x'], dimensions: 256 }),
    );
    expect(err).toMatchObject({ status: 400, code: 'unsupported_dimensions' });
    expect(bedrock.requests).toHaveLength(1);
  });

  it('rejects an answer with the wrong number of embeddings as invalid (502)', async () => {
    bedrock.enqueue({ kind: 'json', body: { embeddings: { float: [[1, 2]] } } });
    const err = await caught<UpstreamError>(() => createBedrockProvider(bedrockModel(COHERE), deps()).embed({ input: ['a', 'b'] }));
    expect(err).toMatchObject({ status: 502, reason: 'upstream_invalid_response' });
    expect(err.message).toMatch(/expected 2 embeddings, got 1/);
  });
});

describe('input it cannot take', () => {
  it.each([TITAN, COHERE])('%s refuses token-id input with 400 tokens_not_supported, without calling', async (id) => {
    const err = await caught<GatewayError>(() => createBedrockProvider(bedrockModel(id), deps()).embed({ input: [[1, 2, 3]] }));
    expect(err).toMatchObject({ status: 400, type: 'invalid_request_error', code: 'tokens_not_supported', param: 'input' });
    expect(bedrock.requests).toHaveLength(0);
  });

  it('empty input makes no call', async () => {
    const result = await createBedrockProvider(bedrockModel(COHERE), deps()).embed({ input: [] });
    expect(result.vectors).toEqual([]);
    expect(bedrock.requests).toHaveLength(0);
  });

  it('an unsupported model id fails at creation', () => {
    expect(() => createBedrockProvider(bedrockModel('amazon.titan-embed-text-v1'), deps())).toThrow(/not supported/);
    expect(() => createBedrockProvider(bedrockModel('anthropic.claude-3'), deps())).toThrow(/not supported/);
  });

  it.each([
    ['amazon.titan-embed-text-v2:0', 'titan-v2'],
    ['amazon.titan-embed-text-v2', 'titan-v2'],
    ['cohere.embed-english-v3', 'cohere-v3'],
    ['cohere.embed-multilingual-v3:0', 'cohere-v3'],
    ['us.cohere.embed-english-v3', 'cohere-v3'],
    ['arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0', 'titan-v2'],
    ['cohere.embed-v4:0', undefined],
    ['amazon.titan-embed-image-v1', undefined],
  ])('bedrockFamily(%s) = %s', (id, family) => {
    expect(bedrockFamily(id)).toBe(family);
  });
});

describe('failures', () => {
  it('throttling is retried with backoff, then succeeds', async () => {
    bedrock.enqueue(BEDROCK_ERRORS.throttling, BEDROCK_ERRORS.throttling);
    const d = deps();
    const result = await createBedrockProvider(bedrockModel(TITAN, { maxRetries: 2 }), d).embed({ input: ['a'] });
    expect(result.vectors).toHaveLength(1);
    expect(result.upstream).toMatchObject({ status: 200, attempts: 3 });
    expect(d.sleeps).toEqual([50, 100]);
  });

  it('throttling beyond maxRetries -> 429 upstream_rate_limited', async () => {
    bedrock.setScript(() => BEDROCK_ERRORS.throttling);
    const err = await caught<UpstreamError>(() =>
      createBedrockProvider(bedrockModel(TITAN, { maxRetries: 2 }), deps()).embed({ input: ['a'] }),
    );
    expect(err).toMatchObject({ status: 429, type: 'rate_limit_error', code: 'upstream_rate_limited' });
    expect(err.upstream).toMatchObject({ status: 429, attempts: 3 });
    expect(bedrock.requests).toHaveLength(3);
  });

  it('AccessDeniedException -> 502 upstream_auth_failed, not retried, without Bedrock text', async () => {
    bedrock.setScript(() => BEDROCK_ERRORS.accessDenied);
    const err = await caught<UpstreamError>(() => createBedrockProvider(bedrockModel(COHERE), deps()).embed({ input: ['a'] }));
    expect(err).toMatchObject({ status: 502, type: 'upstream_error', code: 'upstream_auth_failed' });
    expect(err.upstream).toMatchObject({ status: 403, attempts: 1 });
    expect(err.message).not.toMatch(/access to the model/);
    expect(bedrock.requests).toHaveLength(1);
  });

  it("ValidationException -> 400 upstream_rejected_request with Bedrock's message, not retried", async () => {
    bedrock.setScript(() => BEDROCK_ERRORS.validation);
    const err = await caught<UpstreamError>(() => createBedrockProvider(bedrockModel(COHERE), deps()).embed({ input: ['a'] }));
    expect(err).toMatchObject({ status: 400, type: 'invalid_request_error', code: 'upstream_rejected_request' });
    expect(err.message).toBe(
      'The upstream provider rejected the request: Malformed input request: expected maxLength: 2048, actual: 3000, please reformat your input and try again.',
    );
    expect(bedrock.requests).toHaveLength(1);
  });

  it.each([
    ['InternalServerException', BEDROCK_ERRORS.internal, 500],
    ['ServiceUnavailableException', BEDROCK_ERRORS.unavailable, 503],
  ])('%s is retried, then 502 upstream_unavailable', async (_name, behaviour, status) => {
    bedrock.setScript(() => behaviour);
    const err = await caught<UpstreamError>(() =>
      createBedrockProvider(bedrockModel(TITAN, { maxRetries: 1 }), deps()).embed({ input: ['a'] }),
    );
    expect(err).toMatchObject({ status: 502, code: 'upstream_unavailable', reason: 'upstream_5xx' });
    expect(err.upstream).toMatchObject({ status, attempts: 2 });
  });

  it('an unnamed 502 is retried like the HTTP providers do', async () => {
    bedrock.enqueue({ kind: 'error', status: 502, type: 'BadGateway' });
    const result = await createBedrockProvider(bedrockModel(TITAN, { maxRetries: 1 }), deps()).embed({ input: ['a'] });
    expect(result.upstream.attempts).toBe(2);
  });

  it('ServiceQuotaExceededException (a 400) -> 429, not retried', async () => {
    bedrock.setScript(() => ({ kind: 'error', status: 400, type: 'ServiceQuotaExceededException', message: 'quota exceeded' }));
    const err = await caught<UpstreamError>(() => createBedrockProvider(bedrockModel(TITAN), deps()).embed({ input: ['a'] }));
    expect(err).toMatchObject({ status: 429, code: 'upstream_rate_limited' });
    expect(bedrock.requests).toHaveLength(1);
  });

  it('ModelTimeoutException is retried, then 504', async () => {
    bedrock.setScript(() => BEDROCK_ERRORS.modelTimeout);
    const err = await caught<UpstreamError>(() =>
      createBedrockProvider(bedrockModel(TITAN, { maxRetries: 1 }), deps()).embed({ input: ['a'] }),
    );
    expect(err).toMatchObject({ status: 504, code: 'upstream_timeout' });
    expect(err.upstream.attempts).toBe(2);
  });

  it('a per-attempt timeout -> retried, then 504 upstream_timeout', async () => {
    bedrock.setScript(() => ({ kind: 'hang' }));
    const err = await caught<UpstreamError>(() =>
      createBedrockProvider(bedrockModel(TITAN, { maxRetries: 1, timeoutMs: 40 }), deps()).embed({ input: ['a'] }),
    );
    expect(err).toMatchObject({ status: 504, code: 'upstream_timeout', reason: 'upstream_timeout' });
    expect(err.upstream.attempts).toBe(2);
    expect(bedrock.requests).toHaveLength(2);
  });

  it('ResourceNotFoundException (wrong model id: a configuration problem) -> 502, not retried', async () => {
    bedrock.setScript(() => BEDROCK_ERRORS.notFound);
    const err = await caught<UpstreamError>(() => createBedrockProvider(bedrockModel(TITAN), deps()).embed({ input: ['a'] }));
    expect(err).toMatchObject({ status: 502, reason: 'upstream_unexpected_status' });
    expect(bedrock.requests).toHaveLength(1);
  });

  it('a dropped connection is retried, then 502 upstream_network_error', async () => {
    bedrock.enqueue({ kind: 'reset' });
    const ok = await createBedrockProvider(bedrockModel(TITAN, { maxRetries: 1 }), deps()).embed({ input: ['a'] });
    expect(ok.upstream.attempts).toBe(2);
    const down = newClient(await deadEndpoint());
    try {
      const err = await caught<UpstreamError>(() =>
        createBedrockProvider(bedrockModel(TITAN, { maxRetries: 1 }), deps({ invoke: bedrockInvoke(down) })).embed({ input: ['a'] }),
      );
      expect(err).toMatchObject({ status: 502, reason: 'upstream_network_error' });
      expect(err.upstream).toMatchObject({ attempts: 2, status: undefined });
    } finally {
      down.destroy();
    }
  });

  it('a malformed Titan answer -> 502 upstream_invalid_response', async () => {
    bedrock.enqueue({ kind: 'json', body: { embedding: [1, 'x'] } });
    const err = await caught<UpstreamError>(() => createBedrockProvider(bedrockModel(TITAN), deps()).embed({ input: ['a'] }));
    expect(err).toMatchObject({ status: 502, reason: 'upstream_invalid_response' });
    expect(err.message).toMatch(/embedding\[1\] is not a finite number/);
  });

  it('a failing batch stops the others and the error carries the final stats', async () => {
    bedrock.setScript((req) =>
      (req.body as { inputText: string }).inputText === 'text number 2' ? BEDROCK_ERRORS.accessDenied : { kind: 'success', latencyMs: 10 },
    );
    const err = await caught<UpstreamError>(() =>
      createBedrockProvider(bedrockModel(TITAN, { concurrency: 2 }), deps()).embed({ input: texts(20) }),
    );
    expect(err).toMatchObject({ code: 'upstream_auth_failed' });
    expect(bedrock.requests.length).toBeLessThan(20);
    expect(err.upstream).toMatchObject({ status: 403, batches: 20 });
    // Attempts the provider started; the last may have been aborted before the fake saw it.
    expect(err.upstream.attempts).toBeGreaterThanOrEqual(bedrock.requests.length);
    expect(err.upstream.attempts).toBeLessThanOrEqual(bedrock.requests.length + 2);
  });

  it("the call's signal aborts in-flight calls -> 504 upstream_aborted", async () => {
    bedrock.setScript(() => ({ kind: 'hang' }));
    const controller = new AbortController();
    const p = caught<UpstreamError>(() =>
      createBedrockProvider(bedrockModel(TITAN), deps()).embed({ input: ['a', 'b'], signal: controller.signal }),
    );
    await waitFor(() => bedrock.requests.length >= 2);
    controller.abort(new Error('client went away'));
    const err = await p;
    expect(err).toMatchObject({ status: 504, reason: 'upstream_aborted' });
    expect(err.upstream.attempts).toBe(2);
  });
});

/** Poll until `cond` holds; fail after `ms` instead of spinning past the test timeout. */
async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}
