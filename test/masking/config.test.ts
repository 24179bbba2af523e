/** The `masking` section of the configuration and the per-rule override: defaults and validation. */
import { loadConfig } from '../../shared/config';
import { baseConfig, configIssues, ruleDoc, validConfig, type Doc } from '../support/config-fixtures';

const withMasking = (masking: Doc, rules?: Doc[]): Doc => baseConfig({ masking, ...(rules ? { policy: { rules } } : {}) });
const issues = (masking: Doc, rules?: Doc[]): readonly string[] => configIssues(withMasking(masking, rules));

describe('masking defaults', () => {
  it('is absent (off) when not configured, so existing documents and their versions do not change', () => {
    const c = validConfig();
    expect(c).not.toHaveProperty('masking');
    expect(c.version).toBe(loadConfig(baseConfig()).version);
  });

  it('an empty section gets every documented default (and is off)', () => {
    expect(loadConfig(withMasking({})).masking).toStrictEqual({
      enabled: false,
      strategies: {},
      pseudonymLength: 16,
      tokenInputs: 'refuse',
      maxScanChars: 100_000,
    });
  });

  it('Comprehend settings default to English, 0.8, fail closed, 4 calls in flight', () => {
    expect(loadConfig(withMasking({ enabled: true, comprehend: {} })).masking!.comprehend).toStrictEqual({
      enabled: true,
      languageCode: 'en',
      minScore: 0.8,
      failMode: 'closed',
      maxConcurrency: 4,
    });
  });

  it('a full section loads as written', () => {
    const m = {
      enabled: true,
      strategies: { EMAIL: 'pseudonymize', CREDIT_CARD: 'block', PHONE: 'detect', EMP_ID: 'redact', PERSON_NAME: 'pseudonymize' },
      disabledDetectors: ['ipv6'],
      customDetectors: [
        { name: 'EMP_ID', pattern: '\\bEMP-\\d{6}\\b', flags: 'i', validator: 'luhn', contextWords: ['employee'], contextWindow: 30 },
      ],
      pseudonymKey: { source: 'secretsManager', secretId: 'embedgate/pseudonym-key' },
      pseudonymLength: 12,
      comprehend: {
        enabled: true,
        languageCode: 'es',
        minScore: 0.9,
        failMode: 'open',
        entityTypes: ['NAME', 'ADDRESS'],
        maxConcurrency: 2,
      },
      tokenInputs: 'allow',
      storeInputText: true,
      maxScanChars: 50_000,
    };
    expect(loadConfig(withMasking(m)).masking).toStrictEqual(m);
  });

  it('a rule may override strategies per entity type', () => {
    const c = loadConfig(withMasking({ enabled: true }, [ruleDoc({ masking: { strategies: { EMAIL: 'detect' } } })]));
    expect(c.policy.rules[0]!.masking).toStrictEqual({ strategies: { EMAIL: 'detect' } });
  });
});

