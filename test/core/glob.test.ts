/**
 * Glob matching for policy conditions: `*` any run (including `/` and `:`), `?` one character,
 * `\` escapes; whole-string matches; linear-time matching on hostile input.
 */
import fc from 'fast-check';
import { compileGlob, matchesAny } from '../../shared/glob';

const matches = (pattern: string, text: string) => compileGlob(pattern)(text);

/** A glob that matches exactly `s`: every glob metacharacter (and, harmlessly, every regex one) escaped. */
const escapeGlob = (s: string) => s.replace(/[\\*?.+^$|()[\]{}]/g, '\\$&');

/** Reference semantics via a regular expression (fine for the short inputs of the property test). */
function referenceMatch(pattern: string, text: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') re += pattern[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    else if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`).test(text);
}

describe('compileGlob', () => {
  it('a literal pattern matches exactly that string (whole-string, case-sensitive)', () => {
    expect(matches('svc-a', 'svc-a')).toBe(true);
    for (const other of ['svc-', 'svc-ab', 'xsvc-a', 'SVC-A', '']) expect(matches('svc-a', other)).toBe(false);
  });

  it('"*" matches any run of characters, including none', () => {
    expect(matches('*', '')).toBe(true);
    expect(matches('*', 'anything at all')).toBe(true);
    expect(matches('svc-*', 'svc-')).toBe(true);
    expect(matches('svc-*', 'svc-indexer')).toBe(true);
    expect(matches('svc-*', 'svc')).toBe(false);
    expect(matches('*-bot', 'support-bot')).toBe(true);
    expect(matches('*-bot', 'support-bots')).toBe(false);
    expect(matches('a*b*c', 'abc')).toBe(true);
    expect(matches('a*b*c', 'a-b-b-c')).toBe(true);
    expect(matches('a*b*c', 'a-c-b')).toBe(false);
    expect(matches('a**b', 'ab')).toBe(true);
  });

  it('"*" crosses "/" and ":" (GitHub Actions subjects)', () => {
    const subject = 'repo:acme/app:ref:refs/heads/main';
    expect(matches('repo:acme/*', subject)).toBe(true);
    expect(matches('repo:acme/*', 'repo:acme/app:environment:prod')).toBe(true);
    expect(matches('repo:acme/*:ref:refs/heads/main', subject)).toBe(true);
    expect(matches('repo:acme/*:ref:refs/heads/main', 'repo:acme/app:ref:refs/heads/feature')).toBe(false);
    expect(matches('repo:acme/*', 'repo:acme-evil/app:ref:refs/heads/main')).toBe(false);
    expect(matches('repo:acme/*', 'repo:other/app:ref:refs/heads/main')).toBe(false);
    expect(matches('https://*', 'https://idp.example.com/realms/a')).toBe(true);
  });

  it('"?" matches exactly one character, any character', () => {
    expect(matches('a?c', 'abc')).toBe(true);
    expect(matches('a?c', 'a/c')).toBe(true);
    expect(matches('a?c', 'a:c')).toBe(true);
    expect(matches('a?c', 'ac')).toBe(false);
    expect(matches('a?c', 'abbc')).toBe(false);
    expect(matches('???', 'abc')).toBe(true);
    expect(matches('???', 'ab')).toBe(false);
    expect(matches('?*', '')).toBe(false);
    expect(matches('?*', 'x')).toBe(true);
  });

  it('"\\" escapes the next character: escaped "*", "?" and "\\" are literals', () => {
    expect(matches('\\*', '*')).toBe(true);
    expect(matches('\\*', 'x')).toBe(false);
    expect(matches('\\*', '')).toBe(false);
    expect(matches('a\\?b', 'a?b')).toBe(true);
    expect(matches('a\\?b', 'axb')).toBe(false);
    expect(matches('\\\\', '\\')).toBe(true);
    expect(matches('\\\\', '\\\\')).toBe(false);
    expect(matches('\\a', 'a')).toBe(true);
    expect(matches('pre\\*-*', 'pre*-x')).toBe(true);
    expect(matches('pre\\*-*', 'prex-x')).toBe(false);
  });

  it('regex metacharacters are plain literals', () => {
    expect(matches('a.b', 'a.b')).toBe(true);
    expect(matches('a.b', 'axb')).toBe(false);
    expect(matches('[ab]+', '[ab]+')).toBe(true);
    expect(matches('[ab]+', 'a')).toBe(false);
    expect(matches('^x$', '^x$')).toBe(true);
  });

  it('empty text is matched only by patterns made of "*"', () => {
    expect(matches('*', '')).toBe(true);
    expect(matches('***', '')).toBe(true);
    expect(matches('?', '')).toBe(false);
    expect(matches('a', '')).toBe(false);
    expect(matches('*a', '')).toBe(false);
    expect(matches('\\*', '')).toBe(false);
  });

  it('refuses invalid patterns: empty, a lone trailing backslash, longer than 512 characters', () => {
    expect(() => compileGlob('')).toThrow('a pattern must not be empty');
    expect(() => compileGlob('abc\\')).toThrow('a pattern must not end with a lone "\\"');
    expect(() => compileGlob('\\')).toThrow('a pattern must not end with a lone "\\"');
    expect(() => compileGlob('x'.repeat(513))).toThrow('a pattern must be at most 512 characters');
    expect(compileGlob('x'.repeat(512))('x'.repeat(512))).toBe(true);
    expect(() => compileGlob('abc\\\\')).not.toThrow();
  });

  it('a pathological pattern against 10,000 "a"s returns (no catastrophic backtracking)', () => {
    const text = 'a'.repeat(10_000);
    expect(matches('*a*a*a*a*a*b', text)).toBe(false);
    expect(matches('*a*a*a*a*a*b', `${text}b`)).toBe(true);
    expect(matches('*?*?*?*?*?*b', text)).toBe(false);
    expect(matchesAny(['*a*a*a*a*a*b', 'b*'], text)).toBe(false);
  });

  it('property: a glob built from a literal with metacharacters escaped matches exactly that literal', () => {
    const literal = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 100 }),
      fc.string({ unit: fc.constantFrom('*', '?', '\\', '.', '[', ']', '/', ':', 'a', 'b'), minLength: 1, maxLength: 60 }),
    );
    fc.assert(
      fc.property(literal, fc.string({ unit: 'binary', maxLength: 100 }), (s, other) => {
        const m = compileGlob(escapeGlob(s));
        expect(m(s)).toBe(true);
        expect(m(`${s}x`)).toBe(false);
        expect(m(`x${s}`)).toBe(false);
        expect(m(s.slice(1))).toBe(false);
        expect(m(other)).toBe(other === s);
      }),
    );
  });

  it('property: matching agrees with a regular-expression reference on small alphabets', () => {
    const pattern = fc
      .array(fc.constantFrom('a', 'b', '/', ':', '*', '?', '\\*', '\\?', '\\\\'), { minLength: 1, maxLength: 8 })
      .map((parts) => parts.join(''));
    const text = fc.string({ unit: fc.constantFrom('a', 'b', '/', ':', '*', '?', '\\'), maxLength: 10 });
    fc.assert(
      fc.property(pattern, text, (p, t) => {
        expect(compileGlob(p)(t)).toBe(referenceMatch(p, t));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('matchesAny', () => {
  it('is true when any pattern matches, false for none or an empty list', () => {
    expect(matchesAny(['svc-*', 'bot-?'], 'bot-1')).toBe(true);
    expect(matchesAny(['svc-*', 'bot-?'], 'bot-12')).toBe(false);
    expect(matchesAny([], 'anything')).toBe(false);
  });

  it('gives the same answers on repeated (cached) use', () => {
    for (let i = 0; i < 3; i++) {
      expect(matchesAny(['team-?'], 'team-a')).toBe(true);
      expect(matchesAny(['team-?'], 'team-ab')).toBe(false);
    }
  });
});
