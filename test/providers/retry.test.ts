import type { UpstreamError } from '../../lambda/core/errors';
import { createProvider } from '../../lambda/providers';
import type { ProviderDeps } from '../../lambda/providers';
import { backoffDelay, defaultSleep, parseRetryAfter, upstreamMessage } from '../../lambda/providers/retry';
import { fakeEmbedding, startFakeUpstream } from '../support/fake-upstream';
import type { FakeUpstream } from '../support/fake-upstream';
import { caught, fakeSecrets, instantDeps, modelConfig, UPSTREAM_KEY } from './fixtures';

let upstream: FakeUpstream;

beforeAll(async () => {
  upstream = await startFakeUpstream({ dimensions: 4 });
});
afterEach(() => upstream.reset());
afterAll(() => upstream.close());

function provider(
  upstreamOpts: { maxRetries?: number; timeoutMs?: number; maxBatchSize?: number; concurrency?: number } = {},
  deps: ProviderDeps = instantDeps(),
) {
  return createProvider(modelConfig({ baseUrl: upstream.url, upstream: { maxRetries: 2, ...upstreamOpts } }), deps);
}

describe('parseRetryAfter', () => {
  const now = Date.UTC(2030, 0, 1, 12, 0, 0);
  it.each([
    ['2', 2000],
    [' 0 ', 0],
    ['1.5', 1500],
    [new Date(now + 4000).toUTCString(), 4000],
    [new Date(now - 60_000).toUTCString(), 0],
  ])('%j -> %d ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });
  it.each([[null], [undefined], [''], ['-1'], ['soon'], ['1e3']])('%j -> undefined', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  it('is full jitter over an exponential window from 100 ms, capped at 2 s', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map((r) => backoffDelay(r, () => 0.5))).toEqual([50, 100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(0, () => 0)).toBe(0);
    expect(backoffDelay(10, () => 0.9999)).toBe(1999);
  });
});

describe('defaultSleep', () => {
  it('rejects with the reason as soon as the signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const sleeping = defaultSleep(10_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(defaultSleep(1)).resolves.toBeUndefined();
  });
});

describe('retries', () => {
  it.each([429, 500, 502, 503, 504])('retries after %d and then succeeds', async (status) => {
    upstream.enqueue({ kind: 'status', status });
    const deps = instantDeps();
    const result = await provider({}, deps).embed({ input: ['a'] });
    expect(upstream.requests).toHaveLength(2);
    expect(result.upstream).toMatchObject({ status: 200, attempts: 2, batches: 1 });
    expect(Array.from(result.vectors[0]!)).toEqual(Array.from(fakeEmbedding('a', 4)));
    // Full jitter with random() = 0.5: half of the 100 ms base.
    expect(deps.sleeps).toEqual([50]);
  });

  it('retries after a connection reset', async () => {
    upstream.enqueue({ kind: 'reset' }, { kind: 'reset' });
    const deps = instantDeps();
    const result = await provider({}, deps).embed({ input: ['a'] });
    expect(result.upstream).toMatchObject({ status: 200, attempts: 3 });
    expect(deps.sleeps).toEqual([50, 100]);
  });

  it('gives up after maxRetries: 5xx -> 502 upstream_5xx with the stats of every attempt', async () => {
    upstream.setBehaviour({ kind: 'status', status: 503 });
    const deps = instantDeps();
    const err = await caught<UpstreamError>(() => provider({ maxRetries: 3 }, deps).embed({ input: ['a'] }));
    expect(err).toMatchObject({ status: 502, type: 'upstream_error', code: 'upstream_unavailable', reason: 'upstream_5xx' });
    expect(err.upstream).toMatchObject({ status: 503, attempts: 4, batches: 1 });
    expect(upstream.requests).toHaveLength(4);
    expect(deps.sleeps).toEqual([50, 100, 200]);
  });

  it('gives up after maxRetries on network errors -> 502 upstream_network_error', async () => {
    upstream.setBehaviour({ kind: 'reset' });
    const err = await caught<UpstreamError>(() => provider({ maxRetries: 1 }).embed({ input: ['a'] }));
    expect(err).toMatchObject({ status: 502, code: 'upstream_unavailable', reason: 'upstream_network_error' });
    expect(err.upstream).toMatchObject({ attempts: 2, status: undefined });
  });

  it('maxRetries 0 makes exactly one attempt', async () => {
    upstream.setBehaviour({ kind: 'status', status: 500 });
    const err = await caught<UpstreamError>(() => provider({ maxRetries: 0 }).embed({ input: ['a'] }));
    expect(err.upstream.attempts).toBe(1);
    expect(upstream.requests).toHaveLength(1);
  });

  it('429 after the last retry -> 429 rate_limit_error with Retry-After passed on', async () => {
    upstream.setBehaviour({ kind: 'status', status: 429, retryAfter: '1' });
    const deps = instantDeps();
    const err = await caught<UpstreamError>(() => provider({ maxRetries: 2 }, deps).embed({ input: ['a'] }));
    expect(err).toMatchObject({ status: 429, type: 'rate_limit_error', code: 'upstream_rate_limited', headers: { 'retry-after': '1' } });
    expect(err.upstream).toMatchObject({ status: 429, attempts: 3 });
    expect(deps.sleeps).toEqual([1000, 1000]);
  });

  it('429 without Retry-After -> 429 with no retry-after header', async () => {
    upstream.setBehaviour({ kind: 'status', status: 429 });
    const err = await caught<UpstreamError>(() => provider({ maxRetries: 0 }).embed({ input: ['a'] }));
    expect(err.status).toBe(429);
    expect(err.headers).toEqual({});
  });

  it('counts attempts over all batches', async () => {
    // Every batch fails once, then succeeds.
    const failed = new Set<string>();
    upstream.setScript((req) => {
      const first = (req.body as { input: string[] }).input[0]!;
      if (failed.has(first)) return undefined;
      failed.add(first);
      return { kind: 'status', status: 502 };
    });
    const result = await provider({ maxBatchSize: 2, concurrency: 2 }).embed({ input: ['a', 'b', 'c', 'd', 'e'] });
    expect(result.upstream).toMatchObject({ status: 200, attempts: 6, batches: 3 });
    expect(result.vectors.map((v) => Array.from(v))).toEqual(['a', 'b', 'c', 'd', 'e'].map((s) => Array.from(fakeEmbedding(s, 4))));
  });
});

