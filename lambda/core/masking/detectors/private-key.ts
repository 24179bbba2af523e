/**
 * PEM private keys: from `-----BEGIN ... PRIVATE KEY-----` (RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP
 * `... PRIVATE KEY BLOCK`, PKCS #8) through the matching `-----END ... PRIVATE KEY-----`.
 * A block without an END line (a truncated paste) is still a key: the finding runs over the
 * base64 body that follows (base64 characters, line breaks, escaped `\n`) up to a blank line.
 *
 * Linear: the END search only moves forward, and once no END is left it is not searched again.
 */
import type { Span } from '../text';
import type { Detector } from '../types';

const BEGIN = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/g;
const END = /-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/g;

const isBodyChar = (c: number): boolean =>
  (c >= 65 && c <= 90) ||
  (c >= 97 && c <= 122) ||
  (c >= 48 && c <= 57) ||
  c === 43 ||
  c === 47 ||
  c === 61 ||
  c === 92 ||
  c === 10 ||
  c === 13;

function bodyEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length && isBodyChar(text.charCodeAt(i))) {
    if (text.charCodeAt(i) === 10 && i > from && text.charCodeAt(i - 1) === 10) return i - 1;
    i++;
  }
  while (i > from && (text.charCodeAt(i - 1) === 10 || text.charCodeAt(i - 1) === 13)) i--;
  return i;
}

function detect(text: string): Span[] {
  const out: Span[] = [];
  if (text.indexOf('-----BEGIN ') === -1) return out;
  let noMoreEnd = false;
  BEGIN.lastIndex = 0;
  for (let b = BEGIN.exec(text); b !== null; b = BEGIN.exec(text)) {
    const afterBegin = b.index + b[0].length;
    let end = -1;
    if (!noMoreEnd) {
      END.lastIndex = afterBegin;
      const e = END.exec(text);
      if (e === null) noMoreEnd = true;
      else end = e.index + e[0].length;
    }
    if (end === -1) end = bodyEnd(text, afterBegin);
    out.push({ start: b.index, end });
    BEGIN.lastIndex = end;
  }
  return out;
}

export const privateKeyDetector: Detector = { name: 'private_key', type: 'PRIVATE_KEY', patterns: [BEGIN, END], detect };
