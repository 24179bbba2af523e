import { App, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayNetwork, type GatewayNetworkProps } from '../../lib/gateway-network';

type PropsFn = (stack: Stack) => GatewayNetworkProps;

function newApp(outdir?: string): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false, ...(outdir ? { outdir } : {}) });
}

function synth(props: GatewayNetworkProps | PropsFn = {}) {
  const app = newApp();
  const stack = new Stack(app, 'Test');
  const network = new GatewayNetwork(stack, 'Network', typeof props === 'function' ? props(stack) : props);
  return { app, stack, network, template: Template.fromStack(stack) };
}

/** An imported VPC described by literal attributes: no lookup, no AWS call. */
function importVpc(stack: Stack, opts: { routeTables?: boolean; isolated?: boolean } = {}): ec2.IVpc {
  const routeTables = opts.routeTables ?? true;
  const isolated = opts.isolated ?? true;
  return ec2.Vpc.fromVpcAttributes(stack, 'Imported', {
    vpcId: 'vpc-0123456789abcdef0',
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    ...(isolated
      ? {
          isolatedSubnetIds: ['subnet-iso-a', 'subnet-iso-b'],
          ...(routeTables ? { isolatedSubnetRouteTableIds: ['rtb-iso-a', 'rtb-iso-b'] } : {}),
        }
      : {}),
    privateSubnetIds: ['subnet-priv-a', 'subnet-priv-b'],
    ...(routeTables ? { privateSubnetRouteTableIds: ['rtb-priv-a', 'rtb-priv-b'] } : {}),
    publicSubnetIds: ['subnet-pub-a', 'subnet-pub-b'],
    publicSubnetRouteTableIds: ['rtb-pub-a', 'rtb-pub-b'],
  });
}

function serviceName(shortName: string) {
  return { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, `.${shortName}`]] };
}

function interfaceEndpointServices(template: Template): string[] {
  return Object.values(template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }))
    .map((r) => (r.Properties.ServiceName['Fn::Join'][1][2] as string).slice(1))
    .sort();
}

