/**
 * The key mirror's entry (bundled into assets/key-mirror/index.mjs): every minute (EventBridge),
 * and on a proxy's refresh request (the table's stream, filtered to those items), each trusted
 * issuer's discovery document and JWKS into the issuer-keys table the proxy reads
 * (see lambda/adapters/aws/issuer-keys.ts). Runs outside the VPC: it is the one function that
 * reaches the identity providers.
 */
import { HANDLER_ENV } from '../../shared/contract';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { putMirroredDocument } from '../adapters/aws/issuer-keys';
import { config } from './config.mjs';
import { requiredEnv } from './env';
import { isRefreshStreamEvent, mirroredIssuers, mirrorIssuerKeys, refreshGate, requestedIssuers } from './key-mirror';
import { logger } from './powertools';

const dynamodb = new DynamoDBClient({});
const tableName = requiredEnv(HANDLER_ENV.issuerKeysTable);

const issuers = mirroredIssuers(config.issuers);
const gate = refreshGate();

const mirror = (subset: typeof issuers) =>
  mirrorIssuerKeys({
    issuers: subset,
    fetch: (url, init) => fetch(url, init),
    put: (d) => putMirroredDocument(dynamodb, tableName, d),
    now: Date.now,
  });

export const handler = async (event: unknown): Promise<{ mirrored: number; failed: number; skipped?: number; ignored?: number }> => {
  if (isRefreshStreamEvent(event)) {
    // A proxy's refresh request (an unknown kid): configured issuers only, rate-limited. Never
    // throws: a failed refresh is not retried by the stream (the schedule runs every minute).
    const requested = requestedIssuers(event, issuers);
    if (requested.ignored.length > 0) logger.warn('refresh requests for no configured issuer ignored', { keys: requested.ignored });
    const { due, skipped } = gate(requested.issuers, Date.now());
    const report = await mirror(due);
    for (const f of report.failed) logger.warn('issuer keys not refreshed', { issuer: f.issuer, error: f.error });
    logger.info('issuer keys refreshed on request', { mirrored: report.mirrored, skipped });
    return { mirrored: report.mirrored.length, failed: report.failed.length, skipped: skipped.length, ignored: requested.ignored.length };
  }
  const report = await mirror(issuers);
  for (const f of report.failed) logger.warn('issuer keys not mirrored', { issuer: f.issuer, error: f.error });
  // A run where no issuer could be mirrored fails (the function's errors are alarmed).
  if (report.mirrored.length === 0 && report.failed.length > 0)
    throw new Error(`no issuer mirrored: ${report.failed.map((f) => f.issuer).join(', ')}`);
  return { mirrored: report.mirrored.length, failed: report.failed.length };
};
