/**
 * The proxy Lambda's entry (bundled into assets/proxy/index.mjs by scripts/bundle.mjs).
 * Everything is created once per execution environment, at module scope: the configuration
 * (from config.json next to the bundle, with deploy-time references expanded from the
 * environment), the SDK clients and the adapters.
 */
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { ComprehendClient } from '@aws-sdk/client-comprehend';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { ModelConfig } from '../../shared/config';
import { Gateway } from '../core/gateway';
import { deployedArchive, deployedConfig, requiredEnv } from './deployed';
import { TokenVerifier } from '../core/identity';
import { systemClock, uuidv7Ids } from '../core/ids';
import type { EmbeddingProvider } from '../core/ports';
import { ComprehendPiiDetector } from '../adapters/aws/comprehend';
import { DynamoDbRevocationList } from '../adapters/aws/dynamodb-revocations';
import { DynamoDbApprovalStore } from '../adapters/aws/dynamodb-approvals';
import { StepFunctionsApprovalWorkflow } from '../adapters/aws/step-functions-approvals';
import { logger } from './powertools';
import { lazyMasker } from '../core/masking/runtime';
import { SecretsManagerStore } from '../adapters/aws/secrets-manager';
import { createProvider } from '../providers';
import { createBedrockProvider } from '../providers/bedrock';
import { createProxyHandler } from './proxy';

const config = deployedConfig();
const secrets = new SecretsManagerStore(new SecretsManagerClient({}));
const providers = new Map<string, EmbeddingProvider>();
// Created only if a Bedrock model is configured; our retry loop is the only one (maxAttempts 1).
let bedrockClient: BedrockRuntimeClient | undefined;
const bedrock = (m: ModelConfig) => createBedrockProvider(m, { client: (bedrockClient ??= new BedrockRuntimeClient({ maxAttempts: 1 })) });

// Amazon Comprehend only when the configuration asks for it (the construct then allows the call).
const comprehend = config.masking?.enabled && config.masking.comprehend?.enabled ? config.masking.comprehend : undefined;
const masker = lazyMasker(config, {
  secrets,
  ...(comprehend
    ? { detector: new ComprehendPiiDetector(new ComprehendClient({ maxAttempts: 2 }), { languageCode: comprehend.languageCode, minScore: comprehend.minScore, concurrency: comprehend.maxConcurrency }) }
    : {}),
});

// Approvals only when a rule holds requests (the construct then sets both variables); a rule that
// holds a request without them is answered 503 by the core, never forwarded.
const approvalTable = process.env.EMBEDGATE_APPROVAL_TABLE;
const dynamodb = new DynamoDBClient({});
const approvals = approvalTable
  ? {
      store: new DynamoDbApprovalStore(dynamodb, { tableName: approvalTable }),
      workflow: new StepFunctionsApprovalWorkflow(new SFNClient({}), { stateMachineArn: requiredEnv('EMBEDGATE_APPROVAL_STATE_MACHINE') }),
    }
  : undefined;

const gateway = new Gateway({
  config,
  ...(masker ? { masker } : {}),
  verifier: new TokenVerifier(config),
  provider: (m: ModelConfig) => {
    let p = providers.get(m.name);
    if (!p) providers.set(m.name, (p = createProvider(m, { secrets, bedrock })));
    return p;
  },
  revocations: new DynamoDbRevocationList(dynamodb, { tableName: requiredEnv('EMBEDGATE_REVOCATION_TABLE') }),
  ...(approvals ? { approvals } : {}),
  onBackgroundError: (what, error) => logger.warn(what, { error: error instanceof Error ? { name: error.name, message: error.message } : String(error) }),
  archive: deployedArchive(),
  clock: systemClock,
  ids: uuidv7Ids(systemClock),
});

export const handler = createProxyHandler(gateway);