const DISALLOW_ALL = { CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic', FromPort: 252, IpProtocol: 'icmp', ToPort: 86 };

/** Every egress rule of a security group: inline ones (minus CDK's placeholder) and separate resources. */
function egressRules(stack: Stack, template: Template, sg: ec2.ISecurityGroup): Record<string, unknown>[] {
  const id = stack.getLogicalId(sg.node.defaultChild as ec2.CfnSecurityGroup);
  const inline = (template.toJSON().Resources[id].Properties.SecurityGroupEgress ?? []) as Record<string, unknown>[];
  const separate = Object.values(
    template.findResources('AWS::EC2::SecurityGroupEgress', { Properties: { GroupId: { 'Fn::GetAtt': [id, 'GroupId'] } } }),
  ).map((r) => r.Properties as Record<string, unknown>);
  return [...inline.filter((r) => r.Description !== DISALLOW_ALL.Description), ...separate];
}

function ingressRules(stack: Stack, template: Template, sg: ec2.ISecurityGroup): Record<string, unknown>[] {
  const id = stack.getLogicalId(sg.node.defaultChild as ec2.CfnSecurityGroup);
  const inline = (template.toJSON().Resources[id].Properties.SecurityGroupIngress ?? []) as Record<string, unknown>[];
  const separate = Object.values(
    template.findResources('AWS::EC2::SecurityGroupIngress', { Properties: { GroupId: { 'Fn::GetAtt': [id, 'GroupId'] } } }),
  ).map((r) => r.Properties as Record<string, unknown>);
  return [...inline, ...separate];
}

function expectHttpsOnly(rules: Record<string, unknown>[]): void {
  expect(rules.length).toBeGreaterThan(0);
  for (const rule of rules) expect(rule).toMatchObject({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443 });
}

describe('default network', () => {
  const { stack, network, template } = synth();

  test('the VPC has only private isolated subnets: no NAT gateway, no internet gateway, no route out', () => {
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.resourceCountIs('AWS::EC2::Subnet', 2);
    template.allResourcesProperties('AWS::EC2::Subnet', {
      MapPublicIpOnLaunch: false,
      Tags: Match.arrayWith([{ Key: 'aws-cdk:subnet-type', Value: 'Isolated' }]),
    });
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.resourceCountIs('AWS::EC2::VPCGatewayAttachment', 0);
    template.resourceCountIs('AWS::EC2::EIP', 0);
    template.resourceCountIs('AWS::EC2::Route', 0);
    expect(network.egressAllowed).toBe(false);
    expect(network.vpcSubnets).toEqual({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED });
  });

  test('maxAzs sets the number of Availability Zones', () => {
    // An environment-agnostic stack sees 2 AZs at most, so the observable change is downwards.
    synth({ maxAzs: 1 }).template.resourceCountIs('AWS::EC2::Subnet', 1);
  });

  test('the default security group of the VPC is closed', () => {
    template.hasResourceProperties('Custom::VpcRestrictDefaultSG', {
      DefaultSecurityGroupId: { 'Fn::GetAtt': [Match.anyValue(), 'DefaultSecurityGroup'] },
    });
  });

  test('flow logs of all traffic go to a log group kept one year, through a role scoped to that group', () => {
    const vpcId = stack.resolve(network.vpc.vpcId);
    const logGroupId = stack.getLogicalId(network.flowLogGroup!.node.defaultChild as logs.CfnLogGroup);
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
    template.hasResourceProperties('AWS::EC2::FlowLog', {
      ResourceType: 'VPC',
      ResourceId: vpcId,
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
      LogGroupName: { Ref: logGroupId },
    });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'vpc-flow-logs.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } }, ArnLike: { 'aws:SourceArn': Match.anyValue() } },
          }),
        ],
      },
      ManagedPolicyArns: [{ Ref: Match.stringLikeRegexp('FlowLogPolicy') }],
    });
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
            Resource: { 'Fn::GetAtt': [logGroupId, 'Arn'] },
          },
        ],
      },
    });
    // The delivery role carries no inline policy.
    template.resourceCountIs('AWS::IAM::Policy', 0);
    expect(network.flowLog).toBeDefined();
  });

  test('flowLogRetention and flowLogEncryptionKey are applied to the flow-log group', () => {
    const { template: t } = synth((s) => ({ flowLogRetention: logs.RetentionDays.TWO_YEARS, flowLogEncryptionKey: new kms.Key(s, 'Key') }));
    t.hasResourceProperties('AWS::Logs::LogGroup', {
      RetentionInDays: 731,
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] },
    });
  });

  test("the always-on interface endpoints have private DNS, sit in the Lambdas' subnets and use the endpoint security group", () => {
    expect(interfaceEndpointServices(template)).toEqual(['kms', 'logs', 'secretsmanager', 'sts', 'xray']);
    const subnetIds = stack.resolve(network.vpc.isolatedSubnets.map((s) => s.subnetId));
    const sgId = stack.resolve(network.endpointSecurityGroup.securityGroupId);
    for (const service of ['secretsmanager', 'kms', 'logs', 'sts', 'xray']) {
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        ServiceName: serviceName(service),
        VpcEndpointType: 'Interface',
        PrivateDnsEnabled: true,
        SubnetIds: subnetIds,
        SecurityGroupIds: [sgId],
      });
    }
    expect(Object.keys(network.interfaceEndpoints).sort()).toEqual(['kms', 'logs', 'secretsmanager', 'sts', 'xray']);
  });

  test("S3 and DynamoDB gateway endpoints are routed from the Lambdas' subnets", () => {
    const routeTables = stack.resolve(network.vpc.isolatedSubnets.map((s) => s.routeTable.routeTableId));
    for (const service of ['s3', 'dynamodb']) {
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        ServiceName: serviceName(service),
        VpcEndpointType: 'Gateway',
        RouteTableIds: routeTables,
      });
    }
    expect(network.s3Endpoint).toBeDefined();
    expect(network.dynamoDbEndpoint).toBeDefined();
  });

  test('the Lambda security group has no allow-all egress, only port 443, and no ingress', () => {
    const rules = egressRules(stack, template, network.lambdaSecurityGroup);
    expect(rules).not.toContainEqual(expect.objectContaining({ IpProtocol: '-1' }));
    expectHttpsOnly(rules);
    expect(ingressRules(stack, template, network.lambdaSecurityGroup)).toEqual([]);
  });

  test('without prefix lists, the Lambdas reach the interface endpoints and 0.0.0.0/0 on 443 (the subnets have no route out)', () => {
    const rules = egressRules(stack, template, network.lambdaSecurityGroup);
    expect(rules).toHaveLength(2);
    expect(rules).toContainEqual(
      expect.objectContaining({ DestinationSecurityGroupId: stack.resolve(network.endpointSecurityGroup.securityGroupId) }),
    );
    expect(rules).toContainEqual(expect.objectContaining({ CidrIp: '0.0.0.0/0' }));
  });

  test('the endpoint security group accepts 443 from the Lambda security group only and sends nothing', () => {
    const ingress = ingressRules(stack, template, network.endpointSecurityGroup);
    expect(ingress).toEqual([
      expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        SourceSecurityGroupId: stack.resolve(network.lambdaSecurityGroup.securityGroupId),
      }),
    ]);
    expect(egressRules(stack, template, network.endpointSecurityGroup)).toEqual([]);
    const id = stack.getLogicalId(network.endpointSecurityGroup.node.defaultChild as ec2.CfnSecurityGroup);
    expect(template.toJSON().Resources[id].Properties.SecurityGroupEgress).toEqual([DISALLOW_ALL]);
  });
});

