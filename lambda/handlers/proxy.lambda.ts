/**
 * The proxy Lambda's entry (bundled into assets/proxy/index.mjs by scripts/bundle.mjs).
 * Everything is created once per execution environment, at module scope: the configuration
 * (from config.json next to the bundle, with deploy-time references expanded from the
 * environment), the SDK clients and the adapters.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { expandEnvRefs, loadConfig, type ModelConfig } from '../../shared/config';
import { Gateway } from '../core/gateway';
import { TokenVerifier } from '../core/identity';
import { systemClock, uuidv7Ids } from '../core/ids';
import type { EmbeddingProvider } from '../core/ports';
import { DynamoDbRevocationList } from '../adapters/aws/dynamodb-revocations';
import { S3Archive } from '../adapters/aws/s3-archive';
import { SecretsManagerStore } from '../adapters/aws/secrets-manager';
import { createProvider } from '../providers';
import { createBedrockProvider } from '../providers/bedrock';
import { createProxyHandler } from './proxy';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
}

const root = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
const config = loadConfig(expandEnvRefs(JSON.parse(readFileSync(join(root, 'config.json'), 'utf8')), process.env));
const secrets = new SecretsManagerStore(new SecretsManagerClient({}));
const providers = new Map<string, EmbeddingProvider>();
// Created only if a Bedrock model is configured; our retry loop is the only one (maxAttempts 1).
let bedrockClient: BedrockRuntimeClient | undefined;
const bedrock = (m: ModelConfig) => createBedrockProvider(m, { client: (bedrockClient ??= new BedrockRuntimeClient({ maxAttempts: 1 })) });

const gateway = new Gateway({
  config,
  verifier: new TokenVerifier(config),
  provider: (m: ModelConfig) => {
    let p = providers.get(m.name);
    if (!p) providers.set(m.name, (p = createProvider(m, { secrets, bedrock })));
    return p;
  },
  revocations: new DynamoDbRevocationList(new DynamoDBClient({}), { tableName: env('EMBEDGATE_REVOCATION_TABLE') }),
  archive: new S3Archive(new S3Client({}), { bucket: env('EMBEDGATE_ARCHIVE_BUCKET'), kmsKeyId: env('EMBEDGATE_ARCHIVE_KEY_ARN') }),
  clock: systemClock,
  ids: uuidv7Ids(systemClock),
});

export const handler = createProxyHandler(gateway);
