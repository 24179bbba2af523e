/**
 * Issuers' signing keys for a gateway without internet egress (docs/production-constraints.md): a
 * small function outside the VPC (the one that reaches the identity providers) runs every minute
 * and writes each trusted issuer's discovery document and JWKS into a DynamoDB table; the proxy,
 * in isolated subnets, reads the table through the DynamoDB gateway endpoint
 * (HANDLER_ENV.issuerKeysTable). On an unknown `kid` the proxy writes a refresh request into the
 * same table (its only write: an IAM condition on the leading key); the table's stream, filtered
 * to those items, runs the mirror at once (shared/issuer-keys-table.ts).
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { HANDLER_ENV } from '../../shared/contract';
import { ISSUER_KEYS_TABLE } from '../../shared/issuer-keys-table';
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
      partitionKey: { name: ISSUER_KEYS_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      // Refresh requests reach the mirror through the stream (keys are all it needs) and expire.
      dynamoStream: dynamodb.StreamViewType.KEYS_ONLY,
      timeToLiveAttribute: ISSUER_KEYS_TABLE.expiresAt,
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
    // Refresh requests (and nothing else: not the mirror's own writes, not TTL removals) run the
    // mirror at once. No retry: a failed refresh waits for the schedule.
    this.function.addEventSource(
      new sources.DynamoEventSource(this.table, {
        startingPosition: lambda.StartingPosition.LATEST,
        batchSize: 100,
        retryAttempts: 0,
        filters: [
          lambda.FilterCriteria.filter({
            eventName: lambda.FilterRule.or('INSERT', 'MODIFY'),
            dynamodb: { Keys: { [ISSUER_KEYS_TABLE.partitionKey]: { S: lambda.FilterRule.beginsWith(ISSUER_KEYS_TABLE.refreshPrefix) } } },
          }),
        ],
      }),
    );
    new events.Rule(this, 'Schedule', {
      description: 'embedgate: mirror the issuers’ keys every minute',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0 })],
    });
  }

  /**
   * Lets `grantee` (the proxy) read the mirrored documents and write refresh requests: `PutItem`
   * only on items whose key starts with `refresh#`, with only the refresh attributes and no
   * return values. It can neither change a mirrored document nor delete anything.
   */
  public grantReadAndRefresh(grantee: iam.IGrantable): iam.Grant {
    const read = this.table.grantReadData(grantee);
    const T = ISSUER_KEYS_TABLE;
    const write = iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:PutItem'],
      resourceArns: [this.table.tableArn],
      conditions: {
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${T.refreshPrefix}*`] },
        'ForAllValues:StringEquals': { 'dynamodb:Attributes': [T.partitionKey, T.requestedAt, T.expiresAt] },
        StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
      },
    });
    return read.combine(write);
  }
}
