import { ArnFormat, Duration, Names, Size, Stack, Validations } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { AUDIT_QUERIES, exampleParams, renderAthena, type AuditQuery } from '../shared/audit-queries';
import { ArchiveRetention } from './archive-retention';
import {
  acknowledgeObjectWildcard,
  denyRecordTampering,
  grantOnBucket,
  grantOnObjects,
  logAccessTo,
  SECURE_BUCKET_PROPS,
} from './private/archive-buckets';
import { retainedKey } from './private/keys';
import * as perms from './private/archive-perms';
import { RECORDS_PREFIX, sessionTableInput } from './private/archive-table';
import { CT_RULES } from './private/control-tower';
import {
  checkCatalogName,
  checkProjectionStart,
  checkTransitions,
  checkWorkGroupName,
  cutoffBytes,
  wholeDays,
} from './private/archive-validation';

/** Properties of a `SessionArchive`. */
export interface SessionArchiveProps {
  /**
   * S3 Object Lock default retention of every record.
   *
   * @default ArchiveRetention.compliance(Duration.days(365))
   */
  readonly retention?: ArchiveRetention;

  /**
   * KMS key that encrypts the records and the Athena query results.
   *
   * @default - a new customer-managed key with yearly rotation, retained when the stack is deleted,
   * whose key policy denies `kms:ScheduleKeyDeletion` to every principal
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * Age at which records move to S3 Standard-IA. At least 30 days (an S3 rule).
   *
   * Lifecycle transitions only move objects of 128 KB or more (`transitionDefaultMinimumObjectSize`):
   * below that, Standard-IA and Glacier Instant Retrieval bill 128 KB per object and would cost more
   * than Standard. A schema v1 record is one small object, so in practice records stay in Standard
   * until a compaction job writes larger objects.
   *
   * @default Duration.days(30)
   */
  readonly infrequentAccessTransitionAfter?: Duration;

  /**
   * Age at which records move to S3 Glacier Instant Retrieval, at least 30 days after
   * `infrequentAccessTransitionAfter`.
   *
   * Glacier Instant Retrieval, not Glacier Flexible Retrieval or Deep Archive: Athena reads Instant
   * Retrieval objects directly (milliseconds, no restore), so every audit query keeps working over
   * the whole retention period; the colder classes need a restore job before a query sees them.
   *
   * @default Duration.days(90)
   */
  readonly glacierTransitionAfter?: Duration;

  /**
   * How long the access-log bucket keeps the server access logs of the archive and results buckets.
   *
   * @default Duration.days(365)
   */
  readonly accessLogsRetention?: Duration;

  /**
   * Glue database name (lower-case letters, digits, underscores).
   *
   * @default - derived from the construct path, unique per stack
   */
  readonly databaseName?: string;

  /**
   * Glue table name (lower-case letters, digits, underscores).
   *
   * @default 'sessions' (unique because the default database is)
   */
  readonly tableName?: string;

  /**
   * Athena workgroup name.
   *
   * @default - derived from the construct path, unique per stack
   */
  readonly workGroupName?: string;

  /**
   * How long Athena query results are kept in the results bucket.
   *
   * @default Duration.days(30)
   */
  readonly queryResultsExpiration?: Duration;

  /**
   * Athena cancels a query of the workgroup that scans more than this. At least 10 MB.
   *
   * @default Size.gibibytes(10)
   */
  readonly bytesScannedCutoffPerQuery?: Size;

  /**
   * First day (`YYYY-MM-DD`, UTC) of the `dt` partition projection. Records started before it are
   * invisible to Athena. A query always bounds `dt`, so an early date costs nothing.
   *
   * @default '2026-01-01' (before any schema v1 record)
   */
  readonly projectionStartDate?: string;

  /**
   * Refuse, in the bucket policy, every `PutObject` that does not carry `If-None-Match: *`:
   * a record can be created once and never replaced by a newer version under the same key (which
   * Athena would read instead of the original). Writers must send `IfNoneMatch: '*'` (AWS SDK v3)
   * and use single-part uploads (multipart parts cannot carry the header).
   *
   * @default true
   */
  readonly enforceWriteOnce?: boolean;
}

const DEFAULT_PROJECTION_START = '2026-01-01';
const RESULTS_PREFIX = 'results/';

