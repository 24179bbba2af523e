/** The engine: scanning, overlap resolution, external findings, protected tokens, the size bound. */
import {
  customDetector,
  externalFindings,
  MaskingError,
  mask,
  maskText,
  protectedSpans,
  resolveOverlaps,
  scan,
  type Finding,
  type TokenGrammar,
} from '../../lambda/core/masking';
import { ALL, span } from './helpers';

const f = (type: string, start: number, end: number, detector = type.toLowerCase(), score = 1): Finding => ({
  type,
  start,
  end,
  detector,
  score,
});
const tokens: TokenGrammar = { knownTypes: new Set(['EMAIL', 'PHONE', 'US_SSN', 'IP_ADDRESS', 'EMP_ID']), pseudonymHex: 8 };

describe('scan', () => {
  it('reports type, offsets, detector and score, sorted by position', () => {
    const text = 'mail a@example.com, call 555-234-5678';
    expect(scan(text, ALL)).toEqual([
      { type: 'EMAIL', start: 5, end: 18, detector: 'email', score: 1 },
      { type: 'PHONE', start: 25, end: 37, detector: 'phone', score: 1 },
    ]);
  });

  it('refuses a text over the limit with a MaskingError "too_large" (413), never a partial scan', () => {
    const run = (): unknown => scan('a@example.com '.repeat(10), ALL, { maxScanChars: 100 });
    expect(run).toThrow(MaskingError);
    expect(run).toThrow(/140 characters long; masking scans at most 100/);
    try {
      run();
    } catch (e) {
      expect(e).toMatchObject({ code: 'too_large', status: 413, details: { chars: 140, limit: 100 } });
    }
    expect(scan('a@example.com', ALL, { maxScanChars: 13 })).toHaveLength(1);
  });

  it("drops findings inside this masker's own placeholders and pseudonyms", () => {
    const emp = customDetector({ name: 'EMP_ID', pattern: '[A-Z]{5}' });
    expect(scan('[EMAIL] <PHONE_0123abcd> OTHER', [emp], { tokens }).map(span)).toEqual([[25, 30]]);
    expect(scan('[EMAIL] <PHONE_0123abcd> OTHER', [emp]).map(span)).toEqual([
      [1, 6],
      [9, 14],
      [25, 30],
    ]);
  });
});

describe('protectedSpans', () => {
  it('recognises tokens of known types with the exact pseudonym length only', () => {
    const text =
      '[EMAIL] [UNKNOWN] [AKIAIOSFODNN7EXAMPLE] <EMAIL_0123abcd> <EMAIL_0123abc> <EMAIL_0123ABCD> <IP_ADDRESS_ffffffff> <EMP_ID_00000000>';
    expect(protectedSpans(text, tokens).map((s) => text.slice(s.start, s.end))).toEqual([
      '[EMAIL]',
      '<EMAIL_0123abcd>',
      '<IP_ADDRESS_ffffffff>',
      '<EMP_ID_00000000>',
    ]);
  });

  it('is linear on unclosed brackets', () => {
    const text = '['.repeat(200_000) + '<'.repeat(200_000);
    const t = performance.now();
    expect(protectedSpans(text, tokens)).toEqual([]);
    expect(performance.now() - t).toBeLessThan(2000);
  });
});

