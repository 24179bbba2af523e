/**
 * Policy evaluation: default deny, unknown models, deny-overrides, first matching allow,
 * principal matching (issuer, subject, clientId, groups, scopes) and limit tightening.
 */
import fc from 'fast-check';
import type { GatewayConfig, Limits } from '../../shared/config';
import { allowedModels, decide, principalMatches, tighten } from '../../lambda/core/policy';
import { ISSUER_URL, configWith, localModelDoc, principal, ruleDoc, validConfig, type Doc } from '../support/config-fixtures';

const SMALL = localModelDoc({ name: 'small', limits: { maxInputs: 100, maxInputChars: 1000, allowedDimensions: [256, 512, 1024] } });
const LARGE = localModelDoc({ name: 'large' });
const SECRET = localModelDoc({ name: 'secret' });
const MODELS = [SMALL, LARGE, SECRET];

const allow = (id: string, extra: Doc = {}) => ruleDoc({ id, effect: 'allow', match: {}, ...extra });
const deny = (id: string, extra: Doc = {}) => ruleDoc({ id, effect: 'deny', match: {}, ...extra });

/** Does a single allow rule with this `match` let the principal use `small`? */
function allowedBy(match: Doc, p = principal()): boolean {
  return decide(configWith(MODELS, [allow('r', { match })]), p, 'small').effect === 'allow';
}

