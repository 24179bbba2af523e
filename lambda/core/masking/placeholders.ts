/**
 * What masked text looks like, and how the engine recognises it again.
 *
 *   redact        `[EMAIL]`
 *   pseudonymize  `<EMAIL_3f9a1c2e>`   (type, "_", the configured number of lower-case hex digits)
 *
 * A later scan drops every finding that overlaps such a token, which makes masking idempotent
 * even for custom patterns that could match inside one (`[A-Z]{5}` and `[EMAIL]`). Only tokens
 * of entity types this masker knows, with exactly its pseudonym length, are recognised, so text
 * cannot hide a value by dressing it as a token (`[AKIAIOSFODNN7EXAMPLE]` is still scanned).
 * Found with `indexOf` and character tests: linear, no regular expression.
 */
import { isDigit, isLower, type Span } from './text';

export interface TokenGrammar {
  readonly knownTypes: ReadonlySet<string>;
  /** Hex digits in a pseudonym. */
  readonly pseudonymHex: number;
}

const MAX_TYPE = 64;

export const redactToken = (type: string): string => `[${type}]`;
export const pseudonymToken = (type: string, hex: string): string => `<${type}_${hex}>`;

const isHexLower = (c: number): boolean => isDigit(c) || (isLower(c) && c <= 102);

/** Spans of this grammar's tokens in `text`, sorted and disjoint. */
export function protectedSpans(text: string, g: TokenGrammar): Span[] {
  const out: Span[] = [];
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) {
    const close = i + 1 + text.slice(i + 1, i + MAX_TYPE + 2).indexOf(']');
    if (close > i && g.knownTypes.has(text.slice(i + 1, close))) out.push({ start: i, end: close + 1 });
  }
  for (let i = text.indexOf('<'); i !== -1; i = text.indexOf('<', i + 1)) {
    const close = i + 1 + text.slice(i + 1, i + MAX_TYPE + g.pseudonymHex + 3).indexOf('>');
    if (close <= i) continue;
    const hexStart = close - g.pseudonymHex;
    if (hexStart - 1 <= i + 1 || text.charCodeAt(hexStart - 1) !== 95) continue;
    let hex = true;
    for (let k = hexStart; k < close && hex; k++) hex = isHexLower(text.charCodeAt(k));
    if (hex && g.knownTypes.has(text.slice(i + 1, hexStart - 1))) out.push({ start: i, end: close + 1 });
  }
  return out.sort((a, b) => a.start - b.start);
}
