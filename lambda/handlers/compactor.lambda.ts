/**
 * The compactor Lambda's entry (bundled into assets/compactor/index.mjs): DynamoDB Streams of the
 * journal table, batched by a window, to batch objects in the session archive bucket.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { S3Objects } from '../adapters/aws/s3-objects';
import { requiredEnv } from './env';
import { createCompactorHandler } from './compactor';
import { logger } from './powertools';

export const handler = createCompactorHandler(
  new S3Objects(new S3Client({}), {
    bucket: requiredEnv('EMBEDGATE_ARCHIVE_BUCKET'),
    kmsKeyId: requiredEnv('EMBEDGATE_ARCHIVE_KEY_ARN'),
  }),
  { info: (message, extra) => logger.info({ message, ...extra }), error: (message, extra) => logger.error({ message, ...extra }) },
);
