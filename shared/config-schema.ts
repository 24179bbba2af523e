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
import { ConfigError, configVersion } from './config-base';
import { allowRuleOnly, httpsOrLocalUrl, nonEmpty, secretRefSchema, stringOrList, unique } from './config-schema-fields';
import { checkRuleMasking, maskingSchema, type RuleSectionCheck } from './config-schema-masking';
import { checkRuleApproval, limitsSchema, rateLimitsSchema, ruleSchema } from './config-schema-policy';
import { recordingConflict, recordingSchema } from './config-schema-recording';
import { recordingOf, type RecordingConfig } from './recording';
import { describeIssue } from './config-suggest';

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
  /**
   * The discovery document and JWKS are served inside the gateway's VPC: the proxy fetches them
   * itself, the key mirror (outside the VPC) leaves this issuer alone.
   */
  keysInVpc: z.boolean().optional(),
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
  /** Default per-principal rate limits of every allow rule (a rule's `rateLimits` overrides them field by field). */
  rateLimits: rateLimitsSchema.optional(),
  /**
   * When the counter store of rate limits cannot answer: "closed" (the default when absent) refuses
   * with 503, "open" lets the request through uncounted. Either way the error is logged and alarmed.
   */
  rateLimitStoreFailMode: z.enum(['closed', 'open'], { error: 'rateLimitStoreFailMode must be "closed" or "open"' }).optional(),
  /** Subjects that get their own metric dimension (principal); every other principal is counted only per rule and model. */
  metricPrincipals: z.array(nonEmpty('metricPrincipals[]')).max(20, { error: 'metricPrincipals may name at most 20 subjects' }).optional(),
});

/** The reviewers' web page (`GET /review`): how it signs reviewers in (OIDC authorization code + PKCE, a public client). */
const reviewerPageSchema = z.strictObject({
  /** The trusted issuer (its `id`) reviewers sign in with; the page calls that issuer's approval routes. */
  issuerId: nonEmpty('reviewerPage.issuerId'),
  /** The public client (no secret) registered at that issuer for the page; redirect URI `<gateway>/review`. */
  clientId: nonEmpty('reviewerPage.clientId'),
  /** Scopes the page asks for (`openid` is always added). */
  scopes: z
    .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, { error: 'a scope is printable ASCII without spaces, quotes or backslashes' }))
    .max(20)
    .default([]),
  /** Extra authorization request parameters (e.g. Okta `audience`-style or Entra `domain_hint`). */
  authorizationParams: z.record(z.string().regex(/^[a-z_]{1,40}$/), z.string().max(200)).optional(),
  /** Overrides of the discovered endpoints (Cognito: the user pool domain's /oauth2/authorize and /oauth2/token). */
  authorizationEndpoint: httpsOrLocalUrl('reviewerPage.authorizationEndpoint').optional(),
  tokenEndpoint: httpsOrLocalUrl('reviewerPage.tokenEndpoint').optional(),
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
    /** What session records keep of the input. Absent: the input as sent, within 256 KiB (see shared/recording.ts). */
    recording: recordingSchema.optional(),
    /** The reviewers' web page. Absent: `GET /review` is not served. */
    reviewerPage: reviewerPageSchema.optional(),
  })
  .superRefine((c, ctx) => {
    const conflict = recordingConflict(c);
    if (conflict) ctx.addIssue({ code: 'custom', path: ['recording', 'inputText'], message: conflict });
    if (c.reviewerPage && !c.issuers.some((i) => i.id === c.reviewerPage!.issuerId)) {
      ctx.addIssue({
        code: 'custom',
        path: ['reviewerPage', 'issuerId'],
        message: `reviewerPage.issuerId ${JSON.stringify(c.reviewerPage.issuerId)} names no issuer; use one of: ${c.issuers.map((i) => i.id).join(', ')}`,
      });
    }
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
      if (r.effect === 'deny' && r.rateLimits) {
        ctx.addIssue({
          code: 'custom',
          path: ['policy', 'rules', i, 'rateLimits'],
          message: 'rateLimits apply to allow rules only; remove them from this deny rule',
        });
      }
      // Sections for allow rules only: on a deny rule, that one issue; on an allow rule, their own checks.
      const allowOnly = <S>(section: 'masking' | 'approval', value: S | undefined, check: RuleSectionCheck<S>) => {
        const path = ['policy', 'rules', i, section];
        if (value !== undefined && allowRuleOnly(r.effect, section, path, ctx)) check(c.masking, value, path, i, ctx);
      };
      allowOnly('masking', r.masking, checkRuleMasking);
      allowOnly('approval', r.approval, checkRuleApproval);
    });
  });

export type GatewayConfigInput = z.input<typeof configSchema>;
type Parsed = z.output<typeof configSchema>;
export type IssuerConfig = Parsed['issuers'][number];
export type ModelConfig = Parsed['models'][number];
export type PolicyRule = Parsed['policy']['rules'][number];
/** A rule's `approval` section after validation and defaults. */
export type ApprovalConfig = NonNullable<PolicyRule['approval']>;
export type Limits = z.output<typeof limitsSchema>;
/** The `reviewerPage` section after validation and defaults. */
export type ReviewerPageConfig = NonNullable<Parsed['reviewerPage']>;
/** A `rateLimits` section (a rule's, or the gateway's default). */
export type RateLimitsConfig = z.output<typeof rateLimitsSchema>;
/** The `masking` section after validation and defaults. */
export type MaskingConfig = z.output<typeof maskingSchema>;
export type MaskingConfigInput = z.input<typeof maskingSchema>;
export type CustomDetectorConfig = NonNullable<MaskingConfig['customDetectors']>[number];
export type ComprehendConfig = NonNullable<MaskingConfig['comprehend']>;
/** Strategy per entity type (global, or a rule's override). */
export type MaskingStrategies = MaskingConfig['strategies'];
export type ProviderKind = (typeof PROVIDERS)[number];

/** A validated configuration with its content version. */
export type GatewayConfig = Omit<Parsed, 'recording'> & {
  /** What records keep of the input, resolved (`loadConfig` always writes it; see shared/recording.ts). */
  readonly recording: RecordingConfig;
  /** `sha256:<hex>` of the canonical JSON of the normalised document. */
  readonly version: string;
};

/** Validate a configuration document; throws `ConfigError` listing every problem with its path. */
export function loadConfig(doc: unknown): GatewayConfig {
  const result = configSchema.safeParse(doc);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${formatPath(i.path)}: ${describeIssue(configSchema, i)}`));
  }
  const { $schema: _ignored, ...parsed } = result.data;
  // The resolved recording section is part of the normalised document (and so of its version):
  // what records keep is written down, not inferred again from defaults at run time.
  const normalised = { ...parsed, recording: recordingOf(parsed) };
  return Object.freeze({ ...normalised, version: configVersion(normalised) }) as GatewayConfig;
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(document)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}
