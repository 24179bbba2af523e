/**
 * Phone numbers: E.164, international and national formats, validated by structure and, where
 * structure is not enough, by libphonenumber's metadata (phone-library.ts).
 *
 * Candidates (one regular expression, each alternative deterministic: groups are separated by a
 * required separator, so no digit can be claimed by two quantifiers):
 *   international  `+44 20 7946 0958`, `+1 (555) 123-4567`, `+44 (0)20 7946 0958`, `+33 1 23 45 67 89`
 *   E.164 compact  `+14155552671`
 *   NANP           `(555) 123-4567`, `555-123-4567`, `555.123.4567`, `1-555-123-4567`
 *   trunk prefix   `030 123456 78`, `020 7946 0958`, `06 12 34 56 78`, `(030) 1234567`, `0612345678`
 *   bare digits    `5551234567`, local `555-1234`: only after a context word (`phone`, `tel`, `call`...)
 * Then validated: 7-15 digits (E.164's limit); NANP area code and exchange start with 2-9;
 * trunk-prefix numbers have 10-13 digits and one kind of separator; date shapes
 * (`06.12.2023 14`) are refused; a product-code word just before (`order`, `SKU`, `part`, `#`)
 * refuses a national number that has no phone context word. Boundaries: not inside a longer word, number,
 * version or dotted/dashed sequence.
 *
 * What these rules refuse, libphonenumber may still accept (the library decides, never widens alone):
 *   international  a valid number for its country code (`+683 7012`, Niue's four digits);
 *   national       a number valid in one of the configured regions (`masking.phoneRegions`) and
 *                  written as that region writes it (`(11) 2345-6789` in Brazil, `030 123456` in
 *                  Germany, `09-762-5400` and `09-7625400` in Israel): the digits of its national
 *                  format (the national prefix where that format writes one), separated only where
 *                  the format separates them, and the area code set apart unless nothing is
 *                  (libphonenumber's own STRICT_GROUPING leniency); digit groups that merely parse
 *                  (a ZIP+4 code, an order number) are not written that way;
 *   compact        digits alone, after a phone word; or valid as written in a configured region
 *                  right after a possessive "number" (`My CN number is 13812345678`): "number" alone
 *                  is no phone word (`The number 2436302930 appeared`: 70 % of random 10-digit
 *                  numbers are valid as written in one of the 14 default regions), "my number" is.
 */
import type { CountryCode } from 'libphonenumber-js/max';
import { DEFAULT_PHONE_REGIONS } from '../../../../shared/masking/catalog';
import { ContextWindow, digitsOf, forEachMatch, type Span } from '../text';
import type { Detector } from '../types';
import { phoneLibrary, type PhoneLibrary } from './phone-library';

const ALTERNATIVES = [
  /* 1 international */ '(\\+[1-9]\\d{0,2}(?:[ .-]?\\(\\d{1,4}\\)[ .-]?\\d{1,10})?(?:[ .-]\\d{1,10}){1,6})',
  /* 2 E.164 compact */ '(\\+[1-9]\\d{6,14})',
  /* 3 NANP */ '((?:1[ .-])?(?:\\([2-9]\\d{2}\\) ?|[2-9]\\d{2}[ .-])[2-9]\\d{2}[ .-]\\d{4})',
  /* 4 trunk prefix */ '((?:\\(0\\d{1,5}\\) ?|0\\d{1,5}[ .-])\\d{2,10}(?:[ .-]\\d{2,8}){0,3})',
  /* 5 trunk, compact */ '(0[1-9]\\d{8,11})',
  /* 6 bare / local */ '(\\d{7,15}|\\d{3}-\\d{4})',
  /* 7 other national groupings, for the library */ '((?:\\(\\d{1,5}\\) ?\\d{2,5}|\\d{2,5})(?:[ .-]\\d{2,5}){1,5})',
].join('|');
const CANDIDATE = new RegExp(`(?<![A-Za-z0-9_+\\-./#$@])(?:${ALTERNATIVES})(?![A-Za-z0-9_]|[.\\-/:,]\\d)`, 'g');
/** The same forms, matched against a whole string (a shorter prefix of a refused candidate). */
const WHOLE = new RegExp(`^(?:${ALTERNATIVES})$`);