describe('optional endpoints', () => {
  test.each([
    ['enableComprehendEndpoint', 'comprehend'],
    ['enableBedrockEndpoint', 'bedrock-runtime'],
    ['enableStepFunctionsEndpoint', 'states'],
  ] as const)('%s adds the %s endpoint, and only when true', (flag, service) => {
    expect(interfaceEndpointServices(synth().template)).not.toContain(service);
    expect(interfaceEndpointServices(synth({ [flag]: false }).template)).not.toContain(service);
    const { stack, network, template } = synth({ [flag]: true });
    expect(interfaceEndpointServices(template)).toEqual(['kms', 'logs', 'secretsmanager', 'sts', 'xray', service].sort());
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: serviceName(service),
      PrivateDnsEnabled: true,
      SecurityGroupIds: [stack.resolve(network.endpointSecurityGroup.securityGroupId)],
    });
  });

  test('enableXRayEndpoint: false leaves the X-Ray endpoint out', () => {
    expect(interfaceEndpointServices(synth({ enableXRayEndpoint: false }).template)).toEqual(['kms', 'logs', 'secretsmanager', 'sts']);
  });
});

describe('prefix lists', () => {
  test('with both prefix lists, the Lambdas reach only the endpoint security group and the S3 and DynamoDB prefix lists', () => {
    const { stack, network, template } = synth((s) => ({
      s3PrefixList: ec2.PrefixList.fromPrefixListId(s, 'S3List', 'pl-6ea54007'),
      dynamoDbPrefixList: ec2.PrefixList.fromPrefixListId(s, 'DdbList', 'pl-6fa54006'),
    }));
    const rules = egressRules(stack, template, network.lambdaSecurityGroup);
    expectHttpsOnly(rules);
    expect(rules).toHaveLength(3);
    expect(rules).toContainEqual(
      expect.objectContaining({ DestinationSecurityGroupId: stack.resolve(network.endpointSecurityGroup.securityGroupId) }),
    );
    expect(rules).toContainEqual(expect.objectContaining({ DestinationPrefixListId: 'pl-6ea54007' }));
    expect(rules).toContainEqual(expect.objectContaining({ DestinationPrefixListId: 'pl-6fa54006' }));
    expect(rules).not.toContainEqual(expect.objectContaining({ CidrIp: expect.anything() }));
  });
});

