/**
 * Configuration warnings (shared/config-warnings.ts), each one on its own, the configurations
 * that must stay silent, and `embedgate config validate` (warnings printed, exit 0; errors, exit 2).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configWarnings } from '../../shared/config-warnings';
import { editDistance, nearest } from '../../shared/config-suggest';
import { main } from '../../cli/main';
import { baseConfig, issuerDoc, localModelDoc, openaiModelDoc, ruleDoc, validConfig, type Doc } from '../support/config-fixtures';

const bedrock = (id: string, extra: Doc = {}): Doc => ({ name: 'titan', provider: 'bedrock', upstreamModel: id, ...extra });
const ids = (doc: Doc, ctx = {}) => configWarnings(validConfig(doc), ctx).map((w) => w.id);
const messages = (doc: Doc, ctx = {}) => configWarnings(validConfig(doc), ctx).map((w) => `${w.path}: ${w.message}`);

describe('configWarnings', () => {
  it('is silent for a sound configuration (base fixture, examples/dev.json-like rules)', () => {
    expect(configWarnings(validConfig())).toStrictEqual([]);
    const doc = {
      models: [
        localModelDoc({ name: 'local-small' }),
        bedrock('amazon.titan-embed-text-v2:0', { limits: { allowedDimensions: [256, 1024] } }),
      ],
      policy: {
        rules: [
          ruleDoc({ models: ['local-*', 'titan'], match: { issuer: ['corp'], groups: ['team'] }, limits: { allowedDimensions: [256] } }),
        ],
      },
    };
    expect(configWarnings(validConfig(doc), { knownGroups: ['team'] })).toStrictEqual([]);
  });

  it('warns about a models pattern that matches no configured model, with the nearest name', () => {
    expect(messages({ policy: { rules: [ruleDoc({ models: ['local-smal'] })] } })).toStrictEqual([
      'policy.rules[0].models: rule "allow-corp": models pattern "local-smal" matches no configured model: did you mean "local-small"?',
    ]);
    expect(ids({ policy: { rules: [ruleDoc({ models: ['gpt-*'] })] } })).toStrictEqual(['embedgate:rule-model-matches-nothing']);
  });

  it('warns about an issuer pattern that matches no trusted issuer id or URL', () => {
    expect(messages({ policy: { rules: [ruleDoc({ match: { issuer: ['crop'] } })] } })).toStrictEqual([
      'policy.rules[0].match.issuer: rule "allow-corp": issuer pattern "crop" matches no trusted issuer id or URL: did you mean "corp"?',
    ]);
    expect(ids({ policy: { rules: [ruleDoc({ match: { issuer: ['https://idp.example.com'] } })] } })).toStrictEqual([]);
  });

  it('warns about group and scope patterns only when the known groups and scopes are given', () => {
    const doc = { policy: { rules: [ruleDoc({ match: { groups: ['serch-team'], scopes: ['embed:*'] } })] } };
    expect(ids(doc)).toStrictEqual([]);
    expect(messages(doc, { knownGroups: ['search-team'], knownScopes: ['embeddings'] })).toStrictEqual([
      'policy.rules[0].match.groups: rule "allow-corp": groups pattern "serch-team" matches none of the known groups: did you mean "search-team"?',
      'policy.rules[0].match.scopes: rule "allow-corp": scopes pattern "embed:*" matches none of the known scopes (embeddings)',
    ]);
  });

  it('warns when no rule allows anything', () => {
    expect(messages({ policy: { rules: [] } })).toStrictEqual(['policy.rules: there are no policy rules: every request is denied']);
    expect(ids({ policy: { rules: [ruleDoc({ effect: 'deny' })] } })).toStrictEqual(['embedgate:no-allow-rule']);
  });

  it('warns about dimensions a model cannot produce, on the model and on a rule', () => {
    expect(messages({ models: [bedrock('amazon.titan-embed-text-v2:0', { limits: { allowedDimensions: [256, 768] } })] })).toStrictEqual([
      'models[0].limits.allowedDimensions: model "titan" cannot produce 768 dimensions (it produces 256, 512, 1024); requests asking for them will fail upstream',
    ]);
    expect(ids({ models: [openaiModelDoc({ limits: { allowedDimensions: [512, 4096] } })] })).toStrictEqual([
      'embedgate:dimensions-outside-model',
    ]);
    expect(
      ids({
        models: [
          localModelDoc({
            provider: 'openai-compatible',
            baseUrl: 'https://tei.example.com/v1',
            dimensions: 384,
            limits: { allowedDimensions: [512] },
          }),
        ],
      }),
    ).toStrictEqual(['embedgate:dimensions-outside-model']);
    expect(
      messages({
        models: [localModelDoc({ limits: { allowedDimensions: [256, 512] } })],
        policy: { rules: [ruleDoc({ limits: { allowedDimensions: [256, 1024] } })] },
      }),
    ).toStrictEqual([
      'policy.rules[0].limits.allowedDimensions: rule "allow-corp": model "local-small" does not allow 1024 dimensions (its limits allow 256, 512); the rule cannot widen the model\'s limits',
    ]);
    // The local model produces any size: nothing to warn about without model limits.
    expect(ids({ models: [localModelDoc({ limits: { allowedDimensions: [4096] } })] })).toStrictEqual([]);
  });

  it('warns about an unknown Bedrock embedding model id, with the nearest supported one', () => {
    expect(messages({ models: [bedrock('amazon.titan-embed-text-v2')] })).toStrictEqual([
      'models[0].upstreamModel: model "titan": "amazon.titan-embed-text-v2" is not a Bedrock embedding model the gateway supports: did you mean "amazon.titan-embed-text-v2:0"? (supported: amazon.titan-embed-text-v2:0, cohere.embed-english-v3, cohere.embed-multilingual-v3); requests to it will fail',
    ]);
    expect(ids({ models: [bedrock('anthropic.claude-3')] })).toStrictEqual(['embedgate:unknown-bedrock-model']);
    expect(ids({ models: [bedrock('us.cohere.embed-multilingual-v3')] })).toStrictEqual([]);
    expect(ids({ models: [bedrock('arn:aws:bedrock:eu-west-1::foundation-model/cohere.embed-english-v3')] })).toStrictEqual([]);
  });

  it('nearest: a misspelling gets a suggestion, an unrelated word does not', () => {
    expect(editDistance('efect', 'effect')).toBe(1);
    expect(nearest('aproval', ['approval', 'effect'])).toBe('approval');
    expect(nearest('dev', ['issuers', 'models', 'policy'])).toBeUndefined();
  });
});

describe('embedgate config validate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'embedgate-validate-'));
  async function validate(doc: unknown): Promise<{ code: number; out: string }> {
    const file = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(doc));
    const lines: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((s) => (lines.push(String(s)), true));
    try {
      return { code: await main(['config', 'validate', file]), out: lines.join('') };
    } finally {
      spy.mockRestore();
    }
  }

  it('prints each warning and exits 0', async () => {
    const { code, out } = await validate(baseConfig({ policy: { rules: [ruleDoc({ effect: 'deny', models: ['nope'] })] } }));
    expect(code).toBe(0);
    expect(out).toContain('warning: policy.rules: there is no allow rule: every request is denied [embedgate:no-allow-rule]');
    expect(out).toContain('warning: policy.rules[0].models: rule "allow-corp": models pattern "nope" matches no configured model');
    expect(out).toMatch(/^valid: 1 issuer\(s\), 1 model\(s\), 1 rule\(s\); version sha256:[0-9a-f]{64}; 2 warning\(s\)$/m);
  });

  it('checks group and scope patterns against the embedded dev issuer clients', async () => {
    const doc = {
      ...baseConfig({ issuers: [], policy: { rules: [ruleDoc({ match: { issuer: ['dev'], groups: ['serch'] } })] } }),
      dev: {
        issuer: {
          audience: 'a',
          clients: [{ clientId: 'c', clientSecret: 'secret-123', scopes: ['embeddings'], claims: { groups: ['search'] } }],
        },
      },
    };
    const { code, out } = await validate(doc);
    expect(code).toBe(0);
    expect(out).toContain(
      'groups pattern "serch" matches none of the known groups: did you mean "search"? [embedgate:rule-group-matches-nothing]',
    );
  });

  it('an invalid file is an error (a misspelled key gets the nearest valid one)', async () => {
    await expect(validate(baseConfig({ issuers: [issuerDoc({ audience: ['x'] })] }))).rejects.toThrow(
      /unknown key "audience": did you mean "audiences"\?/,
    );
  });
});
