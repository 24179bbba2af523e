import { App, Duration, Size, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArchiveRetention, EmbeddingGateway, MaskingStrategy, PolicyEffect, UpstreamModel, type EmbeddingGatewayProps } from '../../lib';
import { findForbiddenArchiveGrants } from '../support/policy-scan';
import { expandEnvRefs, loadConfig } from '../../shared/config';
import { openShippedConfig } from '../../shared/config-runtime';

const ISSUERS: EmbeddingGatewayProps['issuers'] = [
  { id: 'okta', issuerUrl: 'https://acme.okta.com/oauth2/default', audiences: ['api://embedgate'] },
  { id: 'github', issuerUrl: 'https://token.actions.githubusercontent.com', audiences: ['embedgate'], groupClaims: ['repository'] },
];

function synth(
  overrides: Partial<EmbeddingGatewayProps> = {},
  stackFn?: (stack: Stack) => Partial<EmbeddingGatewayProps>,
  beforeSynth?: (stack: Stack, gateway: EmbeddingGateway) => void,
) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Test');
  const gateway = new EmbeddingGateway(stack, 'Gateway', {
    issuers: ISSUERS,
    models: [
      UpstreamModel.bedrock('amazon.titan-embed-text-v2:0', { name: 'titan-v2' }),
      UpstreamModel.openAiCompatible('https://tei.internal.example.com/v1', { model: 'bge-m3', inVpc: true }),
    ],
    rules: [{ id: 'rag', effect: PolicyEffect.ALLOW, groups: ['rag-*'] }],
    ...overrides,
    ...(stackFn ? stackFn(stack) : {}),
  });
  beforeSynth?.(stack, gateway);
  return { app, stack, gateway, template: Template.fromStack(stack) };
}

describe('API', () => {
  const { template } = synth();

  test('every route except GET /health has a JWT authorizer', () => {
    const routes = template.findResources('AWS::ApiGatewayV2::Route');
    const keys = Object.values(routes)
      .map((r) => r.Properties.RouteKey as string)
      .sort();
    expect(keys).toEqual(['GET /github/v1/models', 'GET /health', 'GET /v1/models', 'POST /github/v1/embeddings', 'POST /v1/embeddings']);
    for (const r of Object.values(routes)) {
      if (r.Properties.RouteKey === 'GET /health') expect(r.Properties.AuthorizationType).toBe('NONE');
      else {
        expect(r.Properties.AuthorizationType).toBe('JWT');
        expect(r.Properties.AuthorizerId).toBeDefined();
      }
    }
  });

  test('one JWT authorizer per trusted issuer, with its audiences', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 2);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Issuer: 'https://acme.okta.com/oauth2/default', Audience: ['api://embedgate'] },
      IdentitySource: ['$request.header.Authorization'],
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      JwtConfiguration: { Issuer: 'https://token.actions.githubusercontent.com', Audience: ['embedgate'] },
    });
  });

  test('the stage throttles and writes JSON access logs to a log group with retention', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      AccessLogSettings: {
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId".*"authorizerError":"\\$context.authorizer.error"'),
      },
    });
  });
});