describe('internet egress', () => {
  const { stack, network, template } = synth({ allowInternetEgress: true });

  test('one NAT gateway by default, in public subnets that give no public IP on launch, and private subnets with egress', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    template.resourceCountIs('AWS::EC2::InternetGateway', 1);
    template.resourceCountIs('AWS::EC2::Subnet', 4);
    template.resourcePropertiesCountIs('AWS::EC2::Subnet', { Tags: Match.arrayWith([{ Key: 'aws-cdk:subnet-type', Value: 'Public' }]) }, 2);
    template.resourcePropertiesCountIs(
      'AWS::EC2::Subnet',
      { Tags: Match.arrayWith([{ Key: 'aws-cdk:subnet-type', Value: 'Private' }]) },
      2,
    );
    template.allResourcesProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: false });
    template.resourcePropertiesCountIs('AWS::EC2::Route', { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: Match.anyValue() }, 2);
    expect(network.egressAllowed).toBe(true);
    expect(network.vpcSubnets).toEqual({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
  });

  test('natGateways sets the number of NAT gateways', () => {
    synth({ allowInternetEgress: true, natGateways: 2 }).template.resourceCountIs('AWS::EC2::NatGateway', 2);
  });

  test('the Lambda security group allows 443 to 0.0.0.0/0, and nothing else', () => {
    const rules = egressRules(stack, template, network.lambdaSecurityGroup);
    expectHttpsOnly(rules);
    expect(rules).toContainEqual(expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 443 }));
  });

  test('the endpoints sit in the private subnets with egress', () => {
    const subnetIds = stack.resolve(network.vpc.privateSubnets.map((s) => s.subnetId));
    for (const r of Object.values(template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }))) {
      expect(r.Properties.SubnetIds).toEqual(subnetIds);
    }
  });
});

describe('imported VPC', () => {
  test('no VPC and no flow logs are created; security groups and endpoints go into the imported subnets', () => {
    const { stack, network, template } = synth((s) => ({ vpc: importVpc(s) }));
    template.resourceCountIs('AWS::EC2::VPC', 0);
    template.resourceCountIs('AWS::EC2::FlowLog', 0);
    template.resourceCountIs('AWS::Logs::LogGroup', 0);
    expect(network.flowLog).toBeUndefined();
    expect(network.flowLogGroup).toBeUndefined();
    template.allResourcesProperties('AWS::EC2::SecurityGroup', { VpcId: 'vpc-0123456789abcdef0' });
    expect(interfaceEndpointServices(template)).toEqual(['kms', 'logs', 'secretsmanager', 'sts', 'xray']);
    template.allResourcesProperties('AWS::EC2::VPCEndpoint', { VpcId: 'vpc-0123456789abcdef0' });
    for (const r of Object.values(template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }))) {
      expect(r.Properties.SubnetIds).toEqual(['subnet-iso-a', 'subnet-iso-b']);
    }
    template.resourcePropertiesCountIs(
      'AWS::EC2::VPCEndpoint',
      { VpcEndpointType: 'Gateway', RouteTableIds: ['rtb-iso-a', 'rtb-iso-b'] },
      2,
    );
    expect(stack.resolve(network.vpc.vpcId)).toBe('vpc-0123456789abcdef0');
    const notes = Annotations.fromStack(stack);
    notes.hasInfo('/Test/Network', Match.stringLikeRegexp('no flow logs are created'));
    notes.hasWarning('/Test/Network', Match.stringLikeRegexp('embedgate:GatewayNetwork.importedVpcEgress'));
  });

  test('createEndpoints: false creates no endpoint and names the ones the VPC must already have', () => {
    const { stack, network, template } = synth((s) => ({ vpc: importVpc(s), createEndpoints: false, enableBedrockEndpoint: true }));
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    expect(network.endpointsCreated).toBe(false);
    expect(network.s3Endpoint).toBeUndefined();
    expect(network.addInterfaceEndpoint('StepFunctionsEndpoint', ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS)).toBeUndefined();
    const warnings = Annotations.fromStack(stack).findWarning('/Test/Network', Match.stringLikeRegexp('createEndpoints is false'));
    const named = warnings.map((w) => /for "([^"]+)"/.exec(String(w.entry.data))?.[1]).sort();
    expect(named).toEqual(['bedrock-runtime', 'kms', 'logs', 'secretsmanager', 'states', 'sts', 'xray']);
    // The Lambdas' own security group is still there, for the owner's endpoints to admit.
    expectHttpsOnly(egressRules(stack, template, network.lambdaSecurityGroup));
  });

  test('allowInternetEgress: true uses the private subnets with egress', () => {
    const { template } = synth((s) => ({ vpc: importVpc(s), allowInternetEgress: true }));
    for (const r of Object.values(template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }))) {
      expect(r.Properties.SubnetIds).toEqual(['subnet-priv-a', 'subnet-priv-b']);
    }
  });

  test('selecting subnets with egress while allowInternetEgress is false raises a warning', () => {
    const { stack } = synth((s) => ({ vpc: importVpc(s), vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } }));
    Annotations.fromStack(stack).hasWarning('/Test/Network', Match.stringLikeRegexp('embedgate:GatewayNetwork.egressSubnetsSelected'));
  });

  test('with prefix lists, an imported VPC raises no egress warning', () => {
    const { stack } = synth((s) => ({
      vpc: importVpc(s),
      s3PrefixList: ec2.PrefixList.fromPrefixListId(s, 'S3List', 'pl-6ea54007'),
      dynamoDbPrefixList: ec2.PrefixList.fromPrefixListId(s, 'DdbList', 'pl-6fa54006'),
    }));
    Annotations.fromStack(stack).hasNoWarning('/Test/Network', Match.anyValue());
  });
});