describe('Retry-After', () => {
  it('waits the seconds the upstream asks for instead of the backoff', async () => {
    upstream.enqueue({ kind: 'status', status: 429, retryAfter: '3' });
    const deps = instantDeps();
    const result = await provider({}, deps).embed({ input: ['a'] });
    expect(deps.sleeps).toEqual([3000]);
    expect(result.upstream.attempts).toBe(2);
  });

  it('understands an HTTP-date, relative to deps.now', async () => {
    const now = Date.UTC(2030, 5, 1, 8, 0, 0);
    upstream.enqueue({ kind: 'status', status: 503, retryAfter: new Date(now + 2000).toUTCString() });
    const deps = instantDeps({ now: () => now });
    await provider({}, deps).embed({ input: ['a'] });
    expect(deps.sleeps).toEqual([2000]);
  });

  it('over the 5 s cap: no wait, no retry, 429 with Retry-After for the client', async () => {
    upstream.enqueue({ kind: 'status', status: 429, retryAfter: '60' });
    const deps = instantDeps();
    const err = await caught<UpstreamError>(() => provider({ maxRetries: 5 }, deps).embed({ input: ['a'] }));
    expect(err).toMatchObject({ status: 429, code: 'upstream_rate_limited', headers: { 'retry-after': '60' } });
    expect(err.upstream.attempts).toBe(1);
    expect(deps.sleeps).toEqual([]);
    expect(upstream.requests).toHaveLength(1);
  });

  it('a 503 asking for longer than the cap fails at once with 502', async () => {
    upstream.enqueue({ kind: 'status', status: 503, retryAfter: '120' });
    const deps = instantDeps();
    const err = await caught<UpstreamError>(() => provider({ maxRetries: 5 }, deps).embed({ input: ['a'] }));
    expect(err).toMatchObject({ status: 502, reason: 'upstream_5xx', headers: {} });
    expect(deps.sleeps).toEqual([]);
  });
});

