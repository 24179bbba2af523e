/**
 * Issuers' signing keys for a gateway without internet egress (docs/network.md): a small function
 * outside the VPC (the one that reaches the identity providers) runs every minute and writes each
 * trusted issuer's discovery document and JWKS into a DynamoDB table; the proxy, in isolated
 * subnets, reads the table through the DynamoDB gateway endpoint (HANDLER_ENV.issuerKeysTable).
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { HANDLER_ENV } from '../../shared/contract';
import { CT_RULES } from './control-tower';
import { functionRole } from './function-role';
import { gatewayFunction } from './gateway-function';

export interface IssuerKeyMirrorProps {
  /** The configuration document (config.json) the mirror reads its issuers from. */
  readonly configuration: string;
  readonly configurationEnvironment: Readonly<Record<string, string>>;
  readonly encryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly runtime?: lambda.Runtime;
  readonly policyReason: string;
}

export class IssuerKeyMirror extends Construct {
  /** The table of mirrored documents (partition key `url`). */
  public readonly table: dynamodb.TableV2;
  /** The mirror function (outside the VPC). */
  public readonly function: lambda.Function;

  constructor(scope: Construct, id: string, props: IssuerKeyMirrorProps) {
    super(scope, id);
    this.table = new dynamodb.TableV2(this, 'Table', {
      partitionKey: { name: 'url', type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Public documents: the AWS managed key (a customer-managed key cannot be rendered in a region-agnostic stack).
      encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.table).acknowledge({
      id: 'NIST.800.53.R5-DynamoDBInBackupPlan',
      reason:
        'The table holds copies of public documents (issuers’ discovery documents and JWKS) that the mirror writes again every minute.',
    });
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      encryptionKey: props.encryptionKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const role = functionRole(this, 'Role', {
      logGroup,
      inVpc: false,
      description: 'embedgate key mirror function',
      policyReason: props.policyReason,
    });
    this.function = gatewayFunction(this, 'Function', {
      description: 'embedgate key mirror: issuers’ discovery documents and JWKS into the table the proxy reads without egress',
      bundle: 'key-mirror',
      files: { 'config.json': props.configuration },
      ...(props.runtime ? { runtime: props.runtime } : {}),
      memorySize: 256,
      timeout: Duration.seconds(30),
      logGroup,
      role,
      environment: { ...props.configurationEnvironment, [HANDLER_ENV.issuerKeysTable]: this.table.tableName },
      extra: { reservedConcurrentExecutions: 1 },
    });
    this.table.grantWriteData(this.function);
    const outside =
      'The key mirror is the one function that reaches the identity providers on the internet, so that the gateway’s VPC needs no egress; it holds no secret and writes public documents only.';
    Validations.of(this.function).acknowledge(
      { id: 'NIST.800.53.R5-LambdaInsideVPC', reason: outside },
      { id: CT_RULES.lambdaInVpc, reason: `CT.LAMBDA.PR.3: ${outside}` },
      {
        id: 'NIST.800.53.R5-LambdaDLQ',
        reason: 'Runs every minute on a schedule; a failed run is retried by the next one and counted in its Errors metric.',
      },
    );
    new events.Rule(this, 'Schedule', {
      description: 'embedgate: mirror the issuers’ keys every minute',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0 })],
    });
  }
}
