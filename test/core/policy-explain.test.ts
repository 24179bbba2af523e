/**
 * `explain`: the decision and its trace. It must never disagree with `decide` (property test over
 * random rule sets and principals), and it must name the condition that did not hold.
 */
import fc from 'fast-check';
import { decide, explain } from '../../lambda/core/policy';
import { configWith, localModelDoc, principal, ruleDoc, type Doc } from '../support/config-fixtures';

const MODELS = [localModelDoc({ name: 'small' }), localModelDoc({ name: 'large' }), localModelDoc({ name: 'secret' })];

describe('explain', () => {
  it('names the first condition of each rule that did not hold, and the rule that decided', () => {
    const config = configWith(MODELS, [
      ruleDoc({ id: 'other-model', effect: 'allow', match: {}, models: ['large'] }),
      ruleDoc({ id: 'wrong-issuer', effect: 'allow', match: { issuer: ['github'] } }),
      ruleDoc({ id: 'needs-scope', effect: 'allow', match: { scopes: ['embed:read', 'embed:write'] } }),
      ruleDoc({ id: 'team', effect: 'allow', match: { groups: ['search-*'] } }),
      ruleDoc({ id: 'also-team', effect: 'allow', match: {} }),
    ]);
    const p = principal({ groups: ['search-team'], scopes: ['embed:read'] });
    const e = explain(config, p, 'small');
    expect(e.decision).toStrictEqual(decide(config, p, 'small'));
    expect(e.rules).toStrictEqual([
      {
        ruleId: 'other-model',
        effect: 'allow',
        matched: false,
        decided: false,
        mismatch: { condition: 'models', patterns: ['large'], actual: ['small'] },
      },
      {
        ruleId: 'wrong-issuer',
        effect: 'allow',
        matched: false,
        decided: false,
        mismatch: { condition: 'issuer', patterns: ['github'], actual: ['corp', 'https://idp.example.com'] },
      },
      {
        ruleId: 'needs-scope',
        effect: 'allow',
        matched: false,
        decided: false,
        mismatch: { condition: 'scopes', patterns: ['embed:read', 'embed:write'], actual: ['embed:write'] },
      },
      { ruleId: 'team', effect: 'allow', matched: true, decided: true, mismatch: null },
      { ruleId: 'also-team', effect: 'allow', matched: true, decided: false, mismatch: null },
    ]);
  });

  it('a later deny that matches decides over an earlier allow, and both are shown as matched', () => {
    const config = configWith(MODELS, [
      ruleDoc({ id: 'all', effect: 'allow', match: {} }),
      ruleDoc({ id: 'quarantine', effect: 'deny', match: { subject: ['svc-*'] } }),
    ]);
    const e = explain(config, principal(), 'small');
    expect(e.decision.reason).toBe('rule_deny');
    expect(e.rules.map((r) => [r.ruleId, r.matched, r.decided])).toStrictEqual([
      ['all', true, false],
      ['quarantine', true, true],
    ]);
  });

  it('an unknown model is explained as model_unknown with no rule consulted', () => {
    const config = configWith(MODELS, [ruleDoc({ id: 'all', effect: 'allow', match: {} })]);
    expect(explain(config, principal(), 'nope')).toStrictEqual({ decision: decide(config, principal(), 'nope'), rules: [] });
  });

  it('a missing client id fails a clientId condition with an empty actual', () => {
    const config = configWith(MODELS, [ruleDoc({ id: 'ci', effect: 'allow', match: { clientId: ['ci-*'] } })]);
    expect(explain(config, principal({ clientId: null }), 'small').rules[0]!.mismatch).toStrictEqual({
      condition: 'clientId',
      patterns: ['ci-*'],
      actual: [],
    });
  });

  it('never disagrees with decide (property)', () => {
    const word = fc.constantFrom('a', 'b', 'ab', 'svc', 'corp', 'team-x');
    const glob = fc.oneof(
      word,
      word.map((w) => `${w}*`),
      fc.constant('*'),
      fc.constant('?'),
    );
    const globs = fc.array(glob, { minLength: 1, maxLength: 3 });
    const match = fc.record(
      { issuer: fc.constantFrom(['corp'], ['other'], ['https://idp.*']), subject: globs, clientId: globs, groups: globs, scopes: globs },
      { requiredKeys: [] },
    );
    const rule = fc.record({
      effect: fc.constantFrom('allow', 'deny'),
      match,
      models: fc.constantFrom(['*'], ['small'], ['large', 'secret'], ['s*']),
      limits: fc.option(fc.record({ maxInputs: fc.integer({ min: 1, max: 50 }) }), { nil: undefined }),
    });
    const rules = fc.array(rule, { maxLength: 6 });
    const p = fc.record({
      subject: word,
      clientId: fc.option(word, { nil: null }),
      groups: fc.array(word, { maxLength: 3 }),
      scopes: fc.array(word, { maxLength: 3 }),
    });
    fc.assert(
      fc.property(rules, p, fc.constantFrom('small', 'large', 'secret', 'unknown'), (rs, pp, model) => {
        const docs: Doc[] = rs.map((r, i) => {
          const d: Doc = { id: `r${i}`, effect: r.effect, match: r.match, models: r.models };
          if (r.limits && r.effect === 'allow') d.limits = r.limits;
          return d;
        });
        const config = configWith(MODELS, docs);
        const who = principal(pp);
        const e = explain(config, who, model);
        expect(e.decision).toStrictEqual(decide(config, who, model));
        if (model !== 'unknown') {
          expect(e.rules).toHaveLength(docs.length);
          expect(e.rules.filter((r) => r.decided).map((r) => r.ruleId)).toStrictEqual(e.decision.ruleId ? [e.decision.ruleId] : []);
          for (const r of e.rules) expect(r.matched).toBe(r.mismatch === null);
        }
      }),
      { numRuns: 400 },
    );
  });
});
