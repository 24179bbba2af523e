/**
 * The gateway configuration: one typed, validated, JSON-serialisable document.
 *
 * The CDK construct builds it from its props, validates it with `loadConfig` at synth and ships
 * the normalised result, sealed (`shipConfig`), to the Lambdas, which open it without this schema
 * (shared/config-runtime.ts); `embedgate dev` reads it from a file with `loadConfig`. There is
 * one schema and one validator. The document's version is the SHA-256 of its normalised
 * canonical form (references expanded; `configVersion`); every policy decision cites it.
 */
import * as z from 'zod';
import { ConfigError, configVersion, isLoopback, sealConfig } from './config-runtime';
import { compileGlob } from './glob';
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
import { screenPattern } from './masking/pattern-safety';

// The zod-free part (what the Lambdas use at start, shared/config-runtime.ts), re-exported.
export { canonicalJson, ConfigError, configVersion, expandEnvRefs, isLoopback, sha256Hex } from './config-runtime';

/** Signature algorithms a trusted issuer may use. HMAC and `none` are never accepted. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

const nonEmpty = (what: string) => z.string().min(1, { error: `${what} must be a non-empty string` });
const httpsOrLocalUrl = (what: string) =>
  z.string().refine(
    (v) => {
      try {
        const u = new URL(v);
        return u.protocol === 'https:' || (u.protocol === 'http:' && isLoopback(u.hostname));
      } catch {
        return false;
      }
    },
    { error: `${what} must be an https:// URL (http:// is accepted only for localhost)` },
  );

const stringOrList = (what: string) =>
  z
    .union([nonEmpty(what), z.array(nonEmpty(what)).min(1, { error: `${what} must list at least one value` })], {
      error: `${what} must be a non-empty string or a non-empty list of non-empty strings`,
    })
    .transform((v) => (Array.isArray(v) ? v : [v]));

const globList = (what: string) =>
  stringOrList(what).superRefine((patterns, ctx) => {
    for (const p of patterns) {
      try {
        compileGlob(p);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: `${what} pattern ${JSON.stringify(p)} is invalid: ${(e as Error).message}` });
      }
    }
  });

const claimsSchema = z.strictObject({
  /** Claim holding the subject. */
  subject: nonEmpty('claims.subject').default('sub'),
  /** Claims tried in order for the OAuth client id. */
  clientId: z.array(nonEmpty('claims.clientId[]')).default(['client_id', 'azp', 'cid', 'appid']),
  /** Claims whose values (a string, or an array of strings) become the principal's groups. */
  groups: z.array(nonEmpty('claims.groups[]')).default(['groups']),
  /** Claims whose values become the principal's scopes (space-separated strings or arrays). */
  scopes: z.array(nonEmpty('claims.scopes[]')).default(['scope', 'scp']),
});

const issuerSchema = z.strictObject({
  /** Stable id of this trust relationship (used in records and the construct). */
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, {
    error: 'issuer id must be 1-64 characters of letters, digits, "_", "." or "-"',
  }),
  /** Exact `iss` value. Compared byte for byte: no trailing-slash or case folding. */
  issuer: httpsOrLocalUrl('issuer'),
  /** Accepted `aud` values; a token must carry at least one. */
  audiences: stringOrList('audiences'),
  /** JWKS URL. Default: `jwks_uri` from `<issuer>/.well-known/openid-configuration`. */
  jwksUri: httpsOrLocalUrl('jwksUri').optional(),
  /** Allowed signature algorithms. */
  algorithms: z
    .array(z.string())
    .min(1, { error: 'algorithms must list at least one algorithm, e.g. ["RS256"]' })
    .default(['RS256'])
    .superRefine((algs, ctx) => {
      for (const a of algs) {
        if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(a)) {
          ctx.addIssue({
            code: 'custom',
            message: `algorithm ${JSON.stringify(a)} is not allowed; use asymmetric algorithms only (${ASYMMETRIC_ALGORITHMS.join(', ')}); "none" and HMAC (HS*) are refused`,
          });
        }
      }
    }),
  /** Leeway for exp/nbf/iat, seconds. */
  clockToleranceSeconds: z.number().int().min(0).max(300, { error: 'clockToleranceSeconds must be at most 300' }).default(30),
  /** Reject tokens whose `iat` is older than this, seconds (optional extra bound on top of `exp`). */
  maxTokenAgeSeconds: z.number().int().positive().optional(),
  /** Required JOSE `typ` header, e.g. "at+jwt" (RFC 9068). */
  requiredTyp: nonEmpty('requiredTyp').optional(),
  claims: claimsSchema.default({
    subject: 'sub',
    clientId: ['client_id', 'azp', 'cid', 'appid'],
    groups: ['groups'],
    scopes: ['scope', 'scp'],
  }),
});