describe('resolveOverlaps', () => {
  const strategies = { PHONE: 'redact', EMAIL: 'detect', US_SSN: 'block' } as const;

  it('keeps disjoint findings apart, adjacent ones too', () => {
    expect(resolveOverlaps([f('EMAIL', 0, 5), f('PHONE', 5, 9)], strategies, 'redact').map((r) => [r.start, r.end, r.winner.type])).toEqual(
      [
        [0, 5, 'EMAIL'],
        [5, 9, 'PHONE'],
      ],
    );
  });

  it('merges overlapping findings into their union, named by the longest', () => {
    const [r] = resolveOverlaps([f('PHONE', 4, 10), f('EMAIL', 0, 8), f('IP_ADDRESS', 9, 12)], strategies, 'redact');
    expect(r).toMatchObject({ start: 0, end: 12, winner: { type: 'EMAIL' } });
    expect(r!.members.map((m) => m.type)).toEqual(['EMAIL', 'PHONE', 'IP_ADDRESS']);
  });

  it('breaks length ties by specificity, then score, then position and name: independent of input order', () => {
    const a = [f('PHONE', 0, 10), f('CREDIT_CARD', 0, 10), f('CUSTOM', 0, 10, 'custom:X')];
    for (const order of [a, [...a].reverse(), [a[1]!, a[2]!, a[0]!]]) {
      expect(resolveOverlaps(order, {}, 'redact')[0]!.winner.type).toBe('CREDIT_CARD');
    }
    expect(resolveOverlaps([f('X', 0, 4, 'comprehend', 0.85), f('Y', 0, 4, 'comprehend', 0.95)], {}, 'redact')[0]!.winner.type).toBe('Y');
  });

  it('applies the most protective strategy of the region (block > redact > pseudonymize > detect)', () => {
    expect(resolveOverlaps([f('EMAIL', 0, 10), f('PHONE', 2, 6)], strategies, 'detect')[0]!.strategy).toBe('redact');
    expect(resolveOverlaps([f('EMAIL', 0, 10), f('US_SSN', 2, 6)], strategies, 'detect')[0]!.strategy).toBe('block');
    expect(resolveOverlaps([f('EMAIL', 0, 10)], strategies, 'redact')[0]!.strategy).toBe('detect');
    expect(resolveOverlaps([f('OTHER', 0, 10)], strategies, 'pseudonymize')[0]!.strategy).toBe('pseudonymize');
  });
});

describe('externalFindings', () => {
  const text = 'John Smith lives at 1 Main St, mail john@example.com';

  it('maps Comprehend types, applies the score threshold and the type filter, keeps the detector name', () => {
    const entities = [
      { type: 'NAME', start: 0, end: 10, score: 0.99 },
      { type: 'ADDRESS', start: 20, end: 29, score: 0.7 },
      { type: 'EMAIL', start: 36, end: 52, score: 0.95 },
      { type: 'DATE_TIME', start: 0, end: 4, score: 0.99 },
      { type: 'CREDIT_DEBIT_NUMBER', start: 31, end: 35, score: 0.9 },
    ];
    expect(
      externalFindings(text, entities, {
        detector: 'comprehend',
        minScore: 0.8,
        types: new Set(['NAME', 'ADDRESS', 'EMAIL', 'CREDIT_DEBIT_NUMBER']),
      }),
    ).toEqual([
      { type: 'PERSON_NAME', start: 0, end: 10, detector: 'comprehend', score: 0.99 },
      { type: 'EMAIL', start: 36, end: 52, detector: 'comprehend', score: 0.95 },
      { type: 'CREDIT_CARD', start: 31, end: 35, detector: 'comprehend', score: 0.9 },
    ]);
  });

  it('keeps unmapped types by their own name and clamps offsets to the text', () => {
    expect(
      externalFindings(
        'abc',
        [
          { type: 'PASSPORT_NUMBER', start: -5, end: 99, score: 1 },
          { type: 'PIN', start: 2, end: 2, score: 1 },
        ],
        { detector: 'c', minScore: 0 },
      ),
    ).toEqual([{ type: 'PASSPORT_NUMBER', start: 0, end: 3, detector: 'c', score: 1 }]);
  });
});