describe('proxy function', () => {
  const { template } = synth();
  const fn = () =>
    Object.values(
      template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('^embedgate proxy') } }),
    )[0]!.Properties;

  test('Node.js 24, arm64, X-Ray, in the private isolated subnets with its own security group', () => {
    expect(fn()).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' } });
    expect(fn().VpcConfig.SubnetIds.length).toBeGreaterThanOrEqual(2);
    for (const subnet of fn().VpcConfig.SubnetIds) {
      const id = subnet.Ref as string;
      const tags = template.toJSON().Resources[id].Properties.Tags as { Key: string; Value: string }[];
      expect(tags).toContainEqual({ Key: 'aws-cdk:subnet-type', Value: 'Isolated' });
    }
    expect(fn().VpcConfig.SecurityGroupIds).toHaveLength(1);
  });

  test('its environment holds references only, never a secret value', () => {
    const env = fn().Environment.Variables as Record<string, unknown>;
    expect(Object.keys(env).sort()).toEqual(
      expect.arrayContaining([
        'EMBEDGATE_ARCHIVE_BUCKET',
        'EMBEDGATE_ARCHIVE_KEY_ARN',
        'EMBEDGATE_REVOCATION_TABLE',
        'POWERTOOLS_SERVICE_NAME',
        'POWERTOOLS_METRICS_NAMESPACE',
      ]),
    );
    const text = JSON.stringify(env);
    expect(text).not.toMatch(/SecretString|resolve:secretsmanager/);
  });

  test('its own log group, encrypted, with retention', () => {
    const lg = fn().LoggingConfig.LogGroup.Ref as string;
    expect(template.toJSON().Resources[lg].Properties).toMatchObject({
      RetentionInDays: 365,
      KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/LogsKey/), 'Arn'] },
    });
  });

  test('every log group in the stack has a retention', () => {
    for (const [id, r] of Object.entries(template.findResources('AWS::Logs::LogGroup'))) {
      expect([id, r.Properties.RetentionInDays]).toEqual([id, expect.any(Number)]);
    }
  });

  test('the configuration document is validated and shipped with the code', () => {
    const asset = fn().Code;
    expect(asset.S3Key).toBeDefined();
  });
});

describe('permissions', () => {
  test('Bedrock: InvokeModel on exactly the configured model', () => {
    const { template } = synth();
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
    );
    const bedrock = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('bedrock:')));
    expect(bedrock).toHaveLength(1);
    expect(bedrock[0]!.Action).toBe('bedrock:InvokeModel');
    expect(JSON.stringify(bedrock[0]!.Resource)).toContain(':bedrock:');
    expect(JSON.stringify(bedrock[0]!.Resource)).toContain('::foundation-model/amazon.titan-embed-text-v2:0');
  });

  test('the proxy role has no AWS managed policy and writes logs to its own log group only', () => {
    const { template } = synth();
    const fn = Object.values(
      template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('^embedgate proxy') } }),
    )[0]!.Properties;
    const role = template.toJSON().Resources[fn.Role['Fn::GetAtt'][0]];
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes(fn.Role['Fn::GetAtt'][0]))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
    const logStatements = statements.filter((st) => [st.Action].flat().some((a) => a.startsWith('logs:')));
    expect(logStatements).toHaveLength(1);
    expect(logStatements[0]!.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/ProxyLogs/), 'Arn'] });
    const wildcards = statements
      .filter((st) => JSON.stringify(st.Resource) === '"*"')
      .flatMap((st) => [st.Action].flat())
      .sort();
    expect(wildcards).toEqual([
      'ec2:AssignPrivateIpAddresses',
      'ec2:CreateNetworkInterface',
      'ec2:DeleteNetworkInterface',
      'ec2:DescribeNetworkInterfaces',
      'ec2:UnassignPrivateIpAddresses',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
  });

  test('upstream secrets are created when not given, encrypted with the gateway key, and readable only by the proxy', () => {
    const { template, gateway } = synth({
      allowInternetEgress: true,
      models: [UpstreamModel.openAi({ model: 'text-embedding-3-small' }), UpstreamModel.cohere({ model: 'embed-english-v3.0' })],
    });
    template.resourceCountIs('AWS::SecretsManager::Secret', 2);
    template.allResourcesProperties('AWS::SecretsManager::Secret', {
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('SecretsKey'), 'Arn'] },
    });
    expect(Object.keys(gateway.apiKeySecrets).sort()).toEqual(['embed-english-v3.0', 'text-embedding-3-small']);
    const readers = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p.Properties.PolicyDocument).includes('secretsmanager:GetSecretValue'),
    );
    expect(readers).toHaveLength(1);
    const roles = readers[0]!.Properties.Roles as { Ref: string }[];
    const proxyRole = Object.values(
      template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('^embedgate proxy') } }),
    )[0]!.Properties.Role['Fn::GetAtt'][0];
    expect(roles).toEqual([{ Ref: proxyRole }]);
  });

  test('a given secret is used, not a new one', () => {
    const { template } = synth({ allowInternetEgress: true }, (stack) => ({
      models: [
        UpstreamModel.openAi({
          model: 'text-embedding-3-small',
          apiKey: secretsmanager.Secret.fromSecretNameV2(stack, 'Key', 'prod/openai'),
        }),
      ],
    }));
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
  });

  test('no policy in the stack allows deleting records or changing their retention', () => {
    const { template } = synth();
    expect(findForbiddenArchiveGrants(template)).toEqual([]);
  });

  test('grantAuditQuery and grantRevoke give a role what it needs', () => {
    let auditor!: iam.Role;
    let operator!: iam.Role;
    const { stack, template: t } = synth({}, undefined, (s, gateway) => {
      auditor = new iam.Role(s, 'Auditor', { assumedBy: new iam.AccountRootPrincipal() });
      operator = new iam.Role(s, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
      gateway.grantAuditQuery(auditor);
      gateway.grantRevoke(operator);
    });
    const policyOf = (role: string) =>
      JSON.stringify(
        Object.values(t.findResources('AWS::IAM::Policy'))
          .filter((p) => JSON.stringify(p.Properties.Roles).includes(role))
          .map((p) => p.Properties.PolicyDocument),
      );
    const auditorPolicy = policyOf(stack.getLogicalId(auditor.node.defaultChild as iam.CfnRole));
    expect(auditorPolicy).toContain('athena:StartQueryExecution');
    expect(auditorPolicy).not.toContain('dynamodb:PutItem');
    const operatorPolicy = policyOf(stack.getLogicalId(operator.node.defaultChild as iam.CfnRole));
    expect(operatorPolicy).toContain('dynamodb:PutItem');
    expect(operatorPolicy).toContain('dynamodb:DeleteItem');
    expect(operatorPolicy).not.toContain('athena:');
  });
});