describe('addInterfaceEndpoint', () => {
  test('adds an endpoint like the others, once per service', () => {
    const app = newApp();
    const stack = new Stack(app, 'Test');
    const network = new GatewayNetwork(stack, 'Network');
    const first = network.addInterfaceEndpoint('StepFunctionsEndpoint', ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS);
    const again = network.addInterfaceEndpoint('Other', ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS);
    expect(again).toBe(first);
    expect(network.interfaceEndpoints.states).toBe(first);
    const template = Template.fromStack(stack);
    template.resourcePropertiesCountIs('AWS::EC2::VPCEndpoint', { ServiceName: serviceName('states') }, 1);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: serviceName('states'),
      PrivateDnsEnabled: true,
      SubnetIds: stack.resolve(network.vpc.isolatedSubnets.map((s) => s.subnetId)),
      SecurityGroupIds: [stack.resolve(network.endpointSecurityGroup.securityGroupId)],
    });
  });

  test('returns the existing endpoint when a flag already created it', () => {
    const { network } = synth({ enableBedrockEndpoint: true });
    expect(network.addInterfaceEndpoint('Bedrock', ec2.InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME)).toBe(
      network.interfaceEndpoints['bedrock-runtime'],
    );
  });
});

describe('fails when', () => {
  const prefixLists = (s: Stack) => ({
    s3PrefixList: ec2.PrefixList.fromPrefixListId(s, 'S3List', 'pl-6ea54007'),
    dynamoDbPrefixList: ec2.PrefixList.fromPrefixListId(s, 'DdbList', 'pl-6fa54006'),
  });

  test.each([
    ['maxAzs is below 1', { maxAzs: 0 }, /maxAzs must be a whole number of at least 1 \(got 0\)/],
    ['maxAzs is not a whole number', { maxAzs: 1.5 }, /maxAzs must be a whole number/],
    [
      'natGateways is given without allowInternetEgress',
      { natGateways: 1 },
      /natGateways \(1\) is set but allowInternetEgress is not true.*Set allowInternetEgress: true, or remove natGateways/,
    ],
    [
      'natGateways is 0 with allowInternetEgress',
      { allowInternetEgress: true, natGateways: 0 },
      /natGateways must be a whole number of at least 1/,
    ],
    ['natGateways exceeds maxAzs', { allowInternetEgress: true, natGateways: 3 }, /natGateways \(3\) exceeds maxAzs \(2\)/],
    [
      'vpcSubnets is given without vpc',
      { vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } },
      /vpcSubnets applies only to an imported vpc/,
    ],
    ['createEndpoints is false without vpc', { createEndpoints: false }, /createEndpoints: false applies only to an imported vpc/],
  ] as const)('%s', (_name, props, message) => {
    expect(() => synth(props as GatewayNetworkProps)).toThrow(message);
  });

  test.each<[string, PropsFn, RegExp]>([
    ['maxAzs is given with vpc', (s) => ({ vpc: importVpc(s), maxAzs: 2 }), /maxAzs applies only to the VPC created here/],
    [
      'natGateways is given with vpc',
      (s) => ({ vpc: importVpc(s), allowInternetEgress: true, natGateways: 1 }),
      /natGateways applies only to the VPC created here/,
    ],
    [
      'flowLogRetention is given with vpc',
      (s) => ({ vpc: importVpc(s), flowLogRetention: logs.RetentionDays.ONE_MONTH }),
      /flowLogRetention and flowLogEncryptionKey apply only to the VPC created here/,
    ],
    [
      'only one prefix list is given',
      (s) => ({ s3PrefixList: prefixLists(s).s3PrefixList }),
      /s3PrefixList is set without dynamoDbPrefixList.*give both prefix lists or neither/,
    ],
    [
      'prefix lists are given with allowInternetEgress',
      (s) => ({ ...prefixLists(s), allowInternetEgress: true }),
      /narrow the Lambdas' egress when allowInternetEgress is false/,
    ],
    [
      'vpcSubnets selects public subnets',
      (s) => ({ vpc: importVpc(s), vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC } }),
      /vpcSubnets selects public subnets/,
    ],
    [
      'vpcSubnets names a subnet group the VPC does not have',
      (s) => ({ vpc: importVpc(s), vpcSubnets: { subnetGroupName: 'Lambdas' } }),
      /vpcSubnets does not match the subnets of the VPC/,
    ],
    [
      'the imported VPC has no isolated subnets and vpcSubnets is not given',
      (s) => ({ vpc: importVpc(s, { isolated: false }) }),
      /default subnet selection \{ subnetType: PRIVATE_ISOLATED \} does not match the imported VPC.*Pass vpcSubnets/,
    ],
    [
      'the imported subnets have no route table ids and endpoints are to be created',
      (s) => ({ vpc: importVpc(s, { routeTables: false }) }),
      /route table of subnet\(s\) subnet-iso-a, subnet-iso-b is unknown.*createEndpoints: false/,
    ],
  ])('%s', (_name, props, message) => {
    expect(() => synth(props)).toThrow(message);
  });

  test('an imported VPC without route table ids is fine with createEndpoints: false', () => {
    expect(() => synth((s) => ({ vpc: importVpc(s, { routeTables: false }), createEndpoints: false }))).not.toThrow();
  });
});

