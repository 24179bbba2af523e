/**
 * The key mirror's wiring (lib/private/key-mirror.ts) and the synth-time egress check for issuers
 * (lib/private/issuer-key-reach.ts): the refresh-request stream and its filter, the proxy's write
 * permission limited to refresh items, the mirror outside the VPC; and every issuer with a way to
 * its keys, or synth failing with the issuer's name and the fix.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { EmbeddingGateway, GatewayNetwork, PolicyEffect, UpstreamModel, type EmbeddingGatewayProps } from '../../lib';
import { privateHost } from '../../lib/private/issuer-key-reach';

const OKTA = { id: 'okta', issuerUrl: 'https://acme.okta.com/oauth2/default', audiences: ['api://embedgate'] };

function synth(overrides: Partial<EmbeddingGatewayProps> = {}, network?: (stack: Stack) => GatewayNetwork) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Test');
  const gateway = new EmbeddingGateway(stack, 'Gateway', {
    issuers: [OKTA],
    models: [UpstreamModel.bedrock('amazon.titan-embed-text-v2:0', { name: 'titan-v2' })],
    rules: [{ id: 'rag', effect: PolicyEffect.ALLOW, groups: ['rag-*'] }],
    ...(network ? { network: network(stack) } : {}),
    ...overrides,
  });
  return { stack, gateway, template: Template.fromStack(stack) };
}

const logicalId = (template: Template, type: string, props: object) => {
  const ids = Object.keys(template.findResources(type, { Properties: props }));
  expect(ids).toHaveLength(1);
  return ids[0]!;
};

describe('refresh on an unknown kid', () => {
  const { template, gateway } = synth();
  const tableId = logicalId(template, 'AWS::DynamoDB::GlobalTable', { KeySchema: [{ AttributeName: 'url', KeyType: 'HASH' }] });
  const mirrorId = logicalId(template, 'AWS::Lambda::Function', {
    Description: Match.stringLikeRegexp('^embedgate key mirror'),
  });

  test('the issuer-keys table streams keys only and expires refresh requests (TTL)', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [{ AttributeName: 'url', KeyType: 'HASH' }],
      StreamSpecification: { StreamViewType: 'KEYS_ONLY' },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  test('the stream runs the mirror for refresh requests only (inserted or rewritten refresh# items), without retries', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2); // the journal's compactor, and the mirror
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: mirrorId },
      EventSourceArn: { 'Fn::GetAtt': [tableId, 'StreamArn'] },
      StartingPosition: 'LATEST',
      MaximumRetryAttempts: 0,
      FilterCriteria: {
        Filters: [
          { Pattern: JSON.stringify({ eventName: ['INSERT', 'MODIFY'], dynamodb: { Keys: { url: { S: [{ prefix: 'refresh#' }] } } } }) },
        ],
      },
    });
  });

  test('the mirror still runs every minute, outside the VPC, one at a time', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [mirrorId, 'Arn'] } })],
    });
    const fn = template.findResources('AWS::Lambda::Function')[mirrorId]!;
    expect(fn.Properties.VpcConfig).toBeUndefined();
    expect(fn.Properties.ReservedConcurrentExecutions).toBe(1);
  });

  /** The proxy role's statements on the issuer-keys table. */
  const proxyStatements = () => {
    const role = gateway.proxyFunction.role!;
    const roleId = Stack.of(role).getLogicalId(role.node.defaultChild as never);
    const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) } });
    return Object.values(policies)
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown; Condition?: unknown }[])
      .filter((s) => JSON.stringify(s.Resource).includes(tableId));
  };

  test('the proxy may write refresh requests only: PutItem conditioned on the leading key, the attributes and no return values', () => {
    const writes = proxyStatements().filter((s) =>
      [s.Action].flat().some((a) => !/^dynamodb:(Get|BatchGet|Query|Scan|ConditionCheck|Describe)/.test(a)),
    );
    expect(writes).toEqual([
      {
        Effect: 'Allow',
        Action: 'dynamodb:PutItem',
        Resource: { 'Fn::GetAtt': [tableId, 'Arn'] },
        Condition: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['refresh#*'] },
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['url', 'requestedAt', 'expiresAt'] },
          StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
        },
      },
    ]);
    // No update, delete or batch write of any item, refresh or document.
    const actions = proxyStatements().flatMap((s) => [s.Action].flat());
    for (const forbidden of ['dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:*'])
      expect(actions).not.toContain(forbidden);
  });

  test('the proxy is told the table; the mirror reads the stream and writes documents', () => {
    const proxy =
      template.findResources('AWS::Lambda::Function')[Stack.of(gateway).getLogicalId(gateway.proxyFunction.node.defaultChild as never)]!;
    expect(proxy.Properties.Environment.Variables.EMBEDGATE_ISSUER_KEYS_TABLE).toEqual({ Ref: tableId });
    const mirrorRole = template.findResources('AWS::Lambda::Function')[mirrorId]!.Properties.Role['Fn::GetAtt'][0];
    const statements = Object.values(
      template.findResources('AWS::IAM::Policy', { Properties: { Roles: Match.arrayWith([{ Ref: mirrorRole }]) } }),
    ).flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[] }[]);
    const actions = statements.flatMap((s) => [s.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:PutItem']));
  });
});