const secretRefSchema = z.discriminatedUnion(
  'source',
  [
    z.strictObject({ source: z.literal('secretsManager'), secretId: nonEmpty('secretId'), field: nonEmpty('field').optional() }),
    z.strictObject({
      source: z.literal('env'),
      name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'env name must be a valid environment variable name' }),
    }),
    z.strictObject({ source: z.literal('file'), path: nonEmpty('path') }),
  ],
  { error: 'apiKey.source must be "secretsManager", "env" or "file"' },
);

const limitsSchema = z.strictObject({
  /** Most items in `input` per request. */
  maxInputs: z.number().int().positive().max(100_000).optional(),
  /** Most characters per input item (token-id items: most ids per item). */
  maxInputChars: z.number().int().positive().optional(),
  /** Most characters over all items of one request. */
  maxTotalChars: z.number().int().positive().optional(),
  /** `dimensions` values a client may ask for; omit to allow any (or none). */
  allowedDimensions: z.array(z.number().int().positive()).min(1).optional(),
});

const PROVIDERS = ['openai', 'azure-openai', 'openai-compatible', 'cohere', 'bedrock', 'local'] as const;

const modelSchema = z
  .strictObject({
    /** The model name clients send (`model` in the request). */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$/, {
      error: 'model name must be 1-128 characters of letters, digits, "_", ".", ":", "/" or "-"',
    }),
    provider: z.enum(PROVIDERS, { error: `provider must be one of ${PROVIDERS.join(', ')}` }),
    /** Model id sent upstream; defaults to `name`. For Azure OpenAI, the deployment name. */
    upstreamModel: nonEmpty('upstreamModel').optional(),
    /** Provider base URL (e.g. https://api.openai.com/v1, https://<resource>.openai.azure.com, https://api.cohere.com). */
    baseUrl: httpsOrLocalUrl('baseUrl').optional(),
    /** Where the upstream key comes from. Required for openai and azure-openai. */
    apiKey: secretRefSchema.optional(),
    /** Azure OpenAI `api-version` query parameter. */
    apiVersion: nonEmpty('apiVersion').optional(),
    /** Native output dimensions (used by the local provider; informational otherwise). */
    dimensions: z.number().int().positive().max(16_384).optional(),
    limits: limitsSchema.default({}),
    upstream: z
      .strictObject({
        /** Most items per upstream request; larger inputs are split, order kept. */
        maxBatchSize: z.number().int().positive().max(10_000).default(2048),
        /** Most upstream requests in flight for one client request. */
        concurrency: z.number().int().positive().max(64).default(4),
        /** Per-attempt timeout, ms. */
        timeoutMs: z.number().int().positive().max(300_000).default(30_000),
        /** Retries after the first attempt, for 429/5xx/network errors. */
        maxRetries: z.number().int().min(0).max(10).default(2),
      })
      .default({ maxBatchSize: 2048, concurrency: 4, timeoutMs: 30_000, maxRetries: 2 }),
  })
  .superRefine((m, ctx) => {
    if (m.provider !== 'local' && m.provider !== 'bedrock' && !m.baseUrl) {
      ctx.addIssue({
        code: 'custom',
        path: ['baseUrl'],
        message: `baseUrl is required for provider "${m.provider}" (e.g. https://api.openai.com/v1)`,
      });
    }
    if (m.provider === 'bedrock' && (m.baseUrl || m.apiKey)) {
      ctx.addIssue({
        code: 'custom',
        path: [m.baseUrl ? 'baseUrl' : 'apiKey'],
        message: 'provider "bedrock" is called with the function\'s IAM role in its own region: remove baseUrl and apiKey',
      });
    }
    if (m.provider === 'bedrock' && !m.upstreamModel) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstreamModel'],
        message: 'upstreamModel is required for provider "bedrock": the Bedrock model id, e.g. "amazon.titan-embed-text-v2:0"',
      });
    }
    if ((m.provider === 'openai' || m.provider === 'azure-openai' || m.provider === 'cohere') && !m.apiKey) {
      ctx.addIssue({
        code: 'custom',
        path: ['apiKey'],
        message: `apiKey is required for provider "${m.provider}": a secret reference such as {"source":"env","name":"OPENAI_API_KEY"}`,
      });
    }
    if (m.provider === 'azure-openai' && !m.apiVersion) {
      ctx.addIssue({
        code: 'custom',
        path: ['apiVersion'],
        message: 'apiVersion is required for provider "azure-openai" (e.g. "2024-10-21")',
      });
    }
  });