describe('masking validation', () => {
  it('refuses an unsafe custom pattern, naming the detector, the pattern, the reason and the fix', () => {
    expect(issues({ customDetectors: [{ name: 'EMP_ID', pattern: '(a+)+$' }] })).toEqual([
      'masking.customDetectors[0].pattern: custom detector "EMP_ID": pattern "(a+)+$" is refused: unbounded quantifier in "(a+)+": "*", "+" and "{n,}" are allowed only on a single character or class at the very end of the pattern; use a bounded one such as {1,16}',
    ]);
    expect(issues({ customDetectors: [{ name: 'X', pattern: '[a-z]{1,16}[a-z]{1,16}@' }] })[0]).toMatch(
      /custom detector "X": pattern .* is refused: .*at most 24/,
    );
  });

  it('refuses an invalid regular expression and flags it does not allow', () => {
    expect(issues({ customDetectors: [{ name: 'X', pattern: 'a(b' }] })[0]).toMatch(
      /^masking\.customDetectors\[0\]\.pattern: .*not a valid regular expression/,
    );
    expect(issues({ customDetectors: [{ name: 'X', pattern: 'ab', flags: 'g' }] })[0]).toMatch(/flag "g" is not allowed/);
  });

  it('refuses an unknown validator and lists the known ones', () => {
    expect(issues({ customDetectors: [{ name: 'X', pattern: '\\d{8}', validator: 'crc32' }] })).toEqual([
      'masking.customDetectors[0].validator: validator must be one of "luhn", "mod97" (or omitted)',
    ]);
  });

  it('refuses pseudonymize without pseudonymKey, globally and in a rule, with the fix', () => {
    expect(issues({ strategies: { EMAIL: 'pseudonymize' } })).toEqual([
      'masking.strategies.EMAIL: masking.strategies.EMAIL is "pseudonymize" but masking.pseudonymKey is not set: add a secret reference, e.g. "pseudonymKey": {"source":"secretsManager","secretId":"embedgate/pseudonym-key"}',
    ]);
    expect(issues({ enabled: true }, [ruleDoc({ masking: { strategies: { PHONE: 'pseudonymize' } } })])).toEqual([
      'policy.rules[0].masking.strategies.PHONE: policy.rules[0].masking.strategies.PHONE is "pseudonymize" but masking.pseudonymKey is not set: add a secret reference, e.g. "pseudonymKey": {"source":"secretsManager","secretId":"embedgate/pseudonym-key"}',
    ]);
  });

  it('refuses unknown strategies and unknown entity types (typos)', () => {
    expect(issues({ strategies: { EMAIL: 'hide' } })).toEqual([
      'masking.strategies.EMAIL: strategy must be one of "redact", "pseudonymize", "detect", "block"',
    ]);
    expect(issues({ strategies: { EMAILS: 'redact' } })[0]).toMatch(
      /^masking\.strategies\.EMAILS: unknown entity type "EMAILS": use a built-in type \(EMAIL, PHONE/,
    );
    expect(issues({ strategies: { email: 'redact' } })).toEqual([
      'masking.strategies.email: strategies key "email" must be an entity type in upper snake case (1-64 characters of A-Z, 0-9, "_", starting with a letter), e.g. "EMAIL"',
    ]);
    expect(issues({ strategies: { PERSON_NAME: 'redact' } })[0]).toMatch(/unknown entity type "PERSON_NAME"/);
    expect(() => loadConfig(withMasking({ strategies: { PERSON_NAME: 'redact' }, comprehend: { enabled: true } }))).not.toThrow();
  });

  it('refuses unknown detector names to disable, and duplicate or badly named custom detectors', () => {
    expect(issues({ disabledDetectors: ['phones'] })[0]).toMatch(
      /^masking\.disabledDetectors\[0\]: disabledDetectors entries must be built-in detector names: email, phone/,
    );
    expect(
      issues({
        customDetectors: [
          { name: 'X', pattern: 'a{2}' },
          { name: 'X', pattern: 'b{2}' },
        ],
      }),
    ).toEqual(['masking.customDetectors[1].name: duplicate name "X" (also at customDetectors[0]); each name must be unique']);
    expect(issues({ customDetectors: [{ name: 'emp-id', pattern: 'a{2}' }] })[0]).toMatch(
      /customDetectors\[\]\.name must be an entity type in upper snake case/,
    );
  });

  it('refuses contextWindow without contextWords', () => {
    expect(issues({ customDetectors: [{ name: 'X', pattern: 'a{2}', contextWindow: 10 }] })).toEqual([
      'masking.customDetectors[0].contextWindow: contextWindow has no effect without contextWords: add contextWords or remove contextWindow',
    ]);
  });

  it('refuses a rule override on a deny rule, or while masking is off or absent', () => {
    const deny = ruleDoc({ effect: 'deny', masking: { strategies: { EMAIL: 'detect' } } });
    expect(issues({ enabled: true }, [deny])).toEqual([
      'policy.rules[0].masking: masking applies to allow rules only; remove it from this deny rule',
    ]);
    const allow = ruleDoc({ masking: { strategies: { EMAIL: 'detect' } } });
    expect(issues({ enabled: false }, [allow])).toEqual([
      'policy.rules[0].masking: this rule overrides masking strategies but masking is off: set masking.enabled to true, or remove the override',
    ]);
    expect(configIssues(baseConfig({ policy: { rules: [allow] } }))).toEqual([
      'policy.rules[0].masking: this rule overrides masking strategies but masking is off: set masking.enabled to true, or remove the override',
    ]);
    expect(issues({ enabled: true }, [ruleDoc({ masking: { strategies: { EMIAL: 'detect' } } })])[0]).toMatch(
      /^policy\.rules\[0\]\.masking\.strategies\.EMIAL: unknown entity type/,
    );
  });

  it('refuses out-of-range limits and Comprehend settings', () => {
    expect(issues({ maxScanChars: 2_000_000 })).toEqual(['masking.maxScanChars: maxScanChars must be at most 1000000']);
    expect(issues({ maxScanChars: 0 })[0]).toMatch(/^masking\.maxScanChars:/);
    expect(issues({ pseudonymLength: 4 })[0]).toMatch(/^masking\.pseudonymLength:/);
    expect(issues({ comprehend: { languageCode: 'fr' } })).toEqual([
      'masking.comprehend.languageCode: languageCode must be "en" or "es" (the languages DetectPiiEntities supports)',
    ]);
    expect(issues({ comprehend: { minScore: 1.5 } })).toEqual(['masking.comprehend.minScore: minScore must be between 0 and 1']);
    expect(issues({ comprehend: { entityTypes: ['NAMES'] } })[0]).toMatch(
      /^masking\.comprehend\.entityTypes\[0\]: entityTypes entries must be Comprehend PII types/,
    );
    expect(issues({ comprehend: { failMode: 'maybe' } })).toEqual(['masking.comprehend.failMode: failMode must be "open" or "closed"']);
  });

  it('refuses a malformed pseudonymKey with a message about pseudonymKey, and unknown fields', () => {
    expect(issues({ pseudonymKey: { source: 'vault', path: 'x' } })).toEqual([
      'masking.pseudonymKey.source: pseudonymKey.source must be "secretsManager", "env" or "file"',
    ]);
    expect(issues({ enable: true })[0]).toMatch(/^masking: unknown key "enable": did you mean "enabled"\?/);
  });
});
