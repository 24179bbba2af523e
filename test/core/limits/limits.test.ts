/**
 * The limits stage with the in-memory counter store: exactness under concurrency, fixed windows
 * rolling over on a fake clock, principals independent, token reconciliation, in-flight leases,
 * fail modes, and the stage inside the Gateway (429 with Retry-After, recorded, nothing sent upstream).
 */
import { loadConfig, type GatewayConfig, type GatewayConfigInput } from '../../../shared/config';
import { GatewayError } from '../../../lambda/core/errors';
import { Gateway, type GatewayRequest } from '../../../lambda/core/gateway';
import type { Principal } from '../../../lambda/core/principal';
import type { Archive, EmbeddingCall, EmbeddingProvider, EmbeddingResult } from '../../../lambda/core/ports';
import type { SessionRecord } from '../../../lambda/core/record';
import {
  alongsideLimits,
  effectiveRateLimits,
  estimateTokens,
  RateLimiter,
  scopeKey,
  windowKey,
  type LimitEvent,
  type LimitsRequest,
} from '../../../lambda/core/limits/stage';
import type { LimitStore } from '../../../lambda/core/limits/ports';
import { InMemoryLimitStore } from '../../../lambda/adapters/local/memory-limits';
import { InMemoryRevocationList } from '../../../lambda/adapters/local/revocations';

const T0 = Date.parse('2026-11-29T10:00:00.000Z');
const ALICE = { issuer: 'https://idp.example.com', subject: 'svc-alice', clientId: 'alice-app' };
const BOB = { ...ALICE, subject: 'svc-bob', clientId: 'bob-app' };

function doc(rateLimits: Record<string, unknown>, gateway: Record<string, unknown> = {}): GatewayConfigInput {
  return {
    issuers: [{ id: 'corp', issuer: ALICE.issuer, audiences: 'embedgate', jwksUri: 'https://idp.example.com/jwks' }],
    models: [
      { name: 'small', provider: 'local', dimensions: 8 },
      { name: 'large', provider: 'local', dimensions: 8 },
    ],
    policy: {
      rules: [
        { id: 'all', effect: 'allow', models: '*', rateLimits },
        { id: 'plain', effect: 'allow', match: { subject: 'svc-plain' } },
      ],
    },
    gateway: gateway as GatewayConfigInput['gateway'],
  } as GatewayConfigInput;
}

function limiter(rateLimits: Record<string, unknown>, opts: { gateway?: Record<string, unknown>; store?: LimitStore } = {}) {
  const config = loadConfig(doc(rateLimits, opts.gateway));
  const clock = {
    t: T0,
    now() {
      return this.t;
    },
  };
  const store = opts.store ?? new InMemoryLimitStore();
  const events: LimitEvent[] = [];
  const rl = new RateLimiter({ config, store, clock, onEvent: (e) => events.push(e) });
  let n = 0;
  const req = (over: Partial<LimitsRequest> = {}): LimitsRequest => ({
    principal: ALICE,
    ruleId: 'all',
    model: 'small',
    items: 1,
    estimatedTokens: 10,
    sessionId: `s-${n++}`,
    ...over,
  });
  return { rl, clock, store, events, req, config };
}

/** Admit `n` requests at once; how many were admitted and the refusals. */
async function burst(rl: RateLimiter, reqs: LimitsRequest[]) {
  const results = await Promise.allSettled(reqs.map((r) => rl.admit(r)));
  const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as GatewayError);
  return { admitted: results.length - refused.length, refused };
}

