import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { HANDLER_ENV } from '../shared/contract';
import type { GatewayNetwork } from './gateway-network';
import { alarmsFor } from './private/alarms';
import { grantOnObjects } from './private/archive-buckets';
import * as perms from './private/archive-perms';
import { RECORDS_PREFIX } from './private/archive-table';
import { functionRole } from './private/function-role';
import { gatewayFunction } from './private/gateway-function';
import type { SessionArchive } from './session-archive';

/** Props of {@link ArchiveJournal}. */
export interface ArchiveJournalProps {
  /** The archive the compactor writes batch objects into. */
  readonly archive: SessionArchive;
  /**
   * Where the compactor runs (the gateway's private subnets; S3 through the gateway endpoint).
   * @default - outside a VPC
   */
  readonly network?: GatewayNetwork;
  /**
   * How long the stream gathers records before the compactor is invoked: longer means fewer, larger
   * objects (at most 300 seconds). At 20 requests/s, 60 s gives batches of about 1,200 records.
   * @default Duration.seconds(60)
   */
  readonly batchingWindow?: Duration;
  /**
   * Most records per compactor invocation (DynamoDB Streams allows up to 10,000; Lambda's 6 MB
   * payload limit also bounds a batch).
   * @default 10000
   */
  readonly batchSize?: number;
  /**
   * How long a journal item is kept after its write (DynamoDB TTL), well past the compactor's
   * retries, so `embedgate audit verify --journal-table` can check it reached the archive.
   * @default Duration.days(7)
   */
  readonly journalRetention?: Duration;
  /**
   * Alarm when the oldest journaled record not yet archived is this old (the stream's iterator age).
   * @default Duration.minutes(15)
   */
  readonly maxArchiveLag?: Duration;
  /**
   * Lambda runtime of the compactor.
   * @default lambda.Runtime.NODEJS_24_X
   */
  readonly runtime?: lambda.Runtime;
  /**
   * Retention of the compactor's log group.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The session archive's write-ahead journal (issue 16): a DynamoDB table the request path writes
 * each record to with one conditional PutItem (single-digit milliseconds, durable before any model
 * output leaves), and a compactor that moves journaled records into the Object Lock bucket in
 * batches: DynamoDB Streams -> Lambda (batching window) -> one gzip JSON Lines object per batch and
 * hour partition, SSE-KMS with the archive key (bucket keys on), the bucket's compliance retention.
 * Failed batches are retried (bisected), then described in the on-failure queue; alarms fire on the
 * age of the oldest record not yet archived and on anything in that queue.
 *
 * The table is encrypted with the archive's key, has point-in-time recovery and deletion protection,
 * and keeps each item `journalRetention` (TTL). Nobody is granted UpdateItem or DeleteItem on it.
 */
export class ArchiveJournal extends Construct {
  /** The journal table (partition key `session_id`, stream of new and old images, TTL `expires_at`). */
  public readonly table: dynamodb.Table;
  /** The compactor function. */
  public readonly compactor: lambda.Function;
  /** Where descriptions of batches the compactor could not archive after its retries wait (alarmed). */
  public readonly failureQueue: sqs.Queue;
  /** Alarms: archive lag (iterator age), batches given up (see `createAlarms`). */
  public readonly alarms: cloudwatch.Alarm[] = [];
  private readonly maxArchiveLag: Duration;

  constructor(scope: Construct, id: string, props: ArchiveJournalProps) {
    super(scope, id);
    const window = props.batchingWindow ?? Duration.seconds(60);
    if (window.toSeconds() > 300) throw new Error(`ArchiveJournal: batchingWindow must be at most 300 seconds, got ${window.toSeconds()}`);
    const batchSize = props.batchSize ?? 10_000;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
      throw new Error(`ArchiveJournal: batchSize must be 1-10000, got ${batchSize}`);
    const retention = props.journalRetention ?? Duration.days(7);
    if (retention.toSeconds() < 86_400) throw new Error('ArchiveJournal: journalRetention must be at least one day');
    const key = props.archive.encryptionKey;

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'session_id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
      // Old images too: an intent removed by TTL reaches the compactor with its content (completion).
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      timeToLiveAttribute: 'expires_at',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.failureQueue = new sqs.Queue(this, 'FailureQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.failureQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is the on-failure destination of the compactor: descriptions of stream batches it could not archive wait here (alarmed); the records stay in the journal table.',
    });

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      encryptionKey: key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const role = functionRole(this, 'Role', {
      logGroup,
      inVpc: props.network !== undefined,
      description: 'embedgate archive compactor function',
      policyReason:
        "The role's policy is generated from least-privilege grants on the journal stream and the archive's records prefix; it belongs to this role alone.",
    });
    this.compactor = gatewayFunction(this, 'Compactor', {
      description: 'embedgate archive compactor: journaled session records to batch objects in the Object Lock bucket',
      bundle: 'compactor',
      ...(props.runtime ? { runtime: props.runtime } : {}),
      memorySize: 1024,
      timeout: Duration.minutes(5),
      ...(props.network ? { network: props.network } : {}),
      logGroup,
      role,
      environment: {
        [HANDLER_ENV.archiveBucket]: props.archive.bucket.bucketName,
        [HANDLER_ENV.archiveKeyArn]: key.keyArn,
        [HANDLER_ENV.journalTable]: this.table.tableName,
        POWERTOOLS_SERVICE_NAME: 'embedgate-compactor',
      },
    });
    this.table.grantStreamRead(this.compactor);
    // An intent whose grace period is over is journaled as its request's record (write-once, as the proxy).
    this.grantJournalWrite(this.compactor);
    props.archive.grantWrite(this.compactor);
    // A batch found already written (a retried invocation) is read back and compared.
    grantOnObjects(this.compactor, props.archive.bucket, perms.ARCHIVE_READ_OBJECT_ACTIONS, RECORDS_PREFIX);
    props.archive.encryptionKey.grant(this.compactor, 'kms:Decrypt');
    Validations.of(this.compactor).acknowledge({
      id: 'NIST.800.53.R5-LambdaConcurrency',
      reason: 'Invoked by the journal stream only: one invocation per shard at a time.',
    });
    Validations.of(this.compactor).acknowledge({
      id: 'NIST.800.53.R5-LambdaDLQ',
      reason: 'A stream-invoked function: failures go to the event source mapping’s on-failure destination (FailureQueue), not a DLQ.',
    });