describe('decide', () => {
  it('denies by default (no_matching_rule) when no rule exists', () => {
    const config = configWith(MODELS, []);
    expect(decide(config, principal(), 'small')).toStrictEqual({
      effect: 'deny',
      reason: 'no_matching_rule',
      ruleId: null,
      policyVersion: config.version,
      model: config.models[0],
      limits: null,
    });
  });

  it('denies by default when rules exist but none matches the principal or the model', () => {
    const config = configWith(MODELS, [allow('other-group', { match: { groups: ['ml'] } }), allow('other-model', { models: ['large'] })]);
    const d = decide(config, principal(), 'small');
    expect(d.effect).toBe('deny');
    expect(d.reason).toBe('no_matching_rule');
    expect(d.ruleId).toBeNull();
  });

  it('an unknown model is denied (model_unknown) even under an allow-everything rule', () => {
    const config = configWith(MODELS, [allow('all')]);
    expect(decide(config, principal(), 'nope')).toStrictEqual({
      effect: 'deny',
      reason: 'model_unknown',
      ruleId: null,
      policyVersion: config.version,
      model: null,
      limits: null,
    });
    expect(decide(config, principal(), 'SMALL').reason).toBe('model_unknown');
    expect(decide(config, principal(), 'small*').reason).toBe('model_unknown');
  });

  it('an unknown model has the same effect as a forbidden one (deny, no rule, no limits)', () => {
    const config = configWith(MODELS, [allow('only-large', { models: ['large'] })]);
    const { reason: r1, model: m1, ...unknown } = decide(config, principal(), 'nope');
    const { reason: r2, model: m2, ...forbidden } = decide(config, principal(), 'small');
    expect([r1, r2]).toEqual(['model_unknown', 'no_matching_rule']);
    expect(m1).toBeNull();
    expect(m2?.name).toBe('small');
    expect(unknown).toStrictEqual(forbidden);
  });

  it('a matching deny overrides an allow, whether it comes before or after it', () => {
    const a = allow('allow-all');
    const d = deny('deny-small', { models: ['small'] });
    for (const rules of [
      [a, d],
      [d, a],
    ]) {
      const config = configWith(MODELS, rules);
      expect(decide(config, principal(), 'small')).toMatchObject({
        effect: 'deny',
        reason: 'rule_deny',
        ruleId: 'deny-small',
        limits: null,
      });
      expect(decide(config, principal(), 'large')).toMatchObject({ effect: 'allow', ruleId: 'allow-all' });
    }
  });

  it('property: in any order of the rules, a matching deny wins and the first matching deny (in document order) is cited', () => {
    const rules = [
      allow('allow-a'),
      allow('allow-b', { limits: { maxInputs: 1 } }),
      deny('deny-1', { match: { subject: ['svc-*'] } }),
      deny('deny-2', { models: ['s*'] }),
      deny('deny-other-subject', { match: { subject: ['someone-else'] } }),
      deny('deny-other-model', { models: ['large'] }),
    ];
    fc.assert(
      fc.property(fc.shuffledSubarray(rules, { minLength: rules.length, maxLength: rules.length }), (ordered) => {
        const d = decide(configWith(MODELS, ordered), principal(), 'small');
        const firstDeny = ordered.find((r) => r.id === 'deny-1' || r.id === 'deny-2')!;
        expect(d).toMatchObject({ effect: 'deny', reason: 'rule_deny', ruleId: firstDeny.id, limits: null });
      }),
    );
  });

  it('a deny that does not match the principal or the model does not block an allow', () => {
    const config = configWith(MODELS, [
      deny('quarantine', { match: { subject: ['quarantine-*'] } }),
      deny('no-secret', { models: ['secret'] }),
      allow('all'),
    ]);
    expect(decide(config, principal(), 'small')).toMatchObject({ effect: 'allow', reason: 'rule_allow', ruleId: 'all' });
    expect(decide(config, principal({ subject: 'quarantine-7' }), 'small')).toMatchObject({ effect: 'deny', ruleId: 'quarantine' });
    expect(decide(config, principal(), 'secret')).toMatchObject({ effect: 'deny', ruleId: 'no-secret' });
  });

  it('the first matching allow decides, is cited, and supplies the limits', () => {
    const config = configWith(MODELS, [
      allow('ml-only', { match: { groups: ['ml'] }, limits: { maxInputs: 1 } }),
      allow('first', { limits: { maxInputs: 10 } }),
      allow('second', { limits: { maxInputs: 5 } }),
    ]);
    const d = decide(config, principal(), 'small');
    expect(d).toMatchObject({ effect: 'allow', reason: 'rule_allow', ruleId: 'first', model: { name: 'small' } });
    expect(d.limits?.maxInputs).toBe(10);
    expect(decide(config, principal({ groups: ['ml'] }), 'small').ruleId).toBe('ml-only');
  });

  it('policyVersion is the configuration version, for every kind of decision', () => {
    const config = configWith(MODELS, [allow('a', { models: ['small'] }), deny('d', { models: ['secret'] })]);
    for (const model of ['small', 'large', 'secret', 'nope']) {
      expect(decide(config, principal(), model).policyVersion).toBe(config.version);
    }
    expect(new Set(['small', 'large', 'secret', 'nope'].map((m) => decide(config, principal(), m).reason))).toEqual(
      new Set(['rule_allow', 'no_matching_rule', 'rule_deny', 'model_unknown']),
    );
  });

  it("a rule's model globs select the models it covers", () => {
    const config = configWith(MODELS, [allow('s-models', { models: ['s*'] })]);
    expect(decide(config, principal(), 'small').effect).toBe('allow');
    expect(decide(config, principal(), 'secret').effect).toBe('allow');
    expect(decide(config, principal(), 'large').effect).toBe('deny');
  });
});