describe('configuration', () => {
  it('a rule overrides the gateway default field by field; none anywhere means no limits', () => {
    const { config } = limiter({ requestsPerMinute: 5 }, { gateway: { rateLimits: { requestsPerSecond: 2, requestsPerMinute: 100 } } });
    expect(effectiveRateLimits(config, 'all')).toEqual({ requestsPerSecond: 2, requestsPerMinute: 5 });
    expect(effectiveRateLimits(config, 'plain')).toEqual({ requestsPerSecond: 2, requestsPerMinute: 100 });
    expect(effectiveRateLimits(limiter({}).config, 'all')).toBeNull();
  });

  it('fails when a deny rule sets rateLimits, or a value is not a positive integer, or per names an unknown key', () => {
    const bad = (rules: unknown[]) => () => loadConfig({ ...doc({}), policy: { rules } } as GatewayConfigInput);
    expect(bad([{ id: 'd', effect: 'deny', rateLimits: { requestsPerMinute: 1 } }])).toThrow(/rateLimits apply to allow rules only/);
    expect(bad([{ id: 'a', effect: 'allow', rateLimits: { requestsPerMinute: 0 } }])).toThrow(/requestsPerMinute/);
    expect(bad([{ id: 'a', effect: 'allow', rateLimits: { per: ['ip'] } }])).toThrow(/rateLimits.per entries must be/);
    expect(() => loadConfig(doc({}, { rateLimitStoreFailMode: 'maybe' }))).toThrow(/rateLimitStoreFailMode must be "closed" or "open"/);
  });

  it('estimates tokens: one per 4 characters per text item (at least 1), the ids of token inputs', () => {
    expect(estimateTokens({ kind: 'text', items: ['abcd', 'abcde', ''] })).toBe(1 + 2 + 1);
    expect(estimateTokens({ kind: 'tokens', items: [[1, 2, 3], [4]] })).toBe(4);
  });

  it('scopes counters by issuer and subject, and by client id, rule or model only when `per` says so', () => {
    const base: LimitsRequest = { principal: ALICE, ruleId: 'r', model: 'm', items: 1, estimatedTokens: 1, sessionId: 's' };
    expect(scopeKey(base, [])).toBe(scopeKey({ ...base, model: 'other', ruleId: 'x', principal: { ...ALICE, clientId: 'c2' } }, []));
    expect(scopeKey(base, [])).not.toBe(scopeKey({ ...base, principal: BOB }, []));
    expect(scopeKey(base, [])).not.toBe(scopeKey({ ...base, principal: { ...ALICE, issuer: 'https://other.example.com' } }, []));
    expect(scopeKey(base, ['model'])).not.toBe(scopeKey({ ...base, model: 'other' }, ['model']));
    expect(scopeKey(base, ['rule'])).not.toBe(scopeKey({ ...base, ruleId: 'x' }, ['rule']));
    expect(scopeKey(base, ['clientId'])).not.toBe(scopeKey({ ...base, principal: { ...ALICE, clientId: 'c2' } }, ['clientId']));
  });
});

describe('exactness', () => {
  it('50 concurrent requests against 20 per minute: exactly 20 pass, 30 get 429 rate_limit_exceeded', async () => {
    const { rl, req } = limiter({ requestsPerMinute: 20 });
    const { admitted, refused } = await burst(
      rl,
      Array.from({ length: 50 }, () => req()),
    );
    expect(admitted).toBe(20);
    expect(refused).toHaveLength(30);
    for (const e of refused) {
      expect(e).toBeInstanceOf(GatewayError);
      expect(e).toMatchObject({ status: 429, code: 'rate_limit_exceeded', reason: 'rate_limit_requests_per_minute' });
    }
  });

  it('exact with a store that answers after 6 ms (every check interleaves with the others)', async () => {
    const { rl, req } = limiter({ requestsPerMinute: 20 }, { store: new InMemoryLimitStore({ latencyMs: 6 }) });
    expect(
      (
        await burst(
          rl,
          Array.from({ length: 50 }, () => req()),
        )
      ).admitted,
    ).toBe(20);
  });

  it('input items per minute count items, not requests; a request alone over the limit says so', async () => {
    const { rl, req } = limiter({ inputItemsPerMinute: 10 });
    expect((await burst(rl, [req({ items: 4 }), req({ items: 4 }), req({ items: 4 })])).admitted).toBe(2);
    await expect(rl.admit(req({ items: 2 }))).resolves.not.toBeNull();
    await expect(rl.admit(req({ items: 1 }))).rejects.toMatchObject({ reason: 'rate_limit_input_items_per_minute' });
    const big = limiter({ inputItemsPerMinute: 10 });
    await expect(big.rl.admit(big.req({ items: 11 }))).rejects.toThrow(
      /This request alone exceeds your limit of 10 input items per minute/,
    );
  });
});