const matchSchema = z.strictObject({
  /** Issuer ids or issuer URLs (globs). */
  issuer: globList('match.issuer').optional(),
  subject: globList('match.subject').optional(),
  clientId: globList('match.clientId').optional(),
  /** The principal must be in at least one group matching one of these globs. */
  groups: globList('match.groups').optional(),
  /** The principal must hold every one of these scopes (globs). */
  scopes: globList('match.scopes').optional(),
});

// ---- masking -------------------------------------------------------------------------------

const entityTypeName = (what: string) =>
  z.string().regex(ENTITY_TYPE_PATTERN, {
    error: `${what} must be an entity type in upper snake case (1-64 characters of A-Z, 0-9, "_", starting with a letter), e.g. "EMAIL"`,
  });

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
    const screened = screenPattern(d.pattern, d.flags ?? '');
    if (!screened.ok) {
      ctx.addIssue({
        code: 'custom',
        path: ['pattern'],
        message: `custom detector ${JSON.stringify(d.name)}: pattern ${JSON.stringify(d.pattern)}${d.flags ? ` (flags "${d.flags}")` : ''} is refused: ${screened.reason}`,
      });
    }
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
  storeInputText: false,
  maxScanChars: 100_000,
} as const;

const maskingSchema = z
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
    /** Where the HMAC key of pseudonyms comes from; required when any strategy is "pseudonymize". */
    pseudonymKey: z
      .discriminatedUnion('source', secretRefSchema.options, { error: 'pseudonymKey.source must be "secretsManager", "env" or "file"' })
      .optional(),
    /** Hex characters of HMAC in a pseudonym (8 = 32 bits: collisions become likely past ~10^4 distinct values of one type). */
    pseudonymLength: z
      .number()
      .int()
      .min(PSEUDONYM_HEX_MIN)
      .max(PSEUDONYM_HEX_MAX, { error: `pseudonymLength must be between ${PSEUDONYM_HEX_MIN} and ${PSEUDONYM_HEX_MAX}` })
      .default(PSEUDONYM_HEX_DEFAULT),
    comprehend: comprehendSchema.optional(),
    /** Token-id inputs cannot be scanned: refuse them (default) or let them through unscanned. */
    tokenInputs: z.enum(['refuse', 'allow'], { error: 'tokenInputs must be "refuse" or "allow"' }).default(MASKING_DEFAULTS.tokenInputs),
    /** Keep the MASKED input text in the session record (default: no input text at all). */
    storeInputText: z.boolean().default(MASKING_DEFAULTS.storeInputText),
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
function knownEntityTypes(m: { customDetectors?: ReadonlyArray<{ name: string }>; comprehend?: { enabled: boolean } }): Set<string> {
  return new Set<string>([
    ...BUILTIN_ENTITY_TYPES,
    ...(m.customDetectors ?? []).map((d) => d.name),
    ...(m.comprehend?.enabled ? COMPREHEND_MAPPED_TYPES : []),
  ]);
}

const pseudonymKeyMissing = (where: string): string =>
  `${where} is "pseudonymize" but masking.pseudonymKey is not set: add a secret reference, e.g. "pseudonymKey": {"source":"secretsManager","secretId":"embedgate/pseudonym-key"}`;

/** Per-rule masking: strategies that override the global ones for the principals the rule allows. */
const ruleMaskingSchema = z.strictObject({
  strategies: strategiesSchema.optional(),
});

