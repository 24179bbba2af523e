/**
 * Detection on the normalised view: invisible (format, default-ignorable) and look-alike
 * characters inside a value or a blocked phrase do not carry it past the detectors, and masking
 * replaces the whole original span, the invisible characters inside included.
 */
import fc from 'fast-check';
import { createMasker } from '../../lambda/core/masking';
import { detectionView } from '../../lambda/core/masking/view';
import { loadConfig, type MaskingConfig } from '../../shared/config';
import { baseConfig, type Doc } from '../support/config-fixtures';
import { found } from './helpers';

const masking = (m: Doc = {}): MaskingConfig => loadConfig(baseConfig({ masking: { enabled: true, ...m } })).masking!;
const blockPhrase = createMasker(
  masking({
    customDetectors: [{ name: 'CODENAME', pattern: 'project\\s{1,4}falcon', flags: 'i' }],
    strategies: { CODENAME: 'block', US_SSN: 'block' },
  }),
);

const ZWSP = '\u200B';
const ZWJ = '\u200D';
const SHY = '\u00AD';
const WJ = '\u2060';
const FULLWIDTH = (s: string): string => s.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));

describe('detectionView', () => {
  it('is the text itself when there is nothing to fold (no copy, no map)', () => {
    for (const t of ['plain ascii 123-45-6789', 'Grüße aus München, 東京', '']) {
      const v = detectionView(t);
      expect(v.text).toBe(t);
      expect(v.starts).toBeUndefined();
    }
  });

  it('removes format and default-ignorable characters, applies NFKC, folds dashes, digits and Cyrillic look-alikes', () => {
    expect(detectionView(`1${ZWSP}2${SHY}3${WJ}4\uFE0F5\u{E0041}6`).text).toBe('123456');
    expect(detectionView('４１１１－ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ').text).toBe('4111-jane@example.com');
    expect(detectionView('123\u2013456\u2212789\u2011').text).toBe('123-456-789-');
    expect(detectionView('٠١٢٣٤٥٦٧٨٩ ०१२ ๑๒๓').text).toBe('0123456789 012 123');
    expect(detectionView('prоjесt').text).toBe('project'); // Cyrillic о, е, с
    expect(detectionView('ﬁle 𝟏𝟐𝟑').text).toBe('file 123');
  });

  it('maps every view code unit to the original code point it came from', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (t) => {
        const v = detectionView(t);
        if (!v.starts) return;
        expect(v.starts.length).toBe(v.text.length);
        for (let j = 0; j < v.text.length; j++) {
          expect(v.ends![j]!).toBeGreaterThan(v.starts[j]!);
          if (j > 0) expect(v.starts[j]!).toBeGreaterThanOrEqual(v.starts[j - 1]!);
        }
      }),
    );
  });
});

describe('evasion: invisible and look-alike characters inside a value', () => {
  const cases: Array<[string, string, string]> = [
    ['US_SSN with zero-width spaces', `SSN 123${ZWSP}-45${ZWSP}-6789 ok`, `123${ZWSP}-45${ZWSP}-6789`],
    ['US_SSN with a soft hyphen and a word joiner', `ssn: 12${SHY}3-4${WJ}5-6789`, `12${SHY}3-4${WJ}5-6789`],
    ['US_SSN in fullwidth digits and dash', `ssn ${FULLWIDTH('123-45-6789')}.`, FULLWIDTH('123-45-6789')],
    ['US_SSN with en dashes', 'ssn 123\u201345\u20136789 ok', '123\u201345\u20136789'],
    ['CREDIT_CARD with zero-width joiners', `card 4111${ZWJ}1111${ZWJ}1111${ZWJ}1111 ok`, `4111${ZWJ}1111${ZWJ}1111${ZWJ}1111`],
    ['CREDIT_CARD in fullwidth digits', `card ${FULLWIDTH('4111 1111 1111 1111')} ok`, FULLWIDTH('4111 1111 1111 1111')],
    ['CREDIT_CARD in Arabic-Indic digits', 'card ٤١١١١١١١١١١١١١١١ ok', '٤١١١١١١١١١١١١١١١'],
    ['EMAIL with a zero-width space', `mail jane${ZWSP}.doe@example.com now`, `jane${ZWSP}.doe@example.com`],
    ['EMAIL with fullwidth @ and dot', 'mail jane＠example．com now', 'jane＠example．com'],
    ['EMAIL with a Cyrillic o', 'mail jаne@exаmple.com now', 'jаne@exаmple.com'],
  ];

  it.each(cases)('%s is found and masked whole', async (_name, text, value) => {
    const r = await createMasker(masking()).maskItems([text]);
    expect(r.items[0]).not.toContain(value);
    const start = text.indexOf(value);
    const offsets = r.findings[0]!.flatMap((f) => f.offsets);
    expect(offsets).toContainEqual([start, start + value.length]);
    // No digit, letter of the value or invisible character of it survives.
    expect(r.items[0]).not.toMatch(/\u200B|\u200D|\u00AD|\u2060/);
  });

  it('a blocked phrase with invisible or look-alike characters inside is blocked', async () => {
    for (const text of [
      'about Project Falcon today',
      `about Pro${ZWSP}ject Fal${ZWJ}con today`,
      'about Ｐｒｏｊｅｃｔ Ｆａｌｃｏｎ today',
      'about Prоjеct Fаlcоn today', // Cyrillic о, е, а
      `about Project\u00A0Fal${SHY}con today`,
    ]) {
      const r = await blockPhrase.maskItems([text]);
      expect({ text, blocked: r.blocked }).toEqual({ text, blocked: ['CODENAME'] });
      expect(r.items[0]).toBe('about [CODENAME] today');
    }
  });

  it('an SSN split by invisible characters is blocked', async () => {
    const r = await blockPhrase.maskItems([`my ssn is 078${ZWSP}-05${ZWSP}-1120`]);
    expect(r.blocked).toEqual(['US_SSN']);
  });

  it('invisible characters outside a value stay, and text without values is unchanged', async () => {
    const text = `hello${ZWSP} world, ${FULLWIDTH('abc')} e\u0301t\u00E9 ١٢٣ 😀👍🏽`;
    const r = await createMasker(masking()).maskItems([text]);
    expect(r.items[0]).toBe(text);
    expect(found(`x${ZWSP} a@example.com`)).toEqual(['email:a@example.com']);
  });

  it('masking is idempotent on text with invisible characters', async () => {
    const m = createMasker(masking());
    const once = (await m.maskItems([`call 555${ZWSP}-234-5678, ssn 123-45${ZWJ}-6789, a${SHY}b@example.com`])).items[0]!;
    expect((await m.maskItems([once])).items[0]).toBe(once);
  });
});
