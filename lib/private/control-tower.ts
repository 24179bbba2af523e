/**
 * The AWS Control Tower proactive controls (cfn-guard rules; see docs/control-tower.md), applied to
 * everything the gateway creates: an Aspect that sets what each control requires on the resources
 * themselves, and the acknowledgements, by rule, of the few controls that cannot apply.
 *
 * - CT.KMS.PR.3: every key policy denies `kms:CreateGrant` unless the grant is for an AWS resource
 *   or the caller is an AWS service (the services that use the keys create their grants that way).
 * - CT.S3.PR.4: every bucket sends its events to Amazon EventBridge (the default bus; nothing
 *   subscribes unless an operator adds a rule), in the bucket's own `NotificationConfiguration`
 *   (no custom resource, so no function outside the VPC).
 * - CT.S3.PR.9: every bucket has S3 Object Lock activated (the archive with its default retention;
 *   the access-log and query-result buckets without one, as their lifecycle expires objects).
 * - CT.SQS.PR.1: a queue without a redrive policy is a dead-letter queue, and says so (`RedriveAllowPolicy`).
 * - CT.LAMBDA.PR.2: API Gateway invokes the proxy with a role (lib/private/role-lambda-integration.ts),
 *   so the function has no resource policy at all.
 * - CT.CLOUDWATCH.PR.3: the flow-log group has a customer-managed key (lib/private/flow-log.ts).
 */
import { Aspects, type IAspect, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct, IConstruct } from 'constructs';

/** Validation ids (`<plugin>::<cfn-guard rule>`) of the Control Tower controls acknowledged somewhere in the gateway. */
export const CT_RULES = {
  /** CT.S3.PR.2 */
  s3Logging: 'cdk-validator-cfnguard::s3_bucket_logging_enabled_check',
  /** CT.S3.PR.10 */
  s3Kms: 'cdk-validator-cfnguard::s3_bucket_default_encryption_kms_check',
  /** CT.LAMBDA.PR.3 */
  lambdaInVpc: 'cdk-validator-cfnguard::lambda_inside_vpc_check',
  /** CT.APIGATEWAY.PR.5 */
  routeAuthorization: 'cdk-validator-cfnguard::api_gw_v2_authorization_type_configured_check',
} as const;

/** The statement of CT.KMS.PR.3. */
export function createGrantForAwsServicesOnly(): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'CreateGrantForAwsServicesOnly',
    effect: iam.Effect.DENY,
    actions: ['kms:CreateGrant'],
    principals: [new iam.AnyPrincipal()],
    resources: ['*'],
    conditions: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
  });
}

class ControlTowerAspect implements IAspect {
  visit(node: IConstruct): void {
    if (node instanceof kms.Key) {
      node.addToResourcePolicy(createGrantForAwsServicesOnly());
    } else if (node instanceof s3.CfnBucket) {
      node.notificationConfiguration ??= { eventBridgeConfiguration: { eventBridgeEnabled: true } };
      if (node.objectLockEnabled !== true) node.objectLockEnabled = true;
    } else if (node instanceof sqs.CfnQueue) {
      if (node.redrivePolicy === undefined && node.redriveAllowPolicy === undefined)
        node.redriveAllowPolicy = { redrivePermission: 'allowAll' };
    }
  }
}

/** Apply the controls to everything under `scope` (call once, from the gateway's constructor). */
export function applyControlTowerControls(scope: Construct): void {
  // Aspects visit the keys before their policy is rendered; the statement is added once per key.
  Aspects.of(scope).add(new ControlTowerAspect());
}

/**
 * Acknowledge the deploy-time custom resource aws-cdk-lib adds to the stack to close the VPC's
 * default security group (CT.LAMBDA.PR.3): it runs once per deployment, calls only EC2, and
 * exists before the VPC's endpoints it would need inside the VPC.
 */
export function acknowledgeVpcCustomResource(scope: Construct): void {
  const provider = Stack.of(scope).node.tryFindChild('Custom::VpcRestrictDefaultSGCustomResourceProvider');
  if (!provider) return;
  Validations.of(provider).acknowledge({
    id: CT_RULES.lambdaInVpc,
    reason:
      "CT.LAMBDA.PR.3: aws-cdk-lib's custom-resource provider that removes the rules of the VPC's default security group runs once per deployment, calls only the EC2 API, and must run before the VPC and its endpoints exist.",
  });
}
