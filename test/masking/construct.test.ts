/** The construct's masking props: everything the configuration's masking section has, shipped as the document the proxy reads. */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ComprehendLanguage,
  EmbeddingGateway,
  MaskingDetector,
  MaskingStrategy,
  PolicyEffect,
  UpstreamModel,
  type GatewayMasking,
} from '../../lib';

function shippedMasking(masking: GatewayMasking): Record<string, unknown> {
  const app = new App({ builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Test');
  new EmbeddingGateway(stack, 'Gateway', {
    issuers: [{ id: 'okta', issuerUrl: 'https://acme.okta.com/oauth2/default', audiences: ['api://embedgate'] }],
    models: [UpstreamModel.bedrock('amazon.titan-embed-text-v2:0', { name: 'titan-v2' })],
    rules: [{ id: 'rag', effect: PolicyEffect.ALLOW, groups: ['rag-*'] }],
    masking,
  });
  const template = Template.fromStack(stack);
  const fn = Object.values(
    template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('^embedgate proxy') } }),
  )[0]!.Properties;
  const asset = join(app.synth().directory, `asset.${(fn.Code.S3Key as string).replace(/\.zip$/, '')}`, 'config.json');
  return JSON.parse(readFileSync(asset, 'utf8')).masking;
}

describe('masking props', () => {
  it('ships every setting: detector flags and context, Comprehend language, score, types and concurrency, disabled detectors, phone regions, scan limit, pseudonym length', () => {
    const m = shippedMasking({
      strategies: { EMAIL: MaskingStrategy.PSEUDONYMIZE, EMPLOYEE_ID: MaskingStrategy.BLOCK },
      customDetectors: [{ name: 'EMPLOYEE_ID', pattern: 'e\\d{6}', flags: 'i', contextWords: ['employee'], contextWindow: 30 }],
      comprehend: true,
      comprehendLanguage: ComprehendLanguage.SPANISH,
      comprehendMinScore: 0.9,
      comprehendEntityTypes: ['NAME', 'ADDRESS'],
      comprehendMaxConcurrency: 2,
      disabledDetectors: [MaskingDetector.IPV4, MaskingDetector.IPV6],
      phoneRegions: ['US', 'MX'],
      maxScanChars: 20_000,
      pseudonymLength: 24,
    });
    expect(m).toMatchObject({
      customDetectors: [{ name: 'EMPLOYEE_ID', pattern: 'e\\d{6}', flags: 'i', contextWords: ['employee'], contextWindow: 30 }],
      comprehend: {
        enabled: true,
        failMode: 'closed',
        languageCode: 'es',
        minScore: 0.9,
        entityTypes: ['NAME', 'ADDRESS'],
        maxConcurrency: 2,
      },
      disabledDetectors: ['ipv4', 'ipv6'],
      phoneRegions: ['US', 'MX'],
      maxScanChars: 20_000,
      pseudonymLength: 24,
    });
  });

  it('pseudonyms are 16 hex characters (64 bits) by default', () => {
    expect(shippedMasking({ strategies: { EMAIL: MaskingStrategy.PSEUDONYMIZE } }).pseudonymLength).toBe(16);
  });

  it('fails when a Comprehend setting is given without comprehend', () => {
    expect(() => shippedMasking({ comprehendMinScore: 0.5, comprehendLanguage: ComprehendLanguage.ENGLISH })).toThrow(
      /masking\.comprehendLanguage, masking\.comprehendMinScore have no effect without comprehend: true/,
    );
  });

  it('fails at synth, naming the value, when a setting is out of range', () => {
    expect(() => shippedMasking({ pseudonymLength: 4 })).toThrow(/pseudonymLength/);
    expect(() => shippedMasking({ maxScanChars: 2_000_000 })).toThrow(/maxScanChars must be at most 1000000/);
    expect(() => shippedMasking({ phoneRegions: ['usa'] })).toThrow(/phoneRegions entries must be ISO 3166-1 alpha-2/);
    expect(() => shippedMasking({ comprehend: true, comprehendMinScore: 2 })).toThrow(/minScore must be between 0 and 1/);
  });
});