const PHONE_CONTEXT = [
  'phone',
  'tel',
  'call',
  'mobile',
  'cell',
  'fax',
  'whatsapp',
  'sms',
  'contact',
  'reach',
  'dial',
  'número',
  'telefon',
  'téléphone',
  'portable',
  'handy',
];
const PRODUCT_CONTEXT = [
  'order',
  'invoice',
  'sku',
  'part',
  'serial',
  'model',
  'ref',
  'ticket',
  'tracking',
  'item',
  'product',
  'isbn',
  'id:',
  'id ',
  'no.',
  'version',
  'build',
  'account',
  'acct',
  'batch',
  'lot',
  'shipment',
  'parcel',
  'zip',
  'postal',
  'postcode',
];
/**
 * "My number is", "her CN number:", "your new number": a possessive says the number is someone's.
 * Matched against the lower-cased text right before a candidate (at most CONTEXT_WINDOW characters).
 */
const PERSONAL_NUMBER = /(?<![a-z])(?:my|your|his|her|our|their)\s+(?:[^\s\d]+\s+){0,2}number(?:\s+(?:is|was))?(?:\s*:)?\s*$/;
const CONTEXT_WINDOW = 32;
const PRODUCT_WINDOW = 20;
/** `06.12.2023 14`, `2023-12-06 14`: a date, then more digits. */
const DATE_SHAPE = /^(?:\d{1,2}[./-]\d{1,2}[./-]\d{4}|\d{4}[./-]\d{1,2}[./-]\d{1,2})(?!\d)/;

function uniformSeparators(s: string): boolean {
  let sep = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 45 || c === 46) {
      if (sep === -1) sep = c;
      else if (sep !== c) return false;
    }
  }
  return true;
}

/** Digit groups as written: `(11) 2345-6789` and `11 2345 6789` are the same grouping. */
function grouping(s: string): string {
  return s.replace(GROUP_SEPARATORS, ' ').trim();
}
const GROUP_SEPARATORS = /[().\-/\s]+/g;
/** A dotted quad (an IPv4 address, valid or not) and a ZIP+4 code are not written phone numbers. */
const IP_SHAPE = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const ZIP4_SHAPE = /^\d{5}-\d{4}$/;
/** `123-45-6789`: the SSN detector's, whatever a region's grouping. */
const SSN_SHAPE = /^\d{3}([-. ])\d{2}\1\d{4}$/;
/** `(\d{2})`, `(\d{3,13})`, `(\d)` in a format's pattern. */
const PATTERN_GROUP = /\(\\d(?:\{(\d+)(?:,(\d+))?\})?\)/g;
const FORMAT_TOKEN = /\$\d/g;
const FORMAT_SEPARATORS = /[\s().\-/]+/;
const NON_DIGITS = /\D/g;

/** The written shape of a national format: per written group, the least and most digits; `prefix` digits (the national prefix, when the format writes it) may lead the first. */
interface Shape {
  readonly groups: ReadonlyArray<readonly [number, number]>;
  readonly prefix: number;
  /** The least and most digits in all (national prefix included). */
  readonly min: number;
  readonly max: number;
  /** The national prefix digits (`0`), and what the national significant number starts with. */
  readonly nationalPrefix: string;
  readonly leading: RegExp | null;
}

const shapeCache = new Map<string, Shape[]>();

/** The shapes of a region's national formats (from the metadata); an unknown pattern gives an open shape. */
function shapes(lib: PhoneLibrary, region: string): Shape[] {
  let out = shapeCache.get(region);
  if (out) return out;
  out = [];
  const country = lib.metadata.countries[region];
  const formats = (Array.isArray(country?.[4]) ? country[4] : []) as unknown[][];
  const nationalPrefix = typeof country?.[5] === 'string' ? country[5] : '';
  for (const f of formats) {
    const rule = typeof f[3] === 'string' ? f[3] : '';
    const prefix = rule.replace('$NP', nationalPrefix).replace('$FG', '').replace('$1', '').replace(NON_DIGITS, '').length;
    const pattern = String(f[0]);
    const ranges: Array<[number, number]> = [];
    let rest = pattern;
    for (const g of pattern.matchAll(PATTERN_GROUP)) {
      const min = g[1] === undefined ? 1 : Number(g[1]);
      ranges.push([min, g[2] === undefined ? min : Number(g[2])]);
      rest = rest.replace(g[0], '');
    }
    if (rest !== '' || ranges.length === 0) {
      out = [{ groups: [], prefix: -1, min: 0, max: Infinity, nationalPrefix: '', leading: null }]; // a pattern this reader does not understand: ask the library
      break;
    }
    const groups = String(f[1])
      .split(FORMAT_SEPARATORS)
      .filter((t) => t !== '')
      .map((t): [number, number] => {
        let min = 0;
        let max = 0;
        for (const ref of t.match(FORMAT_TOKEN) ?? []) {
          const r = ranges[Number(ref.slice(1)) - 1] ?? [0, 0];
          min += r[0];
          max += r[1];
        }
        return [min, max];
      });
    const leadingDigits = Array.isArray(f[2]) && typeof f[2][0] === 'string' ? f[2][0] : null;
    out.push({
      groups,
      prefix,
      min: groups.reduce((n, g) => n + g[0], prefix),
      max: groups.reduce((n, g) => n + g[1], prefix),
      nationalPrefix,
      leading: leadingDigits === null ? null : new RegExp(`^(?:${leadingDigits})`),
    });
  }
  shapeCache.set(region, out);
  return out;
}

