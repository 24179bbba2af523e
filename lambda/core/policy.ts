/**
 * Policy evaluation. Pure: (configuration, principal, model name) -> decision.
 *
 * Evaluation order (documented in docs/policy.md):
 *   1. The model must exist in `models`; an unknown model is denied (`model_unknown`), with the
 *      same 403 answer a forbidden model gets, so models cannot be enumerated.
 *   2. Every rule whose `match` and `models` both apply is collected, in document order.
 *   3. If any collected rule is a `deny`, the first such rule decides: deny (`rule_deny`).
 *      An explicit deny always wins over any allow, wherever it stands.
 *   4. Otherwise the first collected `allow` rule decides: allow (`rule_allow`), with the
 *      model's limits tightened by the rule's.
 *   5. Otherwise: deny (`no_matching_rule`). Nothing is allowed by default.
 */
import type { GatewayConfig, Limits, ModelConfig, PolicyRule } from '../../shared/config';
import { matchesAny } from '../../shared/glob';
import type { Principal } from './principal';

export type PolicyReason = 'rule_allow' | 'rule_deny' | 'no_matching_rule' | 'model_unknown';

export interface PolicyDecision {
  readonly effect: 'allow' | 'deny';
  readonly reason: PolicyReason;
  /** Id of the deciding rule; null for default deny and unknown models. */
  readonly ruleId: string | null;
  /** Version (content hash) of the configuration that decided. */
  readonly policyVersion: string;
  /** The model, when it exists. */
  readonly model: ModelConfig | null;
  /** Effective limits (model's, tightened by the rule's); only on allow. */
  readonly limits: Limits | null;
}

export function decide(config: GatewayConfig, principal: Principal, modelName: string): PolicyDecision {
  const model = config.models.find((m) => m.name === modelName) ?? null;
  const base = { policyVersion: config.version, model };
  if (!model) return { ...base, effect: 'deny', reason: 'model_unknown', ruleId: null, limits: null };
  let firstAllow: PolicyRule | undefined;
  for (const rule of config.policy.rules) {
    if (!matchesAny(rule.models, model.name) || !principalMatches(rule, principal)) continue;
    if (rule.effect === 'deny') return { ...base, effect: 'deny', reason: 'rule_deny', ruleId: rule.id, limits: null };
    firstAllow ??= rule;
  }
  if (!firstAllow) return { ...base, effect: 'deny', reason: 'no_matching_rule', ruleId: null, limits: null };
  return { ...base, effect: 'allow', reason: 'rule_allow', ruleId: firstAllow.id, limits: tighten(model.limits, firstAllow.limits) };
}

/** The models this principal may use (for `GET /v1/models`). */
export function allowedModels(config: GatewayConfig, principal: Principal): ModelConfig[] {
  return config.models.filter((m) => decide(config, principal, m.name).effect === 'allow');
}

/** True when every field the rule's `match` names is satisfied by the principal. */
export function principalMatches(rule: PolicyRule, p: Principal): boolean {
  return principalMismatch(rule, p) === null;
}

/** A condition of a rule: its `models`, or a field of its `match`. */
export type RuleCondition = 'models' | 'issuer' | 'subject' | 'clientId' | 'groups' | 'scopes';

/** The condition of a rule that did not hold: its patterns, and what the request had. */
export interface RuleMismatch {
  readonly condition: RuleCondition;
  readonly patterns: readonly string[];
  /** The model name, or the principal's value(s) for that field (`scopes`: the required scopes it lacks). */
  readonly actual: readonly string[];
}

