import { Aws, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

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
  const logGroup = new logs.LogGroup(scope, 'FlowLogGroup', {
    retention: options.retention,
    encryptionKey: options.encryptionKey,
  });
  if (!options.encryptionKey) {
    Validations.of(logGroup).acknowledge({
      id: 'NIST.800.53.R5-CloudWatchLogGroupEncrypted',
      reason:
        'VPC flow-log records hold addresses, ports and byte counts, never payloads, and CloudWatch Logs encrypts them at rest; a customer-managed key is one prop away (flowLogEncryptionKey).',
    });
  }

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
