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

/** A required environment variable; throws at start (not per request) when it is missing. */
export function requiredEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
}

/** The configuration document of this deployment (`config.json` in the function's code). */
export function deployedConfig(): GatewayConfig {
  const root = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
  return loadConfig(expandEnvRefs(JSON.parse(readFileSync(join(root, 'config.json'), 'utf8')), process.env));
}

/** The session archive the construct gave this function. */
export function deployedArchive(): S3Archive {
  return new S3Archive(new S3Client({}), { bucket: requiredEnv('EMBEDGATE_ARCHIVE_BUCKET'), kmsKeyId: requiredEnv('EMBEDGATE_ARCHIVE_KEY_ARN') });
}