/** A regulated-language pattern: input matching it needs approval (screened like custom detectors). */
const approvalPatternSchema = z
  .strictObject({
    /** Upper snake case name, cited in the approval's triggers (e.g. "EXPORT_CONTROLLED"). */
    name: entityTypeName('approval.when.inputMatches[].name'),
    /** JavaScript regular expression source (no slashes), screened for linear-time matching. */
    pattern: nonEmpty('approval.when.inputMatches[].pattern'),
    /** Flags among "i", "m", "s", "u". */
    flags: z
      .string()
      .regex(/^[imsu]*$/, { error: 'flags may contain only "i", "m", "s" and "u"' })
      .optional(),
  })
  .superRefine((d, ctx) => {
    const screened = screenPattern(d.pattern, d.flags ?? '');
    if (!screened.ok) {
      ctx.addIssue({
        code: 'custom',
        path: ['pattern'],
        message: `approval pattern ${JSON.stringify(d.name)}: pattern ${JSON.stringify(d.pattern)} is refused: ${screened.reason}`,
      });
    }
  });

/**
 * When an allowed request must wait for a human decision. Conditions are alternatives: any one
 * that holds requires approval. No `when` (or an empty one) means always.
 */
const approvalWhenSchema = z.strictObject({
  /** The principal is in none of the groups matching these globs. */
  principalOutsideGroups: globList('approval.when.principalOutsideGroups').optional(),
  /** The request has more than this many input items. */
  batchOver: z.number().int().min(0).optional(),
  /** Some input item matches one of these patterns (checked on the input as sent, before masking). */
  inputMatches: z.array(approvalPatternSchema).min(1).optional(),
  /** Masking found at least one value of one of these entity types (needs masking on). */
  maskingFound: z.array(entityTypeName('approval.when.maskingFound[]')).min(1).optional(),
});

const approvalSchema = z.strictObject({
  when: approvalWhenSchema.optional(),
  /** Who may decide: principals in a group matching one of these globs, or with a subject matching `subjects`. */
  reviewers: z
    .strictObject({
      groups: globList('approval.reviewers.groups').optional(),
      subjects: globList('approval.reviewers.subjects').optional(),
      /** Issuers (ids or URLs) reviewers come from; default: the requester's issuer only. */
      issuers: globList('approval.reviewers.issuers').optional(),
    })
    .refine((r) => (r.groups?.length ?? 0) + (r.subjects?.length ?? 0) > 0, {
      error: 'approval.reviewers must name at least one group or subject',
    }),
  /** Distinct reviewers that must approve; 2 or more is the two-person rule. */
  requiredApprovals: z.number().int().min(1).max(5).default(1),
  /** How long a request waits for a decision before it expires, seconds (1 minute to 7 days). */
  timeoutSeconds: z
    .number()
    .int()
    .min(60)
    .max(7 * 86_400)
    .default(3600),
  /** After approval, how long the client has to re-send the request (single use), seconds. */
  useWithinSeconds: z.number().int().min(10).max(86_400).default(900),
  /** Instead of a single use, grant this principal the model for this many minutes after approval. */
  grantMinutes: z.number().int().min(1).max(1440).optional(),
  /**
   * How many approvals of this rule one principal may have pending at once. Each hold notifies
   * the reviewers and starts a workflow: past the cap, a new held request is refused (429)
   * until one of the principal's approvals is decided or expires.
   */
  maxPending: z.number().int().min(1).max(1000).default(10),
});

const ruleSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, { error: 'rule id must be 1-64 characters of letters, digits, "_", ".", ":" or "-"' }),
  description: z.string().max(500).optional(),
  effect: z.enum(['allow', 'deny'], { error: 'effect must be "allow" or "deny"' }),
  /** Which principals the rule applies to; every field given must match. Omit to match everyone. */
  match: matchSchema.default({}),
  /** Model names (globs) the rule covers. */
  models: globList('models').default(['*']),
  /** Limits that tighten the model's own (allow rules only). */
  limits: limitsSchema.optional(),
  /** Masking strategies for this rule's principals, per entity type, over `masking.strategies` (allow rules only). */
  masking: ruleMaskingSchema.optional(),
  /** Hold matching requests for a human decision (allow rules only). */
  approval: approvalSchema.optional(),
});