describe('the synth-time egress check covers issuers', () => {
  test('fails when an issuer URL is not a public address: API Gateway discovers its keys from the internet', () => {
    for (const issuerUrl of [
      'https://10.0.3.7/realms/corp',
      'https://keycloak.internal/realms/corp',
      'https://idp.corp.local',
      'https://[fd00::1]/',
    ])
      expect(() => synth({ issuers: [{ ...OKTA, issuerUrl }] })).toThrow(
        /issuer "okta" has issuerUrl .* API Gateway's JWT authorizer .* needs a public https URL.*keysInVpc: true/,
      );
  });

  test('fails when a jwksUri is not https, naming the issuer', () => {
    expect(() => synth({ issuers: [{ ...OKTA, jwksUri: 'http://acme.okta.com/keys' }] })).toThrow(
      /issuer "okta" has jwksUri "http:\/\/acme.okta.com\/keys"; keys are fetched over https only/,
    );
  });

  test('fails without egress when the mirror cannot reach a private jwksUri; the fix is named', () => {
    expect(() => synth({ issuers: [{ ...OKTA, jwksUri: 'https://192.168.10.5/keys' }] })).toThrow(
      /issuer "okta" has jwksUri "https:\/\/192.168.10.5\/keys", but 192.168.10.5 is a private address: .*key mirror, which runs outside the VPC.*Set keysInVpc: true/,
    );
  });

  test('a private jwksUri is fine with keysInVpc (the proxy fetches it through the VPC; no mirror when no issuer needs one)', () => {
    const { template, gateway } = synth({ issuers: [{ ...OKTA, jwksUri: 'https://keycloak.internal/keys', keysInVpc: true }] });
    expect(
      template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('^embedgate key mirror') } }),
    ).toEqual({});
    const proxy =
      template.findResources('AWS::Lambda::Function')[Stack.of(gateway).getLogicalId(gateway.proxyFunction.node.defaultChild as never)]!;
    expect(proxy.Properties.Environment.Variables.EMBEDGATE_ISSUER_KEYS_TABLE).toBeUndefined();
  });

  test('a private jwksUri is fine with egress (the proxy fetches it itself; no mirror)', () => {
    const { template } = synth({ allowInternetEgress: true, issuers: [{ ...OKTA, jwksUri: 'https://10.1.2.3/keys' }] });
    template.resourcePropertiesCountIs('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('^embedgate key mirror') }, 0);
  });

  test('a mirror for the other issuers when one is keysInVpc (the mirror’s handler leaves that one out)', () => {
    const { template } = synth({
      issuers: [
        OKTA,
        {
          id: 'kc',
          issuerUrl: 'https://sso.example.com/realms/corp',
          audiences: ['x'],
          jwksUri: 'https://10.0.0.9/certs',
          keysInVpc: true,
        },
      ],
    });
    template.resourcePropertiesCountIs('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('^embedgate key mirror') }, 1);
  });

  test('warns when keysInVpc has no jwksUri (the discovery host must resolve inside the VPC)', () => {
    const { stack } = synth({ issuers: [{ ...OKTA, keysInVpc: true }] });
    Annotations.fromStack(stack).hasWarning(
      '*',
      Match.stringLikeRegexp('issuer "okta" has keysInVpc and no jwksUri.*must resolve to addresses inside the VPC'),
    );
  });

  test('warns when an imported network says it has egress: the proxy fetches the keys over routes the construct cannot check', () => {
    const { stack, template } = synth({}, (s) => {
      const vpc = ec2.Vpc.fromVpcAttributes(s, 'Imported', {
        vpcId: 'vpc-0123456789abcdef0',
        availabilityZones: ['eu-west-1a', 'eu-west-1b'],
        privateSubnetIds: ['subnet-priv-a', 'subnet-priv-b'],
        privateSubnetRouteTableIds: ['rtb-priv-a', 'rtb-priv-b'],
      });
      return new GatewayNetwork(s, 'Net', { vpc, allowInternetEgress: true });
    });
    Annotations.fromStack(stack).hasWarning(
      '*',
      Match.stringLikeRegexp(
        'issuer\\(s\\) "okta": the proxy fetches their keys over the imported VPC\'s internet egress, which this construct cannot check',
      ),
    );
    template.resourcePropertiesCountIs('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('^embedgate key mirror') }, 0);
  });

  test('no warning for a network the construct created with egress (its NAT routes are in the template)', () => {
    const { stack } = synth({ allowInternetEgress: true });
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('imported VPC'))).toEqual([]);
  });

  test('privateHost: private, loopback, link-local and non-public names; public names and addresses pass', () => {
    for (const u of [
      'https://10.0.0.1',
      'https://172.31.255.255/x',
      'https://192.168.0.1',
      'https://127.0.0.1',
      'https://169.254.169.254',
      'https://100.64.0.1',
      'https://[::1]',
      'https://[fe80::1]',
      'https://localhost',
      'https://a.localhost',
      'https://idp.internal',
      'https://ip-10-0-0-1.ec2.internal',
      'https://keycloak',
    ])
      expect([u, privateHost(u)]).toEqual([u, expect.any(String)]);
    for (const u of [
      'https://acme.okta.com',
      'https://8.8.8.8',
      'https://172.32.0.1',
      'https://[2001:db8::1]',
      'https://login.microsoftonline.com/tid/v2.0',
      'not a url',
    ])
      expect([u, privateHost(u)]).toEqual([u, undefined]);
  });
});
