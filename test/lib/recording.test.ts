/**
 * The `recording` prop of EmbeddingGateway (issue 23): what the shipped configuration says records
 * keep, the older `masking.storeInputText` honoured, and bad budgets refused at synth.
 */
import { App, Size, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddingGateway, PolicyEffect, RecordedInputText, UpstreamModel, type EmbeddingGatewayProps } from '../../lib';

function shippedConfig(overrides: Partial<EmbeddingGatewayProps> = {}): Record<string, unknown> {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Test');
  new EmbeddingGateway(stack, 'Gateway', {
    issuers: [{ id: 'okta', issuerUrl: 'https://acme.okta.com/oauth2/default', audiences: ['api://embedgate'] }],
    models: [UpstreamModel.bedrock('amazon.titan-embed-text-v2:0', { name: 'titan-v2' })],
    rules: [{ id: 'rag', effect: PolicyEffect.ALLOW, groups: ['rag-*'] }],
    ...overrides,
  });
  const template = Template.fromStack(stack);
  const fn = Object.values(
    template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('^embedgate proxy') } }),
  )[0]!.Properties;
  return JSON.parse(
    readFileSync(join(app.synth().directory, `asset.${(fn.Code.S3Key as string).replace(/\.zip$/, '')}`, 'config.json'), 'utf8'),
  );
}

describe('EmbeddingGateway recording', () => {
  test('by default records keep the input, 256 KiB each, written into the shipped configuration', () => {
    expect(shippedConfig().recording).toEqual({ inputText: 'keep', maxTextBytes: 262_144 });
  });

  test('inputText OMIT and a budget as a Size are shipped as they are', () => {
    expect(shippedConfig({ recording: { inputText: RecordedInputText.OMIT, maxTextSize: Size.kibibytes(64) } }).recording).toEqual({
      inputText: 'omit',
      maxTextBytes: 65_536,
    });
  });

  test('masking.storeInputText false (an older deployment that asked for no text) keeps omitting; unset keeps', () => {
    expect(shippedConfig({ masking: { storeInputText: false } }).recording).toEqual({ inputText: 'omit', maxTextBytes: 262_144 });
    const doc = shippedConfig({ masking: {} });
    expect(doc.recording).toEqual({ inputText: 'keep', maxTextBytes: 262_144 });
    expect(doc.masking).not.toHaveProperty('storeInputText');
  });

  test('fails when the budget does not fit a journal item, or contradicts storeInputText', () => {
    expect(() => shippedConfig({ recording: { maxTextSize: Size.kibibytes(400) } })).toThrow(
      /recording\.maxTextBytes must be at most 307200 bytes/,
    );
    expect(() => shippedConfig({ masking: { storeInputText: false }, recording: { inputText: RecordedInputText.KEEP } })).toThrow(
      /recording\.inputText is "keep" but masking\.storeInputText is false/,
    );
  });
});