/**
 * Whether written digit groups of `lengths` can be the format's groups as written (see writtenAs):
 * no group at all (one run of digits), or the first group (the area code) set apart and each
 * further written group one or more consecutive groups of the format.
 */
function fits(shape: Shape, lengths: readonly number[], digits: string): boolean {
  if (shape.prefix < 0) return true;
  const groups = shape.groups;
  if (digits.length < shape.min || digits.length > shape.max || lengths.length > groups.length) return false;
  // A format that writes the national prefix (`0$1`) is matched only by text that has it.
  if (shape.prefix > 0 && !digits.startsWith(shape.nationalPrefix)) return false;
  const first = lengths[0]! - shape.prefix;
  const ok =
    lengths.length === 1
      ? spans(groups, 0, groups.length, first)
      : first >= groups[0]![0] && first <= groups[0]![1] && partitions(groups, 1, lengths, 1);
  return ok && (shape.leading === null || shape.leading.test(digits.slice(shape.prefix)));
}

/** Whether `groups[from..to)` together can hold `n` digits. */
function spans(groups: Shape['groups'], from: number, to: number, n: number): boolean {
  let min = 0;
  let max = 0;
  for (let k = from; k < to; k++) {
    min += groups[k]![0];
    max += groups[k]![1];
  }
  return n >= min && n <= max;
}

/** Whether `lengths[at..]` can be written for `groups[from..]`, each written group one or more consecutive groups. */
function partitions(groups: Shape['groups'], from: number, lengths: readonly number[], at: number): boolean {
  if (at === lengths.length) return from === groups.length;
  if (groups.length - from < lengths.length - at) return false;
  let min = 0;
  let max = 0;
  for (let k = from; k < groups.length; k++) {
    min += groups[k]![0];
    max += groups[k]![1];
    if (lengths[at]! < min) return false;
    if (lengths[at]! <= max && partitions(groups, k + 1, lengths, at + 1)) return true;
  }
  return false;
}

/** Digit counts after which `s` has a separator between two digits (`09-7625400` -> [2]). */
function breaks(s: string): number[] {
  const out: number[] = [];
  let digits = 0;
  let gap = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (gap && digits > 0) out.push(digits);
      gap = false;
      digits++;
    } else gap = true;
  }
  return out;
}

/**
 * Whether `value` is the number `formatted` (its national format) written as the region writes it:
 * the same digits, separated only where the format separates them, and the first group (the area
 * code) set apart unless no separator is written at all (`09-7625400`, `097625400` and
 * `09-762-5400` for `09-762-5400`; not `0976-25400` nor `09762-5400`). libphonenumber's
 * STRICT_GROUPING leniency, with the area-code rule for every region.
 */
function writtenAs(value: string, formatted: string): boolean {
  if (digitsOf(value) !== digitsOf(formatted)) return false;
  const written = breaks(value);
  if (written.length === 0) return true;
  const format = breaks(formatted);
  return written[0] === format[0] && written.every((b) => format.includes(b));
}

/** Whether some region's national format has the shape of `value` (no library call). */
function anyShapeFits(value: string, regions: readonly CountryCode[]): boolean {
  const lib = phoneLibrary();
  const lengths = grouping(value)
    .split(' ')
    .map((g) => g.length);
  const digits = digitsOf(value);
  return regions.some((region) => shapes(lib, region).some((s) => fits(s, lengths, digits)));
}

/**
 * Whether `value` is a valid number of one of `regions`, written as that region writes it (writtenAs).
 * The library is asked only about regions with a national format of a fitting shape (digit count,
 * groups and their lengths, read from the metadata once): parsing is the expensive part.
 */
