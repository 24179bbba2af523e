/**
 * The compactor Lambda's entry (bundled into assets/compactor/index.mjs): DynamoDB Streams of the
 * journal table, batched by a window, to batch objects in the session archive bucket.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { HANDLER_ENV } from '../../shared/contract';
import { DynamoDbJournal } from '../adapters/aws/dynamodb-journal';
import { S3Objects } from '../adapters/aws/s3-objects';
import { requiredEnv } from './env';
import { createCompactorHandler } from './compactor';
import { logger } from './powertools';

export const handler = createCompactorHandler(
  new S3Objects(new S3Client({}), {
    bucket: requiredEnv(HANDLER_ENV.archiveBucket),
    kmsKeyId: requiredEnv(HANDLER_ENV.archiveKeyArn),
  }),
  { info: (message, extra) => logger.info({ message, ...extra }), error: (message, extra) => logger.error({ message, ...extra }) },
  // Expired intents are completed in the journal they came from.
  new DynamoDbJournal(new DynamoDBClient({}), { tableName: requiredEnv(HANDLER_ENV.journalTable) }),
);