/**
 * The immutable archive of session records and the means to audit it:
 *
 * - an S3 bucket with Object Lock (default retention from `retention`), versioning, SSE-KMS with a
 *   customer-managed key, no public access, TLS 1.2+ only, server access logs, lifecycle
 *   transitions, and a bucket policy that denies deletes, retention changes, other encryption
 *   and (by default) overwrites to every principal;
 * - a Glue database and table (schema v1, JSON, partition projection on `dt`/`hr`);
 * - an Athena workgroup with enforced settings, encrypted results in their own bucket, a
 *   per-query scan limit, and the named audit queries of `shared/audit-queries.ts`.
 *
 * Writers get `grantWrite` (PutObject under `sessions/`, nothing else); auditors get
 * `grantAuditQuery`. Nothing in this construct grants delete, retention or lock-configuration
 * permissions to anyone.
 */
export class SessionArchive extends Construct {
  /** The Object Lock bucket holding the records, under `sessions/dt=YYYY-MM-DD/hr=HH/`. */
  public readonly bucket: s3.IBucket;
  /** Receives the server access logs of `bucket` and `resultsBucket` (SSE-S3, as log delivery requires). */
  public readonly accessLogsBucket: s3.IBucket;
  /** Athena query results of the workgroup (SSE-KMS, expiring). */
  public readonly resultsBucket: s3.IBucket;
  /** Encrypts the records and the query results. */
  public readonly encryptionKey: kms.IKey;
  /** Object Lock retention applied to every record. */
  public readonly retention: ArchiveRetention;
  /** Glue database of the archive table. */
  public readonly database: glue.CfnDatabase;
  /** Glue table over `sessions/`: schema v1 columns, JSON SerDe, partition projection on `dt` and `hr`. */
  public readonly table: glue.CfnTable;
  /** Name of `database`. */
  public readonly databaseName: string;
  /** Name of `table`. */
  public readonly tableName: string;
  /** Athena workgroup for audit queries (enforced settings, encrypted results, scan cutoff). */
  public readonly workGroup: athena.CfnWorkGroup;
  /** Name of `workGroup`. */
  public readonly workGroupName: string;
  /** One named query per entry of `AUDIT_QUERIES`, in that order. */
  public readonly namedQueries: athena.CfnNamedQuery[];

  constructor(scope: Construct, id: string, props: SessionArchiveProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);

    this.retention = props.retention ?? ArchiveRetention.compliance(Duration.days(365));
    const toInfrequentAccess = props.infrequentAccessTransitionAfter ?? Duration.days(30);
    const toGlacier = props.glacierTransitionAfter ?? Duration.days(90);
    checkTransitions(
      wholeDays('infrequentAccessTransitionAfter', toInfrequentAccess, 1),
      wholeDays('glacierTransitionAfter', toGlacier, 1),
    );
    const accessLogsRetention = props.accessLogsRetention ?? Duration.days(365);
    wholeDays('accessLogsRetention', accessLogsRetention, 1);
    const resultsExpiration = props.queryResultsExpiration ?? Duration.days(30);
    wholeDays('queryResultsExpiration', resultsExpiration, 1);
    const cutoff = cutoffBytes(props.bytesScannedCutoffPerQuery ?? Size.gibibytes(10));
    const projectionStart = props.projectionStartDate ?? DEFAULT_PROJECTION_START;
    checkProjectionStart(projectionStart);

    this.databaseName = props.databaseName ?? Names.uniqueResourceName(this, { maxLength: 64, separator: '_' }).toLowerCase();
    checkCatalogName('databaseName', this.databaseName);
    this.tableName = props.tableName ?? 'sessions';
    checkCatalogName('tableName', this.tableName);
    this.workGroupName = props.workGroupName ?? Names.uniqueResourceName(this, { maxLength: 128, separator: '-' });
    checkWorkGroupName(this.workGroupName);

    this.encryptionKey = props.encryptionKey ?? this.createKey();

