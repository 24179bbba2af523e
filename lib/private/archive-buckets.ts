/**
 * Secure defaults shared by the archive's three buckets, the server-access-log wiring, and the
 * archive bucket's deny statements.
 */
import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { DENIED_OBJECT_ACTIONS } from './archive-perms';

/** Requests over TLS older than 1.2 are refused (bucket policy, `s3:TlsVersion`). */
export const MINIMUM_TLS_VERSION = 1.2;

/**
 * What every bucket of the archive gets: no public access, TLS-only (1.2 or newer), versioned,
 * ACLs disabled (bucket owner owns every object), kept when the stack is deleted.
 */
export const SECURE_BUCKET_PROPS = {
  blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
  enforceSSL: true,
  minimumTLSVersion: MINIMUM_TLS_VERSION,
  versioned: true,
  objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
  removalPolicy: RemovalPolicy.RETAIN,
} satisfies s3.BucketProps;

/**
 * Sends the server access logs of `source` to `target` under `prefix` (date-partitioned keys),
 * and lets the S3 logging service write there, for this source bucket and account only.
 *
 * Wired on the L1 rather than through `serverAccessLogsBucket`, whose behaviour depends on the
 * app's `@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy` feature flag: with the flag off it
 * switches the target to the LogDeliveryWrite ACL, which ACL-less (bucket-owner-enforced) buckets
 * cannot have. A bucket policy works the same in every app.
 */
export function logAccessTo(source: s3.Bucket, target: s3.Bucket, prefix: string): void {
  const cfn = source.node.defaultChild as s3.CfnBucket;
  cfn.loggingConfiguration = {
    destinationBucketName: target.bucketName,
    logFilePrefix: prefix,
    targetObjectKeyFormat: { partitionedPrefix: { partitionDateSource: 'EventTime' } },
  };
  target.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: `AllowAccessLogsFrom${source.node.id}`,
      effect: iam.Effect.ALLOW,
      principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
      actions: ['s3:PutObject'],
      // Wildcard: the logging service names each log object itself (date partitions, random suffix).
      resources: [target.arnForObjects(`${prefix}*`)],
      conditions: {
        ArnLike: { 'aws:SourceArn': source.bucketArn },
        StringEquals: { 'aws:SourceAccount': Stack.of(source).account },
      },
    }),
  );
}

const deny = (sid: string, actions: string[], resource: string, conditions?: Record<string, Record<string, unknown>>) =>
  new iam.PolicyStatement({
    sid,
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions,
    resources: [resource],
    conditions,
  });

/**
 * The archive bucket's deny statements, for every principal (the account root included).
 *
 * None of them touches an action CloudFormation performs on the bucket (PutBucketPolicy,
 * PutBucketLifecycleConfiguration, PutBucketObjectLockConfiguration, ...), so stack updates keep
 * working, including changes of retention or transitions; those bucket-level actions are instead
 * never granted (and checked by test/support/policy-scan.ts).
 */
export function denyRecordTampering(bucket: s3.Bucket, keyArn: string, writeOnce: boolean): void {
  const objects = bucket.arnForObjects('*');
  // Object Lock already refuses to delete a locked version; a plain DeleteObject would still add a
  // delete marker that hides the record from Athena. No per-object retention change in any mode.
  bucket.addToResourcePolicy(deny('DenyRecordDeletionAndRetentionChanges', [...DENIED_OBJECT_ACTIONS], objects));
  // With default SSE-KMS a writer may omit the encryption headers; if it sends them, they must
  // name aws:kms and this key. (`Null: false` = the header is present: negated operators are true
  // for a missing key, which would otherwise deny every header-less write.)
  bucket.addToResourcePolicy(
    deny('DenyOtherEncryption', ['s3:PutObject'], objects, {
      StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' },
      Null: { 's3:x-amz-server-side-encryption': 'false' },
    }),
  );
  bucket.addToResourcePolicy(
    deny('DenyOtherKmsKey', ['s3:PutObject'], objects, {
      StringNotEquals: { 's3:x-amz-server-side-encryption-aws-kms-key-id': keyArn },
      Null: { 's3:x-amz-server-side-encryption-aws-kms-key-id': 'false' },
    }),
  );
  if (writeOnce) {
    // A conditional write (`If-None-Match: *`) creates a key once; without the header a PutObject
    // could add a newer version under an existing key, which Athena would read instead.
    bucket.addToResourcePolicy(deny('DenyOverwrites', ['s3:PutObject'], objects, { Null: { 's3:if-none-match': 'true' } }));
  }
}

/**
 * The object-key wildcards of the archive's grants are inherent to its layout (one object per
 * session or per query): acknowledge exactly that cdk-nag finding (AwsSolutions-IAM5 for
 * `<bucket>.Arn/<prefix>*`) on the grantee, when the grantee is a construct. Any other wildcard
 * on the grantee is still reported.
 */
export function acknowledgeObjectWildcard(grantee: iam.IGrantable, bucket: s3.IBucket, prefix: string, reason: string): void {
  const principal = grantee.grantPrincipal;
  const cfnBucket = bucket.node.defaultChild;
  if (!Construct.isConstruct(principal) || !(cfnBucket instanceof s3.CfnBucket)) return;
  const logicalId = Stack.of(bucket).getLogicalId(cfnBucket);
  Validations.of(principal).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/${prefix}*]`, reason });
}

/** `actions` on `bucket` itself (listing, location), in the grantee's policy or the bucket's. */
export function grantOnBucket(grantee: iam.IGrantable, bucket: s3.IBucket, actions: string[]): iam.Grant {
  return iam.Grant.addToPrincipalOrResource({ grantee, actions, resourceArns: [bucket.bucketArn], resource: bucket });
}

/**
 * `actions` on every object of `bucket` under each of `prefixes` (an object-key wildcard: the caller
 * says why, and acknowledges it with `acknowledgeObjectWildcard`), in the grantee's policy or the bucket's.
 */
export function grantOnObjects(grantee: iam.IGrantable, bucket: s3.IBucket, actions: string[], ...prefixes: string[]): iam.Grant {
  return iam.Grant.addToPrincipalOrResource({
    grantee,
    actions,
    resourceArns: prefixes.map((p) => bucket.arnForObjects(`${p}*`)),
    resource: bucket,
  });
}
