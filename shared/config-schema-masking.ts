/**
 * The `masking` section of the configuration schema (zod), and a rule's masking override.
 */
import * as z from 'zod';
import { entityTypeName, screenPatternField, nonEmpty, secretRefSchema, unique } from './config-schema-fields';
import {
  BUILTIN_DETECTOR_NAMES,
  BUILTIN_ENTITY_TYPES,
  COMPREHEND_ENTITY_TYPES,
  COMPREHEND_MAPPED_TYPES,
  ENTITY_TYPE_PATTERN,
  PSEUDONYM_HEX_DEFAULT,
  PSEUDONYM_HEX_MAX,
  PSEUDONYM_HEX_MIN,
  STRATEGIES,
  VALIDATORS,
} from './masking/catalog';

const strategySchema = z.enum(STRATEGIES, { error: `strategy must be one of ${STRATEGIES.map((x) => `"${x}"`).join(', ')}` });

/** Strategy per entity type: `{ "EMAIL": "pseudonymize", "CREDIT_CARD": "block" }`. */
const strategiesSchema = z.record(z.string(), strategySchema).superRefine((m, ctx) => {
  for (const type of Object.keys(m)) {
    if (!ENTITY_TYPE_PATTERN.test(type)) {
      ctx.addIssue({
        code: 'custom',
        path: [type],
        message: `strategies key ${JSON.stringify(type)} must be an entity type in upper snake case (1-64 characters of A-Z, 0-9, "_", starting with a letter), e.g. "EMAIL"`,
      });
    }
  }
});

const customDetectorSchema = z
  .strictObject({
    /** Upper snake case; the entity type of its findings (strategies refer to it by this name). */
    name: entityTypeName('customDetectors[].name'),
    /** JavaScript regular expression source (no slashes, no flags), screened for linear-time matching. */
    pattern: nonEmpty('customDetectors[].pattern'),
    /** Flags among "i", "m", "s", "u" ("g" is added by the engine). */
    flags: z.string().optional(),
    /** Check digits every match must pass. */
    validator: z
      .enum(VALIDATORS, { error: `validator must be one of ${VALIDATORS.map((x) => `"${x}"`).join(', ')} (or omitted)` })
      .optional(),
    /** Words (case-insensitive) of which one must occur within `contextWindow` characters before a match. */
    contextWords: z
      .array(nonEmpty('contextWords[]'))
      .min(1, { error: 'contextWords must list at least one word (or be omitted)' })
      .optional(),
    /** Characters before a match searched for a context word (default 50). */
    contextWindow: z.number().int().positive().max(1000, { error: 'contextWindow must be at most 1000 characters' }).optional(),
  })
  .superRefine((d, ctx) => {
    screenPatternField(
      d.pattern,
      d.flags,
      `custom detector ${JSON.stringify(d.name)}: pattern ${JSON.stringify(d.pattern)}${d.flags ? ` (flags "${d.flags}")` : ''}`,
      ctx,
    );
    if (d.contextWindow !== undefined && !d.contextWords) {
      ctx.addIssue({
        code: 'custom',
        path: ['contextWindow'],
        message: 'contextWindow has no effect without contextWords: add contextWords or remove contextWindow',
      });
    }
  });

