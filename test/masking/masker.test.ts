/** createMasker: the API the pipeline calls. */
import { createMasker, MaskingError, ruleMaskingStrategies, type MaskerDeps } from '../../lambda/core/masking';
import type { PiiDetector, PiiEntity } from '../../lambda/core/ports';
import { loadConfig, type MaskingConfig } from '../../shared/config';
import { baseConfig, ruleDoc, type Doc } from '../support/config-fixtures';

const KEY = 'masker-test-key-0123456789abcdef';

function config(masking: Doc = {}, rules?: Doc[]): ReturnType<typeof loadConfig> {
  return loadConfig(baseConfig({ masking: { enabled: true, ...masking }, ...(rules ? { policy: { rules } } : {}) }));
}
const masking = (m: Doc = {}): MaskingConfig => config(m).masking!;
const masker = (m: Doc = {}, deps: MaskerDeps = {}): ReturnType<typeof createMasker> => createMasker(masking(m), deps);

/** A fake Comprehend: finds given substrings, records the texts it was asked about. */
function fakeDetector(found: Record<string, string>, opts: { fail?: boolean; score?: number } = {}): PiiDetector & { calls: string[] } {
  const calls: string[] = [];
  return {
    name: 'comprehend',
    calls,
    async detect(text: string): Promise<PiiEntity[]> {
      calls.push(text);
      if (opts.fail) throw new Error('ThrottlingException');
      const out: PiiEntity[] = [];
      for (const [value, type] of Object.entries(found)) {
        for (let i = text.indexOf(value); i !== -1; i = text.indexOf(value, i + 1))
          out.push({ type, start: i, end: i + value.length, score: opts.score ?? 0.99 });
      }
      return out;
    },
  };
}

