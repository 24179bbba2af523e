/**
 * Every IAM action the session archive grants or denies, in one place (compare aws-s3's perms.ts).
 *
 * What is NOT here on purpose: no s3:Delete*, s3:PutObjectRetention,
 * s3:PutBucketObjectLockConfiguration, s3:BypassGovernanceRetention or s3:PutLifecycleConfiguration
 * is ever granted by this library. `test/support/policy-scan.ts` checks the synthesized stack.
 */

/** Writing one session record: a new object under `sessions/`. Nothing else (no overwrite via ACL, no delete). */
export const ARCHIVE_WRITE_ACTIONS = ['s3:PutObject'];

/** KMS, to write SSE-KMS objects (S3 asks for a data key under the writer's identity). */
export const KEY_WRITE_ACTIONS = ['kms:GenerateDataKey', 'kms:Encrypt'];

/** Athena, on the archive's workgroup only. */
export const ATHENA_QUERY_ACTIONS = [
  'athena:StartQueryExecution',
  'athena:GetQueryExecution',
  'athena:GetQueryResults',
  'athena:StopQueryExecution',
  'athena:GetWorkGroup',
  'athena:GetNamedQuery',
  'athena:ListNamedQueries',
];

/** Glue Data Catalog reads that Athena makes on the caller's behalf (catalog, database, table). */
export const GLUE_READ_ACTIONS = ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions'];

/** Reading the archive through Athena: list the `sessions/` prefix, get the records. */
export const ARCHIVE_READ_BUCKET_ACTIONS = ['s3:ListBucket', 's3:GetBucketLocation'];
export const ARCHIVE_READ_OBJECT_ACTIONS = ['s3:GetObject'];

/** Athena writing and reading query results in the results bucket (no delete: lifecycle expires them). */
export const RESULTS_BUCKET_ACTIONS = ['s3:ListBucket', 's3:GetBucketLocation', 's3:ListBucketMultipartUploads'];
export const RESULTS_OBJECT_ACTIONS = ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'];

/** The audit digest function's use of its asymmetric signing key (sign; read the public key for its fingerprint). */
export const DIGEST_SIGN_ACTIONS = ['kms:Sign', 'kms:GetPublicKey'];

/** Verifying digests: the signing key's public key, or KMS's own verification. */
export const DIGEST_VERIFY_ACTIONS = ['kms:GetPublicKey', 'kms:Verify'];

/** KMS, to read the archive and to read and write encrypted query results. */
export const KEY_AUDIT_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'];

/**
 * Denied to every principal in the archive bucket policy. CloudFormation never calls these on an
 * archive bucket, so stack updates keep working.
 * - DeleteObject/DeleteObjectVersion: Object Lock refuses to delete a locked version, but a plain
 *   DeleteObject still adds a delete marker, which hides the record from Athena. Denying it keeps
 *   every record visible.
 * - PutObjectRetention/BypassGovernanceRetention: no per-object shortening, in either mode.
 */
export const DENIED_OBJECT_ACTIONS: readonly string[] = [
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  's3:PutObjectRetention',
  's3:BypassGovernanceRetention',
];

/**
 * Denied to every principal on the archive's own KMS key (a key this library creates, never an
 * imported one): scheduling the deletion of the key would make every record unreadable.
 */
export const DENIED_KEY_ACTIONS = ['kms:ScheduleKeyDeletion'];