describe('masking', () => {
  test('the masking section is validated and shipped; a pseudonym key is created, readable by the proxy only; Comprehend gets its endpoint and permission', () => {
    const { app, template, gateway } = synth({
      masking: { strategies: { EMAIL: MaskingStrategy.REDACT, US_SSN: MaskingStrategy.BLOCK }, comprehend: true, storeInputText: true },
      rules: [
        { id: 'rag', effect: PolicyEffect.ALLOW, groups: ['rag-*'], maskingStrategies: { CREDIT_CARD: MaskingStrategy.PSEUDONYMIZE } },
      ],
    });
    expect(gateway.pseudonymKey).toBeDefined();
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
    });
    const fn = Object.values(
      template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('^embedgate proxy') } }),
    )[0]!.Properties;
    const doc = JSON.parse(
      readFileSync(join(app.synth().directory, `asset.${(fn.Code.S3Key as string).replace(/\.zip$/, '')}`, 'config.json'), 'utf8'),
    );
    expect(doc.masking).toEqual({
      enabled: true,
      strategies: { EMAIL: 'redact', US_SSN: 'block' },
      pseudonymKey: { source: 'secretsManager', secretId: expect.stringMatching(/^\$\{env:EMBEDGATE_REF_\d+\}$/) },
      // Shipped normalised: the schema's defaults written out.
      comprehend: { enabled: true, failMode: 'closed', languageCode: 'en', minScore: 0.8, maxConcurrency: 4 },
      tokenInputs: 'refuse',
      storeInputText: true,
      pseudonymLength: 16,
      maxScanChars: 100_000,
    });
    expect(doc.policy.rules[0].masking).toEqual({ strategies: { CREDIT_CARD: 'pseudonymize' } });
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
    );
    expect(statements).toContainEqual(expect.objectContaining({ Action: 'comprehend:DetectPiiEntities', Resource: '*' }));
    expect(
      Object.values(template.findResources('AWS::EC2::VPCEndpoint')).some((e) =>
        JSON.stringify(e.Properties.ServiceName).includes('.comprehend'),
      ),
    ).toBe(true);
  });

  test('fails when a custom detector pattern could backtrack catastrophically', () => {
    expect(() => synth({ masking: { customDetectors: [{ name: 'CASE_ID', pattern: '(a+)+b' }] } })).toThrow(/CASE_ID.*refused/);
  });

  test('without masking, no pseudonym key and no Comprehend permission', () => {
    const { template, gateway } = synth();
    expect(gateway.pseudonymKey).toBeUndefined();
    expect(JSON.stringify(template.toJSON())).not.toContain('comprehend:DetectPiiEntities');
  });
});

