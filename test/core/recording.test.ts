/**
 * Issue 23: what a session record keeps of the input. By default the input exactly as it left for
 * the model (masked when masking is on, as sent when it is off, token ids as ids), within a budget;
 * an explicit opt-out (and the older `masking.storeInputText: false`) keeps none and says so. Raw
 * values masking found never reach the record, whatever their strategy and however they hide.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { loadConfig, ConfigError, type GatewayConfig, type GatewayConfigInput } from '../../shared/config';
import { openShippedConfig, sealConfig } from '../../shared/config-runtime';
import { recordingOf, DEFAULT_MAX_TEXT_BYTES, MAX_MAX_TEXT_BYTES } from '../../shared/recording';
import { unauthenticated } from '../../lambda/core/errors';
import { Gateway, type GatewayRequest } from '../../lambda/core/gateway';
import { keepInput, CUT_ENTRY_BYTES } from '../../lambda/core/kept-input';
import type { Principal } from '../../lambda/core/principal';
import type { Archive, EmbeddingCall, EmbeddingProvider, EmbeddingResult } from '../../lambda/core/ports';
import { lazyMasker } from '../../lambda/core/masking/runtime';
import { hideDetected, maskInput } from '../../lambda/core/stages/masking';
import { approvalPreview } from '../../lambda/core/approvals/triggers';
import { newSession } from '../../lambda/core/exchange';
import type { SessionRecord } from '../../lambda/core/record';
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

const DOC: GatewayConfigInput = {
  issuers: [{ id: 'corp', issuer: 'https://idp.example.com', audiences: 'embedgate', jwksUri: 'https://idp.example.com/jwks' }],
  models: [
    { name: 'small', provider: 'local', dimensions: 8 },
    { name: 'other', provider: 'local', dimensions: 8 },
  ],
  policy: { rules: [{ id: 'search', effect: 'allow', match: { groups: 'search-team' }, models: 'small' }] },
};

const MASKING = {
  enabled: true,
  strategies: { EMAIL: 'redact', US_SSN: 'detect', CREDIT_CARD: 'block', IP_ADDRESS: 'pseudonymize' },
  pseudonymKey: { source: 'env', name: 'PSEUDONYM_KEY' },
  tokenInputs: 'allow',
} as const;

class MemoryArchive implements Archive {
  records: SessionRecord[] = [];
  async put(record: SessionRecord) {
    this.records.push(record);
    return { key: record.session_id };
  }
}

class Provider implements EmbeddingProvider {
  readonly kind = 'fake';
  sent: EmbeddingCall['input'][] = [];
  async embed(call: EmbeddingCall): Promise<EmbeddingResult> {
    this.sent.push(call.input);
    return {
      vectors: call.input.map(() => Float32Array.from({ length: 8 }, (_v, j) => j / 8)),
      usage: { promptTokens: 5, totalTokens: 5 },
      upstream: { status: 200, latencyMs: 1, attempts: 1, batches: 1 },
    };
  }
}

function setup(overrides: Partial<GatewayConfigInput> = {}) {
  const config: GatewayConfig = loadConfig({ ...DOC, ...overrides });
  const archive = new MemoryArchive();
  const provider = new Provider();
  let t = Date.parse('2026-12-01T10:00:00.000Z');
  let n = 0;
  const gateway = new Gateway({
    config,
    verifier: {
      async verify(token) {
        if (token !== 'tok') throw unauthenticated('The token signature is invalid.', 'bad_signature');
        return INDEXER;
      },
    },
    provider: () => provider,
    revocations: new InMemoryRevocationList(),
    archive,
    clock: { now: () => (t += 1) },
    ids: { sessionId: () => `sess-${++n}` },
    ...(config.masking?.enabled ? { masker: lazyMasker(config, { secrets: { get: async () => 'k'.repeat(32) } }) } : {}),
  });
  const call = async (body: unknown, token = 'tok') => gateway.handle(request(body, token));
  return { call, archive, provider, config };
}

const request = (body: unknown, token: string): GatewayRequest => ({
  method: 'POST',
  path: '/v1/embeddings',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  rawQueryString: '',
  body: JSON.stringify(body),
  isBase64Encoded: false,
  requestId: 'r',
  sourceIp: '10.0.0.1',
});

const sha256 = (s: string) => `sha256:${createHash('sha256').update(s, 'utf8').digest('hex')}`;

describe('recording configuration', () => {
  it('keeps the input by default, 256 KiB per record, and writes the resolved section into the document', () => {
    const c = loadConfig(DOC);
    expect(c.recording).toEqual({ inputText: 'keep', maxTextBytes: 262_144 });
    expect(loadConfig({ ...DOC, masking: { enabled: true } }).recording.inputText).toBe('keep');
    expect(DEFAULT_MAX_TEXT_BYTES).toBe(262_144);
  });

  it('an explicit masking.storeInputText: false keeps meaning "no text" (omit); true keeps it', () => {
    expect(loadConfig({ ...DOC, masking: { enabled: true, storeInputText: false } }).recording.inputText).toBe('omit');
    expect(loadConfig({ ...DOC, masking: { storeInputText: false } }).recording.inputText).toBe('omit');
    expect(loadConfig({ ...DOC, masking: { enabled: true, storeInputText: true } }).recording.inputText).toBe('keep');
    expect(loadConfig({ ...DOC, recording: { inputText: 'omit' } }).recording).toEqual({ inputText: 'omit', maxTextBytes: 262_144 });
  });

  it('fails when recording.inputText contradicts masking.storeInputText, naming the fix', () => {
    expect(() => loadConfig({ ...DOC, masking: { storeInputText: false }, recording: { inputText: 'keep' } })).toThrow(
      /recording\.inputText: recording\.inputText is "keep" but masking\.storeInputText is false: remove masking\.storeInputText/,
    );
    expect(() => loadConfig({ ...DOC, masking: { storeInputText: true }, recording: { inputText: 'omit' } })).toThrow(ConfigError);
    expect(loadConfig({ ...DOC, masking: { storeInputText: false }, recording: { inputText: 'omit' } }).recording.inputText).toBe('omit');
  });

  it('fails when the budget does not fit a journal item, or is too small, or not bytes', () => {
    expect(() => loadConfig({ ...DOC, recording: { maxTextBytes: 400_000 } })).toThrow(
      /recording\.maxTextBytes must be at most 307200 bytes \(300 KiB\): a record is one journal item, and DynamoDB items hold 400 KB/,
    );
    expect(() => loadConfig({ ...DOC, recording: { maxTextBytes: 100 } })).toThrow(/at least 1024 bytes/);
    expect(() => loadConfig({ ...DOC, recording: { maxTextBytes: 2048.5 } })).toThrow(/whole number of bytes/);
    expect(() => loadConfig({ ...DOC, recording: { inputText: 'masked' } })).toThrow(/"keep" or "omit"/);
    expect(() => loadConfig({ ...DOC, recording: { maxTextByte: 2048 } })).toThrow(/maxTextBytes/);
    expect(loadConfig({ ...DOC, recording: { maxTextBytes: MAX_MAX_TEXT_BYTES } }).recording.maxTextBytes).toBe(307_200);
  });

  it('the normalised document loads to the same configuration and version (the shipped document too)', () => {
    for (const doc of [DOC, { ...DOC, masking: { enabled: true, storeInputText: false } }, { ...DOC, recording: { maxTextBytes: 4096 } }]) {
      const c = loadConfig(doc);
      const { version: _v, ...normalised } = c;
      const again = loadConfig(JSON.parse(JSON.stringify(normalised)));
      expect(again.version).toBe(c.version);
      const shipped = openShippedConfig(sealConfig(normalised), {});
      expect(shipped.kind === 'checked' && shipped.config.version).toBe(c.version);
      expect(shipped.kind === 'checked' && shipped.config.recording).toEqual(c.recording);
    }
  });

  it('a document sealed before the section existed resolves as loadConfig does (storeInputText false: omit)', () => {
    const { version: _v, recording: _r, ...old } = loadConfig({ ...DOC, masking: { enabled: true } });
    const legacy = { ...old, masking: { ...old.masking, storeInputText: false } };
    const shipped = openShippedConfig(sealConfig(legacy), {});
    expect(shipped.kind).toBe('checked');
    if (shipped.kind !== 'checked') return;
    expect(shipped.config.recording).toEqual({ inputText: 'omit', maxTextBytes: 262_144 });
    expect(shipped.config.version).toBe(loadConfig(legacy).version);
    expect(recordingOf({})).toEqual({ inputText: 'keep', maxTextBytes: 262_144 });
  });

  it('the runtime refuses a sealed document with a bad recording section', () => {
    const { version: _v, ...doc } = loadConfig(DOC);
    expect(() => openShippedConfig(sealConfig({ ...doc, recording: { inputText: 'all', maxTextBytes: 1 } }), {})).toThrow(
      /recording\.inputText must be "keep" or "omit", got "all"/,
    );
  });
});

describe('keepInput: the budget', () => {
  const keep = { inputText: 'keep', maxTextBytes: 1024 } as const;
  const jsonBytes = (k: ReturnType<typeof keepInput>) =>
    Buffer.byteLength(JSON.stringify(k.text ?? k.tokens ?? []), 'utf8') + Buffer.byteLength(JSON.stringify(k.cut ?? []), 'utf8');

  it('keeps everything that fits, and says so', () => {
    expect(keepInput({ kind: 'text', items: ['a', 'b'] }, keep)).toEqual({ kept: 'all', text: ['a', 'b'], tokens: null, cut: null });
    expect(keepInput({ kind: 'tokens', items: [[1, 2], [3]] }, keep)).toEqual({
      kept: 'all',
      text: null,
      tokens: [[1, 2], [3]],
      cut: null,
    });
    expect(keepInput({ kind: 'text', items: [] }, keep)).toEqual({ kept: 'all', text: [], tokens: null, cut: null });
  });

  it('tells "omitted" (opt-out) and "none" (nothing prepared) from an empty input', () => {
    expect(keepInput({ kind: 'text', items: ['secret'] }, { inputText: 'omit', maxTextBytes: 1024 })).toEqual({
      kept: 'omitted',
      text: null,
      tokens: null,
      cut: null,
    });
    expect(keepInput(null, keep).kept).toBe('none');
  });

  it('cuts from the first item that does not fit: SHA-256 and byte length of each cut item', () => {
    const big = 'é'.repeat(1200); // 2400 bytes of UTF-8
    const k = keepInput({ kind: 'text', items: ['first', big, 'third'] }, { inputText: 'keep', maxTextBytes: 2048 });
    expect(k.kept).toBe('partial');
    expect(k.text).toEqual(['first']);
    expect(k.cut).toEqual([
      { item: 1, items: 1, sha256: sha256(big), bytes: 2400 },
      { item: 2, items: 1, sha256: sha256('third'), bytes: 5 },
    ]);
    const t = keepInput(
      { kind: 'tokens', items: [[1], Array.from({ length: 600 }, (_, i) => i)] },
      { inputText: 'keep', maxTextBytes: 2048 },
    );
    expect(t.tokens).toEqual([[1]]);
    expect(t.cut![0]).toEqual({
      item: 1,
      items: 1,
      sha256: sha256(JSON.stringify(Array.from({ length: 600 }, (_, i) => i))),
      bytes: JSON.stringify(Array.from({ length: 600 }, (_, i) => i)).length,
    });
  });

  it('many items: per-item digests for a quarter of the budget, one digest for the run after them', () => {
    const items = Array.from({ length: 5000 }, (_, i) => `item ${i} ${'x'.repeat(i % 50)}`);
    const k = keepInput({ kind: 'text', items }, keep);
    expect(k.kept).toBe('partial');
    const last = k.cut![k.cut!.length - 1]!;
    expect(last.items).toBeGreaterThan(1);
    expect(last.item + last.items).toBe(5000);
    expect(last.sha256).toBe(sha256(JSON.stringify(items.slice(last.item))));
    const covered = [...(k.text ?? []).keys()].length + k.cut!.reduce((n, c) => n + c.items, 0);
    expect(covered).toBe(5000);
    expect(jsonBytes(k)).toBeLessThanOrEqual(1024);
  });

  it('property: the kept part never exceeds the budget, keeps a prefix exactly, and accounts for every item', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary', maxLength: 400 }), { maxLength: 300 }),
        fc.integer({ min: 1024, max: 8192 }),
        (items, budget) => {
          const k = keepInput({ kind: 'text', items }, { inputText: 'keep', maxTextBytes: budget });
          expect(jsonBytes(k)).toBeLessThanOrEqual(budget);
          expect(k.text).toEqual(items.slice(0, k.text!.length));
          const cutItems = (k.cut ?? []).reduce((n, c) => n + c.items, 0);
          expect(k.text!.length + cutItems).toBe(items.length);
          expect(k.kept).toBe(cutItems === 0 ? 'all' : 'partial');
          (k.cut ?? []).forEach((c, i, all) => i > 0 && expect(c.item).toBe(all[i - 1]!.item + all[i - 1]!.items));
        },
      ),
    );
  });

  it('an entry of the cut list fits its reserved size even with the largest numbers', () => {
    expect(JSON.stringify({ item: 99_999_999, items: 99_999_999, sha256: sha256('x'), bytes: 10_485_760 }).length + 1).toBeLessThanOrEqual(
      CUT_ENTRY_BYTES,
    );
  });
});

describe('records keep the input as it left for the model', () => {
  it('masking off: the input as sent, whole, with the response part (fingerprint, usage, encoding, dimensions)', async () => {
    const { call, archive, provider } = setup();
    const { response, record } = await call({ model: 'small', input: ['alice@example.com wrote', 'two'], encoding_format: 'base64' });
    expect(response.status).toBe(200);
    expect(provider.sent).toEqual([['alice@example.com wrote', 'two']]);
    expect(record.input).toMatchObject({ kept: 'all', text: ['alice@example.com wrote', 'two'], tokens: null, cut: null });
    expect(record.output).toEqual({
      vectors: 2,
      dimensions: 8,
      fingerprint: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      encoding_format: 'base64',
    });
    expect(record.usage).toEqual({ prompt_tokens: 5, total_tokens: 5 });
    expect(archive.records).toEqual([record]);
  });

  it('token-id inputs are kept as ids (masking off, and masking on with tokenInputs allow)', async () => {
    const off = await setup().call({ model: 'small', input: [[1, 2, 3], [4]] });
    expect(off.record.input).toMatchObject({ kind: 'tokens', kept: 'all', text: null, tokens: [[1, 2, 3], [4]] });
    const on = await setup({ masking: MASKING }).call({ model: 'small', input: [[9, 8]] });
    expect(on.record.input).toMatchObject({ kept: 'all', tokens: [[9, 8]] });
  });

  it('masking on: exactly the masked items that were sent; no raw value found reaches the record', async () => {
    process.env.PSEUDONYM_KEY = 'p'.repeat(32);
    const { call, provider } = setup({ masking: MASKING });
    const input = ['mail alice@example.com now', 'ssn 123-45-6789 and host 10.1.2.3', 'nothing here'];
    const { response, record } = await call({ model: 'small', input });
    expect(response.status).toBe(200);
    const sent = provider.sent[0]!;
    expect(sent[0]).toBe('mail [EMAIL] now');
    expect(sent[1]).toMatch(/^ssn 123-45-6789 and host <IP_ADDRESS_[0-9a-f]{16}>$/); // detect: the value leaves as it was
    expect(record.input.text).toEqual(['mail [EMAIL] now', (sent[1] as string).replace('123-45-6789', '[US_SSN]'), 'nothing here']);
    const json = JSON.stringify(record);
    for (const raw of ['alice@example.com', '123-45-6789', '10.1.2.3']) expect(json).not.toContain(raw);
  });

  it('evasion: values hidden behind invisible characters and look-alike forms are masked in the record too', async () => {
    process.env.PSEUDONYM_KEY = 'p'.repeat(32);
    const { call } = setup({ masking: { ...MASKING, strategies: { ...MASKING.strategies, US_SSN: 'detect' } } });
    const evasions = [
      'write to al\u200bice@exam\u200dple.com please', // zero-width characters inside an address
      'ＢＯＢ＠ＥＸＡＭＰＬＥ．ＣＯＭ', // full-width forms
      'ssn 1２3-4５-6789 here', // mixed-width digits under detect
      'x bob@example.com\u2060y', // word joiner
    ];
    const { record } = await call({ model: 'small', input: evasions });
    expect(record.input.kept).toBe('all');
    const json = JSON.stringify(record);
    for (const raw of ['al\u200bice@exam\u200dple.com', 'ＢＯＢ＠ＥＸＡＭＰＬＥ．ＣＯＭ', '1２3-4５-6789', 'bob@example.com'])
      expect(json).not.toContain(JSON.stringify(raw).slice(1, -1));
    expect(record.input.text![2]).toBe('ssn [US_SSN] here');
    expect(record.input.text![0]).toBe('write to [EMAIL] please');
    expect(record.input.text![3]).toMatch(/^x \[EMAIL\]/);
  });

  it('a blocked request keeps its masked text (the blocked value redacted), never the value', async () => {
    const { call } = setup({ masking: MASKING });
    const { response, record } = await call({ model: 'small', input: ['card 4111 1111 1111 1111 for alice@example.com'] });
    expect(response.status).toBe(422);
    expect(record.input).toMatchObject({ kept: 'all', text: ['card [CREDIT_CARD] for [EMAIL]'] });
    expect(JSON.stringify(record)).not.toContain('4111');
  });

  it('omit (and storeInputText: false): no text, no ids, and the record says it was omitted', async () => {
    for (const overrides of [{ recording: { inputText: 'omit' as const } }, { masking: { ...MASKING, storeInputText: false } }]) {
      const { call } = setup(overrides);
      const { response, record } = await call({ model: 'small', input: ['alice@example.com', 'plain text'] });
      expect(response.status).toBe(200);
      expect(record.input).toMatchObject({ items: 2, kept: 'omitted', text: null, tokens: null, cut: null });
      expect(JSON.stringify(record)).not.toContain('plain text');
    }
  });

  it('requests refused before their input was prepared keep none, and say so', async () => {
    const { call } = setup();
    expect((await call({ model: 'other', input: ['denied text'] })).record.input).toMatchObject({ kept: 'none', text: null });
    expect((await call({ model: 'small', input: ['x'] }, 'bad')).record.input).toMatchObject({ kept: 'none', text: null });
    expect(JSON.stringify((await call({ model: 'other', input: ['denied text'] })).record)).not.toContain('denied text');
  });

  it('the budget applies: items past it are digests, the record stays bounded', async () => {
    const { call } = setup({ recording: { maxTextBytes: 2048 } });
    const items = ['short', 'y'.repeat(3000), 'tail'];
    const { response, record } = await call({ model: 'small', input: items });
    expect(response.status).toBe(200);
    expect(record.input).toMatchObject({ kept: 'partial', text: ['short'] });
    expect(record.input.cut).toEqual([
      { item: 1, items: 1, sha256: sha256(items[1]!), bytes: 3000 },
      { item: 2, items: 1, sha256: sha256('tail'), bytes: 4 },
    ]);
  });
});

describe('hideDetected and the reviewer preview', () => {
  it('shows detect values as [TYPE], keeps redactions and pseudonyms as sent', () => {
    const raw = 'a 123-45-6789 b 10.0.0.1 c x@y.io';
    const sent = 'a 123-45-6789 b <IP_ADDRESS_0123456789abcdef> c [EMAIL]';
    const findings = [
      { type: 'US_SSN', strategy: 'detect', offsets: [[2, 13]] },
      { type: 'IP_ADDRESS', strategy: 'pseudonymize', offsets: [[16, 24]] },
      { type: 'EMAIL', strategy: 'redact', offsets: [[27, 33]] },
    ];
    expect(hideDetected(raw, sent, findings, 16)).toBe('a [US_SSN] b <IP_ADDRESS_0123456789abcdef> c [EMAIL]');
    expect(hideDetected(raw, sent, findings.slice(1), 16)).toBe(sent);
  });

  it('falls back to every found value as [TYPE] when the sent text does not line up (never a value)', () => {
    const raw = 'a 123-45-6789 b x@y.io';
    const findings = [
      { type: 'US_SSN', strategy: 'detect', offsets: [[2, 13]] },
      { type: 'EMAIL', strategy: 'redact', offsets: [[16, 22]] },
    ];
    expect(hideDetected(raw, 'a 123-45-6789 b [EMAIL-LONGER]', findings, 16)).toBe('a [US_SSN] b [EMAIL]');
    expect(hideDetected(raw, 'changed 123-45-6789 b [EMAIL]', findings, 16)).toBe('a [US_SSN] b [EMAIL]');
  });

  it('the reviewer preview is the record form; with inputText omit there is none, and it says why', async () => {
    process.env.PSEUDONYM_KEY = 'p'.repeat(32);
    for (const [overrides, expected] of [
      [{}, /\[0\] ssn \[US_SSN\] mail \[EMAIL\]/],
      [{ recording: { inputText: 'omit' } }, /^\[no preview: this gateway keeps no input text \(recording\.inputText is "omit"\)\]$/],
    ] as const) {
      const config = loadConfig({ ...DOC, masking: MASKING, ...overrides });
      const s = newSession('s', 0);
      const input = await maskInput(
        lazyMasker(config, { secrets: { get: async () => 'k'.repeat(32) } }),
        config,
        { model: 'small', input: { kind: 'text', items: ['ssn 123-45-6789 mail a@b.io'] }, encodingFormat: 'float' },
        'search',
        s,
      );
      const preview = approvalPreview({ kind: 'text', count: 1, review: (n) => input.review(n), noPreview: input.noPreview });
      expect(preview).toMatch(expected);
      expect(preview).not.toContain('123-45-6789');
    }
  });
});
