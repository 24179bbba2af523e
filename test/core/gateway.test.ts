import { loadConfig, type GatewayConfig, type GatewayConfigInput } from '../../shared/config';
import { GatewayError, UpstreamError, unauthenticated } from '../../lambda/core/errors';
import { Gateway, outcomeOf, type GatewayDeps, type GatewayRequest } from '../../lambda/core/gateway';
import type { Principal } from '../../lambda/core/principal';
import type { Archive, EmbeddingCall, EmbeddingProvider, EmbeddingResult, PiiDetector } from '../../lambda/core/ports';
import { lazyMasker } from '../../lambda/core/masking/runtime';
import { fingerprintVectors, type SessionRecord } from '../../lambda/core/record';
import { InMemoryRevocationList } from '../../lambda/adapters/local/revocations';

const INDEXER: Principal = {
  issuerId: 'corp',
  issuer: 'https://idp.example.com',
  subject: 'svc-indexer',
  clientId: 'indexer',
  groups: ['search-team'],
  scopes: ['embeddings'],
  tokenId: 'jti-1',
  expiresAt: 2_000_000_000,
};
const BOT: Principal = { ...INDEXER, subject: 'svc-bot', clientId: 'bot', groups: ['support'], tokenId: 'jti-2' };
const TOKENS: Record<string, Principal> = { 'tok.indexer.sig': INDEXER, 'tok.bot.sig': BOT };

const DOC: GatewayConfigInput = {
  issuers: [{ id: 'corp', issuer: 'https://idp.example.com', audiences: 'embedgate', jwksUri: 'https://idp.example.com/jwks' }],
  models: [
    { name: 'small', provider: 'local', dimensions: 8, limits: { maxInputs: 4, allowedDimensions: [4, 8] } },
    { name: 'large', provider: 'local', dimensions: 16 },
  ],
  policy: {
    rules: [
      { id: 'search-all', effect: 'allow', match: { groups: 'search-team' }, models: '*' },
      { id: 'support-small', effect: 'allow', match: { groups: 'support' }, models: 'small', limits: { maxInputs: 2 } },
    ],
  },
};

class MemoryArchive implements Archive {
  records: SessionRecord[] = [];
  fail = false;
  async put(record: SessionRecord) {
    if (this.fail) throw new Error('bucket unavailable');
    this.records.push(record);
    return { key: record.session_id };
  }
}

class FakeProvider implements EmbeddingProvider {
  readonly kind = 'fake';
  calls: EmbeddingCall[] = [];
  failWith: unknown;
  async embed(call: EmbeddingCall): Promise<EmbeddingResult> {
    this.calls.push(call);
    if (this.failWith) throw this.failWith;
    const dims = call.dimensions ?? 8;
    return {
      vectors: call.input.map((_, i) => Float32Array.from({ length: dims }, (_v, j) => (i + 1) / (j + 3))),
      usage: { promptTokens: 7, totalTokens: 7 },
      upstream: { status: 200, latencyMs: 12.5, attempts: 1, batches: 1 },
    };
  }
}

function setup(overrides: Partial<GatewayConfigInput> = {}) {
  const config: GatewayConfig = loadConfig({ ...DOC, ...overrides });
  const archive = new MemoryArchive();
  const provider = new FakeProvider();
  const revocations = new InMemoryRevocationList();
  let t = Date.parse('2026-11-29T10:00:00.000Z');
  let n = 0;
  const gateway = new Gateway({
    config,
    verifier: {
      async verify(token) {
        const p = TOKENS[token];
        if (!p) throw unauthenticated('The token signature is invalid.', 'bad_signature');
        return p;
      },
    },
    provider: () => provider,
    revocations,
    archive,
    clock: { now: () => (t += 1) },
    ids: { sessionId: () => `sess-${++n}` },
  });
  return { gateway, archive, provider, config, revocations };
}