describe('maskItems', () => {
  it('masks every item, keeps order and count, and reports findings per item without values', async () => {
    const r = await masker().maskItems(['mail a@example.com', 'nothing here', 'call (555) 234-5678 or b@example.org']);
    expect(r.items).toEqual(['mail [EMAIL]', 'nothing here', 'call [PHONE] or [EMAIL]']);
    expect(r.findings).toEqual([
      [{ type: 'EMAIL', detector: 'email', strategy: 'redact', count: 1, offsets: [[5, 18]] }],
      [],
      [
        { type: 'PHONE', detector: 'phone', strategy: 'redact', count: 1, offsets: [[5, 19]] },
        { type: 'EMAIL', detector: 'email', strategy: 'redact', count: 1, offsets: [[23, 36]] },
      ],
    ]);
    expect(r.counts).toEqual({ EMAIL: 2, PHONE: 1 });
    expect(r.blocked).toEqual([]);
    expect(r.external).toBeNull();
    expect(JSON.stringify(r.findings)).not.toMatch(/example|555/);
  });

  it('handles no items and empty items', async () => {
    expect(await masker().maskItems([])).toMatchObject({ items: [], findings: [], blocked: [] });
    expect((await masker().maskItems([''])).items).toEqual(['']);
  });

  it("applies global strategies, and a rule's strategies over them, per entity type", async () => {
    const m = masker({ strategies: { EMAIL: 'pseudonymize', PHONE: 'detect' }, pseudonymKey: { source: 'env', name: 'K' } }, { key: KEY });
    const text = 'a@example.com (555) 234-5678 123-45-6789';
    const global = await m.maskItems([text]);
    expect(global.items[0]).toMatch(/^<EMAIL_[0-9a-f]{16}> \(555\) 234-5678 \[US_SSN\]$/);
    const ruled = await m.maskItems([text], { PHONE: 'redact', US_SSN: 'detect' });
    expect(ruled.items[0]).toMatch(/^<EMAIL_[0-9a-f]{16}> \[PHONE\] 123-45-6789$/);
  });

  it('lists blocked types (sorted, once) and still masks the items for the record', async () => {
    const r = await masker({ strategies: { CREDIT_CARD: 'block', US_SSN: 'block' } }).maskItems([
      'card 4111 1111 1111 1111',
      'ssn 123-45-6789 and 4111111111111111',
    ]);
    expect(r.blocked).toEqual(['CREDIT_CARD', 'US_SSN']);
    expect(r.items).toEqual(['card [CREDIT_CARD]', 'ssn [US_SSN] and [CREDIT_CARD]']);
    expect(r.findings[1]!.map((f) => f.strategy)).toEqual(['block', 'block']);
  });

  it('refuses an item over maxScanChars with MaskingError too_large naming the item, before any work', async () => {
    const detector = fakeDetector({});
    const m = masker({ maxScanChars: 10, comprehend: { enabled: true } }, { detector });
    await expect(m.maskItems(['short', 'this one is too long'])).rejects.toMatchObject({
      code: 'too_large',
      status: 413,
      details: { itemIndex: 1, chars: 20, limit: 10 },
    });
    await expect(m.maskItems(['short', 'this one is too long'])).rejects.toThrow(/Input item 1 is 20 characters long/);
    expect(detector.calls).toEqual([]);
  });

  it('pseudonyms are shared across items of one call and across calls', async () => {
    const m = masker({ strategies: { EMAIL: 'pseudonymize' }, pseudonymKey: { source: 'env', name: 'K' } }, { key: KEY });
    const a = await m.maskItems(['a@example.com', 'again A@EXAMPLE.COM']);
    const b = await m.maskItems(['x a@example.com']);
    const token = a.items[0]!;
    expect(a.items[1]).toBe(`again ${token}`);
    expect(b.items[0]).toBe(`x ${token}`);
  });

  it('exposes tokenInputs and the detectors in use', () => {
    const m = masker({
      tokenInputs: 'allow',
      disabledDetectors: ['phone', 'ipv6'],
      customDetectors: [{ name: 'EMP_ID', pattern: 'EMP-\\d{6}' }],
    });
    expect(m.tokenInputs).toBe('allow');
    expect(m.detectors.map((d) => d.name)).not.toContain('phone');
    expect(m.detectors.map((d) => d.name)).toContain('custom:EMP_ID');
    expect(masker().tokenInputs).toBe('refuse');
  });

  it('runs custom detectors with their validator and context words', async () => {
    const m = masker({
      customDetectors: [
        { name: 'EMP_ID', pattern: '\\bEMP-\\d{6}\\b' },
        { name: 'ACCOUNT', pattern: '\\b\\d{8}\\b', validator: 'luhn', contextWords: ['account'], contextWindow: 20 },
      ],
    });
    const r = await m.maskItems(['EMP-123456 joined; account 79927398 and 79927398; account 12345678']);
    // The second number is too far from "account", and the placeholder does not count as context.
    expect(r.items[0]).toBe('[EMP_ID] joined; account [ACCOUNT] and 79927398; account 12345678');
  });
});

