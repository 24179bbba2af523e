/**
 * The configuration document: defaults, the content version, and validation errors that name
 * the exact path and say how to fix the problem.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalJson, loadConfig } from '../../shared/config';
import { ConfigError } from '../../shared/config';
import {
  azureModelDoc,
  baseConfig,
  configIssues,
  issuerDoc,
  localModelDoc,
  openaiModelDoc,
  ruleDoc,
  validConfig,
  type Doc,
} from '../support/config-fixtures';

const VERSION = /^sha256:[0-9a-f]{64}$/;

/** A deep copy whose object keys are in reverse order (arrays keep their order). */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reverseKeys(v)]),
    );
  }
  return value;
}

/** An independent canonical form: keys sorted by UTF-16 code units, no whitespace. */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value)
      .filter((k) => (value as Doc)[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedJson((value as Doc)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

describe('loadConfig defaults', () => {
  const minimal = {
    issuers: [{ id: 'corp', issuer: 'https://idp.example.com', audiences: 'api://embed' }],
    models: [{ name: 'small', provider: 'local' }],
    policy: { rules: [{ id: 'everyone', effect: 'allow' }] },
  };

  it('a minimal valid document loads with every documented default applied', () => {
    const c = loadConfig(minimal);
    expect(c.issuers[0]).toStrictEqual({
      id: 'corp',
      issuer: 'https://idp.example.com',
      audiences: ['api://embed'],
      algorithms: ['RS256'],
      clockToleranceSeconds: 30,
      claims: { subject: 'sub', clientId: ['client_id', 'azp', 'cid', 'appid'], groups: ['groups'], scopes: ['scope', 'scp'] },
    });
    expect(c.models[0]).toStrictEqual({
      name: 'small',
      provider: 'local',
      limits: {},
      upstream: { maxBatchSize: 2048, concurrency: 4, timeoutMs: 30_000, maxRetries: 2 },
    });
    expect(c.policy.rules[0]).toStrictEqual({ id: 'everyone', effect: 'allow', match: {}, models: ['*'] });
    expect(c.gateway).toStrictEqual({ maxRequestBytes: 2 * 1024 * 1024, maxTokenBytes: 8192, archiveFailMode: 'closed' });
  });

  it('partial claims and upstream objects are completed with the remaining defaults', () => {
    const c = validConfig({
      issuers: [issuerDoc({ claims: { subject: 'client_id' } })],
      models: [localModelDoc({ upstream: { concurrency: 1 } })],
    });
    expect(c.issuers[0]!.claims).toStrictEqual({
      subject: 'client_id',
      clientId: ['client_id', 'azp', 'cid', 'appid'],
      groups: ['groups'],
      scopes: ['scope', 'scp'],
    });
    expect(c.models[0]!.upstream).toStrictEqual({ maxBatchSize: 2048, concurrency: 1, timeoutMs: 30_000, maxRetries: 2 });
  });

  it('an empty claims, upstream or gateway object gets the same defaults as an absent one', () => {
    const absent = validConfig();
    const empty = validConfig({
      issuers: [issuerDoc({ claims: {} })],
      models: [localModelDoc({ upstream: {}, limits: {} })],
      gateway: {},
    });
    expect(empty.issuers[0]!.claims).toStrictEqual(absent.issuers[0]!.claims);
    expect(empty.models[0]!.upstream).toStrictEqual(absent.models[0]!.upstream);
    expect(empty.gateway).toStrictEqual({ maxRequestBytes: 2 * 1024 * 1024, maxTokenBytes: 8192, archiveFailMode: 'closed' });
    expect(empty.version).toBe(absent.version);
  });

  it('a partial gateway object is completed with the remaining defaults', () => {
    expect(validConfig({ gateway: { maxRequestBytes: 1024 } }).gateway).toStrictEqual({
      maxRequestBytes: 1024,
      maxTokenBytes: 8192,
      archiveFailMode: 'closed',
    });
    expect(validConfig({ gateway: { archiveFailMode: 'open' } }).gateway).toStrictEqual({
      maxRequestBytes: 2 * 1024 * 1024,
      maxTokenBytes: 8192,
      archiveFailMode: 'open',
    });
  });

  it('a single string where a list is accepted is normalised to a one-item list', () => {
    const c = validConfig({ policy: { rules: [ruleDoc({ match: { subject: 'svc-*', groups: 'ml' }, models: 'local-*' })] } });
    expect(c.policy.rules[0]!.match).toStrictEqual({ subject: ['svc-*'], groups: ['ml'] });
    expect(c.policy.rules[0]!.models).toStrictEqual(['local-*']);
  });

  it('the fixtures load: baseConfig and every model fixture are valid', () => {
    expect(() => validConfig()).not.toThrow();
    expect(() => validConfig({ models: [localModelDoc(), openaiModelDoc(), azureModelDoc()] })).not.toThrow();
  });

  it('loading leaves the input document untouched and returns a frozen configuration', () => {
    const doc = baseConfig();
    const before = JSON.stringify(doc);
    const c = loadConfig(doc);
    expect(JSON.stringify(doc)).toBe(before);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('$schema is accepted and dropped from the loaded configuration', () => {
    const c = loadConfig({ ...baseConfig(), $schema: 'https://example.com/embedgate.schema.json' });
    expect(c).not.toHaveProperty('$schema');
  });
});

describe('config version', () => {
  it('is "sha256:" followed by 64 lower-case hex digits', () => {
    expect(validConfig().version).toMatch(VERSION);
  });

  it('is the SHA-256 of the canonical JSON of the normalised document (computed independently)', () => {
    const { version, ...normalised } = validConfig();
    expect(version).toBe(`sha256:${createHash('sha256').update(sortedJson(normalised)).digest('hex')}`);
  });

  it('is stable under key reordering at every level', () => {
    const doc = baseConfig({
      models: [openaiModelDoc({ limits: { maxInputs: 5, allowedDimensions: [256, 512] } })],
      policy: { rules: [ruleDoc({ match: { issuer: 'corp', subject: 'svc-*' }, limits: { maxInputs: 2 } })] },
    });
    const reordered = reverseKeys(doc) as Doc;
    expect(Object.keys(reordered)).not.toEqual(Object.keys(doc));
    expect(loadConfig(reordered).version).toBe(loadConfig(doc).version);
  });

  it('is a function of the normalised document: spelled-out defaults, string-vs-list and $schema do not change it', () => {
    const plain = validConfig();
    const explicit = validConfig({
      $schema: './embedgate.schema.json',
      issuers: [issuerDoc({ audiences: issuerDoc().audiences, algorithms: ['RS256'], clockToleranceSeconds: 30 })],
      gateway: { maxRequestBytes: 2 * 1024 * 1024, maxTokenBytes: 8192, archiveFailMode: 'closed' },
      policy: { rules: [ruleDoc({ match: { issuer: 'corp' }, models: '*' })] },
    });
    expect(explicit.version).toBe(plain.version);
  });

  it('changes when a rule changes (effect, match, models, limits, order, or a new rule)', () => {
    const a = ruleDoc({ id: 'a' });
    const b = ruleDoc({ id: 'b', match: { groups: ['ml'] } });
    const versionOf = (rules: Doc[]) => validConfig({ policy: { rules } }).version;
    const base = versionOf([a, b]);
    const variants = [
      versionOf([{ ...a, effect: 'deny' }, b]),
      versionOf([{ ...a, match: { issuer: ['corp'], subject: ['svc-*'] } }, b]),
      versionOf([{ ...a, models: ['local-*'] }, b]),
      versionOf([{ ...a, limits: { maxInputs: 1 } }, b]),
      versionOf([{ ...a, id: 'a2' }, b]),
      versionOf([b, a]),
      versionOf([a]),
      versionOf([a, b, ruleDoc({ id: 'c' })]),
    ];
    for (const v of variants) expect(v).toMatch(VERSION);
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });

  it('changes when anything outside the policy changes (a model limit, a gateway setting)', () => {
    const base = validConfig().version;
    expect(validConfig({ models: [localModelDoc({ limits: { maxInputs: 3 } })] }).version).not.toBe(base);
    expect(validConfig({ gateway: { archiveFailMode: 'open' } }).version).not.toBe(base);
  });
});

describe('canonicalJson', () => {
  it('sorts object keys, writes no whitespace, drops undefined members and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: [3, { d: undefined, c: 'x' }], e: null })).toBe('{"a":[3,{"c":"x"}],"b":1,"e":null}');
    expect(canonicalJson([undefined, 1])).toBe('[null,1]');
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson('é')).toBe('"é"');
  });

  it('property: for any JSON value it is valid JSON for the same value, independent of key order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const out = canonicalJson(v);
        expect(JSON.parse(out)).toStrictEqual(JSON.parse(JSON.stringify(v)));
        expect(canonicalJson(reverseKeys(v))).toBe(out);
        expect(out).toBe(sortedJson(JSON.parse(JSON.stringify(v))));
      }),
    );
  });
});