const comprehendSchema = z.strictObject({
  /** Run Amazon Comprehend DetectPiiEntities in addition to the built-in detectors. */
  enabled: z.boolean().default(true),
  /** Language of the texts (DetectPiiEntities supports "en" and "es"). */
  languageCode: z
    .enum(['en', 'es'], { error: 'languageCode must be "en" or "es" (the languages DetectPiiEntities supports)' })
    .default('en'),
  /** Entities scored below this are ignored. */
  minScore: z.number().min(0).max(1, { error: 'minScore must be between 0 and 1' }).default(0.8),
  /** "closed": the request is refused when Comprehend cannot answer; "open": it proceeds with the built-in detectors only. */
  failMode: z.enum(['open', 'closed'], { error: 'failMode must be "open" or "closed"' }).default('closed'),
  /** Comprehend types to keep (Comprehend's names, e.g. "NAME", "ADDRESS"). Default: all but DATE_TIME, AGE and URL. */
  entityTypes: z
    .array(
      z.enum(COMPREHEND_ENTITY_TYPES, { error: `entityTypes entries must be Comprehend PII types: ${COMPREHEND_ENTITY_TYPES.join(', ')}` }),
    )
    .min(1)
    .optional(),
  /** Most Comprehend calls in flight for one request. */
  maxConcurrency: z.number().int().positive().max(32).default(4),
});

const MASKING_DEFAULTS = {
  enabled: false,
  strategies: {},
  pseudonymLength: PSEUDONYM_HEX_DEFAULT,
  tokenInputs: 'refuse',
  maxScanChars: 100_000,
} as const;

export const maskingSchema = z
  .strictObject({
    /** Scan every input item (and string fields of responses) for sensitive data. */
    enabled: z.boolean().default(MASKING_DEFAULTS.enabled),
    /** Strategy per entity type; a type not listed is redacted. */
    strategies: strategiesSchema.default({}),
    /** Built-in detectors to turn off, by name. */
    disabledDetectors: z
      .array(
        z.enum(BUILTIN_DETECTOR_NAMES, {
          error: `disabledDetectors entries must be built-in detector names: ${BUILTIN_DETECTOR_NAMES.join(', ')}`,
        }),
      )
      .optional(),
    customDetectors: z.array(customDetectorSchema).optional(),
    /** Regions (ISO 3166-1 alpha-2) whose national-format phone numbers are recognised; international ones always are. */
    phoneRegions: z
      .array(z.string().regex(/^[A-Z]{2}$/, { error: 'phoneRegions entries must be ISO 3166-1 alpha-2 region codes such as "US" or "GB"' }))
      .min(1, { error: 'phoneRegions must list at least one region (or be omitted for the default list)' })
      .optional(),
    /** Where the HMAC key of pseudonyms comes from; required when any strategy is "pseudonymize". */
    pseudonymKey: z
      .discriminatedUnion('source', secretRefSchema.options, { error: 'pseudonymKey.source must be "secretsManager", "env" or "file"' })
      .optional(),
    /** Hex characters of HMAC in a pseudonym (default 16 = 64 bits; 8 = 32 bits makes collisions likely past ~10^4 distinct values of one type). */
    pseudonymLength: z
      .number()
      .int()
      .min(PSEUDONYM_HEX_MIN)
      .max(PSEUDONYM_HEX_MAX, { error: `pseudonymLength must be between ${PSEUDONYM_HEX_MIN} and ${PSEUDONYM_HEX_MAX}` })
      .default(PSEUDONYM_HEX_DEFAULT),
    comprehend: comprehendSchema.optional(),
    /** Token-id inputs cannot be scanned: refuse them (default) or let them through unscanned. */
    tokenInputs: z.enum(['refuse', 'allow'], { error: 'tokenInputs must be "refuse" or "allow"' }).default(MASKING_DEFAULTS.tokenInputs),
    /**
     * Older switch of what records keep, superseded by `recording.inputText` (no default, so that an
     * explicit false stays "no text in records"): true keeps the input, false omits it.
     */
    storeInputText: z.boolean().optional(),
    /** Longest input item scanned, characters; a longer item is refused (413), never passed unscanned. */
    maxScanChars: z
      .number()
      .int()
      .positive()
      .max(1_000_000, { error: 'maxScanChars must be at most 1000000' })
      .default(MASKING_DEFAULTS.maxScanChars),
  })
  .superRefine((m, ctx) => {
    const names = (m.customDetectors ?? []).map((d) => d.name);
    unique(names, 'customDetectors', 'name', ctx);
    const known = knownEntityTypes(m);
    for (const [type, strategy] of Object.entries(m.strategies)) {
      if (!known.has(type) && ENTITY_TYPE_PATTERN.test(type)) {
        ctx.addIssue({
          code: 'custom',
          path: ['strategies', type],
          message: `unknown entity type ${JSON.stringify(type)}: use a built-in type (${BUILTIN_ENTITY_TYPES.join(', ')}), a custom detector name${m.comprehend?.enabled ? ' or a Comprehend type' : ''}`,
        });
      }
      if (strategy === 'pseudonymize' && !m.pseudonymKey) {
        ctx.addIssue({ code: 'custom', path: ['strategies', type], message: pseudonymKeyMissing(`masking.strategies.${type}`) });
      }
    }
  });

