/**
 * ReDoS safety: recheck over every built-in pattern, and the load-time screen of custom patterns
 * (its refusals, and a corpus showing that what it accepts recheck finds safe).
 */
import fc from 'fast-check';
import { check } from 'recheck';
import { BUILTIN } from '../../lambda/core/masking/detectors';
import { CHUNK_PATTERNS } from '../../lambda/core/util/text-chunks';
import { SCREEN_PATTERNS, screenPattern } from '../../shared/masking/pattern-safety';
import { TEXT_PATTERNS } from '../../lambda/core/masking/text';
import { VIEW_PATTERNS } from '../../lambda/core/masking/view';

jest.setTimeout(120_000);

const BUILTIN_PATTERNS: Array<[string, RegExp]> = [
  ...Object.values(BUILTIN).flatMap((d) => d.patterns.map((p): [string, RegExp] => [d.name, p])),
  ...SCREEN_PATTERNS.map((p): [string, RegExp] => ['pattern-safety', p]),
  ...CHUNK_PATTERNS.map((p): [string, RegExp] => ['text-chunks', p]),
  ...TEXT_PATTERNS.map((p): [string, RegExp] => ['text', p]),
  ...VIEW_PATTERNS.map((p): [string, RegExp] => ['view', p]),
];

describe('recheck: every built-in pattern is safe', () => {
  it('the list covers every regex-based detector', () => {
    const withPatterns = new Set(BUILTIN_PATTERNS.map(([n]) => n));
    for (const n of [
      'phone',
      'us_ssn',
      'credit_card',
      'iban',
      'ipv4',
      'aws_access_key_id',
      'aws_secret_access_key',
      'jwt',
      'private_key',
      'api_key',
      'text',
    ])
      expect(withPatterns).toContain(n);
    // The others use no regular expression: e-mail and IPv6 scan with indexOf and character tests.
    expect(BUILTIN.email.patterns).toEqual([]);
    expect(BUILTIN.ipv6.patterns).toEqual([]);
  });

  it.each(BUILTIN_PATTERNS.map(([name, re]) => [name, re.source.length > 60 ? `${re.source.slice(0, 60)}…` : re.source, re] as const))(
    '%s: %s',
    async (_name, _shown, re) => {
      // A generous time limit: the fuzz checker needs seconds for the phone candidate pattern on a loaded machine.
      const r = await check(re.source, re.flags.replace('g', ''), { timeout: 60_000 });
      expect({ status: r.status, ...(r.status === 'vulnerable' ? { attack: r.attack.pattern } : {}) }).toEqual({ status: 'safe' });
    },
  );
});

/** Patterns an operator might configure, all accepted by the screen. */
const ACCEPTED = [
  'EMP-\\d{6}',
  '\\bEMP-\\d+',
  '(?<![A-Za-z0-9])[A-Z]{2}\\d{6,10}(?![A-Za-z0-9])',
  'ACME-[A-Z]{3}-\\d{1,16}(?:-\\d{1,4})?',
  '\\d{4}[ -]?\\d{4}[ -]?\\d{4}[ -]?\\d{4}',
  '(?:-\\d{4}){3}',
  '[a-z]{1,20}@corp',
  'MRN[: ]?\\d{7}',
  '(?:patient|case) id \\d{8}',
  'CUST_[0-9a-f]{24}',
  '\\b[A-Z]{3}\\d{9}\\b',
  '(?<!\\d)\\d{3}\\.\\d{3}\\.\\d{3}-\\d{2}(?!\\d)',
];

/** Patterns the screen must refuse, most of them genuinely vulnerable. */
const REFUSED: Array<[string, RegExp]> = [
  ['(a+)+$', /unbounded quantifier/],
  ['(a|aa)*b', /unbounded quantifier/],
  ['[a-z]+@[a-z]+\\.com', /unbounded quantifier/],
  ['\\d+x', /unbounded quantifier/],
  ['(\\w)\\1', /backreferences/],
  ['(?<x>a)\\k<x>', /backreferences/],
  ['(?:a|b){2,8}c', /alternation/],
  ['(?=\\d+)x', /lookaround/],
  ['[a-z]{1,16}[a-z]{1,16}@', /repetitions in total/],
  ['\\d{1,40}x', /repetitions in total/],
  ['a?a?a?a?a?a?a?a?a?a?a?b', /backtrack through/],
  ['x*', /unbounded|empty string/],
  ['a{0,3}', /empty string/],
  ['(', /not a valid regular expression/],
];