describe('loadConfig validation errors', () => {
  it('throws a ConfigError that lists every issue in its message', () => {
    let error: unknown;
    try {
      loadConfig(baseConfig({ issuers: [issuerDoc({ algorithms: ['HS256'] })] }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const ce = error as ConfigError;
    expect(ce.name).toBe('ConfigError');
    expect(ce.issues).toHaveLength(1);
    expect(ce.message).toBe(`Invalid embedgate configuration:\n  - ${ce.issues[0]}`);
  });

  it.each([null, undefined, 'config', 42, []])('a non-object document (%p) is refused at (document)', (doc) => {
    expect(configIssues(doc)).toEqual([expect.stringMatching(/^\(document\): /)]);
  });

  it.each(['HS256', 'HS384', 'HS512', 'none', 'rs256'])('algorithm %p is refused with the list of asymmetric algorithms', (alg) => {
    const issues = configIssues(baseConfig({ issuers: [issuerDoc({ algorithms: ['RS256', alg] })] }));
    expect(issues).toEqual([
      `issuers[0].algorithms: algorithm ${JSON.stringify(alg)} is not allowed; use asymmetric algorithms only (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519); "none" and HMAC (HS*) are refused`,
    ]);
  });

  it('every refused algorithm is reported, each on its own', () => {
    const issues = configIssues(baseConfig({ issuers: [issuerDoc({ algorithms: ['HS256', 'none'] })] }));
    expect(issues).toEqual([
      expect.stringMatching(/^issuers\[0\]\.algorithms: algorithm "HS256" is not allowed; use asymmetric/),
      expect.stringMatching(/^issuers\[0\]\.algorithms: algorithm "none" is not allowed; use asymmetric/),
    ]);
  });

  it('an empty algorithm list is refused with an example of a valid one', () => {
    expect(configIssues(baseConfig({ issuers: [issuerDoc({ algorithms: [] })] }))).toEqual([
      'issuers[0].algorithms: algorithms must list at least one algorithm, e.g. ["RS256"]',
    ]);
  });

  it.each([
    'http://idp.example.com',
    'http://localhost.example.com',
    'http://127.0.0.1.example.com',
    'ftp://idp.example.com',
    'idp.example.com',
    '',
  ])('issuer %p (not https, not loopback http) is refused with the https hint', (url) => {
    expect(configIssues(baseConfig({ issuers: [issuerDoc({ issuer: url })] }))).toEqual([
      'issuers[0].issuer: issuer must be an https:// URL (http:// is accepted only for localhost)',
    ]);
  });

  it.each([
    'http://localhost:8080',
    'http://127.0.0.1:9000/realms/dev',
    'http://[::1]:9000',
    'http://dev.localhost',
    'https://idp.example.com/tenant/',
  ])('issuer %p (https, or http on loopback) is accepted', (url) => {
    expect(validConfig({ issuers: [issuerDoc({ issuer: url })] }).issuers[0]!.issuer).toBe(url);
  });

  it('a non-loopback http jwksUri is refused at its own path', () => {
    expect(configIssues(baseConfig({ issuers: [issuerDoc({ jwksUri: 'http://idp.example.com/jwks' })] }))).toEqual([
      'issuers[0].jwksUri: jwksUri must be an https:// URL (http:// is accepted only for localhost)',
    ]);
  });

  it('missing audiences are reported at issuers[i].audiences', () => {
    const issues = configIssues(
      baseConfig({ issuers: [issuerDoc(), issuerDoc({ id: 'b', issuer: 'https://b.example.com', audiences: undefined })] }),
    );
    expect(issues).toEqual([expect.stringMatching(/^issuers\[1\]\.audiences: /)]);
  });

  it('an empty audience list or an empty audience is refused with what is expected', () => {
    expect(configIssues(baseConfig({ issuers: [issuerDoc({ audiences: [] })] }))).toEqual([
      'issuers[0].audiences: audiences must list at least one value',
    ]);
    expect(configIssues(baseConfig({ issuers: [issuerDoc({ audiences: ['api', ''] })] }))).toEqual([
      'issuers[0].audiences[1]: audiences must be a non-empty string',
    ]);
  });

  it('an empty issuer or model list is refused with what it must contain', () => {
    expect(configIssues(baseConfig({ issuers: [] }))).toEqual(['issuers: issuers must list at least one trusted issuer']);
    expect(configIssues(baseConfig({ models: [] }))).toEqual(['models: models must list at least one model']);
  });

  it('a duplicate issuer id is reported at the second occurrence, citing the first', () => {
    const issues = configIssues(baseConfig({ issuers: [issuerDoc(), issuerDoc({ issuer: 'https://other.example.com' })] }));
    expect(issues).toEqual(['issuers[1].id: duplicate id "corp" (also at issuers[0]); each id must be unique']);
  });

  it('a duplicate issuer URL is reported at the second occurrence, citing the first', () => {
    const issues = configIssues(baseConfig({ issuers: [issuerDoc(), issuerDoc({ id: 'corp-2' })] }));
    expect(issues).toEqual([
      'issuers[1].issuer: duplicate issuer "https://idp.example.com" (also at issuers[0]); each issuer must be unique',
    ]);
  });

  it('a duplicate model name is reported at the second occurrence, citing the first', () => {
    const issues = configIssues(baseConfig({ models: [localModelDoc(), localModelDoc({ name: 'b' }), localModelDoc()] }));
    expect(issues).toEqual(['models[2].name: duplicate name "local-small" (also at models[0]); each name must be unique']);
  });

  it('a duplicate rule id is reported at the second occurrence, citing the first', () => {
    const issues = configIssues(baseConfig({ policy: { rules: [ruleDoc(), ruleDoc({ effect: 'deny' })] } }));
    expect(issues).toEqual(['policy.rules[1].id: duplicate id "allow-corp" (also at policy.rules[0]); each id must be unique']);
  });

  it('an unknown top-level key is refused, naming the key', () => {
    expect(configIssues({ ...baseConfig(), dev: { issuer: {} } })).toEqual([
      '(document): unknown key "dev": valid keys are issuers, models, policy, gateway, masking, recording, reviewerPage',
    ]);
  });

  it('an unknown nested key (a typo) is refused at the object that holds it, with the nearest valid key', () => {
    expect(configIssues(baseConfig({ models: [localModelDoc({ dimension: 8 })] }))).toEqual([
      'models[0]: unknown key "dimension": did you mean "dimensions"?',
    ]);
    expect(configIssues(baseConfig({ policy: { rules: [ruleDoc({ match: { subjects: 'x' } })] } }))).toEqual([
      'policy.rules[0].match: unknown key "subjects": did you mean "subject"?',
    ]);
  });

  it('an unknown provider is refused with the list of providers', () => {
    expect(configIssues(baseConfig({ models: [localModelDoc({ provider: 'gemini' })] }))).toEqual([
      'models[0].provider: provider must be one of openai, azure-openai, openai-compatible, cohere, bedrock, local',
    ]);
  });

  it('an openai model without baseUrl and apiKey gets both issues, each with an example', () => {
    expect(configIssues(baseConfig({ models: [openaiModelDoc({ baseUrl: undefined, apiKey: undefined })] }))).toEqual([
      'models[0].baseUrl: baseUrl is required for provider "openai" (e.g. https://api.openai.com/v1)',
      'models[0].apiKey: apiKey is required for provider "openai": a secret reference such as {"source":"env","name":"OPENAI_API_KEY"}',
    ]);
  });

  it('an openai-compatible model needs a baseUrl but no apiKey', () => {
    expect(configIssues(baseConfig({ models: [{ name: 'vllm', provider: 'openai-compatible' }] }))).toEqual([
      'models[0].baseUrl: baseUrl is required for provider "openai-compatible" (e.g. https://api.openai.com/v1)',
    ]);
    expect(() =>
      validConfig({ models: [{ name: 'vllm', provider: 'openai-compatible', baseUrl: 'http://localhost:8000/v1' }] }),
    ).not.toThrow();
  });

  it('an azure-openai model without apiVersion is refused with an example version', () => {
    expect(configIssues(baseConfig({ models: [azureModelDoc({ apiVersion: undefined })] }))).toEqual([
      'models[0].apiVersion: apiVersion is required for provider "azure-openai" (e.g. "2024-10-21")',
    ]);
  });

  it('a deny rule with limits is refused with the fix', () => {
    expect(
      configIssues(baseConfig({ policy: { rules: [ruleDoc(), ruleDoc({ id: 'no', effect: 'deny', limits: { maxInputs: 1 } })] } })),
    ).toEqual(['policy.rules[1].limits: limits apply to allow rules only; remove them from this deny rule']);
  });

  it.each([
    ['match.subject', { match: { subject: 'repo:acme/\\' } }, 'policy.rules[0].match.subject', 'repo:acme/\\'],
    ['match.groups', { match: { groups: ['ok', 'ml\\'] } }, 'policy.rules[0].match.groups', 'ml\\'],
    ['models', { models: ['local-\\'] }, 'policy.rules[0].models', 'local-\\'],
  ])('a glob ending in a lone backslash in %s is refused at its path', (field, override, path, pattern) => {
    expect(configIssues(baseConfig({ policy: { rules: [ruleDoc(override)] } }))).toEqual([
      `${path}: ${field} pattern ${JSON.stringify(pattern)} is invalid: a pattern must not end with a lone "\\"`,
    ]);
  });

  it('an escaped trailing backslash is a valid glob', () => {
    expect(() => validConfig({ policy: { rules: [ruleDoc({ match: { subject: 'domain\\\\' } })] } })).not.toThrow();
  });

  it.each(['1KEY', 'MY-KEY', 'A B', '', 'KEY$'])('env var name %p is refused at apiKey.name', (name) => {
    expect(configIssues(baseConfig({ models: [openaiModelDoc({ apiKey: { source: 'env', name } })] }))).toEqual([
      'models[0].apiKey.name: env name must be a valid environment variable name',
    ]);
  });

  it.each(['OPENAI_API_KEY', '_K', 'k1'])('env var name %p is accepted', (name) => {
    expect(() => validConfig({ models: [openaiModelDoc({ apiKey: { source: 'env', name } })] })).not.toThrow();
  });

  it('an unknown secret source is refused with the valid sources', () => {
    expect(configIssues(baseConfig({ models: [openaiModelDoc({ apiKey: { source: 'vault', path: 'x' } })] }))).toEqual([
      expect.stringMatching(/^models\[0\]\.apiKey(\.source)?: apiKey\.source must be "secretsManager", "env" or "file"$/),
    ]);
  });

  it('several problems in different parts of the document are reported at once', () => {
    const issues = configIssues(
      baseConfig({
        issuers: [issuerDoc({ issuer: 'http://idp.example.com', algorithms: ['HS256'] })],
        models: [localModelDoc({ provider: 'gemini' }), azureModelDoc({ apiVersion: undefined })],
        policy: { rules: [ruleDoc({ match: { subject: 'x\\' } })] },
      }),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^issuers\[0\]\.issuer: /),
        expect.stringMatching(/^issuers\[0\]\.algorithms: algorithm "HS256"/),
        expect.stringMatching(/^models\[0\]\.provider: /),
        expect.stringMatching(/^models\[1\]\.apiVersion: /),
        expect.stringMatching(/^policy\.rules\[0\]\.match\.subject: /),
      ]),
    );
    expect(issues).toHaveLength(5);
  });

  it('value problems and cross-field problems (duplicates) are reported together', () => {
    const issues = configIssues(
      baseConfig({
        issuers: [issuerDoc({ issuer: 'http://idp.example.com', algorithms: ['none'] })],
        policy: { rules: [ruleDoc(), ruleDoc({ match: { subject: 'x\\' } })] },
      }),
    );
    expect(issues).toEqual([
      'issuers[0].issuer: issuer must be an https:// URL (http:// is accepted only for localhost)',
      expect.stringMatching(/^issuers\[0\]\.algorithms: algorithm "none" is not allowed/),
      expect.stringMatching(/^policy\.rules\[1\]\.match\.subject: match\.subject pattern "x\\\\" is invalid/),
      'policy.rules[1].id: duplicate id "allow-corp" (also at policy.rules[0]); each id must be unique',
    ]);
  });

  it('several cross-field problems (duplicates, deny limits) are reported at once', () => {
    const issues = configIssues(
      baseConfig({
        models: [localModelDoc(), localModelDoc()],
        policy: { rules: [ruleDoc(), ruleDoc({ effect: 'deny', limits: {} })] },
      }),
    );
    expect(issues).toEqual([
      'models[1].name: duplicate name "local-small" (also at models[0]); each name must be unique',
      'policy.rules[1].id: duplicate id "allow-corp" (also at policy.rules[0]); each id must be unique',
      'policy.rules[1].limits: limits apply to allow rules only; remove them from this deny rule',
    ]);
  });
});
