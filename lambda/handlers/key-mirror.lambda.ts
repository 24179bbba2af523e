/**
 * The key mirror's entry (bundled into assets/key-mirror/index.mjs): every minute (EventBridge),
 * each trusted issuer's discovery document and JWKS into the issuer-keys table the proxy reads
 * (see lambda/adapters/aws/issuer-keys.ts). Runs outside the VPC: it is the one function that
 * reaches the identity providers.
 */
import { HANDLER_ENV } from '../../shared/contract';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { putMirroredDocument } from '../adapters/aws/issuer-keys';
import { config } from './config.mjs';
import { requiredEnv } from './env';
import { mirrorIssuerKeys } from './key-mirror';
import { logger } from './powertools';

const dynamodb = new DynamoDBClient({});
const tableName = requiredEnv(HANDLER_ENV.issuerKeysTable);

export const handler = async (): Promise<{ mirrored: number; failed: number }> => {
  const report = await mirrorIssuerKeys({
    issuers: config.issuers,
    fetch: (url, init) => fetch(url, init),
    put: (d) => putMirroredDocument(dynamodb, tableName, d),
    now: Date.now,
  });
  for (const f of report.failed) logger.warn('issuer keys not mirrored', { issuer: f.issuer, error: f.error });
  // A run where no issuer could be mirrored fails (the function's errors are alarmed).
  if (report.mirrored.length === 0 && report.failed.length > 0)
    throw new Error(`no issuer mirrored: ${report.failed.map((f) => f.issuer).join(', ')}`);
  return { mirrored: report.mirrored.length, failed: report.failed.length };
};
