/**
 * The configuration as the Lambdas read it (shared/config-runtime.ts): the sealed, normalised
 * document the construct ships opens, without the schema, to exactly what `loadConfig` makes of
 * the same source (version included); a document changed after synth is refused.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, shipConfig, type GatewayConfig, type GatewayConfigInput } from '../../shared/config';
import { expandEnvRefs, openShippedConfig, sealConfig } from '../../shared/config-runtime';

const issuer = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  issuer: `https://${id}.example.com`,
  audiences: 'embedgate',
  ...extra,
});

// Without `dev` (the CLI's own section, read by `embedgate dev` only).
const { dev: _dev, ...example } = JSON.parse(readFileSync(join(__dirname, '..', '..', 'examples', 'dev.json'), 'utf8')) as Record<
  string,
  unknown
>;

/** Representative documents, with the environment their references need. */
const documents: Record<string, { doc: GatewayConfigInput | Record<string, unknown>; env?: Record<string, string> }> = {
  'the example app (examples/dev.json, with its issuer)': {
    doc: { ...example, issuers: [issuer('dev', { issuer: 'http://localhost:8787', jwksUri: 'http://localhost:8787/jwks' })] },
  },
  minimal: { doc: { issuers: [issuer('corp')], models: [{ name: 'local', provider: 'local' }], policy: { rules: [] } } },
  'masking: custom detectors, pseudonyms, Comprehend, rule overrides': {
    doc: {
      issuers: [issuer('corp')],
      models: [{ name: 'm', provider: 'local' }],
      policy: {
        rules: [{ id: 'r', effect: 'allow', match: { groups: 'team' }, models: 'm', masking: { strategies: { EMAIL: 'block' } } }],
      },
      masking: {
        enabled: true,
        strategies: { EMAIL: 'pseudonymize', EMPLOYEE_ID: 'redact', PERSON_NAME: 'detect' },
        customDetectors: [{ name: 'EMPLOYEE_ID', pattern: 'E-\\d{6}', flags: 'i', contextWords: ['employee'], contextWindow: 20 }],
        disabledDetectors: ['ipv6'],
        pseudonymKey: { source: 'secretsManager', secretId: '${env:EMBEDGATE_REF_0}' },
        comprehend: { enabled: true, entityTypes: ['NAME', 'ADDRESS'] },
        storeInputText: true,
      },
    },
    env: { EMBEDGATE_REF_0: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pseudonym-AbCdEf' },
  },
  approvals: {
    doc: {
      issuers: [issuer('corp')],
      models: [{ name: 'sensitive', provider: 'local' }],
      policy: {
        rules: [
          { id: 'deny-q', effect: 'deny', match: { subject: 'quarantine-*' } },
          {
            id: 'held',
            effect: 'allow',
            match: { groups: ['search-team', 'agents'] },
            models: 'sensitive',
            approval: {
              when: {
                batchOver: 8,
                inputMatches: [{ name: 'EXPORT', pattern: 'ITAR|EAR99', flags: 'i' }],
                principalOutsideGroups: 'trusted',
              },
              reviewers: { groups: ['reviewers'], issuers: 'corp' },
              requiredApprovals: 2,
              grantMinutes: 30,
            },
          },
        ],
      },
    },
  },
  'Bedrock and OpenAI with a secret reference': {
    doc: {
      issuers: [issuer('corp')],
      models: [
        { name: 'titan', provider: 'bedrock', upstreamModel: 'amazon.titan-embed-text-v2:0' },
        {
          name: 'text-embedding-3-small',
          provider: 'openai',
          baseUrl: 'https://api.openai.com/v1',
          apiKey: { source: 'secretsManager', secretId: '${env:EMBEDGATE_REF_0}' },
          limits: { maxInputs: 64 },
          upstream: { concurrency: 8 },
        },
      ],
      policy: { rules: [{ id: 'all', effect: 'allow', models: ['titan', 'text-*'] }] },
      gateway: { maxRequestBytes: 1_000_000, maxTokenBytes: 4096, archiveFailMode: 'open' },
    },
    env: { EMBEDGATE_REF_0: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:openai-AbCdEf' },
  },
  'multiple issuers, one from deploy-time references (Cognito)': {
    doc: {
      issuers: [
        issuer('okta', { algorithms: ['RS256', 'ES256'], requiredTyp: 'at+jwt', claims: { groups: ['groups', 'roles'] } }),
        {
          id: 'cognito',
          issuer: '${env:EMBEDGATE_REF_0}',
          audiences: ['${env:EMBEDGATE_REF_1}'],
          jwksUri: '${env:EMBEDGATE_REF_2}',
          maxTokenAgeSeconds: 3600,
        },
        issuer('github', { issuer: 'https://token.actions.githubusercontent.com', audiences: ['a', 'b'], clockToleranceSeconds: 0 }),
      ],
      models: [{ name: 'local', provider: 'local' }],
      policy: { rules: [{ id: 'ci', effect: 'allow', match: { issuer: ['github', 'cognito'], subject: 'repo:org/*' } }] },
    },
    env: {
      EMBEDGATE_REF_0: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC',
      EMBEDGATE_REF_1: '4q1example',
      EMBEDGATE_REF_2: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC/.well-known/jwks.json',
    },
  },
};

/** What the Lambda reads: the shipped document through JSON, opened (the full validator when it asks). */
function open(json: string, env: Record<string, string> = {}): GatewayConfig {
  const r = openShippedConfig(JSON.parse(json), env);
  if (r.kind !== 'checked') throw new Error(`not checked without the schema: ${r.reason}`);
  return r.config;
}

describe.each(Object.entries(documents))('%s', (_name, { doc, env = {} }) => {
  const shipped = JSON.stringify(shipConfig(doc));
  const expected = loadConfig(expandEnvRefs(doc, env));

  it('opens without the schema to what loadConfig makes of the same source, version included', () => {
    const config = open(shipped, env);
    expect(config).toStrictEqual(expected);
    expect(config.version).toBe(expected.version);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('ships the normalised document: still a valid configuration, read by loadConfig to the same configuration', () => {
    expect(loadConfig(expandEnvRefs(JSON.parse(shipped), env))).toStrictEqual(expected);
  });

  it('refuses the document when any value was changed after synth', () => {
    // Every leaf, one at a time: a changed value never opens.
    const leaves: string[][] = [];
    const walk = (v: unknown, path: string[]) => {
      if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
      else if (path[0] !== '$schema') leaves.push(path);
    };
    walk(JSON.parse(shipped), []);
    expect(leaves.length).toBeGreaterThan(10);
    for (const path of leaves) {
      const d = JSON.parse(shipped);
      const parent = path.slice(0, -1).reduce((o, k) => o[k], d);
      const k = path.at(-1)!;
      parent[k] = typeof parent[k] === 'number' ? parent[k] + 1 : typeof parent[k] === 'boolean' ? !parent[k] : `${parent[k]}x`;
      expect(() => openShippedConfig(d, env)).toThrow(/does not match the digest written at synth/);
    }
  });
});

describe('a changed or damaged config.json', () => {
  const { doc, env } = documents['Bedrock and OpenAI with a secret reference'];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the test edits the parsed document freely
  const shipped = () => shipConfig(doc) as Record<string, any>;
  const refused = (d: unknown, message: RegExp) => {
    expect(() => openShippedConfig(d, env!)).toThrow(ConfigError);
    expect(() => openShippedConfig(d, env!)).toThrow(message);
  };

  it('a removed key', () => {
    const d = shipped();
    delete d.models[1].upstream;
    refused(d, /config\.json does not match the digest written at synth \(sha256:[0-9a-f]{64}, the document has sha256:[0-9a-f]{64}\)/);
    delete d.gateway;
    refused(d, /does not match the digest/);
  });

  it('an added key', () => {
    const d = shipped();
    d.models[0].baseUrl = 'https://elsewhere.example.com';
    refused(d, /does not match the digest/);
  });

  it('a bad digest, or a marker that is not the format', () => {
    const d = shipped();
    d.$schema = d.$schema.replace(/.$/, (c: string) => (c === '0' ? '1' : '0'));
    refused(d, /does not match the digest/);
    refused({ ...shipped(), $schema: 'embedgate:normalised-config:1:sha256:zz' }, /is not a format this runtime reads/);
    refused({ ...shipped(), $schema: 'embedgate:normalised-config:2:sha256:' + '0'.repeat(64) }, /is not a format this runtime reads/);
    refused([], /must be a JSON object/);
  });

  it('a resealed document missing what the construct always writes (defaults) is refused for its shape', () => {
    const d = shipped();
    delete d.$schema;
    delete d.models[0].upstream;
    delete d.gateway.archiveFailMode;
    d.extra = 1;
    for (const m of [
      /models\[0\]\.upstream must be an object, missing/,
      /gateway\.archiveFailMode must be a string, missing/,
      /unknown key "extra"/,
    ])
      refused(sealConfig(d), m);
  });

  it('a missing deploy-time reference is named, as before', () => {
    expect(() => openShippedConfig(shipped(), {})).toThrow(/environment variable EMBEDGATE_REF_0 \(a deploy-time reference\) is not set/);
  });
});

describe('deploy-time references: what they bring is checked as the schema would', () => {
  const { doc, env } = documents['multiple issuers, one from deploy-time references (Cognito)'];
  const shipped = shipConfig(doc);

  it('an issuer URL that is not https, an empty audience, a duplicate issuer: refused', () => {
    expect(() => openShippedConfig(shipped, { ...env, EMBEDGATE_REF_0: 'http://idp.example.com' })).toThrow(
      /issuers\[1\]\.issuer: must be an https:\/\/ URL/,
    );
    expect(() => openShippedConfig(shipped, { ...env, EMBEDGATE_REF_1: '' })).toThrow(
      /issuers\[1\]\.audiences\[0\]: must be a non-empty string/,
    );
    expect(() => openShippedConfig(shipped, { ...env, EMBEDGATE_REF_0: 'https://okta.example.com' })).toThrow(
      /issuers\[1\]\.issuer: duplicate issuer "https:\/\/okta\.example\.com" \(also at issuers\[0\]\)/,
    );
    // The same, as loadConfig would refuse them.
    expect(() => loadConfig(expandEnvRefs(doc, { ...env, EMBEDGATE_REF_0: 'http://idp.example.com' }))).toThrow(ConfigError);
  });

  it('a reference in a field with rules of its own (a model name, a glob) goes to the full validator', () => {
    const d = {
      issuers: [issuer('corp')],
      models: [{ name: '${env:EMBEDGATE_REF_0}', provider: 'local' }],
      policy: { rules: [{ id: 'r', effect: 'allow', match: { subject: '${env:EMBEDGATE_REF_1}' } }] },
    };
    const r = openShippedConfig(shipConfig(d), { EMBEDGATE_REF_0: 'bad name!', EMBEDGATE_REF_1: 'svc-*' });
    expect(r).toMatchObject({ kind: 'validate', reason: expect.stringMatching(/models\[0\]\.name, policy\.rules\[0\]\.match\.subject/) });
    if (r.kind !== 'validate') throw new Error('unreachable');
    expect(() => loadConfig(r.document)).toThrow(/model name must be/);
    const ok = openShippedConfig(shipConfig(d), { EMBEDGATE_REF_0: 'good', EMBEDGATE_REF_1: 'svc-*' });
    if (ok.kind !== 'validate') throw new Error('expected the full validator');
    expect(loadConfig(ok.document)).toStrictEqual(loadConfig(expandEnvRefs(d, { EMBEDGATE_REF_0: 'good', EMBEDGATE_REF_1: 'svc-*' })));
  });
});

it('an unsealed document (an older construct, or written by hand) goes to the full validator, references expanded', () => {
  const { doc, env } = documents['Bedrock and OpenAI with a secret reference'];
  const r = openShippedConfig(doc, env!);
  expect(r).toMatchObject({ kind: 'validate', reason: expect.stringMatching(/not sealed/) });
  if (r.kind !== 'validate') throw new Error('unreachable');
  expect(loadConfig(r.document)).toStrictEqual(loadConfig(expandEnvRefs(doc, env!)));
});

it('shipConfig surfaces validation errors as loadConfig does', () => {
  expect(() =>
    shipConfig({
      issuers: [issuer('corp', { algorithms: ['HS256'] })],
      models: [{ name: 'local', provider: 'local' }],
      policy: { rules: [] },
    }),
  ).toThrow(/algorithm "HS256" is not allowed/);
});
