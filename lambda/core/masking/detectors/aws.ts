/**
 * AWS credentials.
 *
 * Access key ids: `AKIA` (long-term) or `ASIA` (temporary) followed by 16 upper-case letters or
 * digits, delimited.
 *
 * Secret access keys: 40 characters of `[A-Za-z0-9+/]`, delimited, with upper case, lower case and
 * a digit or "+" or "/" (random keys have all three; words and hex digests do not), found only
 * within 100 characters after a context phrase (`aws_secret_access_key`, `secret access key`,
 * `SecretAccessKey`, `aws secret`...). Each part of the text is searched once however many
 * context phrases precede it.
 */
import { characterKinds, forEachMatch, insidePlaceholder, isDigit, type Span } from '../text';
import type { Detector } from '../types';

const KEY_ID = /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g;
/** Context phrases, matched (sticky, case-insensitive) where "secret" occurs. */
const AWS_BEFORE = /aws[ _.-]?secret/iy;
const ACCESS_KEY_AFTER = /secret[ _.-]?access[ _.-]?key/iy;
const SECRET = /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/=])/g;
const SECRET_WINDOW = 100;

function detectKeyId(text: string): Span[] {
  const out: Span[] = [];
  if (text.indexOf('AKIA') === -1 && text.indexOf('ASIA') === -1) return out;
  forEachMatch(KEY_ID, text, (m) => {
    out.push({ start: m.index, end: m.index + m[0].length });
  });
  return out;
}

function mixed(v: string): boolean {
  const { upper, lower, other } = characterKinds(v, (c) => isDigit(c) || c === 43 || c === 47);
  return upper && lower && other;
}

/** Ends of context phrases, in order: "aws secret" / "secret access key" in any case and spacing. */
function contextEnds(text: string): number[] {
  const hits: number[] = [];
  for (const tail of ['ecret', 'ECRET']) {
    for (let i = text.indexOf(tail, 1); i !== -1; i = text.indexOf(tail, i + 1)) {
      const s = i - 1;
      if (insidePlaceholder(text, s, 6)) continue;
      ACCESS_KEY_AFTER.lastIndex = s;
      if (ACCESS_KEY_AFTER.test(text)) {
        hits.push(ACCESS_KEY_AFTER.lastIndex);
        continue;
      }
      for (const back of [4, 3]) {
        AWS_BEFORE.lastIndex = s - back;
        if (s - back >= 0 && AWS_BEFORE.test(text) && AWS_BEFORE.lastIndex === s + 6) {
          hits.push(s + 6);
          break;
        }
      }
    }
  }
  return hits.sort((a, b) => a - b);
}

function detectSecret(text: string): Span[] {
  const out: Span[] = [];
  let searched = 0;
  for (const ctxEnd of contextEnds(text)) {
    const from = Math.max(ctxEnd, searched);
    const to = Math.min(text.length, ctxEnd + SECRET_WINDOW + 40);
    if (to <= from) continue;
    // Search a window (with one character of look-behind context), never the rest of the text.
    const lead = from > 0 ? 1 : 0;
    const windowText = text.slice(from - lead, Math.min(text.length, to + 1));
    forEachMatch(SECRET, windowText, (m) => {
      const start = from - lead + m.index;
      if (start < from || start + 40 > to) return;
      if (mixed(m[0])) out.push({ start, end: start + 40 });
    });
    searched = to;
  }
  return out;
}

export const awsAccessKeyIdDetector: Detector = {
  name: 'aws_access_key_id',
  type: 'AWS_ACCESS_KEY_ID',
  patterns: [KEY_ID],
  detect: detectKeyId,
};
export const awsSecretAccessKeyDetector: Detector = {
  name: 'aws_secret_access_key',
  type: 'AWS_SECRET_ACCESS_KEY',
  patterns: [AWS_BEFORE, ACCESS_KEY_AFTER, SECRET],
  detect: detectSecret,
};
