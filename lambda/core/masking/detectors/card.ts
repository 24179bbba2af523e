/**
 * Payment card numbers: 13-19 digits, bare or grouped with spaces or dashes (one kind), Luhn-valid,
 * in a known issuer range with a length that issuer uses. Grouping, when present, is the printed
 * one: fours with a shorter last group (13, 16, 19 digits), or 4-6-5 / 4-6-4 (Amex, Diners).
 */
import { luhn } from '../validators';
import { codeAt, digitsOf, forEachMatch, isDigit, isWord, type Span } from '../text';
import type { Detector } from '../types';

/**
 * Candidates are whole runs of digits with single spaces or dashes between them. `REGION` finds
 * stretches of at least 13 digits, spaces and dashes (a character class with nothing after it: one
 * pass, no backtracking), and a character loop splits them into runs (a run of any length costs its
 * length, once). Cards are then looked for inside each run, so a card next to another number is
 * still found.
 */
const REGION = /[0-9][0-9 -]{12,}/g;
const isSeparator = (c: number): boolean => c === 32 || c === 45;
/** `[A-Za-z0-9_+\-./#$@]`: a run after one of these is part of something else. */
const gluedBefore = (c: number): boolean => isWord(c) || c === 43 || c === 45 || c === 46 || c === 47 || c === 35 || c === 36 || c === 64;

interface Brand {
  readonly name: string;
  /** Inclusive prefix ranges and the number of leading digits they compare. */
  readonly ranges: ReadonlyArray<readonly [from: number, to: number, digits: number]>;
  readonly lengths: readonly number[];
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const brand = (name: string, ranges: ReadonlyArray<readonly [number, number]>, lengths: readonly number[]): Brand => ({
  name,
  ranges: ranges.map(([from, to]) => [from, to, String(from).length] as const),
  lengths,
});
const BRANDS: readonly Brand[] = [
  brand('visa', [[4, 4]], [13, 16, 19]),
  brand(
    'mastercard',
    [
      [51, 55],
      [2221, 2720],
    ],
    [16],
  ),
  brand(
    'amex',
    [
      [34, 34],
      [37, 37],
    ],
    [15],
  ),
  brand(
    'discover',
    [
      [6011, 6011],
      [644, 649],
      [65, 65],
    ],
    range(16, 19),
  ),
  brand('jcb', [[3528, 3589]], range(16, 19)),
  brand(
    'diners',
    [
      [300, 305],
      [3095, 3095],
      [36, 36],
      [38, 39],
    ],
    range(14, 19),
  ),
  brand('unionpay', [[62, 62]], range(16, 19)),
  brand('mir', [[2200, 2204]], range(16, 19)),
  brand(
    'maestro',
    [
      [5018, 5018],
      [5020, 5020],
      [5038, 5038],
      [5893, 5893],
      [6304, 6304],
      [6759, 6759],
      [6761, 6763],
    ],
    range(13, 19),
  ),
];

/** The brand of a card number (digits only), or null when no known issuer range and length fit. */
export function cardBrand(digits: string): string | null {
  const p4 = Number(digits.slice(0, 4));
  const prefix = [0, Math.floor(p4 / 1000), Math.floor(p4 / 100), Math.floor(p4 / 10), p4];
  for (const b of BRANDS) {
    if (!b.lengths.includes(digits.length)) continue;
    for (const [from, to, n] of b.ranges) {
      if (prefix[n]! >= from && prefix[n]! <= to) return b.name;
    }
  }
  return null;
}

/** Printed groupings: fours with a shorter last group, or 4-6-5 / 4-6-4. */
function groupingOk(sizes: readonly number[], from = 0, to = sizes.length): boolean {
  const n = to - from;
  if (n === 1) return true;
  if (n === 3 && sizes[from] === 4 && sizes[from + 1] === 6 && (sizes[from + 2] === 5 || sizes[from + 2] === 4)) return true;
  for (let k = from; k < to - 1; k++) if (sizes[k] !== 4) return false;
  const last = sizes[to - 1]!;
  return last >= 1 && last <= 4;
}

const valid = (digits: string): boolean => luhn(digits) && cardBrand(digits) !== null;

/**
 * The cards inside a run: from left to right, the longest sequence of whole groups (one kind of
 * separator) that is a valid card, skipping a group when none starts there. A card followed by a
 * year or preceded by a short number is still found; so are two cards in one run. The last group
 * is left out when the run is glued to a word or a dotted/dashed number.
 */
function cardsIn(text: string, value: string, at: number, out: Span[]): void {
  const sizes: number[] = [];
  const seps: number[] = [];
  let size = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (isDigit(c)) {
      size++;
    } else {
      sizes.push(size);
      seps.push(c);
      size = 0;
    }
  }
  sizes.push(size);
  const after = codeAt(text, at + value.length);
  const glued =
    isWord(after) ||
    ((after === 46 || after === 45 || after === 47 || after === 58 || after === 44) && isDigit(codeAt(text, at + value.length + 1)));
  const groups = glued ? sizes.length - 1 : sizes.length;
  const digits = digitsOf(value);
  let digitStart = 0;
  let offset = 0;
  for (let i = 0; i < groups;) {
    let len = 0;
    let best = -1;
    for (let j = i; j < groups; j++) {
      if (j > i && seps[j - 1] !== seps[i]) break;
      len += sizes[j]!;
      if (len > 19) break;
      if (len >= 13 && groupingOk(sizes, i, j + 1) && valid(digits.slice(digitStart, digitStart + len))) best = j;
    }
    if (best === -1) {
      digitStart += sizes[i]!;
      offset += sizes[i]! + 1;
      i++;
      continue;
    }
    let cardLen = 0;
    for (let k = i; k <= best; k++) cardLen += sizes[k]!;
    out.push({ start: at + offset, end: at + offset + cardLen + (best - i) });
    for (let k = i; k <= best; k++) {
      digitStart += sizes[k]!;
      offset += sizes[k]! + 1;
    }
    i = best + 1;
  }
}

function detect(text: string): Span[] {
  const out: Span[] = [];
  forEachMatch(REGION, text, (m) => runsIn(text, m.index, m.index + m[0].length, out));
  return out;
}

function runsIn(text: string, from: number, n: number, out: Span[]): void {
  for (let i = from; i < n; i++) {
    if (!isDigit(text.charCodeAt(i))) continue;
    if (gluedBefore(codeAt(text, i - 1))) {
      // Not a start (`v1`, `10.0.0.1`): skip this group of digits; the next group may be one.
      while (i + 1 < n && isDigit(text.charCodeAt(i + 1))) i++;
      continue;
    }
    let j = i + 1;
    for (;;) {
      if (j < n && isDigit(text.charCodeAt(j))) j++;
      else if (j + 1 < n && isSeparator(text.charCodeAt(j)) && isDigit(text.charCodeAt(j + 1))) j += 2;
      else break;
    }
    if (j - i >= 13) cardsIn(text, text.slice(i, j), i, out);
    i = j;
  }
}

export const cardDetector: Detector = { name: 'credit_card', type: 'CREDIT_CARD', patterns: [REGION], detect };
