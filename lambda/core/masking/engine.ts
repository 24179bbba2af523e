/**
 * The scanning engine: run detectors over a text, merge an external detector's entities, and
 * resolve overlaps. Pure and synchronous (the external detector's answer comes in as data).
 */
import { comprehendEntityType, STRATEGY_STRENGTH, TYPE_SPECIFICITY, type EntityType, type Strategy } from '../../../shared/masking/catalog';
import { tooLarge } from './errors';
import type { PiiEntity } from '../ports';
import { protectedSpans, type TokenGrammar } from './placeholders';
import type { Detector, Finding, StrategyMap } from './types';
import { detectionView } from './view';
import { firstNotBefore } from '../util/sorted';

export interface ScanOptions {
  /** Refuse (throw `MaskingError` "too_large") a text longer than this. */
  readonly maxScanChars?: number;
  /**
   * Placeholders and pseudonym tokens this masker writes: findings overlapping them are dropped,
   * so masking masked text changes nothing.
   */
  readonly tokens?: TokenGrammar;
}

/** Deterministic order: by start, longer first, then detector name, then type. */
export function compareFindings(a: Finding, b: Finding): number {
  return a.start - b.start || b.end - a.end || cmp(a.detector, b.detector) || cmp(a.type, b.type);
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Every detection of `detectors` in `text`, sorted (`compareFindings`), possibly overlapping, in
 * offsets of `text`. Detectors read the normalised view of the text (`view.ts`: invisible
 * characters removed, NFKC, look-alikes folded); a finding covers the whole original span of what
 * they found, invisible characters inside it included. Findings inside this masker's own
 * placeholders are dropped.
 */
export function scan(text: string, detectors: readonly Detector[], opts: ScanOptions = {}): Finding[] {
  if (opts.maxScanChars !== undefined && text.length > opts.maxScanChars) throw tooLarge(text.length, opts.maxScanChars);
  const view = detectionView(text);
  const out: Finding[] = [];
  for (const d of detectors) {
    for (const s of d.detect(view.text)) {
      if (s.end <= s.start) continue;
      const start = view.starts ? view.starts[s.start]! : s.start;
      const end = view.ends ? view.ends[s.end - 1]! : s.end;
      out.push({ type: d.type, start, end, detector: d.name, score: 1 });
    }
  }
  return withoutProtected(text, out, opts.tokens).sort(compareFindings);
}

export interface ExternalOptions {
  /** Name recorded as the findings' detector, e.g. `comprehend`. */
  readonly detector: string;
  /** Entities scored below this are ignored. */
  readonly minScore: number;
  /** Detector types kept (before mapping); all when undefined. */
  readonly types?: ReadonlySet<string>;
  readonly tokens?: TokenGrammar;
}

/** An external detector's entities as findings: filtered by type and score, types mapped (Comprehend names to gateway names). */
export function externalFindings(text: string, entities: readonly PiiEntity[], opts: ExternalOptions): Finding[] {
  const out: Finding[] = [];
  for (const e of entities) {
    if (e.score < opts.minScore || (opts.types && !opts.types.has(e.type))) continue;
    const start = Math.max(0, Math.min(text.length, e.start));
    const end = Math.max(start, Math.min(text.length, e.end));
    if (end > start) out.push({ type: comprehendEntityType(e.type), start, end, detector: opts.detector, score: e.score });
  }
  return withoutProtected(text, out, opts.tokens);
}

function withoutProtected(text: string, findings: Finding[], tokens: TokenGrammar | undefined): Finding[] {
  if (!tokens || findings.length === 0) return findings;
  const spans = protectedSpans(text, tokens);
  if (spans.length === 0) return findings;
  // `spans` is sorted and disjoint: binary search the first span ending after a finding's start.
  return findings.filter((f) => {
    const lo = firstNotBefore(spans, (s) => s.end <= f.start);
    return !(lo < spans.length && spans[lo]!.start < f.end);
  });
}

/** Overlapping findings collapsed into one region of text. */
export interface Region {
  readonly start: number;
  readonly end: number;
  /** The longest finding (ties: the more specific type, higher score, detector name): it names the region. */
  readonly winner: Finding;
  /** Every finding in the region, the winner included. */
  readonly members: readonly Finding[];
  /** The most protective strategy of the members' types (block > redact > pseudonymize > detect). */
  readonly strategy: Strategy;
}

export function strategyOf(type: EntityType, strategies: StrategyMap, fallback: Strategy): Strategy {
  return Object.hasOwn(strategies, type) ? strategies[type]! : fallback;
}

function better(a: Finding, b: Finding): boolean {
  const la = a.end - a.start;
  const lb = b.end - b.start;
  if (la !== lb) return la > lb;
  const sa = TYPE_SPECIFICITY[a.type] ?? 0;
  const sb = TYPE_SPECIFICITY[b.type] ?? 0;
  if (sa !== sb) return sa > sb;
  if (a.score !== b.score) return a.score > b.score;
  return compareFindings(a, b) < 0;
}

/**
 * Group overlapping findings (transitively) into regions covering their union, so that no part
 * of any detected value survives masking. Deterministic for a given set of findings.
 */
export function resolveOverlaps(findings: readonly Finding[], strategies: StrategyMap, fallback: Strategy): Region[] {
  const regions: Region[] = [];
  forEachRegion(findings, strategies, fallback, (start, end, winner, strategy, members) => {
    regions.push({ start, end, winner, strategy, members: members() });
  });
  return regions;
}

/** `resolveOverlaps` without building the regions (the masking hot path). */
export function forEachRegion(
  findings: readonly Finding[],
  strategies: StrategyMap,
  fallback: Strategy,
  visit: (start: number, end: number, winner: Finding, strategy: Strategy, members: () => Finding[]) => void,
): void {
  let sorted = findings;
  for (let k = 1; k < findings.length; k++) {
    if (compareFindings(findings[k - 1]!, findings[k]!) > 0) {
      sorted = [...findings].sort(compareFindings);
      break;
    }
  }
  let i = 0;
  while (i < sorted.length) {
    const first = sorted[i]!;
    let end = first.end;
    let winner = first;
    let strategy = strategyOf(first.type, strategies, fallback);
    let j = i + 1;
    for (; j < sorted.length && sorted[j]!.start < end; j++) {
      const m = sorted[j]!;
      if (m.end > end) end = m.end;
      if (better(m, winner)) winner = m;
      const s = strategyOf(m.type, strategies, fallback);
      if (STRATEGY_STRENGTH[s] > STRATEGY_STRENGTH[strategy]) strategy = s;
    }
    const from = i;
    const to = j;
    visit(first.start, end, winner, strategy, () => sorted.slice(from, to));
    i = j;
  }
}
