/**
 * Apply strategies to a text's findings: redact, pseudonymize, detect, block.
 *
 * Overlapping findings form one region (their union), named after the longest / most specific
 * finding and masked with the most protective strategy among them, so no part of a detected
 * value is left behind. Offsets in the result refer to the ORIGINAL text.
 */
import { DEFAULT_STRATEGY, PSEUDONYM_HEX_DEFAULT, type EntityType, type Strategy } from '../../../shared/masking/catalog';
import { forEachRegion, strategyOf } from './engine';
import { pseudonymToken, redactToken } from './placeholders';
import { pseudonymHex } from './pseudonym';
import type { Finding, ItemFinding, StrategyMap } from './types';

export interface MaskPolicy {
  /** Strategy per entity type. */
  readonly strategies: StrategyMap;
  /** For types not in `strategies` (default `redact`). */
  readonly fallback?: Strategy;
  /** Hex digits of a pseudonym (default 16, PSEUDONYM_HEX_DEFAULT). */
  readonly pseudonymHex?: number;
}

export interface MaskedText {
  /** The text with every non-`detect` region replaced; `block` regions are redacted. */
  readonly text: string;
  /** Per entity type and detector: count and original offsets of the regions. Never values. */
  readonly findings: ItemFinding[];
  /** Types whose strategy is `block` among the findings (sorted); non-empty means refuse the request. */
  readonly blocked: EntityType[];
}

/**
 * Mask `text`. `key` (bytes) is needed only when a region is pseudonymized; without it such a
 * region is redacted instead, and `createMasker` refuses to start without a key when the
 * configuration asks for pseudonyms. `cache` memoises pseudonyms across calls of one request.
 */
export function mask(
  text: string,
  findings: readonly Finding[],
  policy: MaskPolicy,
  key: Uint8Array | null,
  cache?: Map<string, string>,
): MaskedText {
  const { replaced: _replaced, ...masked } = maskWithMap(text, findings, policy, key, cache);
  return masked;
}

/** A replaced region: `[start, end)` in the original text became `[outStart, outEnd)` in the output. */
export interface Replacement {
  readonly start: number;
  readonly end: number;
  readonly outStart: number;
  readonly outEnd: number;
}

/** `mask`, plus where each replaced region went in the output (to map offsets back). */
export function maskWithMap(
  text: string,
  findings: readonly Finding[],
  policy: MaskPolicy,
  key: Uint8Array | null,
  cache?: Map<string, string>,
): MaskedText & { readonly replaced: Replacement[] } {
  const fallback = policy.fallback ?? DEFAULT_STRATEGY;
  const hexChars = policy.pseudonymHex ?? PSEUDONYM_HEX_DEFAULT;
  const blocked = new Set<EntityType>();
  for (const f of findings) if (strategyOf(f.type, policy.strategies, fallback) === 'block') blocked.add(f.type);

  const replaced: Replacement[] = [];
  if (findings.length === 0) return { text, findings: [], blocked: [], replaced };
  let out = '';
  let at = 0;
  const groups: Group[] = [];
  forEachRegion(findings, policy.strategies, fallback, (start, end, winner, regionStrategy) => {
    const type = winner.type;
    out += text.slice(at, start);
    const strategy = regionStrategy === 'pseudonymize' && key === null ? 'redact' : regionStrategy;
    const outStart = out.length;
    let pseudonym: string | undefined;
    if (strategy === 'detect') {
      out += text.slice(start, end);
    } else if (strategy === 'pseudonymize') {
      const value = text.slice(start, end);
      const cacheKey = `${type}\u0000${value}`;
      let token = cache?.get(cacheKey);
      if (token === undefined) {
        token = pseudonymToken(type, pseudonymHex(key!, type, value, hexChars));
        cache?.set(cacheKey, token);
      }
      out += token;
      pseudonym = token;
    } else {
      out += redactToken(type);
    }
    if (strategy !== 'detect') replaced.push({ start, end, outStart, outEnd: out.length });
    at = end;
    let g = groups.find((x) => x.type === type && x.detector === winner.detector && x.strategy === strategy);
    if (!g) {
      g = { type, detector: winner.detector, strategy, offsets: [], pseudonyms: [] };
      groups.push(g);
    }
    g.offsets.push([start, end]);
    if (pseudonym !== undefined && !g.pseudonyms.includes(pseudonym)) g.pseudonyms.push(pseudonym);
  });
  out += text.slice(at);
  return {
    text: out,
    findings: groups.map(({ pseudonyms, ...g }) => ({ ...g, count: g.offsets.length, ...(pseudonyms.length > 0 ? { pseudonyms } : {}) })),
    blocked: [...blocked].sort(),
    replaced,
  };
}

interface Group {
  readonly type: EntityType;
  readonly detector: string;
  readonly strategy: Strategy;
  readonly offsets: Array<readonly [number, number]>;
  readonly pseudonyms: string[];
}