describe('windows', () => {
  it('roll over: refused until the minute ends, with Retry-After the seconds left; admitted again after', async () => {
    const { rl, req, clock } = limiter({ requestsPerMinute: 2 });
    clock.t = T0 + 15_000;
    await rl.admit(req());
    await rl.admit(req());
    const e = (await rl.admit(req()).catch((x: unknown) => x)) as GatewayError;
    expect(e.status).toBe(429);
    expect(e.headers['retry-after']).toBe('45');
    clock.t = T0 + 59_999;
    await expect(rl.admit(req())).rejects.toMatchObject({ headers: { 'retry-after': '1' } });
    clock.t = T0 + 60_000;
    await expect(rl.admit(req())).resolves.not.toBeNull();
  });

  it('per second: the next second admits again', async () => {
    const { rl, req, clock } = limiter({ requestsPerSecond: 1 });
    await rl.admit(req());
    await expect(rl.admit(req())).rejects.toMatchObject({ reason: 'rate_limit_requests_per_second', headers: { 'retry-after': '1' } });
    clock.t += 1000;
    await expect(rl.admit(req())).resolves.not.toBeNull();
  });

  it('the daily token quota: 429 quota_exceeded until 00:00 UTC, a warning past 80 %', async () => {
    const { rl, req, clock, events } = limiter({ tokensPerDay: 100 });
    const a = (await rl.admit(req({ estimatedTokens: 70 })))!;
    expect(events).toEqual([]);
    await a.settle(79); // the upstream's usage replaces the estimate
    const b = (await rl.admit(req({ estimatedTokens: 5 })))!;
    expect(events).toEqual([{ kind: 'budget_warning', ruleId: 'all', used: 84, budget: 100, percent: 80 }]);
    await b.settle(5);
    const e = (await rl.admit(req({ estimatedTokens: 20 })).catch((x: unknown) => x)) as GatewayError;
    expect(e).toMatchObject({ status: 429, code: 'quota_exceeded', reason: 'quota_tokens_per_day' });
    expect(e.headers['retry-after']).toBe(String(14 * 3600));
    await expect(rl.admit(req({ estimatedTokens: 16 }))).resolves.not.toBeNull(); // exactly 100
    clock.t = Date.parse('2026-11-30T00:00:00.000Z');
    await expect(rl.admit(req({ estimatedTokens: 90 }))).resolves.not.toBeNull();
  });

  it('a request that gets no answer gives its estimated tokens back', async () => {
    const { rl, req } = limiter({ tokensPerMinute: 100 });
    const a = (await rl.admit(req({ estimatedTokens: 100 })))!;
    await expect(rl.admit(req({ estimatedTokens: 1 }))).rejects.toMatchObject({ reason: 'rate_limit_tokens_per_minute' });
    await a.settle(null);
    await expect(rl.admit(req({ estimatedTokens: 100 }))).resolves.not.toBeNull();
  });
});

describe('principals and scopes', () => {
  it('two principals are independent', async () => {
    const { rl, req } = limiter({ requestsPerMinute: 3 });
    const r = await burst(rl, [...Array.from({ length: 5 }, () => req()), ...Array.from({ length: 5 }, () => req({ principal: BOB }))]);
    expect(r.admitted).toBe(6);
  });

  it('per model: each model has its own counters; without per, models share them', async () => {
    const shared = limiter({ requestsPerMinute: 1 });
    await shared.rl.admit(shared.req({ model: 'small' }));
    await expect(shared.rl.admit(shared.req({ model: 'large' }))).rejects.toMatchObject({ status: 429 });
    const per = limiter({ requestsPerMinute: 1, per: ['model'] });
    await per.rl.admit(per.req({ model: 'small' }));
    await expect(per.rl.admit(per.req({ model: 'large' }))).resolves.not.toBeNull();
  });
});

