/**
 * The `policy` section of the configuration schema (zod): rules, their principal match, limits and
 * approval conditions.
 */
import * as z from 'zod';
import { entityTypeName, screenPatternField, globList, nonEmpty, unique } from './config-schema-fields';
import { ruleEntityTypes, ruleMaskingSchema, unknownEntityType, type RuleSectionCheck } from './config-schema-masking';

export const limitsSchema = z.strictObject({
  /** Most items in `input` per request. */
  maxInputs: z.number().int().positive().max(100_000).optional(),
  /** Most characters per input item (token-id items: most ids per item). */
  maxInputChars: z.number().int().positive().optional(),
  /** Most characters over all items of one request. */
  maxTotalChars: z.number().int().positive().optional(),
  /** `dimensions` values a client may ask for; omit to allow any (or none). */
  allowedDimensions: z.array(z.number().int().positive()).min(1).optional(),
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
    screenPatternField(d.pattern, d.flags, `approval pattern ${JSON.stringify(d.name)}: pattern ${JSON.stringify(d.pattern)}`, ctx);
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

/**
 * Per-principal rate limits and quotas (`rateLimits` of a rule, or `gateway.rateLimits` as the
 * default of every allow rule that sets none of a field). Counted per principal (issuer +
 * subject), optionally also per client id, rule or model (`per`). See docs/policy.md, Rate limits.
 */
export const rateLimitsSchema = z.strictObject({
  requestsPerSecond: z.number().int().positive().max(1_000_000).optional(),
  requestsPerMinute: z.number().int().positive().max(10_000_000).optional(),
  /** Input items (strings or token-id arrays) per minute. */
  inputItemsPerMinute: z.number().int().positive().max(1_000_000_000).optional(),
  /** Tokens per minute: the upstream's usage when it reports one, else the estimate (docs/policy.md). */
  tokensPerMinute: z.number().int().positive().max(1_000_000_000).optional(),
  /** Tokens per UTC day: the daily budget (a warning past `budgetWarningPercent`, 429 `quota_exceeded` at 100 %). */
  tokensPerDay: z.number().int().positive().max(1_000_000_000_000).optional(),
  /** Requests of one principal in flight at once. */
  maxInFlight: z.number().int().positive().max(10_000).optional(),
  /** Count separately per client id, per rule and/or per model (besides issuer + subject). */
  per: z.array(z.enum(['clientId', 'rule', 'model'], { error: 'rateLimits.per entries must be "clientId", "rule" or "model"' })).optional(),
  /** Percentage of `tokensPerDay` past which a budget warning is logged and counted (alarmed). */
  budgetWarningPercent: z.number().int().min(1).max(100).optional(),
});

export const ruleSchema = z.strictObject({
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
  /** Per-principal rate limits and quotas, over `gateway.rateLimits` field by field (allow rules only). */
  rateLimits: rateLimitsSchema.optional(),
});

export const checkRuleApproval: RuleSectionCheck<z.output<typeof approvalSchema>> = (m, a, path, i, ctx) => {
  if (a.when?.maskingFound) {
    const where = [...path, 'when', 'maskingFound'];
    const known = ruleEntityTypes(
      m,
      where,
      'approval.when.maskingFound needs masking: set masking.enabled to true, or remove the condition',
      ctx,
    );
    if (!known) return;
    a.when.maskingFound.forEach((type, j) => {
      if (!known.has(type)) unknownEntityType(type, [...where, j], ctx);
    });
  }
  if (a.when?.inputMatches)
    unique(
      a.when.inputMatches.map((p) => p.name),
      `policy.rules.${i}.approval.when.inputMatches`,
      'name',
      ctx,
    );
};
