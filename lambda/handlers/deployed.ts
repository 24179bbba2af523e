/**
 * What every Lambda entry of embedgate reads at start: the configuration document shipped next
 * to the bundle (with deploy-time references expanded from the environment), the required
 * environment variables, and the S3 archive.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { expandEnvRefs, loadConfig, type GatewayConfig } from '../../shared/config';
import { S3Archive } from '../adapters/aws/s3-archive';
import { requiredEnv } from './env';

// Re-exported for the entries that import it from here; the digest entry imports ./env directly,
// since this module also pulls in the configuration schema (zod).
export { requiredEnv } from './env';

/** The configuration document of this deployment (`config.json` in the function's code). */
export function deployedConfig(): GatewayConfig {
  const root = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
  return loadConfig(expandEnvRefs(JSON.parse(readFileSync(join(root, 'config.json'), 'utf8')), process.env));
}

/** The session archive the construct gave this function. */
export function deployedArchive(): S3Archive {
  return new S3Archive(new S3Client({}), { bucket: requiredEnv('EMBEDGATE_ARCHIVE_BUCKET'), kmsKeyId: requiredEnv('EMBEDGATE_ARCHIVE_KEY_ARN') });
}