describe('edge recorder', () => {
  const { template } = synth();

  test('the access log feeds the edge recorder with the entries the proxy never saw', () => {
    template.hasResourceProperties('AWS::Logs::SubscriptionFilter', {
      FilterPattern: '{ $.integrationStatus = "-" }',
      LogGroupName: { Ref: Match.stringLikeRegexp('AccessLogs') },
      DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('EdgeRecorder'), 'Arn'] },
    });
  });

  test('retries, then a TLS-only, encrypted dead-letter queue with an alarm', () => {
    const fn = Object.values(
      template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('edge recorder') } }),
    )[0]!.Properties;
    expect(fn.DeadLetterConfig.TargetArn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/EdgeRecorderDlq/), 'Arn'] });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 2 });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1 });
  });

  test('journals records (PutItem on the journal table) and touches nothing of the archive bucket', () => {
    const fn = Object.values(
      template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('edge recorder') } }),
    )[0]!.Properties;
    const roleId = fn.Role['Fn::GetAtt'][0] as string;
    const s3Actions = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[] }[])
      .flatMap((st) => [st.Action].flat());
    expect(s3Actions.filter((a) => a.startsWith('s3:'))).toEqual([]);
    expect(s3Actions.filter((a) => a.startsWith('dynamodb:') && !a.startsWith('dynamodb:Describe'))).toEqual(
      expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:GetItem']),
    );
    expect(s3Actions).not.toEqual(expect.arrayContaining([expect.stringMatching(/dynamodb:(Update|Delete|BatchWrite)/)]));
  });
});

describe('revocation table', () => {
  test('on demand, point-in-time recovery, encrypted, TTL, retained', () => {
    const { template } = synth();
    template.hasResource('AWS::DynamoDB::GlobalTable', {
      Properties: Match.objectLike({
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: { SSEEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        Replicas: [
          Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }, DeletionProtectionEnabled: true }),
        ],
      }),
      DeletionPolicy: 'Retain',
    });
  });
});

describe('monitoring', () => {
  test('alarms on archive errors and function errors, and a dashboard', () => {
    const { template, gateway } = synth();
    expect(gateway.alarms.length).toBeGreaterThanOrEqual(4);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ArchiveErrors', Namespace: 'embedgate', Threshold: 1 });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  test('alarms notify a topic: a created, encrypted one by default, or the one given', () => {
    const { template, gateway } = synth();
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    for (const a of alarms) expect(a.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/AlarmTopic/) }]);
    expect(gateway.alarmTopic).toBeDefined();
  });

  test('alarms and dashboard can be turned off', () => {
    const { template } = synth({ alarms: false, dashboard: false });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    template.resourceCountIs('AWS::SNS::Topic', 0);
  });

  test('metric methods name the proxy metrics', () => {
    const { gateway } = synth();
    expect(gateway.metricDenied()).toMatchObject({ namespace: 'embedgate', metricName: 'Denied', statistic: 'Sum' });
    expect(gateway.metricLatency()).toMatchObject({ metricName: 'GatewayLatency', statistic: 'p99' });
    expect(gateway.metricMaskedEntities()).toMatchObject({ namespace: 'embedgate', metricName: 'MaskedEntities', statistic: 'Sum' });
  });
});