describe('in flight', () => {
  it('at most maxInFlight at once; settling gives the place back; a crashed instance’s lease expires', async () => {
    const { rl, req, clock } = limiter({ maxInFlight: 2 });
    const r = await Promise.all([rl.admit(req()), rl.admit(req()), rl.admit(req()).catch((e: unknown) => e)]);
    expect(r[2]).toMatchObject({
      status: 429,
      code: 'rate_limit_exceeded',
      reason: 'rate_limit_in_flight',
      headers: { 'retry-after': '1' },
    });
    await r[0]!.settle(null);
    await r[0]!.settle(null); // once only
    await expect(rl.admit(req())).resolves.not.toBeNull();
    await expect(rl.admit(req())).rejects.toMatchObject({ reason: 'rate_limit_in_flight' });
    clock.t += 60_001; // the leases were never released (as if their instances crashed)
    await expect(rl.admit(req())).resolves.not.toBeNull();
  });

  it('a refused request takes no place and adds to no counter', async () => {
    const { rl, req } = limiter({ maxInFlight: 1, requestsPerMinute: 3 });
    const a = (await rl.admit(req()))!;
    await expect(rl.admit(req())).rejects.toMatchObject({ reason: 'rate_limit_in_flight' });
    await expect(rl.admit(req())).rejects.toMatchObject({ reason: 'rate_limit_in_flight' });
    await a.settle(null);
    await rl.admit(req()).then((x) => x!.settle(null));
    await rl.admit(req()).then((x) => x!.settle(null));
    await expect(rl.admit(req())).rejects.toMatchObject({ reason: 'rate_limit_requests_per_minute' });
  });
});

describe('store failures', () => {
  const broken: LimitStore = {
    acquire: async () => {
      throw new Error('ProvisionedThroughputExceeded');
    },
    adjust: async () => {
      throw new Error('down');
    },
    release: async () => {
      throw new Error('down');
    },
  };

  it('closed (the default): 503 rate_limits_unavailable, the error reported', async () => {
    const { rl, req, events } = limiter({ requestsPerMinute: 5 }, { store: broken });
    await expect(rl.admit(req())).rejects.toMatchObject({ status: 503, code: 'rate_limits_unavailable', headers: { 'retry-after': '1' } });
    expect(events).toMatchObject([{ kind: 'store_error', during: 'acquire', failMode: 'closed' }]);
  });

  it('open: admitted uncounted, the error reported', async () => {
    const { rl, req, events } = limiter({ requestsPerMinute: 5 }, { store: broken, gateway: { rateLimitStoreFailMode: 'open' } });
    await expect(rl.admit(req())).resolves.toBeNull();
    expect(events).toMatchObject([{ kind: 'store_error', during: 'acquire', failMode: 'open' }]);
  });

  it('settle never rejects: its store errors are reported', async () => {
    const store = new InMemoryLimitStore();
    const { rl, req, events } = limiter({ maxInFlight: 1, tokensPerMinute: 50 }, { store });
    const a = (await rl.admit(req()))!;
    store.release = broken.release;
    store.adjust = broken.adjust;
    await expect(a.settle(3)).resolves.toBeUndefined();
    expect(events.map((e) => e.kind)).toEqual(['store_error', 'store_error']);
  });
});

