/**
 * The proxy Lambda's entry (bundled into assets/proxy/ by scripts/bundle.mjs). Everything is
 * created once per execution environment, at module scope: the configuration (from config.json
 * next to the bundle, with deploy-time references expanded from the environment), the SDK
 * clients and the adapters.
 *
 * The Bedrock runtime and Comprehend clients are imported with `import()`: each is a chunk of the
 * bundle that only gateways configuring it load. When configured, loading starts at init, so the
 * first request finds it (nearly) ready.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ModelConfig } from '../../shared/config';
import { Gateway } from '../core/gateway';
import { deployedArchive, deployedConfig, requiredEnv } from './deployed';
import { TokenVerifier } from '../core/identity';
import { systemClock, uuidv7Ids } from '../core/ids';
import type { EmbeddingProvider } from '../core/ports';
import { DynamoDbRevocationList } from '../adapters/aws/dynamodb-revocations';
import { lazyProvider, once } from '../adapters/aws/lazy';
import { lazyMasker } from '../core/masking/runtime';
import { SecretsManagerStore } from '../adapters/aws/secrets-manager';
import { createProvider } from '../providers';
import { createProxyHandler } from './proxy';

const config = deployedConfig();
const secrets = new SecretsManagerStore(new SecretsManagerClient({}));
const providers = new Map<string, EmbeddingProvider>();

// Amazon Bedrock only when a Bedrock model is configured (one client, shared by its models).
const loadBedrock = once(async () => (await import('../adapters/aws/bedrock-runtime.js')).bedrockProviders());
if (config.models.some((m) => m.provider === 'bedrock')) loadBedrock().catch(() => undefined);
const bedrock = (m: ModelConfig): EmbeddingProvider => lazyProvider('bedrock', async () => (await loadBedrock())(m));

// Amazon Comprehend only when the configuration asks for it (the construct then allows the call).
const comprehend = config.masking?.enabled && config.masking.comprehend?.enabled ? config.masking.comprehend : undefined;
const loadDetector = comprehend ? once(async () => (await import('../adapters/aws/comprehend-client.js')).comprehendDetector(comprehend)) : undefined;
if (loadDetector) loadDetector().catch(() => undefined);
const masker = lazyMasker(config, { secrets, ...(loadDetector ? { loadDetector } : {}) });

const gateway = new Gateway({
  config,
  ...(masker ? { masker } : {}),
  verifier: new TokenVerifier(config),
  provider: (m: ModelConfig) => {
    let p = providers.get(m.name);
    if (!p) providers.set(m.name, (p = createProvider(m, { secrets, bedrock })));
    return p;
  },
  revocations: new DynamoDbRevocationList(new DynamoDBClient({}), { tableName: requiredEnv('EMBEDGATE_REVOCATION_TABLE') }),
  archive: deployedArchive(),
  clock: systemClock,
  ids: uuidv7Ids(systemClock),
});

export const handler = createProxyHandler(gateway);
