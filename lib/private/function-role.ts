import { Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/**
 * A Lambda function's role without AWS managed policies: it may write to its own log group only,
 * and, in a VPC, manage its network interfaces (actions IAM cannot scope to a resource). Grants
 * add the rest.
 */
export function functionRole(
  scope: Construct,
  id: string,
  opts: { logGroup: logs.ILogGroup; inVpc: boolean; description: string; policyReason: string },
): iam.Role {
  const role = new iam.Role(scope, id, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: opts.description });
  role.addToPolicy(
    new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [opts.logGroup.logGroupArn] }),
  );
  if (opts.inVpc) {
    role.addToPolicy(
      new iam.PolicyStatement({
        // Lambda creates and deletes the function's ENIs in the VPC; these actions take no resource ARN.
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    );
  }
  Validations.of(role).acknowledge(
    {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: `Only actions IAM cannot scope to a resource: X-Ray PutTraceSegments/PutTelemetryRecords${opts.inVpc ? ', the VPC network-interface actions Lambda needs' : ''} and, when masking uses it, Comprehend DetectPiiEntities. Everything else is on named resources.`,
    },
    { id: 'NIST.800.53.R5-IAMNoInlinePolicy', reason: opts.policyReason },
  );
  return role;
}
