import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddingGateway, PolicyEffect, UpstreamModel, type EmbeddingGatewayProps } from '../../lib';
import { maxBackoffMs, RECORD_RESERVE_MS } from '../../shared/limits';

function synth(overrides: Partial<EmbeddingGatewayProps> = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Test');
  new EmbeddingGateway(stack, 'Gateway', {
    issuers: [{ id: 'okta', issuerUrl: 'https://acme.okta.com/oauth2/default', audiences: ['api://embedgate'] }],
    models: [UpstreamModel.openAiCompatible('https://tei.internal.example.com/v1', { model: 'bge-m3', inVpc: true })],
    rules: [{ id: 'rag', effect: PolicyEffect.ALLOW, groups: ['rag-*'] }],
    ...overrides,
  });
  const template = Template.fromStack(stack);
  const fn = Object.values(
    template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('^embedgate proxy') } }),
  )[0]!.Properties;
  const doc = JSON.parse(
    readFileSync(join(app.synth().directory, `asset.${(fn.Code.S3Key as string).replace(/\.zip$/, '')}`, 'config.json'), 'utf8'),
  );
  return { fn, doc };
}

describe('timeouts fit together', () => {
  test('by default: a 29 s function, and an upstream timeout x 3 attempts + backoff within it less the record reserve', () => {
    const { fn, doc } = synth();
    expect(fn.Timeout).toBe(29);
    const u = doc.models[0].upstream;
    expect(u.maxRetries).toBe(2);
    expect(u.timeoutMs * 3 + maxBackoffMs(2)).toBeLessThanOrEqual(29_000 - RECORD_RESERVE_MS);
    expect(u.timeoutMs).toBeGreaterThan(8_000);
  });

  test('a model without upstream.timeout gets the longest that fits its retries and the function timeout', () => {
    const { doc } = synth({
      timeout: Duration.seconds(15),
      models: [
        UpstreamModel.openAiCompatible('https://tei.internal.example.com/v1', {
          model: 'bge-m3',
          inVpc: true,
          upstream: { maxRetries: 0 },
        }),
      ],
    });
    expect(doc.models[0].upstream.timeoutMs).toBe(15_000 - RECORD_RESERVE_MS);
  });

  test('an explicit upstream timeout that fits is kept', () => {
    const { doc } = synth({
      models: [
        UpstreamModel.openAiCompatible('https://tei.internal.example.com/v1', {
          model: 'bge-m3',
          inVpc: true,
          upstream: { timeout: Duration.seconds(8), maxRetries: 2 },
        }),
      ],
    });
    expect(doc.models[0].upstream.timeoutMs).toBe(8_000);
  });

  test('fails when the function timeout is longer than API Gateway allows', () => {
    expect(() => synth({ timeout: Duration.seconds(60) })).toThrow(/timeout \(60 s\) must be at most 29 seconds: API Gateway/);
    expect(() => synth({ timeout: Duration.seconds(30) })).toThrow(/at most 29 seconds/);
  });

  test('fails when the function timeout leaves no time for an upstream call', () => {
    expect(() => synth({ timeout: Duration.seconds(3) })).toThrow(/leaves no time for an upstream call/);
  });

  test('fails when upstream timeout x attempts + backoff is longer than the function has, naming the model and the fix', () => {
    expect(() =>
      synth({
        models: [
          UpstreamModel.openAiCompatible('https://tei.internal.example.com/v1', {
            model: 'bge-m3',
            inVpc: true,
            upstream: { timeout: Duration.seconds(30), maxRetries: 2 },
          }),
        ],
      }),
    ).toThrow(
      /model "bge-m3": upstream.timeout 30000 ms x 3 attempts \+ 300 ms backoff = 90300 ms, more than the 26500 ms .*Duration.millis\(8733\)/,
    );
  });

  test('fails when the retries alone cannot fit', () => {
    expect(() =>
      synth({
        timeout: Duration.seconds(5),
        models: [
          UpstreamModel.openAiCompatible('https://tei.internal.example.com/v1', {
            model: 'bge-m3',
            inVpc: true,
            upstream: { maxRetries: 5 },
          }),
        ],
      }),
    ).toThrow(/model "bge-m3": 6 upstream attempts \(maxRetries 5\) do not fit/);
  });
});

describe('key mirror (keys without egress)', () => {
  function templateOf(overrides: Partial<EmbeddingGatewayProps>) {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Test');
    new EmbeddingGateway(stack, 'Gateway', {
      issuers: [{ id: 'okta', issuerUrl: 'https://acme.okta.com/oauth2/default', audiences: ['api://embedgate'] }],
      models: [UpstreamModel.openAiCompatible('https://tei.internal.example.com/v1', { model: 'bge-m3', inVpc: true })],
      rules: [{ id: 'rag', effect: PolicyEffect.ALLOW, groups: ['rag-*'] }],
      ...overrides,
    });
    return Template.fromStack(stack);
  }

  test('without egress: a mirror function outside the VPC, every minute, and the proxy reads its table', () => {
    const t = templateOf({});
    const mirror = t.findResources('AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('^embedgate key mirror') },
    });
    expect(Object.keys(mirror)).toHaveLength(1);
    expect(Object.values(mirror)[0]!.Properties.VpcConfig).toBeUndefined();
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^embedgate proxy'),
      VpcConfig: Match.anyValue(),
      Environment: { Variables: Match.objectLike({ EMBEDGATE_ISSUER_KEYS_TABLE: Match.anyValue() }) },
    });
  });

  test('with egress: no mirror (the proxy fetches the keys itself)', () => {
    const t = templateOf({ allowInternetEgress: true });
    expect(
      Object.keys(
        t.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('^embedgate key mirror') } }),
      ),
    ).toHaveLength(0);
  });
});
