/**
 * Glob patterns for policy matching: `*` matches any run of characters (including `/` and `:`,
 * so `repo:acme/*` covers GitHub Actions subjects), `?` matches one character, `\` escapes.
 * Matching is the classic greedy two-pointer algorithm: O(pattern x text) worst case and no
 * regular expression, so a hostile claim value cannot trigger catastrophic backtracking.
 * (picomatch/minimatch treat `/` as a path separator, which is wrong for claim values.)
 */
export type GlobMatcher = (text: string) => boolean;

type Token = { kind: 'lit'; ch: string } | { kind: 'any' } | { kind: 'one' };

export function compileGlob(pattern: string): GlobMatcher {
  if (pattern.length === 0) throw new Error('a pattern must not be empty');
  if (pattern.length > 512) throw new Error('a pattern must be at most 512 characters');
  const tokens: Token[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) throw new Error('a pattern must not end with a lone "\\"');
      tokens.push({ kind: 'lit', ch: next });
      i++;
    } else if (c === '*') {
      if (tokens.at(-1)?.kind !== 'any') tokens.push({ kind: 'any' });
    } else if (c === '?') {
      tokens.push({ kind: 'one' });
    } else {
      tokens.push({ kind: 'lit', ch: c });
    }
  }
  if (tokens.every((t) => t.kind === 'lit')) {
    const literal = tokens.map((t) => (t as { ch: string }).ch).join('');
    return (text) => text === literal;
  }
  return (text) => matchTokens(tokens, text);
}

function matchTokens(tokens: readonly Token[], text: string): boolean {
  let t = 0;
  let s = 0;
  let starT = -1;
  let starS = 0;
  while (s < text.length) {
    const tok = tokens[t];
    if (tok && (tok.kind === 'one' || (tok.kind === 'lit' && tok.ch === text[s]))) {
      t++;
      s++;
    } else if (tok && tok.kind === 'any') {
      starT = t++;
      starS = s;
    } else if (starT >= 0) {
      t = starT + 1;
      s = ++starS;
    } else {
      return false;
    }
  }
  while (tokens[t]?.kind === 'any') t++;
  return t === tokens.length;
}

/** True when `text` matches any of the patterns. */
export function matchesAny(patterns: readonly string[], text: string): boolean {
  return patterns.some((p) => compileCached(p)(text));
}

const cache = new Map<string, GlobMatcher>();
function compileCached(pattern: string): GlobMatcher {
  let m = cache.get(pattern);
  if (!m) {
    m = compileGlob(pattern);
    if (cache.size < 10_000) cache.set(pattern, m);
  }
  return m;
}
