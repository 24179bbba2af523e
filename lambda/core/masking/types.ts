/** The shapes the masking engine works with. */
import type { EntityType, Strategy } from '../../../shared/masking/catalog';
import type { Span } from './text';

export type { EntityType, Strategy } from '../../../shared/masking/catalog';
export type { Span } from './text';

/**
 * A detector: finds spans of one entity type in a text. Built-in and custom detectors are pure
 * and synchronous; the external one (Comprehend) runs through the `PiiDetector` port.
 */
export interface Detector {
  /** Stable name, recorded with every finding (`email`, `ipv4`, `custom:EMPLOYEE_ID`, ...). */
  readonly name: string;
  readonly type: EntityType;
  /** Every regular expression the detector runs (checked with recheck in the tests). */
  readonly patterns: readonly RegExp[];
  /** Spans of validated values, in any order; they may overlap each other. */
  detect(text: string): Span[];
}

/** One detected value: where it is in the scanned text (UTF-16 code units), its type, who found it. */
export interface Finding extends Span {
  readonly type: EntityType;
  readonly detector: string;
  /** Confidence in [0, 1]; 1 for validated pattern detectors. */
  readonly score: number;
}

/** Strategy per entity type, after defaults and overrides. */
export type StrategyMap = Readonly<Record<EntityType, Strategy>>;

/**
 * What the record keeps of one item's findings: per entity type and detector, how many, where
 * (offsets in the ORIGINAL item text), and what was done. Never the matched text.
 */
export interface ItemFinding {
  readonly type: EntityType;
  readonly detector: string;
  readonly strategy: Strategy;
  readonly count: number;
  /** `[start, end)` pairs in the original text, in order. */
  readonly offsets: ReadonlyArray<readonly [number, number]>;
  /**
   * For `pseudonymize`: the distinct pseudonym tokens written (keyed HMACs, not values), so the
   * sessions that carried a person's value can be found for an erasure request.
   */
  readonly pseudonyms?: readonly string[];
}
