/**
 * The goals of issue 21 on the independent evaluation set (evaluation.ts, corpus/independent.json):
 * this fails when recall or precision drops below them.
 */
import { createMasker } from '../../lambda/core/masking';
import { loadConfig } from '../../shared/config';
import { baseConfig } from '../support/config-fixtures';
import { evaluate, evasionCases, hardNegatives, phoneCases, precision, presidioCases, recall, type Evaluation } from './evaluation';

jest.setTimeout(120_000);

const masker = createMasker(
  loadConfig(
    baseConfig({ masking: { enabled: true, customDetectors: [{ name: 'CODENAME', pattern: 'project\\s{1,4}falcon', flags: 'i' }] } }),
  ).masking!,
);
const score = (e: Evaluation, key: string) => {
  const s = e.scores.get(key);
  if (!s) throw new Error(`no score for ${key}`);
  return s;
};

describe('independent evaluation', () => {
  it('phone numbers: recall >= 0.99 on libphonenumber example numbers, international and national, with and without a phone word', async () => {
    const cases = phoneCases();
    expect(cases.length).toBeGreaterThan(1900);
    expect(new Set(cases.map((c) => c.kind))).toEqual(
      new Set([
        'international, context',
        'international, no context',
        'E.164, context',
        'E.164, no context',
        'national, context',
        'national, no context',
      ]),
    );
    const e = await evaluate(masker, cases);
    const s = score(e, 'libphonenumber/PHONE');
    expect(recall(s)).toBeGreaterThanOrEqual(0.99);
    expect(precision(s)).toBeGreaterThanOrEqual(0.99);
    // National format without a phone word on its own, the case the issue found at 0.94.
    const national = await evaluate(
      masker,
      cases.filter((c) => c.kind === 'national, no context'),
    );
    expect(recall(score(national, 'libphonenumber/PHONE'))).toBeGreaterThanOrEqual(0.99);
  });

  it('phone numbers: at most 2 % of hard negatives (order numbers, timestamps, versions, prices, ISBNs, ZIP+4, SKUs) get a phone finding', async () => {
    const cases = hardNegatives();
    expect(new Set(cases.map((c) => c.kind)).size).toBe(7);
    const e = await evaluate(masker, cases);
    const s = score(e, 'hard-negatives/PHONE');
    expect(s.cases).toBe(cases.length);
    expect(s.casesWithFalsePositive / s.cases).toBeLessThanOrEqual(0.02);
  });

  it("Presidio's recognizer test cases: precision 1 per type; recall at least the measured level (BENCHMARKS.md)", async () => {
    const e = await evaluate(masker, presidioCases());
    // PHONE: the goal of issue 21 (0.920 before national numbers written with some of their format's separators and "my number").
    const floors: Record<string, number> = { EMAIL: 1, IBAN: 0.99, PHONE: 0.99, IP_ADDRESS: 0.9, CREDIT_CARD: 0.8, US_SSN: 0.75 };
    for (const [type, floor] of Object.entries(floors)) {
      const s = score(e, `presidio/${type}`);
      expect({ type, recall: recall(s) >= floor, precision: precision(s) }).toEqual({ type, recall: true, precision: 1 });
    }
  });

  it('evasion: every value behind invisible or look-alike characters is found (recall 1, precision 1)', async () => {
    const e = await evaluate(masker, evasionCases());
    for (const type of ['US_SSN', 'CREDIT_CARD', 'EMAIL', 'CODENAME']) {
      const s = score(e, `evasion/${type}`);
      expect({ type, recall: recall(s), precision: precision(s) }).toEqual({ type, recall: 1, precision: 1 });
    }
  });
});
