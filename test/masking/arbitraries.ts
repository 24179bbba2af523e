/** fast-check generators of valid sensitive values and of text around them. */
import fc from 'fast-check';
import { withLuhn } from './helpers';

const digit = fc.constantFrom(...'0123456789');
const digits = (n: number): fc.Arbitrary<string> => fc.array(digit, { minLength: n, maxLength: n }).map((d) => d.join(''));
const lower = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz');
const word = (min: number, max: number): fc.Arbitrary<string> => fc.array(lower, { minLength: min, maxLength: max }).map((c) => c.join(''));

export const email = fc
  .tuple(word(1, 10), fc.option(word(1, 6), { nil: undefined }), word(2, 12), fc.constantFrom('com', 'org', 'io', 'co.uk', 'de'))
  .map(([a, b, d, tld]) => `${a}${b ? `.${b}` : ''}@${d}.${tld}`);

const n29 = fc.integer({ min: 2, max: 9 });
export const phone = fc.oneof(
  fc.tuple(n29, digits(2), n29, digits(2), digits(4)).map(([a, b, c, d, e]) => `(${a}${b}) ${c}${d}-${e}`),
  fc.tuple(n29, digits(2), n29, digits(2), digits(4)).map(([a, b, c, d, e]) => `${a}${b}-${c}${d}-${e}`),
  fc.tuple(fc.integer({ min: 1, max: 9 }), digits(9)).map(([a, b]) => `+44${a}${b}`),
  fc.tuple(digits(2), digits(4), digits(4)).map(([a, b, c]) => `+44 ${a} ${b} ${c}`),
  fc
    .tuple(fc.integer({ min: 1, max: 9 }), digits(2), digits(2), digits(2), digits(2))
    .map(([a, b, c, d, e]) => `0${a} ${b} ${c} ${d} ${e}`),
);

export const ssn = fc
  .tuple(
    fc.integer({ min: 1, max: 899 }).filter((a) => a !== 666),
    fc.integer({ min: 1, max: 99 }),
    fc.integer({ min: 1, max: 9999 }),
  )
  .map(([a, g, s]) => `${String(a).padStart(3, '0')}-${String(g).padStart(2, '0')}-${String(s).padStart(4, '0')}`);

export const card = fc
  .tuple(
    fc.constantFrom<[string, number]>(['4', 16], ['51', 16], ['2221', 16], ['37', 15], ['6011', 16], ['3530', 16], ['62', 19]),
    digits(18),
    fc.boolean(),
  )
  .map(([[prefix, len], fill, spaced]) => {
    const d = withLuhn(prefix + fill.slice(0, len - 1 - prefix.length), len);
    return spaced ? d.replace(/(\d{4})(?=\d)/g, '$1 ') : d;
  });

/** A valid German IBAN (check digits computed), compact or in groups of four. */
export const iban = fc.tuple(digits(18), fc.boolean()).map(([bban, spaced]) => {
  const numeric = `${bban}131400`; // "DE00" moved to the end, letters as numbers (D=13, E=14)
  let rem = 0;
  for (const ch of numeric) rem = (rem * 10 + Number(ch)) % 97;
  const v = `DE${String(98 - rem).padStart(2, '0')}${bban}`;
  return spaced ? v.replace(/(.{4})(?=.)/g, '$1 ') : v;
});

export const ipv4 = fc
  .tuple(
    fc.integer({ min: 1, max: 255 }),
    fc.integer({ min: 0, max: 255 }),
    fc.integer({ min: 0, max: 255 }),
    fc.integer({ min: 1, max: 254 }),
  )
  .map((o) => o.join('.'));

export const awsKeyId = fc
  .array(fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'), { minLength: 16, maxLength: 16 })
  .map((c) => `AKIA${c.join('')}`);

/** Any valid value of a built-in type. */
export const sensitive = fc.oneof(email, phone, ssn, card, iban, ipv4, awsKeyId);

/** Plain words and punctuation (no digits, no "@"): text that never forms a value with its neighbours. */
export const prose = fc
  .array(fc.oneof(word(1, 8), fc.constantFrom('The', 'and', ',', '.', ';', ':', '(', ')', '!', '—', 'über', '東京', '\n')), {
    maxLength: 8,
  })
  .map((w) => w.join(' '));

/** A text of prose and sensitive values, separated by spaces. */
export const document = fc.array(fc.oneof(prose, sensitive), { minLength: 1, maxLength: 8 }).map((parts) => parts.join(' '));

/** Arbitrary unicode text with sensitive values spliced in (separated by spaces). */
export const noisyDocument = fc
  .array(fc.oneof(fc.string({ maxLength: 12, unit: 'grapheme' }), sensitive), { minLength: 1, maxLength: 8 })
  .map((parts) => parts.join(' '));

/** Documents far apart in long prose: masking rescans only near what it replaced. */
export const sparseDocument = fc
  .array(fc.tuple(fc.oneof(document, noisyDocument), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 4 })
  .map((parts) => parts.map(([d, k]) => d + ' lorem ipsum dolor'.repeat(k * 90)).join(''));