describe('alongsideLimits', () => {
  it('a refusal wins over the work’s error; a work error settles the admission', async () => {
    const refusal = new GatewayError('no', { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    await expect(alongsideLimits(Promise.reject(new Error('mask')), Promise.reject(refusal))).rejects.toBe(refusal);
    const settle = jest.fn(async () => undefined);
    await expect(alongsideLimits(Promise.reject(new Error('mask')), Promise.resolve({ settle }))).rejects.toThrow('mask');
    expect(settle).toHaveBeenCalledWith(null);
    await expect(alongsideLimits(Promise.resolve('x'), undefined)).resolves.toEqual(['x', null]);
  });
});

// ---- inside the gateway -----------------------------------------------------------------------

const PRINCIPALS: Record<string, Principal> = {
  'tok.alice': { issuerId: 'corp', ...ALICE, groups: [], scopes: [], tokenId: null, expiresAt: null },
  'tok.bob': { issuerId: 'corp', ...BOB, groups: [], scopes: [], tokenId: null, expiresAt: null },
};

function gatewaySetup(rateLimits: Record<string, unknown>) {
  const config: GatewayConfig = loadConfig(doc(rateLimits));
  const records: SessionRecord[] = [];
  const calls: EmbeddingCall[] = [];
  const archive: Archive = { put: async (r) => (records.push(r), { key: r.session_id }) };
  const provider: EmbeddingProvider = {
    kind: 'fake',
    async embed(call): Promise<EmbeddingResult> {
      calls.push(call);
      return {
        vectors: call.input.map(() => Float32Array.of(1, 0)),
        usage: { promptTokens: 30, totalTokens: 30 },
        upstream: { status: 200, latencyMs: 1, attempts: 1, batches: 1 },
      };
    },
  };
  const clock = { now: () => T0 + 30_000 };
  const store = new InMemoryLimitStore();
  let n = 0;
  const gateway = new Gateway({
    config,
    verifier: { verify: async (t) => PRINCIPALS[t]! },
    provider: () => provider,
    archive,
    revocations: new InMemoryRevocationList(),
    clock,
    ids: { sessionId: () => `0190a1b2-0000-7000-8000-${String(n++).padStart(12, '0')}` },
    limits: new RateLimiter({ config, store, clock }),
  });
  const post = (token: string, body: unknown): GatewayRequest => ({
    method: 'POST',
    path: '/v1/embeddings',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    rawQueryString: '',
    body: JSON.stringify(body),
    isBase64Encoded: false,
    requestId: null,
    sourceIp: null,
  });
  return { gateway, records, calls, store, post, config };
}

describe('the limits stage in the gateway', () => {
  it('over the limit: 429 with Retry-After and the OpenAI error, recorded with its reason, nothing sent upstream', async () => {
    const { gateway, records, calls, post } = gatewaySetup({ requestsPerMinute: 2 });
    const answers = await Promise.all(Array.from({ length: 5 }, () => gateway.handle(post('tok.alice', { model: 'small', input: 'hi' }))));
    expect(answers.map((a) => a.response.status).sort()).toEqual([200, 200, 429, 429, 429]);
    const refused = answers.find((a) => a.response.status === 429)!;
    expect(refused.response.headers['retry-after']).toBe('30');
    expect(JSON.parse(refused.response.body)).toEqual({
      error: {
        message: 'Rate limit of 2 requests per minute reached; retry after 30 s.',
        type: 'rate_limit_error',
        code: 'rate_limit_exceeded',
        param: null,
      },
    });
    expect(calls).toHaveLength(2);
    expect(records.filter((r) => r.decision.reason === 'rate_limit_requests_per_minute')).toHaveLength(3);
    expect(refused.record.decision).toMatchObject({ outcome: 'error', status: 429, rule_id: 'all' });
    // Bob is not affected by Alice's limit.
    expect((await gateway.handle(post('tok.bob', { model: 'small', input: 'hi' }))).response.status).toBe(200);
  });

  it('counts the upstream’s token usage (not the estimate) and releases the in-flight place when the request ends', async () => {
    const { gateway, store, post, config } = gatewaySetup({ tokensPerMinute: 100, maxInFlight: 1 });
    const ok = await gateway.handle(post('tok.alice', { model: 'small', input: 'x'.repeat(40) }));
    expect(ok.response.status).toBe(200);
    const scope = scopeKey(
      { principal: ALICE, ruleId: 'all', model: 'small', items: 1, estimatedTokens: 0, sessionId: '' },
      effectiveRateLimits(config, 'all')!.per,
    );
    expect(store.counts(windowKey(scope, 60_000, Math.floor((T0 + 30_000) / 60_000)))).toEqual({ tokens: 30 });
    // The place was released: the next request is admitted.
    expect((await gateway.handle(post('tok.alice', { model: 'small', input: 'again' }))).response.status).toBe(200);
  });

  it('an invalid request is refused before it counts', async () => {
    const { gateway, post, calls } = gatewaySetup({ requestsPerMinute: 1 });
    expect((await gateway.handle(post('tok.alice', { model: 'small' }))).response.status).toBe(400);
    expect((await gateway.handle(post('tok.alice', { model: 'small', input: 'hi' }))).response.status).toBe(200);
    expect(calls).toHaveLength(1);
  });
});
