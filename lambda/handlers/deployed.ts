/**
 * What every Lambda entry of embedgate reads at start: the configuration document shipped next
 * to the bundle (with deploy-time references expanded from the environment), the required
 * environment variables, and the session archive (the journal, or S3 loaded as a chunk).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GatewayConfig } from '../../shared/config';
import { openShippedConfig } from '../../shared/config-runtime';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HANDLER_ENV } from '../../shared/contract';
import { DynamoDbJournal } from '../adapters/aws/dynamodb-journal';
import { once } from '../adapters/aws/lazy';
import type { Archive } from '../core/ports';
import { requiredEnv } from './env';

// Re-exported for the entries that import it from here; the digest entry imports ./env directly.
export { requiredEnv } from './env';

/**
 * The configuration of this deployment (`config.json` in the function's code): the normalised
 * document the construct validated and sealed at synth, checked and opened without the schema
 * (shared/config-runtime.ts). A document the runtime cannot vouch for that way (unsealed, from an
 * older construct; a deploy-time reference in a field with rules of its own) is validated by
 * `loadConfig`, whose chunk (zod) is then loaded, and only then. A document changed after synth
 * is refused: the function does not start.
 */
export async function deployedConfig(): Promise<GatewayConfig> {
  const root = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
  const shipped = openShippedConfig(JSON.parse(readFileSync(join(root, 'config.json'), 'utf8')), process.env);
  if (shipped.kind === 'checked') return shipped.config;
  return (await import('../../shared/config.js')).loadConfig(shipped.document);
}

/**
 * The session archive the construct gave this function: the write-ahead journal (a conditional
 * DynamoDB PutItem; the compactor moves records into the bucket in batches) when the construct set
 * `HANDLER_ENV.journalTable`, otherwise one S3 object per record.
 */
export function deployedArchive(): Archive {
  const journal = process.env[HANDLER_ENV.journalTable];
  if (journal) return new DynamoDbJournal(new DynamoDBClient({}), { tableName: journal });
  const bucket = requiredEnv(HANDLER_ENV.archiveBucket);
  const kmsKeyId = requiredEnv(HANDLER_ENV.archiveKeyArn);
  // The S3 client is a chunk of its own (about 100 KB that a journaling function never needs at
  // start); loading starts now, at init. A load that fails rejects the put: fail closed.
  const load = once(async () => (await import('../adapters/aws/s3-archive-client.js')).s3Archive(bucket, kmsKeyId));
  load().catch(() => undefined);
  return { put: async (record) => (await load()).put(record) };
}
