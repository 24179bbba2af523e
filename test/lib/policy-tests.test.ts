/**
 * The construct's policy checks at synth: `policyTests` (cases run by the package's CLI through
 * the real gateway code; a failing case fails synth, naming it and the difference) and the
 * configuration warnings as CDK Annotations. Needs `npm run build` (the CLI runs from dist/).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { EmbeddingGateway, MaskingStrategy, PolicyEffect, PolicyTests, UpstreamModel, type EmbeddingGatewayProps } from '../../lib';

const ISSUERS: EmbeddingGatewayProps['issuers'] = [
  { id: 'okta', issuerUrl: 'https://acme.okta.com/oauth2/default', audiences: ['api://embedgate'], scopeClaims: ['scp'] },
];

function synth(overrides: Partial<EmbeddingGatewayProps> = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Test');
  new EmbeddingGateway(stack, 'Gateway', {
    issuers: ISSUERS,
    models: [UpstreamModel.bedrock('amazon.titan-embed-text-v2:0', { name: 'titan-v2', limits: { allowedDimensions: [256, 512] } })],
    rules: [
      { id: 'quarantine', effect: PolicyEffect.DENY, subjects: ['quarantine-*'] },
      { id: 'rag', effect: PolicyEffect.ALLOW, groups: ['rag-*'], maskingStrategies: { EMAIL: MaskingStrategy.PSEUDONYMIZE } },
    ],
    masking: { strategies: { EMAIL: MaskingStrategy.REDACT, US_SSN: MaskingStrategy.BLOCK } },
    ...overrides,
  });
  return stack;
}

const ragCase = (name: string, expect: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  name,
  principal: { claims: { sub: 'rag-indexer', groups: ['rag-search'] } },
  request: { model: 'titan-v2', input: ['mail jane@example.com'], dimensions: 256 },
  expect,
  ...extra,
});

describe('EmbeddingGateway policyTests', () => {
  it('synthesizes when every case passes (rule masking, a secret-backed pseudonym key, deny-wins)', () => {
    expect(() =>
      synth({
        policyTests: PolicyTests.fromCases([
          ragCase('rag pseudonymizes e-mail', { status: 200, rule: 'rag', masking: { EMAIL: 'pseudonymize' } }),
          ragCase(
            'quarantine wins',
            { status: 403, reason: 'rule_deny', rule: 'quarantine' },
            { principal: { claims: { sub: 'quarantine-1', groups: ['rag-x'] } } },
          ),
          ragCase(
            '1024 dimensions are not allowed',
            { status: 422, reason: 'dimensions_not_allowed' },
            { request: { model: 'titan-v2', input: 'x', dimensions: 1024 } },
          ),
        ]),
      }),
    ).not.toThrow();
  });

  it('fails synth when a case fails, naming the case and the difference', () => {
    const dir = mkdtempSync(join(tmpdir(), 'embedgate-lib-policy-'));
    writeFileSync(
      join(dir, 'cases.json'),
      JSON.stringify({
        cases: [
          ragCase('passes', { status: 200 }),
          ragCase('someone outside rag may embed', { status: 200, rule: 'rag' }, { principal: { claims: { sub: 'svc', groups: ['ml'] } } }),
        ],
      }),
    );
    expect(() => synth({ policyTests: PolicyTests.fromPath(dir) })).toThrow(
      /1 of 2 policy test case\(s\) failed; the policy is not deployed:\n {2}- someone outside rag may embed \(.*cases\.json#1\)\n {6}status: expected 200, got 403\n {6}rule: expected "rag", got null/,
    );
  });

  it('fails synth with the reason when the cases cannot be read', () => {
    expect(() =>
      synth({ policyTests: PolicyTests.fromCases([{ name: 'no request', principal: { claims: { sub: 's' } }, expect: { status: 200 } }]) }),
    ).toThrow(/policyTests could not run \(exit 2\):[\s\S]*cases\.json#0: request: /);
    expect(() => synth({ policyTests: PolicyTests.fromPath(join(tmpdir(), 'embedgate-no-such-dir')) })).toThrow(/cannot read test cases/);
    expect(() => PolicyTests.fromCases([])).toThrow(/at least one test case/);
  });
});

describe('EmbeddingGateway configuration warnings', () => {
  const warning = (stack: Stack, id: string, text: RegExp) =>
    Annotations.fromStack(stack).hasWarning('/Test/Gateway', Match.stringLikeRegexp(`${text.source}.*\\[ack: ${id}\\]`));

  it('warns about a rule model that matches no configured model, and about no allow rule', () => {
    const stack = synth({ rules: [{ id: 'nothing', effect: PolicyEffect.DENY, models: ['titan-v3'] }] });
    warning(
      stack,
      'embedgate:rule-model-matches-nothing',
      /policy.rules\[0\].models: rule "nothing": models pattern "titan-v3" matches no configured model: did you mean "titan-v2"\?/,
    );
    warning(stack, 'embedgate:no-allow-rule', /there is no allow rule: every request is denied/);
  });

  it('warns about an issuer pattern that matches no trusted issuer', () => {
    warning(
      synth({ rules: [{ id: 'gh', effect: PolicyEffect.ALLOW, issuers: ['github'] }] }),
      'embedgate:rule-issuer-matches-nothing',
      /issuer pattern "github"/,
    );
  });

  it('warns about dimensions the model cannot produce and an unsupported Bedrock model id', () => {
    const stack = synth({
      models: [
        UpstreamModel.bedrock('amazon.titan-embed-text-v2:0', { name: 'titan-v2', limits: { allowedDimensions: [256, 768] } }),
        UpstreamModel.bedrock('amazon.titan-embed-text-v1', { name: 'titan-v1' }),
      ],
    });
    warning(stack, 'embedgate:dimensions-outside-model', /model "titan-v2" cannot produce 768 dimensions/);
    warning(stack, 'embedgate:unknown-bedrock-model', /"amazon.titan-embed-text-v1" is not a Bedrock embedding model the gateway supports/);
  });

  it('a sound configuration has no embedgate configuration warning', () => {
    const warnings = Annotations.fromStack(synth()).findWarning(
      '/Test/Gateway',
      Match.stringLikeRegexp('\\[ack: embedgate:(rule|no-allow|dimensions|unknown)'),
    );
    expect(warnings).toStrictEqual([]);
  });
});
