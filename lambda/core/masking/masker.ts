/**
 * The masking entry point for the pipeline: `createMasker(config.masking, deps)` once per
 * configuration (module scope in the Lambda), then `maskItems(items, ruleStrategies)` per request.
 *
 *   if (config.masking?.enabled) {
 *     const masker = createMasker(config.masking, {
 *       key: config.masking.pseudonymKey ? await secrets.get(config.masking.pseudonymKey) : undefined,
 *       detector: comprehend,            // a PiiDetector adapter, when masking.comprehend.enabled
 *     });
 *     // token-id input: masker.tokenInputs === 'refuse' -> 400 (it cannot be scanned)
 *     const r = await masker.maskItems(request.input.items, ruleMaskingStrategies(config, decision.ruleId));
 *     if (r.blocked.length > 0) -> 422 naming r.blocked (never values)
 *     else send r.items upstream (same order and count as the input)
 *     record: r.findings (per item: type, detector, strategy, count, original offsets), r.counts,
 *             r.external (what the record keeps of r.items: the `recording` section)
 *   }
 *
 * `maskItems` throws `MaskingError` rather than ever returning text it did not scan:
 * `code: 'too_large'` (status 413: an item is longer than `maxScanChars`) or
 * `code: 'detector_unavailable'` (status 503: Comprehend failed and `failMode` is "closed").
 * Its `message` is safe to show to the client; it names limits and detectors, never values.
 */
import type { MaskingConfig, MaskingStrategies } from '../../../shared/config';
import type { PiiDetector } from '../ports';
import {
  BUILTIN_ENTITY_TYPES,
  COMPREHEND_MAPPED_TYPES,
  DEFAULT_COMPREHEND_ENTITY_TYPES,
  DEFAULT_STRATEGY,
  type EntityType,
  type Strategy,
} from '../../../shared/masking/catalog';
import { builtinDetectors, customDetector, loadPhoneLibrary } from './detectors';
import { externalFindings } from './engine';
import { MaskingError, tooLarge } from './errors';
import { detectExternal } from './external';
import type { MaskPolicy } from './mask';
import { maskText } from './mask-text';
import type { TokenGrammar } from './placeholders';
import { pseudonymKeyBytes } from './pseudonym';
import type { Detector, ItemFinding } from './types';

export interface MaskerDeps {
  /**
   * HMAC key of pseudonyms: the resolved value of `masking.pseudonymKey` (a string is used as its
   * UTF-8 bytes). Required when the configuration has a `pseudonymKey`; at least 16 bytes.
   */
  readonly key?: Uint8Array | string;
  /** The external detector (the Comprehend adapter). Required when `masking.comprehend.enabled`. */
  readonly detector?: PiiDetector;
}

/** How the external detector fared on one call. */
export interface ExternalStatus {
  readonly detector: string;
  /** `failed_open`: it failed and `failMode` is "open": only the built-in detectors ran. */
  readonly status: 'ok' | 'failed_open';
  /** The failure's message (for logs; it names no value). */
  readonly error?: string;
}

export interface MaskItemsResult {
  /** The masked items, same order and count as the input. */
  readonly items: string[];
  /** Findings per item (index = item index): type, detector, strategy, count, original offsets. Never values. */
  readonly findings: ItemFinding[][];
  /** Entity types whose strategy is `block` (sorted). Non-empty: refuse the request with 422 naming them. */
  readonly blocked: EntityType[];
  /** Regions found per entity type over all items. */
  readonly counts: Readonly<Record<EntityType, number>>;
  /** The external detector's outcome, or null when none is configured. */
  readonly external: ExternalStatus | null;
}

export interface MaskResponseResult {
  /** The value with every string masked (structure, numbers, booleans and nulls unchanged). */
  readonly value: unknown;
  /** Findings per masked string, by JSON path (`$.data[0].text`); strings without findings are omitted. */
  readonly findings: ReadonlyArray<{ readonly path: string; readonly findings: ItemFinding[] }>;
  /** Types with strategy `block` found in the response (their values are redacted in `value`). */
  readonly blocked: EntityType[];
  readonly external: ExternalStatus | null;
}

export interface Masker {
  /** `masking.tokenInputs`: token-id inputs cannot be scanned; "refuse" them (400) or "allow" them unscanned. */
  readonly tokenInputs: 'refuse' | 'allow';
  /** The detectors that run (built-in minus disabled, then custom), for logs and tests. */
  readonly detectors: readonly Detector[];
  /**
   * Mask every item. `ruleStrategies` (the matched rule's `masking.strategies`) override the global
   * strategies per entity type. Throws `MaskingError` when an item is too long or the external
   * detector fails closed.
   */
  maskItems(
    items: readonly string[],
    ruleStrategies?: MaskingStrategies,
    opts?: { readonly signal?: AbortSignal },
  ): Promise<MaskItemsResult>;
  /**
   * Mask every string inside a JSON value (an upstream response of a provider that echoes text).
   * Pass only the fields that can carry text, not vectors. `block` findings are redacted and
   * reported in `blocked`: the caller decides whether to refuse.
   */
  maskResponse(value: unknown, ruleStrategies?: MaskingStrategies, opts?: { readonly signal?: AbortSignal }): Promise<MaskResponseResult>;
}

const MAX_RESPONSE_DEPTH = 64;