const gatewaySchema = z.strictObject({
  /** Largest request body accepted, bytes (413 above). */
  maxRequestBytes: z
    .number()
    .int()
    .positive()
    .max(10 * 1024 * 1024)
    .default(2 * 1024 * 1024),
  /** Largest bearer token accepted, bytes (401 above). */
  maxTokenBytes: z.number().int().min(512).max(65_536).default(8192),
  /** Fail closed (503, no model output) when a record cannot be archived; "open" returns output anyway. */
  archiveFailMode: z.enum(['closed', 'open']).default('closed'),
  /** Largest response the platform carries, bytes (absent: Lambda's 6 MB); a larger answer is refused (422) before anything is sent upstream. */
  maxResponseBytes: z
    .number()
    .int()
    .min(64 * 1024)
    .max(64 * 1024 * 1024)
    .optional(),
});

export const configSchema = z
  .strictObject({
    $schema: z.string().optional(),
    issuers: z.array(issuerSchema).min(1, { error: 'issuers must list at least one trusted issuer' }),
    models: z.array(modelSchema).min(1, { error: 'models must list at least one model' }),
    policy: z.strictObject({
      rules: z.array(ruleSchema),
    }),
    gateway: gatewaySchema.default({ maxRequestBytes: 2 * 1024 * 1024, maxTokenBytes: 8192, archiveFailMode: 'closed' }),
    /** Detection and masking of sensitive data. Absent: masking is off. */
    masking: maskingSchema.optional(),
  })
  .superRefine((c, ctx) => {
    unique(
      c.issuers.map((i) => i.id),
      'issuers',
      'id',
      ctx,
    );
    unique(
      c.issuers.map((i) => i.issuer),
      'issuers',
      'issuer',
      ctx,
    );
    unique(
      c.models.map((m) => m.name),
      'models',
      'name',
      ctx,
    );
    unique(
      c.policy.rules.map((r) => r.id),
      'policy.rules',
      'id',
      ctx,
    );
    c.policy.rules.forEach((r, i) => {
      if (r.effect === 'deny' && r.limits) {
        ctx.addIssue({
          code: 'custom',
          path: ['policy', 'rules', i, 'limits'],
          message: 'limits apply to allow rules only; remove them from this deny rule',
        });
      }
      if (r.masking) checkRuleMasking(c.masking, r.effect, r.masking, i, ctx);
      if (r.approval) checkRuleApproval(c.masking, r.effect, r.approval, i, ctx);
    });
  });

function checkRuleMasking(
  m: z.output<typeof maskingSchema> | undefined,
  effect: 'allow' | 'deny',
  rm: z.output<typeof ruleMaskingSchema>,
  i: number,
  ctx: z.RefinementCtx,
): void {
  const path = ['policy', 'rules', i, 'masking'];
  if (effect === 'deny') {
    ctx.addIssue({ code: 'custom', path, message: 'masking applies to allow rules only; remove it from this deny rule' });
    return;
  }
  if (!m?.enabled) {
    ctx.addIssue({
      code: 'custom',
      path,
      message: 'this rule overrides masking strategies but masking is off: set masking.enabled to true, or remove the override',
    });
    return;
  }
  const known = knownEntityTypes(m);
  for (const [type, strategy] of Object.entries(rm.strategies ?? {})) {
    if (!known.has(type) && ENTITY_TYPE_PATTERN.test(type)) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'strategies', type],
        message: `unknown entity type ${JSON.stringify(type)}: use a built-in type (${BUILTIN_ENTITY_TYPES.join(', ')}) or a custom detector name`,
      });
    }
    if (strategy === 'pseudonymize' && !m.pseudonymKey) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'strategies', type],
        message: pseudonymKeyMissing(`policy.rules[${i}].masking.strategies.${type}`),
      });
    }
  }
}

