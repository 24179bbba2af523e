/**
 * JSON Web Tokens (JWS compact form): three base64url parts separated by dots, the first starting
 * with `eyJ` (base64 of `{"`), whose header decodes to a JSON object with a string `alg`.
 * The signature may be empty (`alg: none`).
 */
import { forEachMatch, type Span } from '../text';
import type { Detector } from '../types';

const CANDIDATE = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
const MAX_HEADER = 4096;

/** Whether a base64url JOSE header decodes to an object with a string `alg`. */
export function isJoseHeader(b64url: string): boolean {
  if (b64url.length > MAX_HEADER) return false;
  try {
    const header: unknown = JSON.parse(Buffer.from(b64url, 'base64url').toString('utf8'));
    return header !== null && typeof header === 'object' && typeof (header as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

function detect(text: string): Span[] {
  const out: Span[] = [];
  if (text.indexOf('eyJ') === -1) return out;
  forEachMatch(CANDIDATE, text, (m) => {
    if (isJoseHeader(m[0].slice(0, m[0].indexOf('.')))) out.push({ start: m.index, end: m.index + m[0].length });
  });
  return out;
}

export const jwtDetector: Detector = { name: 'jwt', type: 'JWT', patterns: [CANDIDATE], detect };
