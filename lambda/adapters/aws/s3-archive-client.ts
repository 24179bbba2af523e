/**
 * The one-object-per-record S3 archive with its client, for the Lambda entries that write records
 * without the journal (`deployedArchive` loads this module with `import()`: a chunk of its own).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { S3Archive } from './s3-archive';

export function s3Archive(bucket: string, kmsKeyId: string): S3Archive {
  return new S3Archive(new S3Client({}), { bucket, kmsKeyId });
}