/** Build the masker for a validated `masking` configuration. Throws when a required dependency is missing. */
export function createMasker(config: MaskingConfig, deps: MaskerDeps = {}): Masker {
  const detectors: Detector[] = [
    ...builtinDetectors(config.disabledDetectors ?? [], config.phoneRegions ? { phoneRegions: config.phoneRegions } : {}),
    ...(config.customDetectors ?? []).map(customDetector),
  ];
  if (config.pseudonymKey && deps.key === undefined) {
    throw new Error('masking.pseudonymKey is configured but no key was given to createMasker: resolve the secret and pass it as deps.key');
  }
  const key = deps.key === undefined ? null : pseudonymKeyBytes(deps.key);
  const usesPhoneLibrary = detectors.some((d) => d.name === 'phone');
  const comprehend = config.comprehend?.enabled ? config.comprehend : null;
  if (comprehend && !deps.detector)
    throw new Error('masking.comprehend is enabled but no PiiDetector was given to createMasker (deps.detector)');
  const external = comprehend ? deps.detector! : null;
  const externalTypes = new Set(comprehend?.entityTypes ?? DEFAULT_COMPREHEND_ENTITY_TYPES);
  const tokens: TokenGrammar = {
    knownTypes: new Set<string>([
      ...BUILTIN_ENTITY_TYPES,
      ...COMPREHEND_MAPPED_TYPES,
      ...(config.customDetectors ?? []).map((d) => d.name),
      ...Object.keys(config.strategies),
    ]),
    pseudonymHex: config.pseudonymLength,
  };

  const policyFor = (ruleStrategies?: MaskingStrategies): MaskPolicy => ({
    strategies: { ...config.strategies, ...(ruleStrategies ?? {}) } as Readonly<Record<string, Strategy>>,
    fallback: DEFAULT_STRATEGY,
    pseudonymHex: config.pseudonymLength,
  });

  async function maskItems(
    items: readonly string[],
    ruleStrategies?: MaskingStrategies,
    opts: { readonly signal?: AbortSignal } = {},
  ): Promise<MaskItemsResult> {
    items.forEach((t, i) => {
      if (t.length > config.maxScanChars) throw tooLarge(t.length, config.maxScanChars, i);
    });
    if (usesPhoneLibrary) await loadPhoneLibrary();
    const policy = policyFor(ruleStrategies);
    let externalEntities: Awaited<ReturnType<typeof detectExternal>> | null = null;
    let status: ExternalStatus | null = null;
    if (external && comprehend) {
      try {
        externalEntities = await detectExternal(items, external, {
          maxConcurrency: comprehend.maxConcurrency,
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
        status = { detector: external.name, status: 'ok' };
      } catch (e) {
        if (comprehend.failMode === 'closed') {
          throw new MaskingError(
            'detector_unavailable',
            'Sensitive-data detection is unavailable right now; nothing was sent. Try again later.',
            { detector: external.name },
            { cause: e },
          );
        }
        status = { detector: external.name, status: 'failed_open', error: e instanceof Error ? e.message : String(e) };
      }
    }
    const cache = new Map<string, string>();
    const out: string[] = [];
    const findings: ItemFinding[][] = [];
    const blocked = new Set<EntityType>();
    const counts: Record<EntityType, number> = {};
    items.forEach((text, i) => {
      const externalFound =
        externalEntities && external && comprehend
          ? externalFindings(text, externalEntities[i]!, {
              detector: external.name,
              minScore: comprehend.minScore,
              types: externalTypes,
              tokens,
            })
          : [];
      const masked = maskText(text, detectors, policy, key, { tokens, external: externalFound, cache });
      out.push(masked.text);
      findings.push(masked.findings);
      for (const t of masked.blocked) blocked.add(t);
      for (const f of masked.findings) counts[f.type] = (counts[f.type] ?? 0) + f.count;
    });
    return { items: out, findings, blocked: [...blocked].sort(), counts, external: status };
  }

  async function maskResponse(
    value: unknown,
    ruleStrategies?: MaskingStrategies,
    opts: { readonly signal?: AbortSignal } = {},
  ): Promise<MaskResponseResult> {
    const strings: string[] = [];
    const paths: string[] = [];
    collectStrings(value, '$', 0, strings, paths);
    const r = await maskItems(strings, ruleStrategies, opts);
    let k = 0;
    const rebuilt = rebuild(value, () => r.items[k++]!, 0);
    const found = r.findings.flatMap((f, i) => (f.length > 0 ? [{ path: paths[i]!, findings: f }] : []));
    return { value: rebuilt, findings: found, blocked: r.blocked, external: r.external };
  }

  return { tokenInputs: config.tokenInputs, detectors, maskItems, maskResponse };
}

function collectStrings(v: unknown, path: string, depth: number, strings: string[], paths: string[]): void {
  if (depth > MAX_RESPONSE_DEPTH) throw new Error(`response nests deeper than ${MAX_RESPONSE_DEPTH} levels`);
  if (typeof v === 'string') {
    strings.push(v);
    paths.push(path);
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => collectStrings(x, `${path}[${i}]`, depth + 1, strings, paths));
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) collectStrings(x, `${path}.${k}`, depth + 1, strings, paths);
  }
}

/** Same traversal order as `collectStrings`. */
function rebuild(v: unknown, next: () => string, depth: number): unknown {
  if (typeof v === 'string') return next();
  if (Array.isArray(v)) return v.map((x) => rebuild(x, next, depth + 1));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rebuild(x, next, depth + 1)]));
  return v;
}

/** The matched rule's masking strategies, for `maskItems` (undefined when the rule has none). */
export function ruleMaskingStrategies(
  config: {
    readonly policy: {
      readonly rules: ReadonlyArray<{ readonly id: string; readonly masking?: { readonly strategies?: MaskingStrategies } }>;
    };
  },
  ruleId: string | null,
): MaskingStrategies | undefined {
  if (ruleId === null) return undefined;
  return config.policy.rules.find((r) => r.id === ruleId)?.masking?.strategies;
}