describe('maskText', () => {
  it('rescans masked text: a value hidden by a neighbouring value is masked in the same call', () => {
    // The card's last digit hides the phone number's left boundary until the card is masked.
    const text = '4000000000000002+44 70 0000 0000';
    const once = maskText(text, ALL, { strategies: {} }, null);
    expect(once.text).toBe('[CREDIT_CARD][PHONE]');
    expect(once.findings.map((g) => [g.type, g.offsets])).toEqual([
      ['CREDIT_CARD', [[0, 16]]],
      ['PHONE', [[16, 32]]],
    ]);
    expect(
      maskText(once.text, ALL, { strategies: {} }, null, { tokens: { knownTypes: new Set(['CREDIT_CARD', 'PHONE']), pseudonymHex: 8 } })
        .text,
    ).toBe(once.text);
  });

  it('rescans only near replacements in sparse text, and still finds what they uncovered', () => {
    const filler = ' lorem ipsum dolor sit amet'.repeat(300);
    const text = `a@example.co+44 20 7946 0958${filler} b@example.co+44 20 7946 0959${filler}`;
    expect(maskText(text, ALL, { strategies: {} }, null).text).toBe(`[EMAIL][PHONE]${filler} [EMAIL][PHONE]${filler}`);
  });

  it('rescans the whole text when a finding reaches the edge of a rescan window', () => {
    const long = customDetector({ name: 'LONGNUM', pattern: '(?<![A-Za-z])\\+\\d+' });
    const digits = '7'.repeat(3000);
    const text = `x@example.co+${digits} end`;
    const r = maskText(text, [...ALL, long], { strategies: {} }, null);
    expect(r.text).toBe('[EMAIL][LONGNUM] end');
    expect(r.findings.find((g) => g.type === 'LONGNUM')!.offsets).toEqual([[12, 12 + 1 + 3000]]);
  });

  it('a product word inside a masked value stops vetoing the phone number after it', () => {
    expect(maskText('order@shop.com 555-234-5678', ALL, { strategies: {} }, null).text).toBe('[EMAIL] [PHONE]');
  });
});

describe('mask', () => {
  const key = new TextEncoder().encode('k'.repeat(32));
  const text = 'Mail a@example.com or b@example.com; call 555-234-5678; SSN 123-45-6789.';
  let findings: ReturnType<typeof scan> = [];
  beforeAll(() => {
    findings = scan(text, ALL);
  });

  it('redacts to typed placeholders by default, keeps the rest of the text', () => {
    expect(mask(text, findings, { strategies: {} }, null).text).toBe('Mail [EMAIL] or [EMAIL]; call [PHONE]; SSN [US_SSN].');
  });

  it('pseudonymizes to <TYPE_hex>, detects without change, and lists blocked types', () => {
    const r = mask(text, findings, { strategies: { EMAIL: 'pseudonymize', PHONE: 'detect', US_SSN: 'block' } }, key);
    expect(r.text).toMatch(/^Mail <EMAIL_[0-9a-f]{16}> or <EMAIL_[0-9a-f]{16}>; call 555-234-5678; SSN \[US_SSN\]\.$/);
    expect(r.blocked).toEqual(['US_SSN']);
  });

  it('records per type, detector and strategy: count and ORIGINAL offsets, never values', () => {
    const r = mask(text, findings, { strategies: { PHONE: 'detect' } }, null);
    expect(r.findings).toEqual([
      {
        type: 'EMAIL',
        detector: 'email',
        strategy: 'redact',
        count: 2,
        offsets: [
          [5, 18],
          [22, 35],
        ],
      },
      { type: 'PHONE', detector: 'phone', strategy: 'detect', count: 1, offsets: [[42, 54]] },
      { type: 'US_SSN', detector: 'us_ssn', strategy: 'redact', count: 1, offsets: [[60, 71]] },
    ]);
    expect(JSON.stringify(r.findings)).not.toMatch(/example|555|6789/);
  });

  it('falls back to redaction when pseudonyms are asked for without a key', () => {
    expect(mask(text, findings, { strategies: { EMAIL: 'pseudonymize' } }, null).text).toContain('Mail [EMAIL] or [EMAIL]');
  });

  it('uses the configured pseudonym length', () => {
    expect(mask(text, findings, { strategies: { EMAIL: 'pseudonymize' }, pseudonymHex: 16 }, key).text).toMatch(/<EMAIL_[0-9a-f]{16}>/);
  });

  it('returns the text itself when nothing was found', () => {
    expect(mask('nothing here', [], { strategies: {} }, null)).toEqual({ text: 'nothing here', findings: [], blocked: [] });
  });
});