function req(body: unknown, opts: Partial<GatewayRequest> & { token?: string | null } = {}): GatewayRequest {
  const token = opts.token === undefined ? 'tok.indexer.sig' : opts.token;
  return {
    method: 'POST',
    path: '/v1/embeddings',
    headers: { 'content-type': 'application/json', 'user-agent': 'test/1.0', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    rawQueryString: '',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
    requestId: 'req-1',
    sourceIp: '10.0.0.1',
    ...opts,
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are probed field by field
const parse = (body: string) => JSON.parse(body) as Record<string, any>;

describe('Gateway: allowed requests', () => {
  test('returns OpenAI-shaped float embeddings and writes one complete record', async () => {
    const { gateway, archive, config } = setup();
    const { response, record } = await gateway.handle(req({ model: 'small', input: ['a', 'bb'] }));
    expect(response.status).toBe(200);
    const body = parse(response.body);
    expect(body.object).toBe('list');
    expect(body.model).toBe('small');
    expect(body.data).toHaveLength(2);
    expect(body.data[1]).toEqual({ object: 'embedding', index: 1, embedding: expect.any(Array) });
    expect(body.data[1].embedding[0]).toBeCloseTo(2 / 3, 6);
    expect(body.usage).toEqual({ prompt_tokens: 7, total_tokens: 7 });

    expect(archive.records).toEqual([record]);
    expect(response.headers['x-embedgate-session-id']).toBe(record.session_id);
    expect(response.headers['server-timing']).toMatch(/^gateway;dur=\d+\.\d{2}, upstream;dur=12\.50$/);
    expect(record).toMatchObject({
      schema: 'embedgate.session.v1',
      principal: { issuer_id: 'corp', subject: 'svc-indexer', client_id: 'indexer', groups: ['search-team'], token_id: 'jti-1' },
      model: { name: 'small', provider: 'local', upstream_model: 'small' },
      decision: { outcome: 'allow', status: 200, reason: 'rule_allow', rule_id: 'search-all', policy_version: config.version },
      input: { kind: 'text', items: 2, characters: 3, encoding_format: 'float', dimensions: null },
      upstream: { status: 200, latency_ms: 12.5, attempts: 1, batches: 1 },
      usage: { prompt_tokens: 7, total_tokens: 7 },
      output: { vectors: 2, dimensions: 8 },
      request: { method: 'POST', path: '/v1/embeddings', request_id: 'req-1', source_ip: '10.0.0.1', user_agent: 'test/1.0' },
    });
    expect(record.timings.total_ms).toBeGreaterThan(0);
  });

  test('base64 encoding returns the same float32 values and the fingerprint covers them', async () => {
    const { gateway } = setup();
    const f = await gateway.handle(req({ model: 'small', input: 'hello' }));
    const b = await gateway.handle(req({ model: 'small', input: 'hello', encoding_format: 'base64' }));
    const floats = parse(f.response.body).data[0].embedding as number[];
    const buf = Buffer.from(parse(b.response.body).data[0].embedding as string, 'base64');
    const decoded = Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4));
    expect(decoded).toEqual(floats);
    expect(b.record.output!.fingerprint).toBe(fingerprintVectors([Float32Array.from(floats)]));
    expect(b.record.output!.fingerprint).toBe(f.record.output!.fingerprint);
  });

  test('passes dimensions and user to the provider, never the unknown fields', async () => {
    const { gateway, provider } = setup();
    await gateway.handle(req({ model: 'small', input: ['x'], dimensions: 4, user: 'u-1', extra: 'smuggled' }));
    expect(provider.calls).toEqual([{ input: ['x'], dimensions: 4, user: 'u-1', encodingFormat: 'float' }]);
  });

  test('GET /v1/models lists exactly the models the principal may use', async () => {
    const { gateway, archive } = setup();
    const all = await gateway.handle(req(undefined, { method: 'GET', path: '/v1/models', body: undefined }));
    expect(parse(all.response.body).data.map((m: { id: string }) => m.id)).toEqual(['small', 'large']);
    const bot = await gateway.handle(req(undefined, { method: 'GET', path: '/v1/models', body: undefined, token: 'tok.bot.sig' }));
    expect(parse(bot.response.body).data.map((m: { id: string }) => m.id)).toEqual(['small']);
    expect(archive.records.map((r) => r.decision.reason)).toEqual(['models_listed', 'models_listed']);
  });
});

describe('Gateway: refusals are answered in the OpenAI error shape and recorded', () => {
  test('a bad token gets 401, no provider call, and a record without principal or token', async () => {
    const { gateway, archive, provider } = setup();
    const { response, record } = await gateway.handle(req({ model: 'small', input: 'x' }, { token: 'tok.forged.sig' }));
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(parse(response.body).error).toMatchObject({ type: 'authentication_error', code: 'invalid_token' });
    expect(provider.calls).toHaveLength(0);
    expect(record).toMatchObject({ principal: null, decision: { outcome: 'deny', status: 401, reason: 'bad_signature' } });
    expect(JSON.stringify(archive.records)).not.toContain('tok.forged.sig');
  });

  test.each([
    ['a model the rules do not allow', 'tok.bot.sig', 'large', 'no_matching_rule', null],
    ['a model that does not exist (same answer, no enumeration)', 'tok.bot.sig', 'nope', 'model_unknown', null],
  ])('%s gets 403 model_not_allowed', async (_name, token, model, reason, rule) => {
    const { gateway, provider } = setup();
    const { response, record } = await gateway.handle(req({ model, input: 'x' }, { token }));
    expect(response.status).toBe(403);
    expect(parse(response.body).error).toEqual({
      message: `You are not allowed to use model "${model}".`,
      type: 'permission_error',
      code: 'model_not_allowed',
      param: 'model',
    });
    expect(record.decision).toMatchObject({ outcome: 'deny', reason, rule_id: rule });
    expect(provider.calls).toHaveLength(0);
  });

  test('an explicit deny rule is cited in the record', async () => {
    const { gateway } = setup({
      policy: { rules: [...DOC.policy.rules, { id: 'no-bots-large', effect: 'deny', match: { subject: 'svc-*' }, models: 'large' }] },
    });
    const { record } = await gateway.handle(req({ model: 'large', input: 'x' }));
    expect(record.decision).toMatchObject({ status: 403, reason: 'rule_deny', rule_id: 'no-bots-large' });
  });

  test('invalid bodies get 400 naming the param, recorded as invalid with the principal', async () => {
    const { gateway } = setup();
    const { response, record } = await gateway.handle(req({ model: 'small', input: [] }));
    expect(response.status).toBe(400);
    expect(parse(response.body).error).toMatchObject({ type: 'invalid_request_error', code: 'empty_input', param: 'input' });
    expect(record.decision).toMatchObject({ outcome: 'invalid', reason: 'empty_input' });
    expect(record.principal?.subject).toBe('svc-indexer');
  });

  test('rule limits tighten model limits: 422 too_many_inputs', async () => {
    const { gateway } = setup();
    const ok = await gateway.handle(req({ model: 'small', input: ['a', 'b', 'c'] }));
    expect(ok.response.status).toBe(200);
    const bot = await gateway.handle(req({ model: 'small', input: ['a', 'b', 'c'] }, { token: 'tok.bot.sig' }));
    expect(bot.response.status).toBe(422);
    expect(parse(bot.response.body).error).toMatchObject({ code: 'too_many_inputs', param: 'input' });
    expect(bot.record.decision).toMatchObject({ outcome: 'invalid', rule_id: 'support-small' });
  });

  test('unknown routes get 404 and wrong methods 405, both recorded', async () => {
    const { gateway, archive } = setup();
    expect((await gateway.handle(req(undefined, { path: '/v1/chat/completions' }))).response.status).toBe(404);
    const wrong = await gateway.handle(req(undefined, { method: 'GET' }));
    expect(wrong.response.status).toBe(405);
    expect(wrong.response.headers.allow).toBe('POST');
    expect(archive.records.map((r) => r.decision.reason)).toEqual(['route_not_found', 'method_not_allowed']);
  });

  test('a request rejected at the edge is only recorded', async () => {
    const { gateway, provider } = setup();
    const { response, record } = await gateway.handle(req({ model: 'small', input: 'x' }), {
      rejectedAtEdge: unauthenticated('The token has expired.', 'token_expired'),
    });
    expect(response.status).toBe(401);
    expect(record.decision.reason).toBe('token_expired');
    expect(provider.calls).toHaveLength(0);
  });
});

describe('Gateway: failures', () => {
  test('an upstream failure keeps its status and its upstream facts in the record', async () => {
    const { gateway, provider } = setup();
    provider.failWith = new UpstreamError('The upstream provider is unavailable.', {
      status: 502,
      type: 'upstream_error',
      code: 'upstream_unavailable',
      reason: 'upstream_5xx',
      upstream: { status: 503, latencyMs: 40, attempts: 3, batches: 1 },
    });
    const { response, record } = await gateway.handle(req({ model: 'small', input: 'x' }));
    expect(response.status).toBe(502);
    expect(record.decision).toMatchObject({ outcome: 'error', reason: 'upstream_5xx' });
    expect(record.upstream).toEqual({ status: 503, latency_ms: 40, attempts: 3, batches: 1 });
    expect(record.output).toBeNull();
  });

  test('an unexpected error gets a generic 500 body and is reported for logging', async () => {
    const { gateway, provider } = setup();
    provider.failWith = new Error('secret internal detail');
    const handled = await gateway.handle(req({ model: 'small', input: 'x' }));
    expect(handled.response.status).toBe(500);
    expect(handled.response.body).not.toContain('secret internal detail');
    expect(handled.internalError).toBe(provider.failWith);
    expect(handled.record.decision.reason).toBe('internal_error');
  });

  test('fail closed: when the archive refuses the record, 503 and no model output', async () => {
    const { gateway, archive } = setup();
    archive.fail = true;
    const handled = await gateway.handle(req({ model: 'small', input: 'x' }));
    expect(handled.response.status).toBe(503);
    expect(parse(handled.response.body).error.code).toBe('archive_unavailable');
    expect(handled.response.body).not.toContain('embedding');
    expect(handled.archiveError).toBeInstanceOf(Error);
  });

  test('fail open (opt-in): the response goes out although the record was lost', async () => {
    const { gateway, archive } = setup({ gateway: { archiveFailMode: 'open' } });
    archive.fail = true;
    const handled = await gateway.handle(req({ model: 'small', input: 'x' }));
    expect(handled.response.status).toBe(200);
    expect(handled.archiveError).toBeInstanceOf(Error);
  });

  test('every request writes exactly one record, with distinct session ids', async () => {
    const { gateway, archive } = setup();
    const bodies = [{ model: 'small', input: 'x' }, '{not json', { model: 'nope', input: 'x' }, { model: 'small', input: [] }];
    for (const b of bodies) await gateway.handle(req(b));
    await gateway.handle(req({ model: 'small', input: 'x' }, { token: null }));
    expect(archive.records).toHaveLength(5);
    expect(new Set(archive.records.map((r) => r.session_id)).size).toBe(5);
  });
});

describe('Gateway: revocation', () => {
  const revocation = { issuer: null, reason: 'incident 42', until: null, createdAt: 0, createdBy: 'ops' };

  test.each([
    ['subject', 'svc-indexer'],
    ['client', 'indexer'],
    ['token', 'jti-1'],
  ] as const)('a revoked %s gets 403 principal_revoked on every route, recorded with who tried', async (kind, value) => {
    const { gateway, revocations, provider } = setup();
    await revocations.put({ ...revocation, kind, value, issuer: kind === 'token' ? 'https://idp.example.com' : null });
    const embed = await gateway.handle(req({ model: 'small', input: 'x' }));
    expect(embed.response.status).toBe(403);
    expect(parse(embed.response.body).error).toMatchObject({ type: 'permission_error', code: 'principal_revoked' });
    expect(embed.record).toMatchObject({ decision: { outcome: 'deny', reason: `revoked_${kind}` }, principal: { subject: 'svc-indexer' } });
    const models = await gateway.handle(req(undefined, { method: 'GET', path: '/v1/models', body: undefined }));
    expect(models.response.status).toBe(403);
    expect(provider.calls).toHaveLength(0);
    // Others are not affected.
    expect((await gateway.handle(req({ model: 'small', input: 'x' }, { token: 'tok.bot.sig' }))).response.status).toBe(200);
  });

  test('a revocation for another issuer does not apply; an expired one no longer applies', async () => {
    const { gateway, revocations } = setup();
    await revocations.put({ ...revocation, kind: 'subject', value: 'svc-indexer', issuer: 'https://other.example.com' });
    await revocations.put({ ...revocation, kind: 'client', value: 'indexer', until: Date.parse('2026-01-01T00:00:00Z') });
    expect((await gateway.handle(req({ model: 'small', input: 'x' }))).response.status).toBe(200);
  });

  test('when the deny list cannot be read, the request fails closed with 503', async () => {
    const { gateway, revocations, provider } = setup();
    jest
      .spyOn(revocations, 'find')
      .mockRejectedValue(
        new GatewayError('The revocation list is unavailable.', { status: 503, type: 'server_error', code: 'revocation_list_unavailable' }),
      );
    const { response, record } = await gateway.handle(req({ model: 'small', input: 'x' }));
    expect(response.status).toBe(503);
    expect(record.decision.reason).toBe('revocation_list_unavailable');
    expect(provider.calls).toHaveLength(0);
  });
});

describe('Gateway: masking with an external detector (Comprehend) that is down', () => {
  const failing: PiiDetector = {
    name: 'comprehend',
    detect: async () => {
      throw new Error('ThrottlingException');
    },
  };
  const withMasking = (failMode: 'open' | 'closed') => {
    const made = setup({ masking: { enabled: true, strategies: { EMAIL: 'redact' }, comprehend: { enabled: true, failMode } } });
    const gateway = new Gateway({
      ...(made.gateway as unknown as { deps: GatewayDeps }).deps,
      masker: lazyMasker(made.config, { secrets: { get: async () => 'unused' }, detector: failing })!,
    });
    return { ...made, gateway };
  };

  test('fail closed (the default): 503 masking_unavailable, nothing sent upstream, recorded', async () => {
    const { gateway, provider } = withMasking('closed');
    const { response, record } = await gateway.handle(req({ model: 'small', input: ['mail a@example.com'] }));
    expect(response.status).toBe(503);
    expect(parse(response.body).error.code).toBe('masking_unavailable');
    expect(record.decision.reason).toBe('masking_detector_unavailable');
    expect(provider.calls).toHaveLength(0);
  });

  test('fail open: the built-in detectors still mask, and the record says the detector failed', async () => {
    const { gateway, provider } = withMasking('open');
    const { response, record } = await gateway.handle(req({ model: 'small', input: ['mail a@example.com'] }));
    expect(response.status).toBe(200);
    expect(provider.calls[0]!.input).toEqual(['mail [EMAIL]']);
    expect(record.masking).toMatchObject({
      scanned: true,
      external: { detector: 'comprehend', status: 'failed_open' },
      counts: [{ type: 'EMAIL', count: 1 }],
    });
  });
});

describe('Gateway: one issuer per route', () => {
  const PARTNER: Principal = { ...INDEXER, issuerId: 'partner', issuer: 'https://partner.example.com', subject: 'svc-partner' };
  const twoIssuers = () => {
    TOKENS['tok.partner.sig'] = PARTNER;
    return setup({
      issuers: [
        ...DOC.issuers,
        { id: 'partner', issuer: 'https://partner.example.com', audiences: 'embedgate', jwksUri: 'https://partner.example.com/jwks' },
      ],
      policy: { rules: [{ id: 'all', effect: 'allow', models: '*' }] },
    });
  };

  test("a secondary issuer's tokens work under /<id>/v1 and the primary's at /v1", async () => {
    const { gateway } = twoIssuers();
    expect(
      (await gateway.handle(req({ model: 'small', input: 'x' }, { token: 'tok.partner.sig', path: '/partner/v1/embeddings' }))).response
        .status,
    ).toBe(200);
    expect((await gateway.handle(req({ model: 'small', input: 'x' }))).response.status).toBe(200);
  });

  test("a token on another issuer's route is refused and the attempt names who tried", async () => {
    const { gateway } = twoIssuers();
    const onPrimary = await gateway.handle(req({ model: 'small', input: 'x' }, { token: 'tok.partner.sig' }));
    expect(onPrimary.response.status).toBe(401);
    expect(parse(onPrimary.response.body).error.message).toBe('Tokens of this issuer are accepted at /partner/v1 only.');
    expect(onPrimary.record).toMatchObject({ decision: { reason: 'issuer_route_mismatch' }, principal: { issuer_id: 'partner' } });
    const onSecondary = await gateway.handle(req({ model: 'small', input: 'x' }, { path: '/partner/v1/embeddings' }));
    expect(onSecondary.response.status).toBe(401);
    expect(onSecondary.record.decision.reason).toBe('issuer_route_mismatch');
  });
});

test('outcomeOf classifies statuses', () => {
  expect([200, 401, 403, 400, 404, 413, 422, 429, 500, 502, 503, 504].map(outcomeOf)).toEqual([
    'allow',
    'deny',
    'deny',
    'invalid',
    'invalid',
    'invalid',
    'invalid',
    'error',
    'error',
    'error',
    'error',
    'error',
  ]);
  expect(new GatewayError('x', { status: 418, type: 'invalid_request_error', code: 'teapot' }).reason).toBe('teapot');
});
