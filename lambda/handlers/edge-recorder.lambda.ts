/**
 * The edge recorder Lambda's entry (bundled into assets/edge-recorder/index.mjs). Same
 * configuration document and archive as the proxy; it never verifies a token or calls a model.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { expandEnvRefs, loadConfig } from '../../shared/config';
import { Gateway } from '../core/gateway';
import { TokenVerifier } from '../core/identity';
import { systemClock, uuidv7Ids } from '../core/ids';
import { S3Archive } from '../adapters/aws/s3-archive';
import { InMemoryRevocationList } from '../adapters/local/revocations';
import { createEdgeRecorder } from './edge-recorder';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
}

const root = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
const config = loadConfig(expandEnvRefs(JSON.parse(readFileSync(join(root, 'config.json'), 'utf8')), process.env));

const gateway = new Gateway({
  config,
  // Edge entries are recorded as rejected; the pipeline never reaches identity or a provider.
  verifier: new TokenVerifier(config),
  provider: (m) => {
    throw new Error(`the edge recorder never calls a model (asked for ${m.name})`);
  },
  // Never consulted: an edge entry is recorded as rejected before identity or revocation run.
  revocations: new InMemoryRevocationList(),
  archive: new S3Archive(new S3Client({}), { bucket: env('EMBEDGATE_ARCHIVE_BUCKET'), kmsKeyId: env('EMBEDGATE_ARCHIVE_KEY_ARN') }),
  clock: systemClock,
  ids: uuidv7Ids(systemClock),
});

export const handler = createEdgeRecorder(gateway);
