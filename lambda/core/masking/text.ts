/**
 * Character tests and small scanning helpers shared by the detectors. Boundaries are ASCII:
 * a value next to a CJK character or an accented letter still counts as delimited (text in
 * scripts without spaces is scanned as well as English).
 */

/** A span of text, UTF-16 code units, end exclusive. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

export const isDigit = (c: number): boolean => c >= 48 && c <= 57;
export const isUpper = (c: number): boolean => c >= 65 && c <= 90;
export const isLower = (c: number): boolean => c >= 97 && c <= 122;
export const isAlpha = (c: number): boolean => isUpper(c) || isLower(c);
export const isAlnum = (c: number): boolean => isDigit(c) || isAlpha(c);
/** `[A-Za-z0-9_]`, the ASCII word characters. */
export const isWord = (c: number): boolean => isAlnum(c) || c === 95;

/** The code unit at `i`, or -1 outside the text (so boundary tests need no range checks). */
export function codeAt(text: string, i: number): number {
  return i >= 0 && i < text.length ? text.charCodeAt(i) : -1;
}

/** The digits of `s`, in order. */
export function digitsOf(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isDigit(c)) out += s[i];
  }
  return out;
}

/**
 * Whether one of `words` (lower-case) ends within `window` characters before `start`, compared
 * case-insensitively. Linear in `window`; `window` is small and bounded by configuration.
 */
export function hasContextBefore(text: string, start: number, words: readonly string[], window: number): boolean {
  if (words.length === 0) return true;
  const from = Math.max(0, start - window);
  const before = text.slice(from, start).toLowerCase();
  return words.some((w) => before.includes(w));
}

/** Iterate the global regex's matches from the start of `text` (resets `lastIndex`, skips empty matches). */
export function* matches(re: RegExp, text: string): Generator<RegExpExecArray> {
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0].length === 0) {
      re.lastIndex++;
      continue;
    }
    yield m;
  }
}