function checkRuleApproval(
  m: z.output<typeof maskingSchema> | undefined,
  effect: 'allow' | 'deny',
  a: z.output<typeof approvalSchema>,
  i: number,
  ctx: z.RefinementCtx,
): void {
  const path = ['policy', 'rules', i, 'approval'];
  if (effect === 'deny') {
    ctx.addIssue({ code: 'custom', path, message: 'approval applies to allow rules only; remove it from this deny rule' });
    return;
  }
  if (a.when?.maskingFound) {
    if (!m?.enabled) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'when', 'maskingFound'],
        message: 'approval.when.maskingFound needs masking: set masking.enabled to true, or remove the condition',
      });
      return;
    }
    const known = knownEntityTypes(m);
    a.when.maskingFound.forEach((type, j) => {
      if (!known.has(type)) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'when', 'maskingFound', j],
          message: `unknown entity type ${JSON.stringify(type)}: use a built-in type (${BUILTIN_ENTITY_TYPES.join(', ')}) or a custom detector name`,
        });
      }
    });
  }
  if (a.when?.inputMatches)
    unique(
      a.when.inputMatches.map((p) => p.name),
      `policy.rules.${i}.approval.when.inputMatches`,
      'name',
      ctx,
    );
}

function unique(values: string[], list: string, field: string, ctx: z.RefinementCtx): void {
  const seen = new Map<string, number>();
  values.forEach((v, i) => {
    const first = seen.get(v);
    if (first !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [...list.split('.'), i, field],
        message: `duplicate ${field} ${JSON.stringify(v)} (also at ${list}[${first}]); each ${field} must be unique`,
      });
    } else {
      seen.set(v, i);
    }
  });
}

export type GatewayConfigInput = z.input<typeof configSchema>;
type Parsed = z.output<typeof configSchema>;
export type IssuerConfig = Parsed['issuers'][number];
export type ModelConfig = Parsed['models'][number];
export type PolicyRule = Parsed['policy']['rules'][number];
/** A rule's `approval` section after validation and defaults. */
export type ApprovalConfig = NonNullable<PolicyRule['approval']>;
export type Limits = z.output<typeof limitsSchema>;
/** The `masking` section after validation and defaults. */
export type MaskingConfig = z.output<typeof maskingSchema>;
export type MaskingConfigInput = z.input<typeof maskingSchema>;
export type CustomDetectorConfig = NonNullable<MaskingConfig['customDetectors']>[number];
export type ComprehendConfig = NonNullable<MaskingConfig['comprehend']>;
/** Strategy per entity type (global, or a rule's override). */
export type MaskingStrategies = MaskingConfig['strategies'];
export type ProviderKind = (typeof PROVIDERS)[number];

/** A validated configuration with its content version. */
export type GatewayConfig = Parsed & {
  /** `sha256:<hex>` of the canonical JSON of the normalised document. */
  readonly version: string;
};

/** Validate a configuration document; throws `ConfigError` listing every problem with its path. */
export function loadConfig(doc: unknown): GatewayConfig {
  const result = configSchema.safeParse(doc);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`));
  }
  const { $schema: _ignored, ...normalised } = result.data;
  return Object.freeze({ ...normalised, version: configVersion(normalised) }) as GatewayConfig;
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(document)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/**
 * The document a Lambda ships (`config.json`): validated and normalised by `loadConfig`, then
 * sealed (`sealConfig` in shared/config-runtime.ts), so the runtime reads it without the schema.
 * Deploy-time references (`${env:NAME}`, the whole string) stay references: for validation each
 * is replaced by a placeholder URL (`https://deploy-time-reference.invalid/NAME`, which every
 * string rule they may stand for accepts), and put back in the normalised document. `refs`, when
 * given, limits this to those names. Throws `ConfigError` as `loadConfig` does.
 */
export function shipConfig(doc: unknown, refs?: ReadonlySet<string>): Record<string, unknown> {
  const placeholder = (name: string) => `https://deploy-time-reference.invalid/${name}`;
  const back = new Map<string, string>();
  const swap = (v: unknown, f: (s: string) => string): unknown => {
    if (typeof v === 'string') return f(v);
    if (Array.isArray(v)) return v.map((x) => swap(x, f));
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x, f)]));
    return v;
  };
  const forValidation = swap(doc, (s) => {
    const m = /^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(s);
    if (!m || (refs && !refs.has(m[1]))) return s;
    back.set(placeholder(m[1]), s);
    return placeholder(m[1]);
  });
  const normalised = swap(loadConfig(forValidation), (s) => back.get(s) ?? s) as Record<string, unknown>;
  return sealConfig(normalised);
}