describe('principal matching', () => {
  it('an omitted match applies to every principal', () => {
    expect(allowedBy({})).toBe(true);
    expect(allowedBy({}, principal({ issuerId: 'x', issuer: 'https://x.example', subject: 'y', clientId: null }))).toBe(true);
  });

  it('issuer matches by issuer id or by issuer URL (globs)', () => {
    expect(allowedBy({ issuer: 'corp' })).toBe(true);
    expect(allowedBy({ issuer: ISSUER_URL })).toBe(true);
    expect(allowedBy({ issuer: 'https://idp.example.*' })).toBe(true);
    expect(allowedBy({ issuer: ['other', 'co*'] })).toBe(true);
    expect(allowedBy({ issuer: 'other' })).toBe(false);
    expect(allowedBy({ issuer: 'https://other.example.com' })).toBe(false);
    expect(allowedBy({ issuer: 'corp' }, principal({ issuerId: 'partner', issuer: 'https://partner.example.com' }))).toBe(false);
  });

  it('subject matches by glob, with "*" crossing "/" and ":"', () => {
    const gha = principal({ subject: 'repo:acme/app:ref:refs/heads/main' });
    expect(allowedBy({ subject: 'repo:acme/*' }, gha)).toBe(true);
    expect(allowedBy({ subject: 'repo:acme/*:ref:refs/heads/main' }, gha)).toBe(true);
    expect(allowedBy({ subject: 'repo:acme/*:ref:refs/heads/release-*' }, gha)).toBe(false);
    expect(allowedBy({ subject: 'repo:other/*' }, gha)).toBe(false);
  });

  it('clientId matches by glob, and a principal without a client id never matches a clientId condition', () => {
    expect(allowedBy({ clientId: 'svc-*' }, principal({ clientId: 'svc-a' }))).toBe(true);
    expect(allowedBy({ clientId: 'svc-*' }, principal({ clientId: 'other' }))).toBe(false);
    expect(allowedBy({ clientId: 'svc-*' }, principal({ clientId: null }))).toBe(false);
    expect(allowedBy({ clientId: '*' }, principal({ clientId: null }))).toBe(false);
    expect(allowedBy({ clientId: '*' }, principal({ clientId: '' }))).toBe(true);
  });

  it('groups: the principal needs at least one group matching any of the patterns', () => {
    const match = { groups: ['ml-*', 'search'] };
    expect(allowedBy(match, principal({ groups: ['x', 'search'] }))).toBe(true);
    expect(allowedBy(match, principal({ groups: ['ml-infra'] }))).toBe(true);
    expect(allowedBy(match, principal({ groups: ['x', 'searchers'] }))).toBe(false);
    expect(allowedBy(match, principal({ groups: [] }))).toBe(false);
  });

  it('scopes: the principal must hold a scope matching every one of the patterns', () => {
    const match = { scopes: ['embed', 'models:*'] };
    expect(allowedBy(match, principal({ scopes: ['models:read', 'x', 'embed'] }))).toBe(true);
    expect(allowedBy(match, principal({ scopes: ['embed'] }))).toBe(false);
    expect(allowedBy(match, principal({ scopes: ['models:read'] }))).toBe(false);
    expect(allowedBy(match, principal({ scopes: ['embedding', 'models:read'] }))).toBe(false);
    expect(allowedBy(match, principal({ scopes: [] }))).toBe(false);
  });

  it('every condition given must hold (conjunction)', () => {
    const match = { issuer: 'corp', subject: 'svc-*', groups: 'ml', scopes: 'embed' };
    const ok = principal({ subject: 'svc-a', groups: ['ml'], scopes: ['embed'] });
    expect(allowedBy(match, ok)).toBe(true);
    expect(allowedBy(match, { ...ok, issuerId: 'x', issuer: 'https://x.example.com' })).toBe(false);
    expect(allowedBy(match, { ...ok, subject: 'bot-a' })).toBe(false);
    expect(allowedBy(match, { ...ok, groups: ['ops'] })).toBe(false);
    expect(allowedBy(match, { ...ok, scopes: ['read'] })).toBe(false);
  });

  it('principalMatches evaluates a loaded rule directly', () => {
    const rule = configWith(MODELS, [allow('r', { match: { subject: 'svc-*', clientId: 'svc-*' } })]).policy.rules[0]!;
    expect(principalMatches(rule, principal({ subject: 'svc-a', clientId: 'svc-a' }))).toBe(true);
    expect(principalMatches(rule, principal({ subject: 'svc-a', clientId: null }))).toBe(false);
  });
});

