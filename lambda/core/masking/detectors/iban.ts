/**
 * International Bank Account Numbers: country code, two check digits, BBAN; compact or in groups
 * of four separated by single spaces (some spaces may be missing, never one inside a group). Validated by the country's length (SWIFT IBAN registry) and
 * ISO 7064 mod 97-10.
 */
import { mod97 } from '../validators';
import { forEachMatch, type Span } from '../text';
import type { Detector } from '../types';

/** Each repetition takes exactly four characters (after an optional space): one path per input. */
const CANDIDATE = /(?<![A-Za-z0-9_])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9_])/g;

/** IBAN length per country (SWIFT IBAN registry). */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BI: 27,
  BR: 29,
  BY: 28,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DJ: 27,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FK: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HN: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IQ: 23,
  IR: 26,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LC: 32,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  LY: 25,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MN: 20,
  MR: 27,
  MT: 31,
  MU: 30,
  NI: 28,
  NL: 18,
  NO: 15,
  OM: 23,
  PK: 24,
  PL: 28,
  PS: 29,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  RU: 33,
  SA: 24,
  SC: 31,
  SD: 18,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  SO: 23,
  ST: 25,
  SV: 28,
  TL: 23,
  TN: 24,
  TR: 26,
  UA: 29,
  VA: 22,
  VG: 24,
  XK: 20,
  YE: 30,
};

/** Whether `compact` (upper case, no spaces) is a valid IBAN. */
export function validIban(compact: string): boolean {
  const len = IBAN_LENGTHS[compact.slice(0, 2)];
  return len === compact.length && mod97(compact);
}

function detect(text: string): Span[] {
  const out: Span[] = [];
  forEachMatch(CANDIDATE, text, (m) => {
    if (!m[0].includes(' ')) {
      if (validIban(m[0])) out.push({ start: m.index, end: m.index + m[0].length });
      return;
    }
    // Longest valid prefix ending at a group boundary (a spaced IBAN may be followed by a number).
    for (let end = m[0].length; end > 0; end = m[0].lastIndexOf(' ', end - 1)) {
      if (validIban(m[0].slice(0, end).split(' ').join(''))) {
        out.push({ start: m.index, end: m.index + end });
        break;
      }
    }
  });
  return out;
}

export const ibanDetector: Detector = { name: 'iban', type: 'IBAN', patterns: [CANDIDATE], detect };
