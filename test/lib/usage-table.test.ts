/**
 * The usage table of per-principal rate limits: created only when a limit is configured, its
 * security properties one by one (encryption, PITR, TTL, deletion protection), the proxy's
 * least-privilege grant and environment, the configuration shipped, and the alarms.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { EmbeddingGateway, PolicyEffect, RateLimitScope, UpstreamModel, UsageTable, type EmbeddingGatewayProps } from '../../lib';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

function synth(overrides: Partial<EmbeddingGatewayProps> = {}, beforeSynth?: (stack: Stack, g: EmbeddingGateway) => void) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Test');
  const gateway = new EmbeddingGateway(stack, 'Gateway', {
    issuers: [{ id: 'okta', issuerUrl: 'https://acme.okta.com/oauth2/default', audiences: ['api://embedgate'] }],
    models: [UpstreamModel.bedrock('amazon.titan-embed-text-v2:0', { name: 'titan-v2' })],
    rules: [
      {
        id: 'rag',
        effect: PolicyEffect.ALLOW,
        groups: ['rag-*'],
        rateLimits: { requestsPerMinute: 600, tokensPerDay: 1_000_000, per: [RateLimitScope.MODEL] },
      },
    ],
    rateLimits: { requestsPerSecond: 20, maxInFlight: 8 },
    metricPrincipals: ['svc-nightly-indexer'],
    ...overrides,
  });
  beforeSynth?.(stack, gateway);
  return { app, stack, gateway, template: Template.fromStack(stack) };
}

const { gateway, template } = synth();
const usageTableRef = () => ({ Ref: Match.stringLikeRegexp('^GatewayUsage[A-Z0-9]+') });

describe('usage table', () => {
  test('is encrypted, point-in-time recoverable, deletion-protected, on demand, with TTL on expiresAt', () => {
    const tables = template.findResources('AWS::DynamoDB::GlobalTable');
    const usage = Object.entries(tables).filter(([id]) => id.startsWith('GatewayUsage'));
    expect(usage).toHaveLength(1);
    const [, t] = usage[0]!;
    expect(t.DeletionPolicy).toBe('Retain');
    expect(t.Properties).toMatchObject({
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      Replicas: [
        expect.objectContaining({
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          DeletionProtectionEnabled: true,
        }),
      ],
    });
  });

  test('the proxy may UpdateItem, GetItem and PutItem on it, nothing more (no Scan, Query, DeleteItem)', () => {
    const policies = template.findResources('AWS::IAM::Policy');
    const statements = Object.values(policies).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
    );
    const onUsage = statements.filter((s) => JSON.stringify(s.Resource).includes('GatewayUsage'));
    expect(onUsage).toHaveLength(1);
    expect([onUsage[0]!.Action].flat().sort()).toEqual([
      'dynamodb:DescribeTable',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    expect(JSON.stringify(onUsage[0]!.Resource)).not.toContain('*');
  });

  test('the proxy gets the table name in EMBEDGATE_USAGE_TABLE', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ EMBEDGATE_USAGE_TABLE: usageTableRef() }) },
    });
    expect(gateway.usage).toBeInstanceOf(UsageTable);
  });

  test('the shipped configuration carries the rule limits, the defaults, the fail mode and the metric principals', () => {
    const { app, template: t } = synth({ rateLimitStoreFailOpen: true });
    const fn = Object.values(
      t.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('^embedgate proxy') } }),
    )[0]!.Properties;
    const hash = (fn.Code.S3Key as string).replace(/\.zip$/, '');
    const doc = JSON.parse(readFileSync(join(app.synth().directory, `asset.${hash}`, 'config.json'), 'utf8'));
    expect(doc.policy.rules[0].rateLimits).toEqual({ requestsPerMinute: 600, tokensPerDay: 1_000_000, per: ['model'] });
    expect(doc.gateway).toMatchObject({
      rateLimits: { requestsPerSecond: 20, maxInFlight: 8 },
      rateLimitStoreFailMode: 'open',
      metricPrincipals: ['svc-nightly-indexer'],
    });
  });

  test('no limit anywhere: no usage table, no variable, no grant', () => {
    const plain = synth({ rules: [{ id: 'rag', effect: PolicyEffect.ALLOW }], rateLimits: undefined });
    expect(plain.gateway.usage).toBeUndefined();
    expect(Object.keys(plain.template.findResources('AWS::DynamoDB::GlobalTable')).filter((id) => id.startsWith('GatewayUsage'))).toEqual(
      [],
    );
    const env = JSON.stringify(plain.template.findResources('AWS::Lambda::Function'));
    expect(env).not.toContain('EMBEDGATE_USAGE_TABLE');
  });

  test('fails when a limit is invalid (checked by the runtime validator at synth)', () => {
    expect(() => synth({ rateLimits: { requestsPerMinute: 0 } })).toThrow(/gateway.rateLimits.requestsPerMinute/);
    expect(() => synth({ rules: [{ id: 'no', effect: PolicyEffect.DENY, rateLimits: { requestsPerMinute: 5 } }] })).toThrow(
      /rateLimits apply to allow rules only/,
    );
  });

  test('grantCount gives another grantee the same least-privilege actions', () => {
    const { template: t } = synth({}, (stack, g) => {
      const role = new iam.Role(stack, 'Other', { assumedBy: new iam.AccountRootPrincipal() });
      g.usage!.grantCount(role);
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Other') }],
      PolicyDocument: {
        Statement: [
          Match.objectLike({ Action: ['dynamodb:UpdateItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DescribeTable'] }),
        ],
      },
    });
  });
});

describe('rate-limit alarms and dashboard', () => {
  test('alarms on the throttled rate, the counter store and the daily budget warning', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 10,
      Metrics: Match.arrayWith([Match.objectLike({ Expression: '100 * throttled / MAX([requests, 1])' })]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'LimitStoreErrors', Threshold: 1 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'TokenBudgetWarnings', Threshold: 1 });
    const plain = synth({ rules: [{ id: 'rag', effect: PolicyEffect.ALLOW }], rateLimits: undefined });
    expect(JSON.stringify(plain.template.findResources('AWS::CloudWatch::Alarm'))).not.toContain('LimitStoreErrors');
  });

  test('the dashboard has widgets per rule and model (a search over the rule, model dimension set)', () => {
    const body = JSON.stringify(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(body).toContain('Requests per rule and model');
    expect(body).toContain('Throttled (429 limits) per rule and model');
    expect(body).toContain('{embedgate,service,rule,model} MetricName=\\\\\\"Throttled\\\\\\"');
  });
});