    Validations.of(this.table).acknowledge({
      id: 'NIST.800.53.R5-DynamoDBInBackupPlan',
      reason:
        'The journal is a short-lived write-ahead buffer (items expire after journalRetention); its records are kept in the Object Lock archive, and the table has point-in-time recovery.',
    });

    this.compactor.addEventSource(
      new sources.DynamoEventSource(this.table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize,
        maxBatchingWindow: window,
        retryAttempts: 10,
        bisectBatchOnError: true,
        maxRecordAge: Duration.days(1),
        onFailure: new sources.SqsDlq(this.failureQueue),
        // Inserts (records and intents), and the TTL removals of intents (their completion); not the
        // removals of records, long archived by then.
        filters: [
          lambda.FilterCriteria.filter({ eventName: lambda.FilterRule.isEqual('INSERT') }),
          lambda.FilterCriteria.filter({
            eventName: lambda.FilterRule.isEqual('REMOVE'),
            dynamodb: { OldImage: { kind: { S: lambda.FilterRule.isEqual('intent') } } },
          }),
        ],
      }),
    );

    this.maxArchiveLag = props.maxArchiveLag ?? Duration.minutes(15);
  }

  /**
   * Create the journal's alarms (the gateway does when its `alarms` prop is on): the age of the
   * oldest journaled record not yet archived over `maxArchiveLag`, and any batch given up.
   */
  public createAlarms(topic?: sns.ITopic): cloudwatch.Alarm[] {
    this.alarms.push(
      ...alarmsFor(
        this,
        [
          {
            id: 'ArchiveLag',
            metric: this.metricArchiveLag(),
            threshold: this.maxArchiveLag.toMilliseconds(),
            description:
              'The oldest journaled session record not yet archived is older than the allowed lag (compactor failing or throttled).',
          },
          {
            id: 'BatchesGivenUp',
            metric: this.failureQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
            threshold: 1,
            description:
              'The compactor gave up on a batch of journaled records (see the failure queue; the records stay in the journal table).',
          },
        ],
        topic,
      ),
    );
    return this.alarms;
  }

  /** Age of the oldest journaled record not yet archived (the stream iterator age), ms. @default maximum over 1 minute */
  public metricArchiveLag(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.compactor.metric('IteratorAge', { statistic: 'Maximum', period: Duration.minutes(1), ...props });
  }

  /**
   * Lets `grantee` journal records: `dynamodb:PutItem` on the table (conditional, write-once by
   * session id; no update, no delete), `dynamodb:GetItem` (to tell an SDK retry of its own write
   * from a conflict) and the key actions DynamoDB needs to encrypt the item.
   */
  public grantJournalWrite(grantee: iam.IGrantable): iam.Grant {
    const put = iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:PutItem', 'dynamodb:GetItem'],
      resourceArns: [this.table.tableArn],
    });
    return put.combine(this.table.encryptionKey!.grant(grantee, 'kms:Decrypt', ...perms.KEY_WRITE_ACTIONS));
  }

  /** Lets `grantee` read the journal for verification (`embedgate audit verify --journal-table`): Scan and decrypt. */
  public grantJournalRead(grantee: iam.IGrantable): iam.Grant {
    const scan = iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:Scan', 'dynamodb:DescribeTable'],
      resourceArns: [this.table.tableArn],
    });
    return scan.combine(this.table.encryptionKey!.grant(grantee, 'kms:Decrypt'));
  }

  /** The table name, for `embedgate audit verify --journal-table`. */
  public get tableName(): string {
    return this.table.tableName;
  }

  /** The region of the table (for the CLI). */
  public get region(): string {
    return Stack.of(this).region;
  }
}