describe('screenPattern', () => {
  it.each(ACCEPTED)('accepts %s', (p) => {
    expect(screenPattern(p)).toEqual({ ok: true });
  });

  it.each(REFUSED)('refuses %s', (p, reason) => {
    const r = screenPattern(p);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.reason).toMatch(reason);
  });

  it('refuses flags it does not allow and repeated flags, accepts i, m, s, u', () => {
    expect(screenPattern('abc', 'imsu')).toEqual({ ok: true });
    expect(screenPattern('abc', 'g')).toMatchObject({ ok: false, reason: expect.stringMatching(/flag "g" is not allowed/) });
    expect(screenPattern('abc', 'y')).toMatchObject({ ok: false });
    expect(screenPattern('abc', 'ii')).toMatchObject({ ok: false, reason: expect.stringMatching(/repeat/) });
  });

  it('refuses patterns longer than 512 characters', () => {
    expect(screenPattern('a'.repeat(513))).toMatchObject({ ok: false, reason: expect.stringMatching(/at most 512/) });
  });

  it('understands classes, escapes and groups that look like quantifiers or groups', () => {
    expect(screenPattern('[+*?(){}|]{2}x')).toEqual({ ok: true });
    expect(screenPattern('\\(\\d{3}\\) \\d{3}-\\d{4}')).toEqual({ ok: true });
    expect(screenPattern('\\p{Lu}{2}\\d{4}', 'u')).toEqual({ ok: true });
    expect(screenPattern('a{,5}b')).toEqual({ ok: true }); // "{,5}" is literal text outside unicode mode
  });

  // recheck runs here on every accepted pattern: the screen must never accept what recheck calls unsafe.
  it.each(ACCEPTED)('recheck agrees that %s is safe', async (p) => {
    expect((await check(p, '')).status).toBe('safe');
  });
});

describe('screenPattern against recheck on generated patterns', () => {
  // Random patterns from a small grammar (atoms, classes, groups, quantifiers, alternation).
  const atom = fc.constantFrom('a', 'b', '\\d', '[a-z]', '[A-Z0-9]', '-', '\\.', '@', '\\s', '.');
  const quant = fc.constantFrom('', '', '?', '*', '+', '{2}', '{1,3}', '{0,8}', '{2,12}', '{3,}');
  const piece: fc.Arbitrary<string> = fc.letrec((tie) => ({
    piece: fc.oneof(
      { weight: 4, arbitrary: fc.tuple(atom, quant).map(([a, q]) => a + q) },
      {
        weight: 1,
        arbitrary: fc.tuple(fc.array(tie('piece'), { minLength: 1, maxLength: 3 }), quant).map(([xs, q]) => `(?:${xs.join('')})${q}`),
      },
      { weight: 1, arbitrary: fc.tuple(tie('piece'), tie('piece')).map(([x, y]) => `(?:${x}|${y})`) },
    ),
  })).piece as fc.Arbitrary<string>;
  const pattern = fc.array(piece, { minLength: 1, maxLength: 5 }).map((xs) => xs.join(''));

  it('every generated pattern the screen accepts is safe for recheck', async () => {
    const accepted = new Set<string>();
    fc.assert(
      fc.property(pattern, (p) => {
        if (screenPattern(p).ok) accepted.add(p);
      }),
      { seed: 20261129, numRuns: 2000 },
    );
    expect(accepted.size).toBeGreaterThan(50);
    const results = await Promise.all(
      [...accepted].slice(0, 150).map(async (p) => [p, (await check(p, '', { timeout: 20_000 })).status] as const),
    );
    expect(results.filter(([, s]) => s !== 'safe')).toEqual([]);
  });
});
