/**
 * The digest Lambda's entry (bundled into assets/digest/index.mjs): every hour (EventBridge),
 * the next digest of the session archive, signed with the KMS key, written under `digests/`.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { HANDLER_ENV } from '../../shared/contract';
import { systemClock } from '../core/ids';
import { KmsSigner } from '../adapters/aws/kms-signer';
import { S3Objects } from '../adapters/aws/s3-objects';
import { requiredEnv } from './env';
import { createDigestHandler } from './digest';
import { logger } from './powertools';

function seconds(name: string): number {
  const n = Number(requiredEnv(name));
  if (!Number.isFinite(n) || n < 0) throw new Error(`environment variable ${name} must be a number of seconds, got ${process.env[name]}`);
  return n * 1000;
}

export const handler = createDigestHandler(
  {
    store: new S3Objects(new S3Client({}), {
      bucket: requiredEnv(HANDLER_ENV.archiveBucket),
      kmsKeyId: requiredEnv(HANDLER_ENV.archiveKeyArn),
    }),
    signer: new KmsSigner(new KMSClient({}), requiredEnv(HANDLER_ENV.digestSigningKey)),
    clock: systemClock,
    settleMs: seconds(HANDLER_ENV.digestSettleSeconds),
    lookbackMs: seconds(HANDLER_ENV.digestLookbackSeconds),
    maxPeriodMs: seconds(HANDLER_ENV.digestMaxPeriodSeconds),
  },
  { info: (message, extra) => logger.info({ message, ...extra }) },
);
