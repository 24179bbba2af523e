import { Annotations, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { EndpointSpec } from './private/network-endpoints';
import {
  ALWAYS_ON_ENDPOINTS,
  BEDROCK_RUNTIME_ENDPOINT,
  COMPREHEND_ENDPOINT,
  HTTPS,
  STEP_FUNCTIONS_ENDPOINT,
  XRAY_ENDPOINT,
} from './private/network-endpoints';
import { createVpcFlowLog } from './private/flow-log';
import { assertRouteTablesKnown, selectNetworkSubnets, validateNetworkProps } from './private/network-validation';

/** Properties of a `GatewayNetwork`. */
export interface GatewayNetworkProps {
  /**
   * An existing VPC to run the gateway in.
   *
   * Its owner keeps its flow logs, NAT gateways and routes: GatewayNetwork only adds security
   * groups and (unless `createEndpoints` is false) endpoints. The VPC needs DNS support and DNS
   * hostnames enabled for the endpoints' private DNS names.
   *
   * @default - a new VPC with private isolated subnets only (no NAT gateway, no internet gateway)
   * in `maxAzs` Availability Zones, with flow logs to CloudWatch Logs
   */
  readonly vpc?: ec2.IVpc;

  /**
   * Where the Lambdas and the interface endpoints go, in an imported `vpc`.
   *
   * @default - the private isolated subnets, or the private subnets with egress when
   * `allowInternetEgress` is true
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * How many Availability Zones the created VPC spans.
   *
   * @default 2
   */
  readonly maxAzs?: number;

  /**
   * Let the Lambdas reach the internet on port 443.
   *
   * Only needed when a configured model lives outside AWS (OpenAI, Azure OpenAI, Cohere, a
   * self-hosted server). When true and the VPC is created here, it gets public subnets with NAT
   * gateways and private subnets routed through them, and the Lambda security group allows 443 to
   * 0.0.0.0/0. IPv4 only: the created VPC has no IPv6.
   *
   * @default false
   */
  readonly allowInternetEgress?: boolean;

  /**
   * How many NAT gateways the created VPC gets when `allowInternetEgress` is true.
   *
   * One is enough for the traffic it carries (calls to external model providers; AWS services
   * stay on the endpoints) and costs a third to a half of one per AZ. The trade-off: if its
   * Availability Zone fails, calls to external providers fail until it is back, while Bedrock and
   * every AWS service keep working. Set it to `maxAzs` for zone-independent egress.
   *
   * @default 1
   */
  readonly natGateways?: number;

  /**
   * How long the created VPC's flow logs are kept.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly flowLogRetention?: logs.RetentionDays;

  /**
   * Customer-managed key for the flow-log group. Its key policy must allow the CloudWatch Logs
   * service principal of the region (`logs.<region>.amazonaws.com`) to use it.
   *
   * @default - a key of the network's own (`FlowLogKey`, rotated), usable by CloudWatch Logs of the region
   */
  readonly flowLogEncryptionKey?: kms.IKey;

  /**
   * Create the endpoints (interface and gateway) in an imported `vpc`.
   *
   * Set it to false when the VPC already has them: a second interface endpoint with private DNS for
   * the same service fails to deploy (the private hosted zone already exists), and a second S3 or
   * DynamoDB gateway endpoint on the same route tables fails too. The existing interface
   * endpoints' security groups must then accept 443 from `lambdaSecurityGroup` (and, when
   * `s3PrefixList` and `dynamoDbPrefixList` narrow its egress, `lambdaSecurityGroup` needs an
   * egress rule to them too: `lambdaSecurityGroup.addEgressRule(...)`).
   * Only for an imported `vpc`: the VPC created here always gets its endpoints.
   *
   * @default true
   */
  readonly createEndpoints?: boolean;

  /**
   * Create an X-Ray interface endpoint.
   *
   * The gateway's Lambdas run with active tracing; whatever the function code sends to the X-Ray
   * API (sampling rules, trace exporters) needs this endpoint from an isolated subnet.
   *
   * @default true
   */
  readonly enableXRayEndpoint?: boolean;

  /**
   * Create a Comprehend interface endpoint (for Comprehend PII detection in masking).
   *
   * @default false
   */
  readonly enableComprehendEndpoint?: boolean;

  /**
   * Create a Bedrock runtime interface endpoint (`bedrock-runtime`, for Bedrock models).
   *
   * @default false
   */
  readonly enableBedrockEndpoint?: boolean;

  /**
   * Create a Step Functions interface endpoint (for just-in-time approvals).
   *
   * @default false
   */
  readonly enableStepFunctionsEndpoint?: boolean;

  /**
   * The region's AWS-managed prefix list of S3 (`com.amazonaws.<region>.s3`), for example
   * `ec2.PrefixList.fromPrefixListId(this, 'S3', 'pl-…')`. Give it together with
   * `dynamoDbPrefixList` to narrow the Lambdas' egress to exactly the gateway endpoints.
   *
   * Prefix-list ids differ per region and CloudFormation cannot resolve them, so they cannot be
   * found without an AWS lookup at synth time.
   *
   * @default - with `allowInternetEgress` false, the Lambda security group allows 443 to
   * 0.0.0.0/0, and the route tables keep the traffic inside AWS: the subnets have no route to the
   * internet, only the local route and the S3 and DynamoDB gateway-endpoint routes
   */
  readonly s3PrefixList?: ec2.IPrefixList;

  /**
   * The region's AWS-managed prefix list of DynamoDB (`com.amazonaws.<region>.dynamodb`). Give it
   * together with `s3PrefixList`.
   *
   * @default - see `s3PrefixList`
   */
  readonly dynamoDbPrefixList?: ec2.IPrefixList;
}

/**
 * The network the gateway's Lambdas run in: a VPC (created or imported), the subnets they use,
 * their security group, the endpoints that keep AWS traffic off the internet, and the flow logs.
 *
 * By default nothing in it can reach the internet: the subnets are isolated (no NAT gateway, no
 * internet gateway), the Lambda security group allows only 443 outbound, and the endpoints'
 * security group accepts only 443 from the Lambdas. Egress to the internet is an explicit opt-in
 * (`allowInternetEgress`) for models outside AWS.
 */
export class GatewayNetwork extends Construct {
  /** The VPC the Lambdas run in. */
  public readonly vpc: ec2.IVpc;

  /** The subnets of the Lambdas and the interface endpoints. */
  public readonly vpcSubnets: ec2.SubnetSelection;

  /** The Lambdas' security group: outbound 443 only, no inbound. */
  public readonly lambdaSecurityGroup: ec2.ISecurityGroup;

  /** The interface endpoints' security group: inbound 443 from `lambdaSecurityGroup` only, no outbound. */
  public readonly endpointSecurityGroup: ec2.ISecurityGroup;

  /** The flow log of the created VPC; undefined for an imported VPC. */
  public readonly flowLog?: ec2.FlowLog;

  /** The log group of the created VPC's flow logs; undefined for an imported VPC. */
  public readonly flowLogGroup?: logs.ILogGroup;

  /** Whether the Lambdas may reach the internet on 443 (`allowInternetEgress`). */
  public readonly egressAllowed: boolean;

  /** Whether this construct creates endpoints (false only for an imported VPC with `createEndpoints: false`). */
  public readonly endpointsCreated: boolean;

  /** The S3 gateway endpoint; undefined when `createEndpoints` is false. */
  public readonly s3Endpoint?: ec2.IGatewayVpcEndpoint;

  /** The DynamoDB gateway endpoint; undefined when `createEndpoints` is false. */
  public readonly dynamoDbEndpoint?: ec2.IGatewayVpcEndpoint;

  private readonly _interfaceEndpoints: Record<string, ec2.IInterfaceVpcEndpoint> = {};
  private readonly _ownerEndpoints: string[] = [];

  constructor(scope: Construct, id: string, props: GatewayNetworkProps = {}) {
    super(scope, id);
    validateNetworkProps(props);

    const imported = props.vpc !== undefined;
    this.egressAllowed = props.allowInternetEgress === true;
    this.endpointsCreated = props.createEndpoints ?? true;

    this.vpc = props.vpc ?? this.createVpc(props);
    this.vpcSubnets = props.vpcSubnets ?? {
      subnetType: this.egressAllowed ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED,
    };
    const selected = selectNetworkSubnets(this.vpc, this.vpcSubnets, props.vpcSubnets !== undefined);

    if (!imported) {
      const { logGroup, flowLog } = createVpcFlowLog(this, this.vpc, {
        retention: props.flowLogRetention ?? logs.RetentionDays.ONE_YEAR,
        encryptionKey: props.flowLogEncryptionKey,
      });
      this.flowLogGroup = logGroup;
      this.flowLog = flowLog;
    }

    this.endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: 'embedgate interface endpoints: HTTPS from the gateway Lambdas only',
      allowAllOutbound: false,
    });
    this.lambdaSecurityGroup = new ec2.SecurityGroup(this, 'LambdaSecurityGroup', {
      vpc: this.vpc,
      description: 'embedgate Lambdas: outbound HTTPS only',
      allowAllOutbound: false,
    });
    this.addEgressRules(props);

    if (this.endpointsCreated) {
      if (imported) assertRouteTablesKnown(selected);
      this.s3Endpoint = new ec2.GatewayVpcEndpoint(this, 'S3Endpoint', {
        vpc: this.vpc,
        service: ec2.GatewayVpcEndpointAwsService.S3,
        subnets: [this.vpcSubnets],
      });
      this.dynamoDbEndpoint = new ec2.GatewayVpcEndpoint(this, 'DynamoDbEndpoint', {
        vpc: this.vpc,
        service: ec2.GatewayVpcEndpointAwsService.DYNAMODB,
        subnets: [this.vpcSubnets],
      });
    }

    const specs: EndpointSpec[] = [...ALWAYS_ON_ENDPOINTS];
    if (props.enableXRayEndpoint ?? true) specs.push(XRAY_ENDPOINT);
    if (props.enableComprehendEndpoint) specs.push(COMPREHEND_ENDPOINT);
    if (props.enableBedrockEndpoint) specs.push(BEDROCK_RUNTIME_ENDPOINT);
    if (props.enableStepFunctionsEndpoint) specs.push(STEP_FUNCTIONS_ENDPOINT);
    for (const spec of specs) this.addInterfaceEndpoint(spec.id, spec.service);

    if (imported) this.annotateImportedVpc(props, selected);
  }

  /**
   * The interface endpoints created so far, by the service's short name (`secretsmanager`, `kms`,
   * `logs`, `sts`, `xray`, `comprehend`, `bedrock-runtime`, `states`, ...). A copy.
   */
  public get interfaceEndpoints(): Record<string, ec2.IInterfaceVpcEndpoint> {
    return { ...this._interfaceEndpoints };
  }

  /**
   * Adds an interface endpoint for `service` in the Lambdas' subnets, with private DNS, behind
   * `endpointSecurityGroup` (e.g. Step Functions when approvals are turned on after construction).
   *
   * One endpoint per service: if this network already has one for `service`, that one is returned
   * and `id` is ignored (a second endpoint with private DNS would fail to deploy). When
   * `createEndpoints` is false, nothing is created, a warning names the endpoint the VPC's owner
   * must provide, and the result is undefined.
   */
  public addInterfaceEndpoint(id: string, service: ec2.InterfaceVpcEndpointAwsService): ec2.IInterfaceVpcEndpoint | undefined {
    const key = service.shortName;
    const existing = this._interfaceEndpoints[key];
    if (existing) return existing;
    if (!this.endpointsCreated) {
      if (!this._ownerEndpoints.includes(key)) {
        this._ownerEndpoints.push(key);
        Annotations.of(this).addWarningV2(
          'embedgate:GatewayNetwork.endpointNotCreated',
          `createEndpoints is false: the imported VPC must already have an interface endpoint with private DNS for "${key}" in the Lambdas' subnets, accepting 443 from the Lambda security group`,
        );
      }
      return undefined;
    }
    const endpoint = new ec2.InterfaceVpcEndpoint(this, id, {
      vpc: this.vpc,
      service,
      subnets: this.vpcSubnets,
      securityGroups: [this.endpointSecurityGroup],
      privateDnsEnabled: true,
      // `open: true` (the default) would let the whole VPC CIDR in; only the Lambdas may use it.
      open: false,
    });
    this._interfaceEndpoints[key] = endpoint;
    return endpoint;
  }

  private createVpc(props: GatewayNetworkProps): ec2.Vpc {
    const subnetConfiguration: ec2.SubnetConfiguration[] = this.egressAllowed
      ? [
          // Only the NAT gateways live here; they use Elastic IPs, nothing needs a public IP on launch.
          { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, mapPublicIpOnLaunch: false },
          { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        ]
      : [{ name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }];
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: props.maxAzs ?? 2,
      natGateways: this.egressAllowed ? (props.natGateways ?? 1) : 0,
      subnetConfiguration,
      // Nothing uses the default security group; close it so nothing can by accident.
      restrictDefaultSecurityGroup: true,
    });
    for (const subnet of vpc.publicSubnets) {
      Validations.of(subnet).acknowledge({
        id: 'NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW',
        reason:
          "Only with allowInternetEgress: the public subnets hold nothing but the NAT gateways, whose default route to the internet gateway carries the Lambdas' calls to model providers outside AWS (443 only, by security group).",
      });
    }
    return vpc;
  }

  private addEgressRules(props: GatewayNetworkProps): void {
    const https = ec2.Port.tcp(HTTPS);
    this.lambdaSecurityGroup.addEgressRule(this.endpointSecurityGroup, https, 'HTTPS to the interface endpoints');
    this.endpointSecurityGroup.addIngressRule(this.lambdaSecurityGroup, https, 'HTTPS from the gateway Lambdas');

    if (this.egressAllowed) {
      this.lambdaSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), https, 'HTTPS to model providers outside AWS (allowInternetEgress)');
    } else if (props.s3PrefixList && props.dynamoDbPrefixList) {
      this.lambdaSecurityGroup.addEgressRule(props.s3PrefixList, https, 'HTTPS to the S3 gateway endpoint');
      this.lambdaSecurityGroup.addEgressRule(props.dynamoDbPrefixList, https, 'HTTPS to the DynamoDB gateway endpoint');
    } else {
      // S3 and DynamoDB sit behind gateway endpoints, reached through AWS-managed prefix lists
      // whose ids are region-specific and only known through an AWS lookup. Without them the rule
      // is 443 to 0.0.0.0/0, and the route tables do the narrowing: the subnets have no NAT or
      // internet gateway route, so 443 reaches only the VPC (the interface endpoints) and the
      // S3 and DynamoDB gateway endpoints. DNS needs no rule: security groups do not filter
      // traffic to the Amazon-provided resolver.
      this.lambdaSecurityGroup.addEgressRule(
        ec2.Peer.anyIpv4(),
        https,
        'HTTPS to the S3 and DynamoDB gateway endpoints (no route to the internet from these subnets)',
      );
    }
  }

  private annotateImportedVpc(props: GatewayNetworkProps, selected: ec2.SelectedSubnets): void {
    const note = Annotations.of(this);
    note.addInfo(
      'GatewayNetwork: the VPC is imported, so no flow logs are created here: they belong to its owner, with its routes and NAT gateways.',
    );
    if (props.createEndpoints === false) {
      note.addInfo(
        "GatewayNetwork: createEndpoints is false: the imported VPC must already have S3 and DynamoDB gateway endpoints on the route tables of the Lambdas' subnets.",
      );
    }
    if (this.egressAllowed) {
      note.addInfo(
        'GatewayNetwork: allowInternetEgress is true: the route tables of the imported subnets must send 0.0.0.0/0 through a NAT gateway.',
      );
      return;
    }
    if (props.s3PrefixList) return; // egress narrowed to the endpoints by the security group itself
    const withEgress = new Set(this.vpc.privateSubnets.map((s) => s.subnetId));
    if (!selected.isPendingLookup && selected.subnets.some((s) => withEgress.has(s.subnetId))) {
      note.addWarningV2(
        'embedgate:GatewayNetwork.egressSubnetsSelected',
        'allowInternetEgress is false, but vpcSubnets selects private subnets with egress and the Lambda security group allows 443 to 0.0.0.0/0: ' +
          'the Lambdas could reach the internet. Select PRIVATE_ISOLATED subnets, pass s3PrefixList and dynamoDbPrefixList, ' +
          'or set allowInternetEgress: true if a configured model lives outside AWS',
      );
    } else {
      note.addWarningV2(
        'embedgate:GatewayNetwork.importedVpcEgress',
        'allowInternetEgress is false, but the Lambda security group allows 443 to 0.0.0.0/0 (the S3 and DynamoDB prefix-list ids are not known offline): ' +
          "in an imported VPC only the subnets' route tables keep that traffic inside AWS. Pass s3PrefixList and dynamoDbPrefixList " +
          'to narrow the rule to the gateway endpoints, or make sure the selected subnets have no NAT or internet gateway route',
      );
    }
  }
}