    const accessLogs = new s3.Bucket(this, 'AccessLogsBucket', {
      ...SECURE_BUCKET_PROPS,
      // S3 server access log delivery writes only to SSE-S3 buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      lifecycleRules: [
        {
          id: 'ExpireAccessLogs',
          expiration: accessLogsRetention,
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    Validations.of(accessLogs).acknowledge(
      { id: 'AwsSolutions-S1', reason: 'This is the server access log bucket of the archive; logging it into itself would loop.' },
      {
        id: 'NIST.800.53.R5-S3BucketLoggingEnabled',
        reason: 'This is the server access log bucket of the archive; logging it into itself would loop.',
      },
      {
        id: 'NIST.800.53.R5-S3DefaultEncryptionKMS',
        reason: 'S3 server access log delivery supports only SSE-S3 on the destination bucket.',
      },
      // Control Tower (docs/control-tower.md): the same two reasons.
      {
        id: CT_RULES.s3Logging,
        reason: 'CT.S3.PR.2: this is the server access log bucket of the archive; logging it into itself would loop.',
      },
      {
        id: CT_RULES.s3Kms,
        reason: 'CT.S3.PR.10: S3 server access log delivery supports only SSE-S3 on the destination bucket.',
      },
    );
    this.accessLogsBucket = accessLogs;

    const archive = this.createArchiveBucket(toInfrequentAccess, toGlacier, props.enforceWriteOnce ?? true);
    logAccessTo(archive, accessLogs, 'archive/');
    this.bucket = archive;

    const results = new s3.Bucket(this, 'ResultsBucket', {
      ...SECURE_BUCKET_PROPS,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.encryptionKey,
      bucketKeyEnabled: true,
      lifecycleRules: [
        {
          id: 'ExpireQueryResults',
          expiration: resultsExpiration,
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    logAccessTo(results, accessLogs, 'results/');
    Validations.of(results).acknowledge({
      id: 'NIST.800.53.R5-S3BucketReplicationEnabled',
      reason: 'Athena query results are transient (they expire) and can be produced again by re-running the query over the archive.',
    });
    this.resultsBucket = results;

    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: stack.account,
      databaseInput: { name: this.databaseName, description: 'embedgate session archive' },
    });
    this.table = new glue.CfnTable(this, 'Table', {
      catalogId: stack.account,
      databaseName: this.databaseName,
      tableInput: sessionTableInput({ tableName: this.tableName, bucketName: archive.bucketName, projectionStartDate: projectionStart }),
    });
    this.table.addResourceDependency(this.database);

    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: this.workGroupName,
      description: 'embedgate audit queries over the session archive',
      state: 'ENABLED',
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: cutoff,
        requesterPaysEnabled: false,
        engineVersion: { selectedEngineVersion: 'AUTO' },
        resultConfiguration: {
          outputLocation: results.s3UrlForObject(RESULTS_PREFIX),
          expectedBucketOwner: stack.account,
          encryptionConfiguration: { encryptionOption: 'SSE_KMS', kmsKey: this.encryptionKey.keyArn },
        },
      },
    });

    this.namedQueries = AUDIT_QUERIES.map((q) => this.createNamedQuery(q));
  }

  /**
   * Lets `grantee` write session records: `s3:PutObject` on `sessions/*` and the KMS data-key
   * actions S3 needs for SSE-KMS. Nothing else: no read, no delete, no retention change.
   */
  public grantWrite(grantee: iam.IGrantable): iam.Grant {
    // Wildcard: one object per session, named by its date, hour and session id.
    const put = grantOnObjects(grantee, this.bucket, perms.ARCHIVE_WRITE_ACTIONS, RECORDS_PREFIX);
    acknowledgeObjectWildcard(
      grantee,
      this.bucket,
      RECORDS_PREFIX,
      'The gateway writes one object per session, named by date, hour and session id.',
    );
    return put.combine(this.encryptionKey.grant(grantee, ...perms.KEY_WRITE_ACTIONS));
  }

  /**
   * Lets `grantee` run the audit queries: Athena on this workgroup only, Glue reads of this
   * database and table, read access to the records, read and write access to the query results,
   * and decrypt / data-key use of the key. No delete anywhere.
   */
  public grantAuditQuery(grantee: iam.IGrantable): iam.Grant {
    const stack = Stack.of(this);
    const athenaGrant = iam.Grant.addToPrincipal({
      grantee,
      actions: perms.ATHENA_QUERY_ACTIONS,
      resourceArns: [stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: this.workGroupName })],
    });
    const glueGrant = iam.Grant.addToPrincipal({
      grantee,
      actions: perms.GLUE_READ_ACTIONS,
      resourceArns: [
        // Glue authorizes a table read against the catalog, the database and the table.
        stack.formatArn({ service: 'glue', resource: 'catalog', arnFormat: ArnFormat.NO_RESOURCE_NAME }),
        stack.formatArn({ service: 'glue', resource: 'database', resourceName: this.databaseName }),
        stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${this.databaseName}/${this.tableName}` }),
      ],
    });
    const listArchive = grantOnBucket(grantee, this.bucket, perms.ARCHIVE_READ_BUCKET_ACTIONS);
    // Wildcard: every record, one object per session.
    const readArchive = grantOnObjects(grantee, this.bucket, perms.ARCHIVE_READ_OBJECT_ACTIONS, RECORDS_PREFIX);
    const listResults = grantOnBucket(grantee, this.resultsBucket, perms.RESULTS_BUCKET_ACTIONS);
    // Wildcard: Athena names each result object by its query execution id.
    const useResults = grantOnObjects(grantee, this.resultsBucket, perms.RESULTS_OBJECT_ACTIONS, RESULTS_PREFIX);
    const key = this.encryptionKey.grant(grantee, ...perms.KEY_AUDIT_ACTIONS);
    acknowledgeObjectWildcard(grantee, this.bucket, RECORDS_PREFIX, 'Audit queries read every record; there is one object per session.');
    acknowledgeObjectWildcard(
      grantee,
      this.resultsBucket,
      RESULTS_PREFIX,
      'Athena names each query result object by its query execution id.',
    );
    return [glueGrant, listArchive, readArchive, listResults, useResults, key].reduce((a, b) => a.combine(b), athenaGrant);
  }

  private createKey(): kms.IKey {
    const key = retainedKey(this, 'Key', 'embedgate session archive: records and audit query results');
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyKeyDeletion',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: perms.DENIED_KEY_ACTIONS,
        // In a key policy, "*" is the key itself.
        resources: ['*'],
      }),
    );
    return key;
  }

  private createArchiveBucket(toInfrequentAccess: Duration, toGlacier: Duration, writeOnce: boolean): s3.Bucket {
    const bucket = new s3.Bucket(this, 'Bucket', {
      ...SECURE_BUCKET_PROPS,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.encryptionKey,
      bucketKeyEnabled: true,
      blockedEncryptionTypes: [s3.BlockedEncryptionType.SSE_C],
      objectLockEnabled: true,
      transitionDefaultMinimumObjectSize: s3.TransitionDefaultMinimumObjectSize.ALL_STORAGE_CLASSES_128_K,
      lifecycleRules: [
        {
          id: 'TransitionRecords',
          // No expiration, ever: lifecycle expiry is not subject to the bucket policy and would add
          // delete markers that hide records from Athena.
          transitions: [
            { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: toInfrequentAccess },
            { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: toGlacier },
          ],
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    // Object Lock default retention on the L1: s3.ObjectLockRetention cannot take a token.
    (bucket.node.defaultChild as s3.CfnBucket).objectLockConfiguration = {
      objectLockEnabled: 'Enabled',
      rule: { defaultRetention: { mode: this.retention.mode, days: this.retention.duration.toDays() } },
    };
    denyRecordTampering(bucket, this.encryptionKey.keyArn, writeOnce);
    return bucket;
  }

  private createNamedQuery(q: AuditQuery): athena.CfnNamedQuery {
    const sample = exampleParams(q);
    const optional = q.params.filter((p) => p.optional);
    const header = [
      `-- embedgate audit query "${q.name}": ${q.title}`,
      `-- Sample values, replace them: ${q.params
        .filter((p) => !p.optional)
        .map((p) => `${p.name} = ${p.example}`)
        .join('; ')}`,
      ...(optional.length > 0
        ? [
            `-- Optional filters, CAST(NULL AS VARCHAR) = any; replace by a value to filter: ${optional.map((p) => `${p.name} (e.g. ${p.example})`).join('; ')}`,
          ]
        : []),
      '-- The period is [since, until), UTC; since and until take a date (YYYY-MM-DD) or an ISO-8601 instant.',
    ].join('\n');
    const id = q.name
      .split('-')
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
      .join('');
    const query = new athena.CfnNamedQuery(this, `Query${id}`, {
      name: q.name,
      description: `${q.title}. ${q.description}`.slice(0, 1024),
      database: this.databaseName,
      workGroup: this.workGroup.ref,
      queryString: `${header}\n${renderAthena(q, { database: this.databaseName, table: this.tableName, params: sample })}`,
    });
    query.addResourceDependency(this.table);
    return query;
  }
}
