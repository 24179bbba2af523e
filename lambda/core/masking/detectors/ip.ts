/**
 * IP addresses.
 *
 * IPv4: four dotted decimal octets 0-255 without leading zeros, not part of a longer dotted
 * number (`1.2.3.4.5`), not glued to a word (`v1.2.3.4`), not after a version word
 * (`version 1.2.3.4`, `build 10.0.0.1`). A port or prefix length may follow (`10.0.0.1:443`,
 * `10.0.0.0/8`); it is not part of the finding.
 *
 * IPv6: anchored on ":" (found with `indexOf`); the surrounding run of `[0-9A-Fa-f:.]` (less a
 * trailing full stop, and a single leading ":" after a label such as `ip:`) is the candidate,
 * delimited by non-word characters and accepted by `node:net` `isIPv6` (full, compressed and
 * IPv4-embedded forms). An optional zone (`%eth0`) is included. Short forms that read like code
 * (`::`, `::1`, `a::b`) are refused: at least three groups, or "::" with a group of two or more
 * hex digits.
 */
import { isIPv6 } from 'node:net';
import { codeAt, forEachMatch, hasContextBefore, isAlnum, isDigit, isWord, type Span } from '../text';
import type { Detector } from '../types';

const IPV4 = /(?<![A-Za-z0-9_.-])(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(?![A-Za-z0-9_]|\.\d)/g;
const VERSION_CONTEXT = ['version', 'ver.', 'ver ', 'release', 'build', 'firmware', 'rev ', 'rev.', 'v.'];

function detectV4(text: string): Span[] {
  const out: Span[] = [];
  if (text.indexOf('.') === -1) return out;
  forEachMatch(IPV4, text, (m) => {
    if (hasContextBefore(text, m.index, VERSION_CONTEXT, 12)) return;
    out.push({ start: m.index, end: m.index + m[0].length });
  });
  return out;
}

const COLON = 58;
const MAX_IPV6_TEXT = 45;
const isHex = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
const isRunChar = (c: number): boolean => isHex(c) || c === COLON || c === 46;

/** Cheap shape test before `isIPv6` (a large regular expression): "::", or 7 colons, or 6 and an IPv4 tail. */
function ipv6Shaped(candidate: string): boolean {
  if (candidate.includes('::')) return true;
  let colons = 0;
  for (let i = 0; i < candidate.length; i++) if (candidate.charCodeAt(i) === COLON) colons++;
  return colons === 7 || (colons === 6 && candidate.includes('.'));
}

/** Whether an accepted address is plausible as an address rather than code such as `a::b`. */
function plausible(candidate: string): boolean {
  const groups = candidate.split(':').filter((g) => g.length > 0);
  if (groups.length >= 3) return true;
  return candidate.includes('::') && groups.some((g) => g.length >= 2);
}

function detectV6(text: string): Span[] {
  const out: Span[] = [];
  let i = text.indexOf(':');
  while (i !== -1) {
    let s = i;
    while (s > 0 && isRunChar(text.charCodeAt(s - 1))) s--;
    let e = i + 1;
    while (e < text.length && isRunChar(text.charCodeAt(e))) e++;
    let end = e;
    while (end > s && text.charCodeAt(end - 1) === 46) end--; // a sentence's full stop
    // A label before the address (`ip:2001:db8::1`) leaves one leading ":" in the run.
    if (text.charCodeAt(s) === COLON && text.charCodeAt(s + 1) !== COLON) s++;
    const candidate = text.slice(s, end);
    if (
      candidate.length <= MAX_IPV6_TEXT &&
      !isWord(codeAt(text, s - 1)) &&
      !isWord(codeAt(text, end)) &&
      ipv6Shaped(candidate) &&
      isIPv6(candidate) &&
      plausible(candidate)
    ) {
      out.push({ start: s, end: withZone(text, end) });
    }
    i = text.indexOf(':', Math.max(e, i + 1));
  }
  return out;
}

/** `fe80::1%eth0`: the zone id (letters, digits) belongs to the address. */
function withZone(text: string, end: number): number {
  if (codeAt(text, end) !== 37) return end;
  let e = end + 1;
  while (e < text.length && e - end <= 16 && isAlnum(text.charCodeAt(e))) e++;
  return e > end + 1 && !isWord(codeAt(text, e)) ? e : end;
}

export const ipv4Detector: Detector = { name: 'ipv4', type: 'IP_ADDRESS', patterns: [IPV4], detect: detectV4 };
export const ipv6Detector: Detector = { name: 'ipv6', type: 'IP_ADDRESS', patterns: [], detect: detectV6 };
