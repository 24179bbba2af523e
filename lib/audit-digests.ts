import { CfnOutput, Duration, Names, RemovalPolicy, Size, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { HANDLER_ENV } from '../shared/contract';
import type { GatewayNetwork } from './gateway-network';
import { logsKey } from './private/keys';
import { acknowledgeObjectWildcard, grantOnBucket, grantOnObjects } from './private/archive-buckets';
import * as perms from './private/archive-perms';
import { RECORDS_PREFIX } from './private/archive-table';
import { gatewayFunction } from './private/gateway-function';
import { archiveEnvironment } from './private/handler-environment';
import type { SessionArchive } from './session-archive';
import { functionRole } from './private/function-role';

/** Key prefix of the digests in the archive bucket (see lambda/core/audit/digest.ts). */
const DIGESTS_PREFIX = 'digests/';

/** Properties of `AuditDigests`. */
export interface AuditDigestsProps {
  /** The archive whose records are digested; digests go to its bucket under `digests/`, under the same Object Lock. */
  readonly archive: SessionArchive;

  /**
   * Run the digest function in this network (its VPC, subnets and Lambda security group). It
   * needs S3 (gateway endpoint) and KMS (interface endpoint), which every `GatewayNetwork` has.
   *
   * @default - outside any VPC: the function calls only S3 and KMS, over TLS, with its own role
   */
  readonly network?: GatewayNetwork;

  /**
   * The asymmetric KMS key that signs the digests: key spec `ECC_NIST_P256`, key usage
   * `SIGN_VERIFY` (signing algorithm `ECDSA_SHA_256`).
   *
   * @default - a new key of that spec, retained when the stack is deleted, whose key policy denies
   * `kms:ScheduleKeyDeletion` to everyone and `kms:Sign` to every principal but the digest function
   */
  readonly signingKey?: kms.IKey;

  /**
   * When the digest function runs. Each run digests every whole hour that ended at least
   * `settleTime` ago and is not digested yet (at most `maxPeriod` of them).
   *
   * @default events.Schedule.cron({ minute: '20' }) (hourly, 20 minutes past the hour)
   */
  readonly schedule?: events.Schedule;

  /**
   * How long after an hour ends before it is digested: records of an hour may still arrive (a
   * request in flight, the edge recorder's access-log delivery and retries).
   *
   * @default Duration.minutes(15)
   */
  readonly settleTime?: Duration;

  /**
   * How far back each run looks for late records: records of already digested hours that reached
   * the archive after their digest was built. They go into the next digest's `late` list. A
   * record later than this is reported by `embedgate audit verify` as inserted. Each hour of
   * lookback costs one more hour of ListObjectsV2 per run.
   *
   * @default Duration.hours(6)
   */
  readonly lateRecordLookback?: Duration;

  /**
   * The longest period one digest covers (whole hours): when the function is behind (a first run
   * over an existing archive, a stopped schedule), each run catches up this much.
   *
   * @default Duration.hours(24)
   */
  readonly maxPeriod?: Duration;

  /**
   * Memory of the digest function (it holds the previous digest and the listing of the period).
   *
   * @default Size.mebibytes(1024)
   */
  readonly memorySize?: Size;

  /**
   * Timeout of the digest function.
   *
   * @default Duration.minutes(15)
   */
  readonly timeout?: Duration;

  /**
   * Lambda runtime of the digest function (Node.js 22 or later).
   *
   * @default lambda.Runtime.NODEJS_24_X
   */
  readonly runtime?: lambda.Runtime;

  /**
   * Retention of the digest function's log group.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Key encrypting the digest function's log group. Its key policy must allow the region's
   * CloudWatch Logs service principal to use it.
   *
   * @default - a new customer-managed key with rotation
   */
  readonly logEncryptionKey?: kms.IKey;
}

/**
 * Tamper evidence for a `SessionArchive`, like CloudTrail's digest files: every hour a function
 * lists the records of the hour just settled, hashes each object, and writes a digest
 * (`digests/dt=YYYY-MM-DD/hr=HH.json`: every record key with its SHA-256 and seal, the period,
 * counts, and the key and SHA-256 of the previous digest), signed with an asymmetric KMS key,
 * write-once into the archive bucket under its Object Lock. `embedgate audit verify --bucket`
 * checks records against digests, the chain and the signatures.
 *
 * The function may read the records and digests, create objects under `digests/` only (never
 * replace or delete one), and sign with its key.
 *
 * @example
 * new AuditDigests(this, 'Digests', { archive: gateway.archive, network: gateway.network });
 */
export class AuditDigests extends Construct {
  /** The digest function. */
  public readonly function: lambda.Function;
  /** The asymmetric key that signs the digests (given or created). */
  public readonly signingKey: kms.IKey;
  /** The schedule rule that runs `function`. */
  public readonly rule: events.Rule;
  /** The function's log group. */
  public readonly logGroup: logs.ILogGroup;

  private readonly archive: SessionArchive;

  constructor(scope: Construct, id: string, props: AuditDigestsProps) {
    super(scope, id);
    this.archive = props.archive;
    const settle = props.settleTime ?? Duration.minutes(15);
    const lookback = props.lateRecordLookback ?? Duration.hours(6);
    const maxPeriod = props.maxPeriod ?? Duration.hours(24);
    const timeout = props.timeout ?? Duration.minutes(15);
    validate(settle, lookback, maxPeriod, timeout);

    const logKey = props.logEncryptionKey ?? this.createLogKey();
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      encryptionKey: logKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const role = functionRole(this, 'Role', {
      logGroup: this.logGroup,
      inVpc: props.network !== undefined,
      description: 'embedgate audit digest function',
      policyReason:
        "The role's policy is generated from least-privilege grants on this archive's bucket prefixes and keys; it belongs to this role alone and is not meant to be attached elsewhere.",
    });

    this.signingKey = props.signingKey ?? this.createSigningKey(role);

    this.function = gatewayFunction(this, 'Resource', {
      description: 'embedgate audit digests: hourly signed digest of the session archive',
      bundle: 'digest',
      ...(props.runtime ? { runtime: props.runtime } : {}),
      memorySize: (props.memorySize ?? Size.mebibytes(1024)).toMebibytes(),
      timeout,
      ...(props.network ? { network: props.network } : {}),
      logGroup: this.logGroup,
      role,
      environment: {
        ...archiveEnvironment(this.archive),
        [HANDLER_ENV.digestSigningKey]: this.signingKey.keyArn,
        [HANDLER_ENV.digestSettleSeconds]: String(settle.toSeconds()),
        [HANDLER_ENV.digestLookbackSeconds]: String(lookback.toSeconds()),
        [HANDLER_ENV.digestMaxPeriodSeconds]: String(maxPeriod.toSeconds()),
        [HANDLER_ENV.powertoolsServiceName]: Names.uniqueResourceName(this, { maxLength: 64 }),
      },
    });

    this.grantDigestWork(role);

    this.rule = new events.Rule(this, 'Schedule', {
      description: 'embedgate: build the next signed digest of the session archive',
      schedule: props.schedule ?? events.Schedule.cron({ minute: '20' }),
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 2, maxEventAge: Duration.hours(1) })],
    });

    new CfnOutput(this, 'SigningKeyArn', {
      description: 'KMS key that signs the archive digests (its public key verifies them: aws kms get-public-key)',
      value: this.signingKey.keyArn,
    });
    this.acknowledgeFindings(props.network !== undefined);
  }

  /**
   * Lets `grantee` verify the archive (`embedgate audit verify --bucket`): list and read the
   * records and digests, decrypt them, and read (`kms:GetPublicKey`) or use (`kms:Verify`) the
   * signing key's public half. No write anywhere.
   */
  public grantVerify(grantee: iam.IGrantable): iam.Grant {
    const bucket = this.archive.bucket;
    const list = grantOnBucket(grantee, bucket, perms.ARCHIVE_READ_BUCKET_ACTIONS);
    // Wildcards: one object per session, one digest per period.
    const read = grantOnObjects(grantee, bucket, perms.ARCHIVE_READ_OBJECT_ACTIONS, RECORDS_PREFIX, DIGESTS_PREFIX);
    acknowledgeObjectWildcard(grantee, bucket, RECORDS_PREFIX, 'Verification reads every record; there is one object per session.');
    acknowledgeObjectWildcard(grantee, bucket, DIGESTS_PREFIX, 'Verification reads every digest; there is one object per period.');
    return [
      read,
      this.archive.encryptionKey.grant(grantee, 'kms:Decrypt'),
      this.signingKey.grant(grantee, ...perms.DIGEST_VERIFY_ACTIONS),
    ].reduce((a, b) => a.combine(b), list);
  }

  /** Failed runs of the digest function. @default sum over 5 minutes */
  public metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.function.metricErrors({ statistic: 'Sum', ...props });
  }

  /** List and read records and digests, create digests (write-once, SSE-KMS), sign. */
  private grantDigestWork(role: iam.Role): void {
    const bucket = this.archive.bucket;
    grantOnBucket(role, bucket, perms.ARCHIVE_READ_BUCKET_ACTIONS);
    // Wildcards: every record of a period, one object per session; the previous digests.
    grantOnObjects(role, bucket, perms.ARCHIVE_READ_OBJECT_ACTIONS, RECORDS_PREFIX, DIGESTS_PREFIX);
    // Wildcard: one digest per period, named by its last hour; never under sessions/.
    grantOnObjects(role, bucket, perms.ARCHIVE_WRITE_ACTIONS, DIGESTS_PREFIX);
    this.archive.encryptionKey.grant(role, 'kms:Decrypt', ...perms.KEY_WRITE_ACTIONS);
    this.signingKey.grant(role, ...perms.DIGEST_SIGN_ACTIONS);
    acknowledgeObjectWildcard(
      role,
      bucket,
      RECORDS_PREFIX,
      'The digest function reads every record of a period; there is one object per session.',
    );
    acknowledgeObjectWildcard(
      role,
      bucket,
      DIGESTS_PREFIX,
      'The digest function reads the previous digests and writes one new digest per period, named by its last hour.',
    );
  }

  private createSigningKey(role: iam.IRole): kms.Key {
    const key = new kms.Key(this, 'SigningKey', {
      description: 'embedgate audit digests: signs the digest files of the session archive',
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      removalPolicy: RemovalPolicy.RETAIN,
    });
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
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenySigningByOthers',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:Sign'],
        resources: ['*'],
        // Only the digest function may sign: a digest signed by this key came from it.
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': role.roleArn } },
      }),
    );
    return key;
  }

  private createLogKey(): kms.Key {
    return logsKey(this, 'LogsKey', "embedgate audit digests: encrypts the digest function's log group");
  }

  private acknowledgeFindings(inVpc: boolean): void {
    Validations.of(this.function).acknowledge(
      {
        id: 'NIST.800.53.R5-LambdaDLQ',
        reason:
          'A failed run leaves nothing to replay: the next scheduled run starts where the last digest ended and covers the missed hours. Failures show in metricErrors().',
      },
      {
        id: 'NIST.800.53.R5-LambdaConcurrency',
        reason:
          'Invoked once an hour by its schedule; a concurrent run cannot write a second digest of a period (digests are created write-once, If-None-Match).',
      },
    );
    if (!inVpc) {
      Validations.of(this.function).acknowledge({
        id: 'NIST.800.53.R5-LambdaInsideVPC',
        reason:
          "No network was given: the function only calls S3 and KMS over TLS with its own least-privilege role, and accepts no inbound connections. Pass `network` to run it in the gateway's VPC.",
      });
    }
  }
}

function validate(settle: Duration, lookback: Duration, maxPeriod: Duration, timeout: Duration): void {
  const hours = (d: Duration) => d.toHours({ integral: false });
  if (!settle.isUnresolved() && settle.toSeconds() > 24 * 3600) {
    throw new Error(`AuditDigests: settleTime must be at most 24 hours, got ${settle.toHumanString()}`);
  }
  if (!lookback.isUnresolved() && hours(lookback) > 48) {
    throw new Error(
      `AuditDigests: lateRecordLookback must be at most 48 hours (each hour is listed on every run), got ${lookback.toHumanString()}`,
    );
  }
  if (!maxPeriod.isUnresolved() && (!Number.isInteger(hours(maxPeriod)) || hours(maxPeriod) < 1)) {
    throw new Error(
      `AuditDigests: maxPeriod must be a whole number of hours, at least 1, got ${maxPeriod.toHumanString()}; use Duration.hours(n)`,
    );
  }
  if (!timeout.isUnresolved() && (timeout.toSeconds() < 60 || timeout.toSeconds() > 900)) {
    throw new Error(`AuditDigests: timeout must be 1 to 15 minutes, got ${timeout.toHumanString()}`);
  }
}