describe('timeouts and cancellation', () => {
  it('a hanging upstream times out per attempt -> 504 upstream_timeout after the retries', async () => {
    upstream.setBehaviour({ kind: 'hang' });
    const deps = instantDeps();
    const started = Date.now();
    const err = await caught<UpstreamError>(() => provider({ timeoutMs: 100, maxRetries: 1 }, deps).embed({ input: ['a'] }));
    expect(err).toMatchObject({ status: 504, type: 'upstream_error', code: 'upstream_timeout', reason: 'upstream_timeout' });
    expect(err.upstream).toMatchObject({ attempts: 2, status: undefined });
    expect(err.upstream.latencyMs).toBeGreaterThanOrEqual(150);
    expect(upstream.requests).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a slow success within the timeout is not retried', async () => {
    upstream.setBehaviour({ kind: 'success', latencyMs: 30 });
    const result = await provider({ timeoutMs: 2000 }).embed({ input: ['a'] });
    expect(result.upstream.attempts).toBe(1);
  });

  it.each([0, 5])('stops at once when the call signal aborts during a request (maxRetries %d)', async (maxRetries) => {
    upstream.setBehaviour({ kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('client gone')), 50);
    const started = Date.now();
    const err = await caught<UpstreamError>(() =>
      provider({ timeoutMs: 10_000, maxRetries }).embed({ input: ['a'], signal: controller.signal }),
    );
    expect(err).toMatchObject({ status: 504, reason: 'upstream_aborted' });
    expect(err.upstream.attempts).toBe(1);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('stops at once when the call signal aborts during a backoff wait', async () => {
    upstream.setBehaviour({ kind: 'status', status: 503 });
    const controller = new AbortController();
    const sleeps: number[] = [];
    const deps = instantDeps({
      sleep: (ms, signal) => {
        sleeps.push(ms);
        controller.abort(new Error('deadline'));
        return defaultSleep(60_000, signal);
      },
    });
    const err = await caught<UpstreamError>(() => provider({ maxRetries: 5 }, deps).embed({ input: ['a'], signal: controller.signal }));
    expect(err.reason).toBe('upstream_aborted');
    expect(sleeps).toHaveLength(1);
    expect(upstream.requests).toHaveLength(1);
  });

  it('does not start when the signal is already aborted', async () => {
    const err = await caught<UpstreamError>(() => provider().embed({ input: ['a'], signal: AbortSignal.abort() }));
    expect(err.reason).toBe('upstream_aborted');
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('non-retried upstream errors', () => {
  it.each([401, 403])('%d -> 502 upstream_auth_failed, not retried, no upstream text and no key in the error', async (status) => {
    upstream.setBehaviour({
      kind: 'status',
      status,
      body: { error: { message: `Incorrect API key provided: ${UPSTREAM_KEY}`, type: 'invalid_request_error', code: 'invalid_api_key' } },
    });
    const err = await caught<UpstreamError>(() => provider().embed({ input: ['a'] }));
    expect(err).toMatchObject({ status: 502, type: 'upstream_error', code: 'upstream_auth_failed', reason: 'upstream_auth_failed' });
    expect(err.upstream).toMatchObject({ status, attempts: 1 });
    expect(upstream.requests).toHaveLength(1);
    expect(err.message).not.toMatch(/Incorrect API key/);
    expect(err.message).not.toContain(UPSTREAM_KEY);
    expect(JSON.stringify(err.toBody())).not.toContain(UPSTREAM_KEY);
    expect(JSON.stringify(err.headers)).not.toContain(UPSTREAM_KEY);
  });

  it('400 -> 400 upstream_rejected_request with the upstream message, not retried', async () => {
    upstream.setBehaviour({
      kind: 'status',
      status: 400,
      body: {
        error: { message: 'This model does not support specifying dimensions.', type: 'invalid_request_error', param: null, code: null },
      },
    });
    const deps = instantDeps();
    const err = await caught<UpstreamError>(() => provider({}, deps).embed({ input: ['a'], dimensions: 4 }));
    expect(err).toMatchObject({ status: 400, type: 'invalid_request_error', code: 'upstream_rejected_request' });
    expect(err.message).toBe('The upstream provider rejected the request: This model does not support specifying dimensions.');
    expect(err.upstream).toMatchObject({ status: 400, attempts: 1 });
    expect(deps.sleeps).toEqual([]);
    expect(upstream.requests).toHaveLength(1);
  });

  it('400 messages are truncated to 200 characters and never carry the key', async () => {
    const long = `bad input near ${UPSTREAM_KEY} ${'x'.repeat(500)}`;
    upstream.setBehaviour({ kind: 'status', status: 400, body: { error: { message: long } } });
    const err = await caught<UpstreamError>(() => provider().embed({ input: ['a'] }));
    const upstreamPart = err.message.replace('The upstream provider rejected the request: ', '');
    expect(upstreamPart.length).toBe(200);
    expect(upstreamPart.startsWith('bad input near [redacted] xxx')).toBe(true);
    expect(err.message).not.toContain(UPSTREAM_KEY);
  });

  it.each([422, 404, 413])('other 4xx (%d) map to 400 too', async (status) => {
    upstream.setBehaviour({ kind: 'status', status, body: { error: 'Input validation error: inputs must have less than 512 tokens' } });
    const err = await caught<UpstreamError>(() => provider().embed({ input: ['a'] }));
    expect(err).toMatchObject({ status: 400, code: 'upstream_rejected_request' });
    expect(err.upstream).toMatchObject({ status, attempts: 1 });
    expect(err.message).toMatch(/Input validation error: inputs must have less than 512 tokens$/);
  });

  it('a redirect is neither followed nor retried (it would carry the key elsewhere)', async () => {
    upstream.setBehaviour({ kind: 'json', status: 307, body: {}, headers: { location: 'http://127.0.0.1:9/steal' } });
    const err = await caught<UpstreamError>(() => provider().embed({ input: ['a'] }));
    expect(err).toMatchObject({ status: 502, reason: 'upstream_unexpected_status' });
    expect(err.upstream).toMatchObject({ status: 307, attempts: 1 });
  });

  it('a failing secret store -> 502 upstream_credentials_unavailable, no request sent', async () => {
    const deps = instantDeps({ secrets: fakeSecrets(new Error('secret embedgate/openai not found')) });
    const err = await caught<UpstreamError>(() => provider({}, deps).embed({ input: ['a'] }));
    expect(err).toMatchObject({ status: 502, type: 'upstream_error', code: 'upstream_credentials_unavailable' });
    expect(err.message).not.toMatch(/embedgate\/openai/);
    expect(err.upstream).toMatchObject({ attempts: 0, status: undefined });
    expect(upstream.requests).toHaveLength(0);
  });

  it('one failing batch stops the others and reports attempts of all', async () => {
    upstream.setScript((req) =>
      (req.body as { input: string[] }).input.includes('bad') ? { kind: 'status', status: 400, latencyMs: 20 } : { kind: 'hang' },
    );
    const err = await caught<UpstreamError>(() =>
      provider({ maxBatchSize: 1, concurrency: 2, timeoutMs: 10_000 }).embed({ input: ['ok', 'bad', 'later', 'later2'] }),
    );
    expect(err).toMatchObject({ status: 400, code: 'upstream_rejected_request' });
    // Batches 0 and 1 ran; batch 0 (hanging) was aborted; batches 2 and 3 never started.
    expect(upstream.requests).toHaveLength(2);
    expect(err.upstream).toMatchObject({ attempts: 2, batches: 4, status: 400 });
  });

  it('waits for aborted sibling batches before failing, and reports the final stats with the failing status', async () => {
    // A fetch whose "slow" request ignores the abort for 80 ms and then still answers 200 (so the
    // last response of the call is a 200 that arrived after the failing 400).
    let siblingSettledAt = 0;
    const fetchFake: typeof fetch = async (_url, init) => {
      const input = (JSON.parse(String(init?.body)) as { input: string[] }).input[0];
      if (input === 'bad') {
        await new Promise((r) => setTimeout(r, 40));
        return new Response(JSON.stringify({ error: { message: 'nope' } }), { status: 400 });
      }
      if (input === 'ok') return new Response(JSON.stringify({ data: [{ index: 0, embedding: [1, 2] }] }), { status: 200 });
      return new Promise<Response>((resolve) =>
        init!.signal!.addEventListener('abort', () =>
          setTimeout(() => {
            siblingSettledAt = Date.now();
            resolve(new Response(JSON.stringify({ data: [{ index: 0, embedding: [1, 2] }] }), { status: 200 }));
          }, 80),
        ),
      );
    };
    const started = Date.now();
    const err = await caught<UpstreamError>(() =>
      provider({ maxBatchSize: 1, concurrency: 3, timeoutMs: 10_000 }, instantDeps({ fetch: fetchFake })).embed({
        input: ['slow', 'bad', 'ok'],
      }),
    );
    const settled = Date.now();
    expect(err).toMatchObject({ status: 400, code: 'upstream_rejected_request' });
    expect(siblingSettledAt).toBeGreaterThan(0);
    expect(settled).toBeGreaterThanOrEqual(siblingSettledAt);
    // Latency covers the sibling's wind-down (about 40 + 80 ms), not just the failing request.
    expect(err.upstream.latencyMs).toBeGreaterThanOrEqual(100);
    expect(err.upstream.latencyMs).toBeLessThanOrEqual(settled - started + 5);
    expect(err.upstream).toMatchObject({ attempts: 3, batches: 3, status: 400 });
  });
});

describe('upstreamMessage', () => {
  const id = (s: string): string => s;
  it.each([
    ['OpenAI', { error: { message: 'm1' } }, 'm1'],
    ['TEI / Ollama', { error: 'm2' }, 'm2'],
    ['vLLM', { object: 'error', message: 'm3' }, 'm3'],
    ['FastAPI', { detail: 'm4' }, 'm4'],
    ['nothing', { foo: 1 }, 'no message'],
  ])('reads the %s error shape', (_shape, body, message) => {
    expect(upstreamMessage(JSON.stringify(body), id)).toBe(message);
  });
  it('uses non-JSON text as one line', () => {
    expect(upstreamMessage('Bad\n  Request', id)).toBe('Bad Request');
  });
});