describe('limits', () => {
  const model: Limits = { maxInputs: 100, maxInputChars: 1000, allowedDimensions: [256, 512, 1024] };

  it('the allowing rule tightens the model limits: the smaller of each maximum, the intersection of dimensions', () => {
    const config = configWith(MODELS, [
      allow('r', { limits: { maxInputs: 10, maxInputChars: 5000, maxTotalChars: 5000, allowedDimensions: [512, 2048] } }),
    ]);
    expect(decide(config, principal(), 'small').limits).toEqual({
      maxInputs: 10,
      maxInputChars: 1000,
      maxTotalChars: 5000,
      allowedDimensions: [512],
    });
  });

  it('an empty intersection of allowed dimensions stays empty (no dimensions allowed), never "any"', () => {
    expect(tighten(model, { allowedDimensions: [2048] }).allowedDimensions).toEqual([]);
    const config = configWith(MODELS, [allow('r', { limits: { allowedDimensions: [64] } })]);
    expect(decide(config, principal(), 'small').limits?.allowedDimensions).toEqual([]);
  });

  it("a rule without limits leaves the model limits as they are; a model without limits takes the rule's", () => {
    expect(decide(configWith(MODELS, [allow('r')]), principal(), 'small').limits).toEqual(model);
    expect(tighten(model, undefined)).toEqual(model);
    expect(tighten({}, { maxInputs: 3, allowedDimensions: [8] })).toEqual({ maxInputs: 3, allowedDimensions: [8] });
  });

  it('property: tighten takes the minimum of defined maxima and intersects defined dimension lists', () => {
    const max = fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined });
    const dims = fc.option(fc.uniqueArray(fc.integer({ min: 1, max: 16 }), { minLength: 1, maxLength: 6 }), { nil: undefined });
    const limits = fc.record({ maxInputs: max, maxInputChars: max, maxTotalChars: max, allowedDimensions: dims });
    const expectedMin = (x?: number, y?: number) => (x === undefined ? y : y === undefined ? x : Math.min(x, y));
    fc.assert(
      fc.property(limits, limits, (a, b) => {
        const t = tighten(a, b);
        expect(t.maxInputs).toBe(expectedMin(a.maxInputs, b.maxInputs));
        expect(t.maxInputChars).toBe(expectedMin(a.maxInputChars, b.maxInputChars));
        expect(t.maxTotalChars).toBe(expectedMin(a.maxTotalChars, b.maxTotalChars));
        if (a.allowedDimensions && b.allowedDimensions) {
          expect(new Set(t.allowedDimensions)).toEqual(new Set(a.allowedDimensions.filter((d) => b.allowedDimensions!.includes(d))));
        } else {
          expect(t.allowedDimensions).toEqual(a.allowedDimensions ?? b.allowedDimensions);
        }
      }),
    );
  });
});

describe('allowedModels', () => {
  function names(config: GatewayConfig, p = principal()): string[] {
    return allowedModels(config, p).map((m) => m.name);
  }

  it('lists exactly the models the principal may use, in configuration order', () => {
    const config = configWith(MODELS, [allow('all'), deny('no-secret', { models: ['secret'] })]);
    expect(names(config)).toEqual(['small', 'large']);
  });

  it('is empty when nothing is allowed, and follows the principal', () => {
    const config = configWith(MODELS, [allow('ml', { match: { groups: ['ml'] }, models: ['large', 'secret'] })]);
    expect(names(config)).toEqual([]);
    expect(names(config, principal({ groups: ['ml'] }))).toEqual(['large', 'secret']);
  });

  it('agrees with decide for every model', () => {
    const config = validConfig({ models: MODELS, policy: { rules: [allow('s', { models: ['s*'] }), deny('d', { models: ['secret'] })] } });
    const expected = config.models.filter((m) => decide(config, principal(), m.name).effect === 'allow').map((m) => m.name);
    expect(names(config)).toEqual(expected);
    expect(expected).toEqual(['small']);
  });
});
