import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';

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