describe('cdk-nag', () => {
  test('AwsSolutions and NIST 800-53 rev 5 find nothing unacknowledged in default, egress and imported networks', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'embedgate-network-nag-'));
    const app = newApp(outdir);
    new GatewayNetwork(new Stack(app, 'Isolated'), 'Network');
    new GatewayNetwork(new Stack(app, 'Egress'), 'Network', {
      allowInternetEgress: true,
      natGateways: 2,
      enableBedrockEndpoint: true,
      enableComprehendEndpoint: true,
      enableStepFunctionsEndpoint: true,
    });
    const importedStack = new Stack(app, 'Imported');
    new GatewayNetwork(importedStack, 'Network', { vpc: importVpc(importedStack) });
    const encryptedStack = new Stack(app, 'Encrypted');
    new GatewayNetwork(encryptedStack, 'Network', {
      flowLogEncryptionKey: new kms.Key(encryptedStack, 'Key', { enableKeyRotation: true }),
    });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new NIST80053R5Checks(app));

    expect(() => app.synth()).not.toThrow();
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { violations: unknown[] }[];
    };
    expect(report.pluginReports.flatMap((r) => r.violations)).toEqual([]);
  });

  test('the flow-log group is always encrypted with a customer-managed key (CT.CLOUDWATCH.PR.3): nothing to acknowledge', () => {
    const acknowledged = (props: PropsFn) => {
      const { network } = synth(props);
      return (
        network
          .flowLogGroup!.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          // aws-cdk-lib records an id without a plugin namespace as 'Annotation::<id>'; cdk-nag strips that prefix.
          .flatMap((m) => Object.keys(m.data as object).map((k) => k.replace(/^annotation::/i, '')))
      );
    };
    expect(acknowledged(() => ({}))).toEqual([]);
    expect(acknowledged((s) => ({ flowLogEncryptionKey: new kms.Key(s, 'Key') }))).toEqual([]);
    const { template } = synth(() => ({}));
    const groups = template.findResources('AWS::Logs::LogGroup');
    expect(Object.values(groups).every((g) => g.Properties.KmsKeyId !== undefined)).toBe(true);
  });
});