/** Entity types a strategies map may name under this masking configuration. */
export function knownEntityTypes(m: { customDetectors?: ReadonlyArray<{ name: string }>; comprehend?: { enabled: boolean } }): Set<string> {
  return new Set<string>([
    ...BUILTIN_ENTITY_TYPES,
    ...(m.customDetectors ?? []).map((d) => d.name),
    ...(m.comprehend?.enabled ? COMPREHEND_MAPPED_TYPES : []),
  ]);
}

/**
 * The entity types a policy rule's setting at `path` may name: those of the masking configuration
 * `m` when masking is on; when it is off, an issue at `path` (`maskingOff` says what needs masking)
 * and `undefined`.
 */
export function ruleEntityTypes(
  m: z.output<typeof maskingSchema> | undefined,
  path: PropertyKey[],
  maskingOff: string,
  ctx: z.RefinementCtx,
): Set<string> | undefined {
  if (m?.enabled) return knownEntityTypes(m);
  ctx.addIssue({ code: 'custom', path, message: maskingOff });
  return undefined;
}

/** An issue at `path`: `type` is neither a built-in entity type nor a custom detector's name. */
export function unknownEntityType(type: string, path: PropertyKey[], ctx: z.RefinementCtx): void {
  ctx.addIssue({
    code: 'custom',
    path,
    message: `unknown entity type ${JSON.stringify(type)}: use a built-in type (${BUILTIN_ENTITY_TYPES.join(', ')}) or a custom detector name`,
  });
}

const pseudonymKeyMissing = (where: string): string =>
  `${where} is "pseudonymize" but masking.pseudonymKey is not set: add a secret reference, e.g. "pseudonymKey": {"source":"secretsManager","secretId":"embedgate/pseudonym-key"}`;

/** Per-rule masking: strategies that override the global ones for the principals the rule allows. */
export const ruleMaskingSchema = z.strictObject({
  strategies: strategiesSchema.optional(),
});

/**
 * The checks of an allow-rule-only section of policy rule `i` (the section is at `path`) against the
 * configuration's masking `m`; the caller has made sure that the rule allows.
 */
export type RuleSectionCheck<S> = (
  m: z.output<typeof maskingSchema> | undefined,
  section: S,
  path: PropertyKey[],
  i: number,
  ctx: z.RefinementCtx,
) => void;

export const checkRuleMasking: RuleSectionCheck<z.output<typeof ruleMaskingSchema>> = (m, rm, path, i, ctx) => {
  const known = ruleEntityTypes(
    m,
    path,
    'this rule overrides masking strategies but masking is off: set masking.enabled to true, or remove the override',
    ctx,
  );
  if (!known) return;
  for (const [type, strategy] of Object.entries(rm.strategies ?? {})) {
    if (!known.has(type) && ENTITY_TYPE_PATTERN.test(type)) unknownEntityType(type, [...path, 'strategies', type], ctx);
    if (strategy === 'pseudonymize' && !m?.pseudonymKey) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'strategies', type],
        message: pseudonymKeyMissing(`policy.rules[${i}].masking.strategies.${type}`),
      });
    }
  }
};
