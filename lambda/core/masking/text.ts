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

/** Which kinds of characters `s` holds: ASCII upper-case and lower-case letters, and characters `isOther` takes. */
export function characterKinds(s: string, isOther: (c: number) => boolean): { upper: boolean; lower: boolean; other: boolean } {
  let upper = false;
  let lower = false;
  let other = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isUpper(c)) upper = true;
    else if (isLower(c)) lower = true;
    else if (isOther(c)) other = true;
  }
  return { upper, lower, other };
}

/** The code unit at `i`, or -1 outside the text (so boundary tests need no range checks). */
export function codeAt(text: string, i: number): number {
  return i >= 0 && i < text.length ? text.charCodeAt(i) : -1;
}

const NON_DIGITS = /[^0-9]+/g;
/** Patterns of this module, for the recheck test. */
export const TEXT_PATTERNS: readonly RegExp[] = [NON_DIGITS];

/** The digits of `s`, in order. */
export function digitsOf(s: string): string {
  return s.replace(NON_DIGITS, '');
}

/**
 * Whether one of `words` (lower case) occurs within `window` characters before `start`, compared
 * case-insensitively, and not as the tail of a longer word (`tel` counts in "Tel:" and
 * "telephone", not in "hotel"). Linear in `window`, which is small and bounded by configuration.
 */
export function hasContextBefore(text: string, start: number, words: readonly string[], window: number): boolean {
  if (words.length === 0) return true;
  return new ContextWindow(text, start, window).has(words);
}

/**
 * The lower-cased text before a position, back to the start of its sentence, searched for several
 * word lists. A sentence ends at a line break, or at ".", "!" or "?" plus whitespace after a word
 * of four letters or more (so "Tel. " and "No. " do not end one).
 */
export class ContextWindow {
  private readonly from: number;
  private readonly before: string;

  constructor(
    private readonly text: string,
    start: number,
    window: number,
  ) {
    let from = Math.max(0, start - window);
    for (let i = start - 1; i > from; i--) {
      const c = text.charCodeAt(i);
      if (c === 10 || c === 13) {
        from = i + 1;
        break;
      }
      if ((c === 32 || c === 9) && sentenceEnd(text, i - 1)) {
        from = i + 1;
        break;
      }
    }
    this.from = from;
    this.before = text.slice(from, start).toLowerCase();
  }

  /** Whether one of `words` occurs within the last `window` characters (all by default). */
  has(words: readonly string[], window = this.before.length): boolean {
    const offset = Math.max(0, this.before.length - window);
    for (const w of words) {
      for (let i = this.before.indexOf(w, offset); i !== -1; i = this.before.indexOf(w, i + 1)) {
        if (
          (!isAlpha(w.charCodeAt(0)) || !isAlpha(codeAt(this.text, this.from + i - 1))) &&
          !insidePlaceholder(this.text, this.from + i, w.length)
        )
          return true;
      }
    }
    return false;
  }

  /**
   * Whether the text just before the position matches `pattern` (lower case, anchored with `$`),
   * with the match starting at a word boundary of the text (not inside a word the window cut).
   */
  endsWith(pattern: RegExp): boolean {
    const m = pattern.exec(this.before);
    return m !== null && !isAlpha(codeAt(this.text, this.from + m.index - 1));
  }
}

/**
 * Whether `[start, start + length)` lies inside a token shaped like a placeholder or pseudonym
 * (`[US_SSN]`, `<PHONE_3f9a1c2e>`): masked text must not supply context words ("ssn", "phone").
 */
export function insidePlaceholder(text: string, start: number, length: number): boolean {
  let s = start;
  while (s > 0 && start - s <= 64 && isWord(text.charCodeAt(s - 1))) s--;
  const open = codeAt(text, s - 1);
  if (open !== 91 && open !== 60) return false;
  let e = start + length;
  while (e < text.length && e - s <= 130 && isWord(text.charCodeAt(e))) e++;
  return codeAt(text, e) === (open === 91 ? 93 : 62);
}

/** Whether `text[i]` is a full stop (or "!" / "?") after a word of four letters or more. */
function sentenceEnd(text: string, i: number): boolean {
  const c = codeAt(text, i);
  if (c !== 46 && c !== 33 && c !== 63) return false;
  let k = i - 1;
  while (k >= 0 && isAlpha(text.charCodeAt(k))) k--;
  return i - 1 - k >= 4;
}

/** `s` trimmed, with every run of whitespace replaced by one space. */
export function collapseWhitespace(s: string): string {
  let out = '';
  let pendingSpace = false;
  for (const ch of s) {
    if (ch.trim() === '') {
      pendingSpace = out.length > 0;
    } else {
      if (pendingSpace) out += ' ';
      out += ch;
      pendingSpace = false;
    }
  }
  return out;
}

/**
 * Call `visit` with each match of the global regex in `text`, from the start (resets `lastIndex`;
 * skips empty matches). Nothing is collected: millions of candidates cost no memory.
 */
export function forEachMatch(re: RegExp, text: string, visit: (m: RegExpExecArray) => void): void {
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0].length === 0) re.lastIndex++;
    else visit(m);
  }
}