function nationalInRegion(value: string, regions: readonly CountryCode[]): boolean {
  if (IP_SHAPE.test(value) || ZIP4_SHAPE.test(value) || SSN_SHAPE.test(value)) return false;
  const lib = phoneLibrary();
  const lengths = grouping(value)
    .split(' ')
    .map((g) => g.length);
  const digits = digitsOf(value);
  for (const region of regions) {
    if (!shapes(lib, region).some((s) => fits(s, lengths, digits))) continue;
    const n = lib.parsePhoneNumberFromString(value, region);
    if (n && n.country === region && n.isValid() && writtenAs(value, n.formatNational())) return true;
  }
  return false;
}

function accept(text: string, m: RegExpExecArray, regions: readonly CountryCode[], national = true): boolean {
  const value = m[0];
  const digits = digitsOf(value).length;
  if (digits < 5 || digits > 15) return false;
  if (m[1] !== undefined || m[2] !== undefined) {
    if (digits >= 8) return true;
    return phoneLibrary().parsePhoneNumberFromString(value)?.isValid() === true;
  }
  if (digits < 7) return false;
  // Other groupings (alternative 7) are phone numbers only in a region's national grouping: check
  // the cheap shape first, before any context is read (most digit groups in text fail it).
  if (m[7] !== undefined && !(national && anyShapeFits(value, regions))) return false;
  const before = new ContextWindow(text, m.index, CONTEXT_WINDOW);
  const phoneWord = before.has(PHONE_CONTEXT);
  const productWord = before.has(PRODUCT_CONTEXT, PRODUCT_WINDOW);
  if (m[6] !== undefined) {
    // Bare digits: a phone word, or "my number" and a number valid as written in a configured region.
    return phoneWord || (national && !productWord && before.endsWith(PERSONAL_NUMBER) && nationalInRegion(value, regions));
  }
  if (productWord && !phoneWord) return false;
  if (DATE_SHAPE.test(value)) return false;
  if (structural(value, m, digits)) return true;
  return national && uniformSeparators(afterAreaCode(value)) && nationalInRegion(value, regions);
}

/** The structural rules of national numbers (NANP, trunk prefix), no library needed. */
function structural(value: string, m: RegExpExecArray, digits: number): boolean {
  if (m[3] !== undefined) return digits === 10 || digits === 11;
  if (m[4] === undefined && m[5] === undefined) return false;
  // m[4], m[5]: national number with a trunk prefix.
  if (digits < 10 || digits > 13) return false;
  if (m[5] !== undefined) return true;
  return uniformSeparators(afterAreaCode(value));
}

/** The number after a parenthesised area code (`(030) 1234567` -> `1234567`). */
function afterAreaCode(value: string): string {
  return value.startsWith('(') ? value.slice(value.indexOf(')') + 1).trimStart() : value;
}

function detectIn(text: string, regions: readonly CountryCode[]): Span[] {
  const out: Span[] = [];
  forEachMatch(CANDIDATE, text, (m) => {
    if (accept(text, m, regions)) {
      out.push({ start: m.index, end: m.index + m[0].length });
      return;
    }
    // Refused as a whole (too many digits, say): the longest prefix ending before a space that is
    // a phone number by itself by structure (the library is not asked about fragments: a card's
    // first groups are not a phone number) (`+44 20 7946 0958 123-45-6789` holds a phone and an SSN).
    for (let k = m[0].length - 1; k > 0; k--) {
      if (m[0].charCodeAt(k) !== 32) continue;
      const prefix = WHOLE.exec(m[0].slice(0, k));
      if (prefix === null) continue;
      prefix.index = m.index;
      if (accept(text, prefix, regions, false)) {
        out.push({ start: m.index, end: m.index + k });
        break;
      }
    }
  });
  return out;
}

/** The phone detector for national numbers of `regions` (ISO 3166 codes libphonenumber knows). */
export function createPhoneDetector(regions: readonly string[] = DEFAULT_PHONE_REGIONS): Detector {
  const codes = regions as readonly CountryCode[];
  return {
    name: 'phone',
    type: 'PHONE',
    patterns: [
      CANDIDATE,
      WHOLE,
      DATE_SHAPE,
      GROUP_SEPARATORS,
      IP_SHAPE,
      ZIP4_SHAPE,
      SSN_SHAPE,
      PERSONAL_NUMBER,
      PATTERN_GROUP,
      FORMAT_TOKEN,
      FORMAT_SEPARATORS,
      NON_DIGITS,
    ],
    detect: (text) => detectIn(text, codes),
  };
}

export const phoneDetector: Detector = createPhoneDetector();