describe('invalid props', () => {
  test('fails when no issuer is given', () => {
    expect(() => synth({ issuers: [] })).toThrow(/issuers must list at least one trusted OIDC issuer/);
  });
  test('fails when an issuer is not https', () => {
    expect(() => synth({ issuers: [{ id: 'x', issuerUrl: 'http://idp.example.com', audiences: ['a'] }] })).toThrow(
      /needs an https:\/\/ issuer/,
    );
  });
  test('fails when a model outside AWS is configured without internet egress', () => {
    expect(() => synth({ models: [UpstreamModel.openAi({ model: 'text-embedding-3-small' })] })).toThrow(
      /"text-embedding-3-small" are outside AWS and need internet egress; set allowInternetEgress: true/,
    );
  });
  test('fails when two models share a name', () => {
    expect(() =>
      synth({
        models: [
          UpstreamModel.bedrock('amazon.titan-embed-text-v2:0', { name: 'm' }),
          UpstreamModel.bedrock('cohere.embed-english-v3', { name: 'm' }),
        ],
      }),
    ).toThrow(/two models are named "m"/);
  });
  test('fails when a policy rule is invalid, naming the path', () => {
    expect(() => synth({ rules: [{ id: 'bad', effect: PolicyEffect.DENY, limits: { maxInputs: 1 } }] })).toThrow(
      /policy\.rules\[0\]\.limits: limits apply to allow rules only/,
    );
  });
  test('fails when the request size exceeds what Lambda accepts', () => {
    expect(() => synth({ maxRequestSize: Size.mebibytes(7) })).toThrow(/at most 6 MiB/);
  });
  test('fails when the archive retention is zero', () => {
    expect(() => synth({ archiveRetention: ArchiveRetention.compliance(Duration.days(0)) })).toThrow(/retention/i);
  });
  test('fails when an upstream URL is not https', () => {
    expect(() => UpstreamModel.openAiCompatible('http://tei.internal/v1', { model: 'x' })).toThrow(/must use https:\/\//);
  });
  test('fails when a Bedrock model is not an embedding model', () => {
    expect(() => UpstreamModel.bedrock('anthropic.claude-3-haiku')).toThrow(/not a supported embedding model/);
  });
});

test('the shipped configuration document is the validated one, normalised and sealed, with deploy-time references from the environment', () => {
  const { app, template } = synth({
    allowInternetEgress: true,
    models: [UpstreamModel.openAi({ model: 'text-embedding-3-small', limits: { maxInputs: 64 } })],
  });
  const fn = Object.values(
    template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('^embedgate proxy') } }),
  )[0]!.Properties;
  const env = fn.Environment.Variables as Record<string, unknown>;
  expect(env.EMBEDGATE_REF_0).toEqual({ Ref: expect.stringMatching(/ApiKey0/) });
  const hash = (fn.Code.S3Key as string).replace(/\.zip$/, '');
  const doc = JSON.parse(readFileSync(join(app.synth().directory, `asset.${hash}`, 'config.json'), 'utf8'));
  expect(doc.models[0]).toMatchObject({
    name: 'text-embedding-3-small',
    provider: 'openai',
    apiKey: { source: 'secretsManager', secretId: '${env:EMBEDGATE_REF_0}' },
    limits: { maxInputs: 64 },
  });
  expect(doc.issuers.map((i: { id: string }) => i.id)).toEqual(['okta', 'github']);
  expect(doc.policy.rules).toEqual([{ id: 'rag', effect: 'allow', match: { groups: ['rag-*'] }, models: ['*'] }]);
  expect(doc.gateway).toEqual({ maxRequestBytes: 2097152, maxTokenBytes: 8192, archiveFailMode: 'closed' });
  // Sealed: the Lambda opens it without the schema, to what loadConfig makes of it (same version).
  expect(doc.$schema).toMatch(/^embedgate:normalised-config:1:sha256:[0-9a-f]{64}$/);
  const fnEnv = { EMBEDGATE_REF_0: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:k-AbCdEf' };
  const opened = openShippedConfig(doc, fnEnv);
  expect(opened.kind).toBe('checked');
  expect(opened.kind === 'checked' && opened.config).toStrictEqual(loadConfig(expandEnvRefs(doc, fnEnv)));
});