/** The first field of the rule's `match` (issuer, subject, clientId, groups, scopes) the principal does not satisfy, or null. */
export function principalMismatch(rule: PolicyRule, p: Principal): RuleMismatch | null {
  const m = rule.match;
  if (m.issuer && !(matchesAny(m.issuer, p.issuerId) || matchesAny(m.issuer, p.issuer)))
    return { condition: 'issuer', patterns: m.issuer, actual: [p.issuerId, p.issuer] };
  if (m.subject && !matchesAny(m.subject, p.subject)) return { condition: 'subject', patterns: m.subject, actual: [p.subject] };
  if (m.clientId && (p.clientId === null || !matchesAny(m.clientId, p.clientId)))
    return { condition: 'clientId', patterns: m.clientId, actual: p.clientId === null ? [] : [p.clientId] };
  if (m.groups && !p.groups.some((g) => matchesAny(m.groups!, g))) return { condition: 'groups', patterns: m.groups, actual: p.groups };
  if (m.scopes) {
    const missing = m.scopes.filter((s) => !p.scopes.some((have) => matchesAny([s], have)));
    if (missing.length > 0) return { condition: 'scopes', patterns: m.scopes, actual: missing };
  }
  return null;
}

/** One rule in an explanation: whether it applied, the condition that did not hold, whether it decided. */
export interface RuleTrace {
  readonly ruleId: string;
  readonly effect: 'allow' | 'deny';
  readonly matched: boolean;
  /** The first condition that did not hold (models first, then match fields in order); null when matched. */
  readonly mismatch: RuleMismatch | null;
  /** True for the rule that made the decision. */
  readonly decided: boolean;
}

export interface PolicyExplanation {
  /** The decision `decide` makes for the same input. */
  readonly decision: PolicyDecision;
  /** Every rule, in document order; empty when the model is unknown (no rule is consulted). */
  readonly rules: readonly RuleTrace[];
}

/**
 * The decision and its trace: every rule, whether it matched, and the first condition that did
 * not. Pure; evaluates every rule (where `decide` stops at the first deny), and reaches the same
 * decision as `decide` (a property test holds the two together).
 */
export function explain(config: GatewayConfig, principal: Principal, modelName: string): PolicyExplanation {
  const model = config.models.find((m) => m.name === modelName) ?? null;
  const base = { policyVersion: config.version, model };
  if (!model) return { decision: { ...base, effect: 'deny', reason: 'model_unknown', ruleId: null, limits: null }, rules: [] };
  const checked = config.policy.rules.map((rule) => {
    const mismatch: RuleMismatch | null = !matchesAny(rule.models, model.name)
      ? { condition: 'models', patterns: rule.models, actual: [model.name] }
      : principalMismatch(rule, principal);
    return { rule, mismatch };
  });
  const matched = checked.filter((c) => c.mismatch === null).map((c) => c.rule);
  const decider = matched.find((r) => r.effect === 'deny') ?? matched.find((r) => r.effect === 'allow');
  const decision: PolicyDecision = !decider
    ? { ...base, effect: 'deny', reason: 'no_matching_rule', ruleId: null, limits: null }
    : decider.effect === 'deny'
      ? { ...base, effect: 'deny', reason: 'rule_deny', ruleId: decider.id, limits: null }
      : { ...base, effect: 'allow', reason: 'rule_allow', ruleId: decider.id, limits: tighten(model.limits, decider.limits) };
  return {
    decision,
    rules: checked.map(({ rule, mismatch }) => ({
      ruleId: rule.id,
      effect: rule.effect,
      matched: mismatch === null,
      mismatch,
      decided: rule === decider,
    })),
  };
}

/** The stricter of two limit sets: smaller maxima; the intersection of allowed dimensions. */
export function tighten(a: Limits, b: Limits | undefined): Limits {
  if (!b) return a;
  const min = (x?: number, y?: number) => (x === undefined ? y : y === undefined ? x : Math.min(x, y));
  const dims =
    a.allowedDimensions && b.allowedDimensions
      ? a.allowedDimensions.filter((d) => b.allowedDimensions!.includes(d))
      : (a.allowedDimensions ?? b.allowedDimensions);
  return {
    maxInputs: min(a.maxInputs, b.maxInputs),
    maxInputChars: min(a.maxInputChars, b.maxInputChars),
    maxTotalChars: min(a.maxTotalChars, b.maxTotalChars),
    allowedDimensions: dims,
  };
}
