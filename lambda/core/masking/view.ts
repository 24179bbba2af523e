/**
 * The text detectors read: what a model would make of the input, not its code points.
 *
 * A value can hide from a pattern behind characters a reader (and a tokenizer) skips or reads as
 * ASCII: `123\u200B-45-6789`, fullwidth `４１１１ １１１１ …`, `jane＠example．com`, a Cyrillic `о`
 * in a blocked phrase. Every detector (built-in and custom, so blocked phrases too) therefore runs
 * on a normalised view of the text:
 *
 * 1. default-ignorable and format code points (`\p{Default_Ignorable_Code_Point}`, `\p{Cf}`: zero
 *    width spaces and joiners, soft hyphens, bidi controls, variation selectors, tag characters)
 *    are removed;
 * 2. every other code point is replaced by its NFKC form (fullwidth and other compatibility forms,
 *    ligatures, mathematical alphanumerics, compatibility spaces);
 * 3. look-alikes that NFKC keeps are folded: dashes and minus signs to `-`, ideographic full stops
 *    to `.`, decimal digits of any script to ASCII digits, Cyrillic and Greek letters shaped like
 *    Latin ones to those letters.
 *
 * Each code unit of the view remembers the original code point it came from, so a finding in the
 * view maps back to the whole original span, the invisible characters inside it included: masking
 * replaces all of it. Text with nothing to change (all ASCII, the common case) is its own view, at
 * the cost of one scan for a non-ASCII character.
 */

/** A text as detectors see it, with the way back to the original. */
export interface DetectionView {
  /** The normalised text. */
  readonly text: string;
  /**
   * `[start, end)` in the view to `[start, end)` in the original (the first code unit's source
   * start to the last one's source end). Undefined when the view is the original itself.
   */
  readonly starts?: Int32Array;
  readonly ends?: Int32Array;
}

const NON_ASCII = /[\u0080-\uffff]/;
const IGNORABLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}]/u;
/** Dashes and minus signs NFKC leaves alone. */
const DASHES = /[\u2010-\u2015\u2212\u2043\u2e3a\u2e3b\ufe58\ufe63\uff0d]/;
/** Patterns of this module, for the recheck test. */

/** Look-alikes NFKC keeps, folded to ASCII (applied after NFKC). */
const CONFUSABLES: Readonly<Record<string, string>> = {
  '\u3002': '.', // ideographic full stop
  '\uff61': '.', // halfwidth ideographic full stop (NFKC gives U+3002)
  '\u2024': '.',
  // Cyrillic
  А: 'A',
  В: 'B',
  Е: 'E',
  К: 'K',
  М: 'M',
  Н: 'H',
  О: 'O',
  Р: 'P',
  С: 'C',
  Т: 'T',
  Х: 'X',
  Ѕ: 'S',
  І: 'I',
  Ј: 'J',
  Ү: 'Y',
  а: 'a',
  е: 'e',
  о: 'o',
  р: 'p',
  с: 'c',
  у: 'y',
  х: 'x',
  ѕ: 's',
  і: 'i',
  ј: 'j',
  һ: 'h',
  ԁ: 'd',
  ԛ: 'q',
  ԝ: 'w',
  ӏ: 'l',
  // Greek
  Α: 'A',
  Β: 'B',
  Ε: 'E',
  Ζ: 'Z',
  Η: 'H',
  Ι: 'I',
  Κ: 'K',
  Μ: 'M',
  Ν: 'N',
  Ο: 'O',
  Ρ: 'P',
  Τ: 'T',
  Υ: 'Y',
  Χ: 'X',
  ο: 'o',
  ν: 'v',
  ρ: 'p',
  ι: 'i',
  κ: 'k',
  χ: 'x',
  υ: 'u',
};

const DIGIT = /\p{Nd}/u;
const escape = (ch: string): string => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
/** Whether a text NFKC leaves alone has anything else to fold. */
const FOLDABLE = new RegExp(
  `[\\p{Cf}\\p{Default_Ignorable_Code_Point}${DASHES.source.slice(1, -1)}${Object.keys(CONFUSABLES).map(escape).join('')}]|(?![0-9])\\p{Nd}`,
  'u',
);
const folded = new Map<string, string>();

/** What one non-ASCII code point becomes in the view ('' when it is removed). */
function foldCodePoint(ch: string): string {
  let out = folded.get(ch);
  if (out !== undefined) return out;
  if (IGNORABLE.test(ch)) out = '';
  else {
    out = '';
    for (const c of ch.normalize('NFKC')) out += foldOne(c);
  }
  if (folded.size < 4096) folded.set(ch, out);
  return out;
}

function foldOne(c: string): string {
  if (c.charCodeAt(0) < 0x80) return c;
  if (DASHES.test(c)) return '-';
  const confusable = CONFUSABLES[c];
  if (confusable !== undefined) return confusable;
  if (DIGIT.test(c)) return String(digitValue(c.codePointAt(0)!));
  if (IGNORABLE.test(c)) return '';
  return c;
}

/** Value of a decimal digit: digits come in runs of ten starting at a zero (Unicode's rule for Nd). */
function digitValue(cp: number): number {
  let zero = cp;
  while (zero > cp - 9 && DIGIT.test(String.fromCodePoint(zero - 1))) zero--;
  return (cp - zero) % 10;
}

/** Patterns of this module, for the recheck test. */
export const VIEW_PATTERNS: readonly RegExp[] = [NON_ASCII, IGNORABLE, DASHES, DIGIT, FOLDABLE];

/** The view of `text` (see the module comment). */
export function detectionView(text: string): DetectionView {
  if (!NON_ASCII.test(text)) return { text };
  if (!FOLDABLE.test(text) && text.normalize('NFKC') === text) return { text };
  let out = '';
  let changed = false;
  const starts: number[] = [];
  const ends: number[] = [];
  for (let i = 0; i < text.length;) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      out += text[i];
      starts.push(i);
      ends.push(i + 1);
      i++;
      continue;
    }
    const units = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
    const ch = units === 2 ? text.slice(i, i + 2) : text[i]!;
    const f = foldCodePoint(ch);
    if (f !== ch) changed = true;
    out += f;
    for (let k = 0; k < f.length; k++) {
      starts.push(i);
      ends.push(i + units);
    }
    i += units;
  }
  if (!changed) return { text };
  return { text: out, starts: Int32Array.from(starts), ends: Int32Array.from(ends) };
}

/** `[start, end)` of the view in the original text (`end > start`). */
export function toOriginalSpan(view: DetectionView, start: number, end: number): { start: number; end: number } {
  if (!view.starts) return { start, end };
  return { start: view.starts[start]!, end: view.ends![end - 1]! };
}
