/**
 * Detectors from configuration: a pattern (screened for linear-time matching when the
 * configuration loads, see `pattern-safety.ts`), an optional check-digit validator and optional
 * context words that must occur within `contextWindow` characters before a match.
 */
import type { ValidatorName } from '../../../../shared/masking/catalog';
import { screenPattern } from '../../../../shared/masking/pattern-safety';
import { forEachMatch, hasContextBefore, type Span } from '../text';
import type { Detector } from '../types';
import { VALIDATOR_FUNCTIONS } from '../validators';

export interface CustomDetectorSpec {
  /** Upper snake case; the entity type of its findings. */
  readonly name: string;
  readonly pattern: string;
  readonly flags?: string;
  readonly validator?: ValidatorName;
  readonly contextWords?: readonly string[];
  /** Characters before a match searched for a context word. */
  readonly contextWindow?: number;
}

export const DEFAULT_CONTEXT_WINDOW = 50;

/** Build a custom detector. Throws when the pattern fails the safety screen (config validation refuses it first). */
export function customDetector(spec: CustomDetectorSpec): Detector {
  const flags = spec.flags ?? '';
  const screened = screenPattern(spec.pattern, flags);
  if (!screened.ok) throw new Error(`custom detector ${spec.name}: pattern ${JSON.stringify(spec.pattern)} refused: ${screened.reason}`);
  const re = new RegExp(spec.pattern, `${flags}g`);
  const words = (spec.contextWords ?? []).map((w) => w.toLowerCase());
  const window = spec.contextWindow ?? DEFAULT_CONTEXT_WINDOW;
  const validate = spec.validator ? VALIDATOR_FUNCTIONS[spec.validator] : null;
  return {
    name: `custom:${spec.name}`,
    type: spec.name,
    patterns: [re],
    detect(text: string): Span[] {
      const out: Span[] = [];
      forEachMatch(re, text, (m) => {
        if (validate && !validate(m[0])) return;
        if (!hasContextBefore(text, m.index, words, window)) return;
        out.push({ start: m.index, end: m.index + m[0].length });
      });
      return out;
    },
  };
}
