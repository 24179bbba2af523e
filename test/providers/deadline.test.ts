/**
 * The request's deadline (EmbeddingCall.deadline): every batch and every retry share it; upstream
 * calls still running then are aborted; the failure is a 504 `deadline_exceeded`.
 */
import type { UpstreamError } from '../../lambda/core/errors';
import { createProvider } from '../../lambda/providers';
import { DeadlineExceeded, runWithConcurrency } from '../../lambda/providers/batching';
import { defaultSleep, upstreamFailure } from '../../lambda/providers/retry';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';
import { caught, fakeSecrets, modelConfig } from './fixtures';

let upstream: FakeUpstream;
beforeAll(async () => {
  upstream = await startFakeUpstream({ dimensions: 4 });
});
afterEach(() => upstream.reset());
afterAll(() => upstream.close());

const realDeps = () => ({ secrets: fakeSecrets(), sleep: defaultSleep, random: () => 0.5, now: Date.now });

describe('deadline in batches', () => {
  it('aborts running workers at the deadline with DeadlineExceeded, and starts no new task', async () => {
    const started: number[] = [];
    const t0 = Date.now();
    const err = await runWithConcurrency(
      [1, 2, 3, 4],
      1,
      (task, _i, signal) =>
        new Promise((_resolve, reject) => {
          started.push(task);
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        }),
      undefined,
      Date.now() + 150,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeadlineExceeded);
    expect(started).toEqual([1]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('a deadline already past starts nothing', async () => {
    let calls = 0;
    const err = await runWithConcurrency([1], 1, async () => ++calls, undefined, Date.now() - 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeadlineExceeded);
    expect(calls).toBe(0);
  });

  it('an abort caused by the deadline maps to 504 deadline_exceeded, any other abort stays upstream_aborted', () => {
    const stats = { latencyMs: 0, attempts: 1, batches: 1 };
    expect(upstreamFailure('aborted', stats, { cause: new DeadlineExceeded(1) })).toMatchObject({
      status: 504,
      reason: 'deadline_exceeded',
    });
    expect(upstreamFailure('aborted', stats, { cause: new Error('client went away') })).toMatchObject({
      status: 504,
      reason: 'upstream_aborted',
    });
  });
});

describe('deadline in the OpenAI-compatible provider', () => {
  it('a hanging upstream is cut at the deadline, well before its per-attempt timeout x attempts', async () => {
    upstream.setBehaviour({ kind: 'hang' });
    const p = createProvider(modelConfig({ baseUrl: upstream.url, upstream: { maxRetries: 2, timeoutMs: 10_000 } }), realDeps());
    const t0 = Date.now();
    const e = await caught<UpstreamError>(() => p.embed({ input: ['a'], deadline: Date.now() + 400 }));
    const took = Date.now() - t0;
    expect(e).toMatchObject({ status: 504, code: 'upstream_timeout', reason: 'deadline_exceeded' });
    expect(e.message).toMatch(/ran out of time/);
    expect(e.upstream.attempts).toBe(1);
    expect(took).toBeGreaterThanOrEqual(380);
    expect(took).toBeLessThan(2000);
  });

  it('retries share the deadline: attempts that time out are retried only while time is left', async () => {
    upstream.setBehaviour({ kind: 'hang' });
    const p = createProvider(modelConfig({ baseUrl: upstream.url, upstream: { maxRetries: 5, timeoutMs: 200 } }), realDeps());
    const t0 = Date.now();
    const e = await caught<UpstreamError>(() => p.embed({ input: ['a'], deadline: Date.now() + 700 }));
    expect(e.reason).toBe('deadline_exceeded');
    expect(e.upstream.attempts).toBeGreaterThanOrEqual(2);
    expect(e.upstream.attempts).toBeLessThan(6);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('batches share the deadline: all batches in flight are aborted at once', async () => {
    upstream.setBehaviour({ kind: 'hang' });
    const p = createProvider(
      modelConfig({ baseUrl: upstream.url, upstream: { maxRetries: 0, timeoutMs: 10_000, maxBatchSize: 1, concurrency: 3 } }),
      realDeps(),
    );
    const t0 = Date.now();
    const e = await caught<UpstreamError>(() => p.embed({ input: ['a', 'b', 'c', 'd', 'e', 'f'], deadline: Date.now() + 300 }));
    expect(e.reason).toBe('deadline_exceeded');
    expect(e.upstream).toMatchObject({ attempts: 3, batches: 6 });
    expect(Date.now() - t0).toBeLessThan(2000);
    // Nothing is left running upstream once the call settled.
    await new Promise((r) => setTimeout(r, 100));
    expect(upstream.inFlight).toBe(0);
  });

  it('a Retry-After reaching past the deadline is not waited for: the 429 goes to the client at once', async () => {
    upstream.enqueue({ kind: 'status', status: 429, retryAfter: '3' });
    const p = createProvider(modelConfig({ baseUrl: upstream.url, upstream: { maxRetries: 2, timeoutMs: 10_000 } }), realDeps());
    const t0 = Date.now();
    const e = await caught<UpstreamError>(() => p.embed({ input: ['a'], deadline: Date.now() + 1000 }));
    expect(e).toMatchObject({ status: 429, reason: 'upstream_rate_limited' });
    expect(e.headers['retry-after']).toBe('3');
    expect(Date.now() - t0).toBeLessThan(900);
  });

  it('with time left, the call succeeds as before', async () => {
    const p = createProvider(modelConfig({ baseUrl: upstream.url, upstream: { maxRetries: 0, timeoutMs: 10_000 } }), realDeps());
    const r = await p.embed({ input: ['a', 'b'], deadline: Date.now() + 5000 });
    expect(r.vectors).toHaveLength(2);
  });
});