describe('external detector (Comprehend)', () => {
  const comprehend = { enabled: true, minScore: 0.8 };

  it('merges its findings with mapped types and the detector name, above the score threshold', async () => {
    const detector = fakeDetector({ 'Jane Doe': 'NAME', '1 Main St': 'ADDRESS', yesterday: 'DATE_TIME' });
    const r = await masker({ comprehend }, { detector }).maskItems(['Jane Doe of 1 Main St wrote a@example.com yesterday']);
    expect(r.items[0]).toBe('[PERSON_NAME] of [ADDRESS] wrote [EMAIL] yesterday');
    expect(r.findings[0]!.map((f) => `${f.type}/${f.detector}`)).toEqual(['PERSON_NAME/comprehend', 'ADDRESS/comprehend', 'EMAIL/email']);
    expect(r.external).toEqual({ detector: 'comprehend', status: 'ok' });
  });

  it('ignores entities under minScore and types outside entityTypes', async () => {
    const low = fakeDetector({ 'Jane Doe': 'NAME' }, { score: 0.5 });
    expect((await masker({ comprehend }, { detector: low }).maskItems(['Jane Doe'])).items).toEqual(['Jane Doe']);
    const names = fakeDetector({ 'Jane Doe': 'NAME', Acme: 'ADDRESS' });
    expect(
      (await masker({ comprehend: { ...comprehend, entityTypes: ['ADDRESS'] } }, { detector: names }).maskItems(['Jane Doe at Acme']))
        .items,
    ).toEqual(['Jane Doe at [ADDRESS]']);
  });

  it('fails closed by default: MaskingError detector_unavailable (503), nothing returned', async () => {
    const m = masker({ comprehend }, { detector: fakeDetector({}, { fail: true }) });
    const err = await m.maskItems(['a@example.com']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MaskingError);
    expect(err).toMatchObject({ code: 'detector_unavailable', status: 503, details: { detector: 'comprehend' } });
    expect((err as Error).message).not.toMatch(/example/);
  });

  it('fails open when configured: built-in detectors still run, and the result says so', async () => {
    const r = await masker({ comprehend: { ...comprehend, failMode: 'open' } }, { detector: fakeDetector({}, { fail: true }) }).maskItems([
      'a@example.com',
    ]);
    expect(r.items).toEqual(['[EMAIL]']);
    expect(r.external).toEqual({ detector: 'comprehend', status: 'failed_open', error: 'ThrottlingException' });
  });

  it('is not called for empty items, and is called once per item otherwise', async () => {
    const detector = fakeDetector({});
    await masker({ comprehend }, { detector }).maskItems(['', 'one', 'two']);
    expect(detector.calls).toEqual(['one', 'two']);
  });
});

describe('createMasker dependencies', () => {
  it('refuses to start without the key when the configuration names a pseudonymKey', () => {
    expect(() => masker({ strategies: { EMAIL: 'pseudonymize' }, pseudonymKey: { source: 'env', name: 'K' } })).toThrow(
      /pseudonymKey is configured but no key was given/,
    );
  });

  it('refuses a key shorter than 16 bytes', () => {
    expect(() => masker({}, { key: 'short' })).toThrow(/at least 16 bytes/);
    expect(() => masker({}, { key: new Uint8Array(16) })).not.toThrow();
  });

  it('refuses to start without a detector when Comprehend is enabled', () => {
    expect(() => masker({ comprehend: { enabled: true } })).toThrow(/no PiiDetector was given/);
    expect(() => masker({ comprehend: { enabled: false } })).not.toThrow();
  });
});

describe('maskResponse', () => {
  it('masks every string of a JSON value, keeps structure and other values, reports findings by path', async () => {
    const value = {
      object: 'list',
      data: [
        { index: 0, text: 'mail a@example.com', score: 0.5 },
        { index: 1, text: null, tags: ['555-234-5678'] },
      ],
      ok: true,
    };
    const r = await masker({ strategies: { PHONE: 'block' } }).maskResponse(value);
    expect(r.value).toEqual({
      object: 'list',
      data: [
        { index: 0, text: 'mail [EMAIL]', score: 0.5 },
        { index: 1, text: null, tags: ['[PHONE]'] },
      ],
      ok: true,
    });
    expect(r.findings.map((f) => f.path)).toEqual(['$.data[0].text', '$.data[1].tags[0]']);
    expect(r.blocked).toEqual(['PHONE']);
  });
});

describe('ruleMaskingStrategies', () => {
  it("returns the matched rule's strategies, or undefined", () => {
    const c = config({}, [ruleDoc({ id: 'r1', masking: { strategies: { EMAIL: 'detect' } } }), ruleDoc({ id: 'r2' })]);
    expect(ruleMaskingStrategies(c, 'r1')).toEqual({ EMAIL: 'detect' });
    expect(ruleMaskingStrategies(c, 'r2')).toBeUndefined();
    expect(ruleMaskingStrategies(c, null)).toBeUndefined();
    expect(ruleMaskingStrategies(c, 'unknown')).toBeUndefined();
  });
});
