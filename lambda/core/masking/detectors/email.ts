/**
 * E-mail addresses. Anchored on "@" (found with `indexOf`, so text without one costs nothing),
 * then the local part is read leftwards and the domain rightwards with character tests: no
 * regular expression, linear time by construction (each "@" reads at most 64 + 253 characters).
 *
 * Accepted: local part of 1-64 characters `[A-Za-z0-9._%+-]`, not starting or ending with a dot
 * (leading dots are trimmed), no ".."; a domain of at least two labels of 1-63 `[A-Za-z0-9-]`
 * (no leading or trailing "-"), at most 253 characters, ending in an alphabetic TLD of 2-63
 * letters or an IDNA `xn--` label. A trailing "." (end of a sentence) is not part of the address.
 */
import { codeAt, isAlnum, isAlpha, isWord, type Span } from '../text';
import type { Detector } from '../types';

const MAX_LOCAL = 64;
const MAX_DOMAIN = 253;
const MAX_LABEL = 63;
const DOT = 46;
const HYPHEN = 45;

/** `[A-Za-z0-9._%+-]` */
function isLocalChar(c: number): boolean {
  return isAlnum(c) || c === DOT || c === 95 || c === 37 || c === 43 || c === HYPHEN;
}

/** End of a valid domain starting at `from`, or -1. */
function domainEnd(text: string, from: number): number {
  let i = from;
  let labels = 0;
  let lastStart: number;
  for (;;) {
    const start = i;
    while (i - start <= MAX_LABEL && (isAlnum(codeAt(text, i)) || codeAt(text, i) === HYPHEN)) i++;
    const len = i - start;
    if (len === 0 || len > MAX_LABEL) return -1;
    if (text.charCodeAt(start) === HYPHEN || text.charCodeAt(i - 1) === HYPHEN) return -1;
    labels++;
    lastStart = start;
    if (i - from > MAX_DOMAIN) return -1;
    if (codeAt(text, i) === DOT && isAlnum(codeAt(text, i + 1))) {
      i++;
      continue;
    }
    break;
  }
  if (labels < 2) return -1;
  const next = codeAt(text, i);
  if (next === 95 || next === 64) return -1;
  return validTld(text, lastStart, i) ? i : -1;
}

function validTld(text: string, start: number, end: number): boolean {
  if (end - start >= 5 && text.slice(start, start + 4).toLowerCase() === 'xn--') return true;
  if (end - start < 2) return false;
  for (let i = start; i < end; i++) if (!isAlpha(text.charCodeAt(i))) return false;
  return true;
}

function detect(text: string): Span[] {
  const out: Span[] = [];
  let floor = 0;
  for (let at = text.indexOf('@'); at !== -1; at = text.indexOf('@', at + 1)) {
    let s = at;
    while (s > floor && at - s < MAX_LOCAL && isLocalChar(text.charCodeAt(s - 1))) s--;
    if (s > floor && isLocalChar(text.charCodeAt(s - 1))) continue;
    while (s < at && text.charCodeAt(s) === DOT) s++;
    if (s === at || text.charCodeAt(at - 1) === DOT) continue;
    if (s > 0 && isWord(codeAt(text, s - 1))) continue;
    if (text.slice(s, at).includes('..')) continue;
    const end = domainEnd(text, at + 1);
    if (end < 0) continue;
    out.push({ start: s, end });
    floor = end;
    at = end - 1;
  }
  return out;
}

export const emailDetector: Detector = { name: 'email', type: 'EMAIL', patterns: [], detect };
