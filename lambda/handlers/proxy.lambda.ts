/**
 * The proxy Lambda's entry (bundled into assets/proxy/ by scripts/bundle.mjs). Everything is
 * created once per execution environment, at module scope: the configuration (from config.json
 * next to the bundle, with deploy-time references expanded from the environment; ./config.mts
 * awaits it), the SDK clients and the adapters.
 *
 * The Bedrock runtime and Comprehend clients and the approvals adapters are imported with
 * `import()`: each is a chunk of the bundle that only gateways configuring it load. When
 * configured, loading starts at init, so the first request finds it (nearly) ready.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ModelConfig } from '../../shared/config';
import { Gateway } from '../core/gateway';
import { config } from './config.mjs';
import { deployedArchive, requiredEnv } from './deployed';
import { TokenVerifier } from '../core/identity';
import { systemClock, uuidv7Ids } from '../core/ids';
import type { EmbeddingProvider } from '../core/ports';
import { DynamoDbRevocationList } from '../adapters/aws/dynamodb-revocations';
import { dynamoDbKeySetFetch } from '../adapters/aws/issuer-keys';
import { lazyApprovals, lazyProvider, once } from '../adapters/aws/lazy';
import { logger } from './powertools';
import { lazyMasker } from '../core/masking/runtime';
import { SecretsManagerStore } from '../adapters/aws/secrets-manager';
import { createProvider } from '../providers';
import { createProxyHandler } from './proxy';

const secrets = new SecretsManagerStore(new SecretsManagerClient({}));
const providers = new Map<string, EmbeddingProvider>();

// Amazon Bedrock only when a Bedrock model is configured (one client, shared by its models).
const loadBedrock = once(async () => (await import('../adapters/aws/bedrock-runtime.js')).bedrockProviders());
if (config.models.some((m) => m.provider === 'bedrock')) loadBedrock().catch(() => undefined);
const bedrock = (m: ModelConfig): EmbeddingProvider => lazyProvider('bedrock', async () => (await loadBedrock())(m));

// Amazon Comprehend only when the configuration asks for it (the construct then allows the call).
const comprehend = config.masking?.enabled && config.masking.comprehend?.enabled ? config.masking.comprehend : undefined;
const loadDetector = comprehend
  ? once(async () => (await import('../adapters/aws/comprehend-client.js')).comprehendDetector(comprehend))
  : undefined;
if (loadDetector) loadDetector().catch(() => undefined);
const masker = lazyMasker(config, { secrets, ...(loadDetector ? { loadDetector } : {}) });

// Approvals only when a rule holds requests (the construct then sets both variables); a rule that
// holds a request without them is answered 503 by the core, never forwarded.
const approvalTable = process.env.EMBEDGATE_APPROVAL_TABLE;
const dynamodb = new DynamoDBClient({});
// Without egress, issuers' discovery documents and keys come from the key mirror's table (its
// reads are cheap, so an unknown kid is looked up again after 5 s rather than 30).
const issuerKeysTable = process.env.EMBEDGATE_ISSUER_KEYS_TABLE;
const issuerKeys = issuerKeysTable ? dynamoDbKeySetFetch(dynamodb, issuerKeysTable) : undefined;
const approvals = approvalTable ? approvalsOf(approvalTable, requiredEnv('EMBEDGATE_APPROVAL_STATE_MACHINE')) : undefined;

const gateway = new Gateway({
  config,
  ...(masker ? { masker } : {}),
  verifier: new TokenVerifier(config, issuerKeys ? { fetch: issuerKeys as typeof fetch, jwksCooldownMs: 5_000 } : {}),
  provider: (m: ModelConfig) => {
    let p = providers.get(m.name);
    if (!p) providers.set(m.name, (p = createProvider(m, { secrets, bedrock })));
    return p;
  },
  revocations: new DynamoDbRevocationList(dynamodb, { tableName: requiredEnv('EMBEDGATE_REVOCATION_TABLE') }),
  ...(approvals ? { approvals } : {}),
  onBackgroundError: (what, error) =>
    logger.warn(what, { error: error instanceof Error ? { name: error.name, message: error.message } : String(error) }),
  archive: deployedArchive(),
  clock: systemClock,
  ids: uuidv7Ids(systemClock),
});

export const handler = createProxyHandler(gateway);

/** The DynamoDB store and Step Functions workflow of approvals: a chunk, loaded from init. */
function approvalsOf(tableName: string, stateMachineArn: string) {
  return lazyApprovals(
    async () => (await import('../adapters/aws/approvals-client.js')).approvalAdapters(dynamodb, tableName, stateMachineArn),
    (e) =>
      logger.warn('loading the approvals adapters failed', {
        error: e instanceof Error ? { name: e.name, message: e.message } : String(e),
      }),
  );
}
