import { Aws, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { logsKey } from './keys';

export interface VpcFlowLogOptions {
  readonly retention: logs.RetentionDays;
  readonly encryptionKey?: kms.IKey;
}

export interface VpcFlowLog {
  readonly logGroup: logs.LogGroup;
  readonly flowLog: ec2.FlowLog;
}

/**
 * Flow logs of every packet (accepted and rejected) of `vpc` to a CloudWatch log group.
 *
 * The delivery role is built here rather than by `FlowLog`: its permissions sit in a customer-managed
 * policy scoped to this one log group (not an inline policy), and its trust policy only lets the
 * flow-logs service assume it for flow logs of this account (confused-deputy protection).
 */
export function createVpcFlowLog(scope: Construct, vpc: ec2.IVpc, options: VpcFlowLogOptions): VpcFlowLog {
  // Encrypted with a customer-managed key in any case (Control Tower CT.CLOUDWATCH.PR.3): the given
  // one, or a key of its own that only CloudWatch Logs of this region may use for this account.
  const encryptionKey = options.encryptionKey ?? flowLogKey(scope);
  const logGroup = new logs.LogGroup(scope, 'FlowLogGroup', {
    retention: options.retention,
    encryptionKey,
  });

  const role = new iam.Role(scope, 'FlowLogRole', {
    description: 'Delivers the VPC flow logs of the embedgate network to their log group',
    assumedBy: new iam.ServicePrincipal('vpc-flow-logs.amazonaws.com', {
      conditions: {
        StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
        ArnLike: {
          'aws:SourceArn': Stack.of(scope).formatArn({ service: 'ec2', resource: 'vpc-flow-log', resourceName: '*' }),
        },
      },
    }),
  });
  role.addManagedPolicy(
    new iam.ManagedPolicy(scope, 'FlowLogPolicy', {
      description: 'Write VPC flow logs to the embedgate flow-log group',
      statements: [
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
          resources: [logGroup.logGroupArn],
        }),
      ],
    }),
  );

  const flowLog = new ec2.FlowLog(scope, 'FlowLog', {
    resourceType: ec2.FlowLogResourceType.fromVpc(vpc),
    // `withoutPolicyUpdates`: FlowLog would otherwise add the same statement again as an inline policy.
    destination: ec2.FlowLogDestination.toCloudWatchLogs(logGroup, role.withoutPolicyUpdates()),
    trafficType: ec2.FlowLogTrafficType.ALL,
  });
  return { logGroup, flowLog };
}

/** The flow-log group's own key (rotated, retained), usable by CloudWatch Logs of this region. */
function flowLogKey(scope: Construct): kms.Key {
  return logsKey(scope, 'FlowLogKey', 'embedgate: encrypts the VPC flow-log group');
}
