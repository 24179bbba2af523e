/**
 * Phone numbers: E.164 and common national formats.
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
 */
import { ContextWindow, digitsOf, forEachMatch, type Span } from '../text';
import type { Detector } from '../types';

const ALTERNATIVES = [
  /* 1 international */ '(\\+[1-9]\\d{0,2}(?:[ .-]?\\(\\d{1,4}\\)[ .-]?\\d{1,10})?(?:[ .-]\\d{1,10}){1,6})',
  /* 2 E.164 compact */ '(\\+[1-9]\\d{6,14})',
  /* 3 NANP */ '((?:1[ .-])?(?:\\([2-9]\\d{2}\\) ?|[2-9]\\d{2}[ .-])[2-9]\\d{2}[ .-]\\d{4})',
  /* 4 trunk prefix */ '((?:\\(0\\d{1,5}\\) ?|0\\d{1,5}[ .-])\\d{2,10}(?:[ .-]\\d{2,8}){0,3})',
  /* 5 trunk, compact */ '(0[1-9]\\d{8,11})',
  /* 6 bare / local */ '(\\d{7,15}|\\d{3}-\\d{4})',
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
];
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

function accept(text: string, m: RegExpExecArray): boolean {
  const value = m[0];
  const digits = digitsOf(value).length;
  if (digits < 7 || digits > 15) return false;
  const before = new ContextWindow(text, m.index, CONTEXT_WINDOW);
  if (m[6] !== undefined) return before.has(PHONE_CONTEXT);
  if (m[1] !== undefined || m[2] !== undefined) return digits >= 8;
  if (before.has(PRODUCT_CONTEXT, PRODUCT_WINDOW) && !before.has(PHONE_CONTEXT)) return false;
  if (m[3] !== undefined) return digits === 10 || digits === 11;
  // m[4], m[5]: national number with a trunk prefix.
  if (digits < 10 || digits > 13) return false;
  if (m[5] !== undefined) return true;
  if (DATE_SHAPE.test(value)) return false;
  return uniformSeparators(value.startsWith('(') ? value.slice(value.indexOf(')') + 1).trimStart() : value);
}

function detect(text: string): Span[] {
  const out: Span[] = [];
  forEachMatch(CANDIDATE, text, (m) => {
    if (accept(text, m)) {
      out.push({ start: m.index, end: m.index + m[0].length });
      return;
    }
    // Refused as a whole (too many digits, say): the longest prefix ending before a space that is
    // a phone number by itself (`+44 20 7946 0958 123-45-6789` holds a phone and an SSN).
    for (let k = m[0].length - 1; k > 0; k--) {
      if (m[0].charCodeAt(k) !== 32) continue;
      const prefix = WHOLE.exec(m[0].slice(0, k));
      if (prefix === null) continue;
      prefix.index = m.index;
      if (accept(text, prefix)) {
        out.push({ start: m.index, end: m.index + k });
        break;
      }
    }
  });
  return out;
}

export const phoneDetector: Detector = { name: 'phone', type: 'PHONE', patterns: [CANDIDATE, WHOLE, DATE_SHAPE], detect };
