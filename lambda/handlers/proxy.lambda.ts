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
import type { IssuerConfig, ModelConfig } from '../../shared/config';
import { HANDLER_ENV } from '../../shared/contract';
import { Gateway } from '../core/gateway';
import { config } from './config.mjs';
import { deployedArchive, requiredEnv } from './deployed';
import { TokenVerifier } from '../core/identity';
import { dynamoDbKeyRefreshRequest, dynamoDbKeySetFetch } from '../adapters/aws/issuer-keys';
import { networkKeySetFetch } from '../adapters/network/key-set-fetch';
import { systemClock, uuidv7Ids } from '../core/ids';
import type { Archive, EmbeddingProvider, PiiDetector, SecretStore } from '../core/ports';
import { DynamoDbRevocationList } from '../adapters/aws/dynamodb-revocations';
import { hasRateLimits } from '../core/limits/admission';
import { lazyApprovals, lazyLimits, lazyProvider, once } from '../adapters/aws/lazy';
import { logger } from './powertools';
import { lazyMasker } from '../core/masking/runtime';
import { SecretsManagerStore } from '../adapters/aws/secrets-manager';
import { createProvider } from '../providers';
import { createProxyHandler, observeLimitEvent } from './proxy';
import { lazySpans } from './tracing';
import { createReviewPage, readReviewFiles, shippedReviewFileName } from './review-page';

// X-Ray subsegments (Powertools Tracer, a chunk loaded from init) around every call to the world,
// where X-Ray can receive them (Lambda sets the daemon's address; POWERTOOLS_TRACE_ENABLED=false turns them off).
const tracing = Boolean(process.env.AWS_XRAY_DAEMON_ADDRESS) && process.env.POWERTOOLS_TRACE_ENABLED !== 'false';
const { span } = lazySpans(
  async () => {
    if (!tracing) return { getSegment: () => undefined };
    return (await import('../adapters/aws/tracer-client.js')).createTracer();
  },
  (e) => logger.warn('loading the tracer failed', { error: e instanceof Error ? { name: e.name, message: e.message } : String(e) }),
);
const secretStore = new SecretsManagerStore(new SecretsManagerClient({}));
const secrets: SecretStore = {
  get: (ref) => span('secrets-manager', () => secretStore.get(ref)),
  invalidate: (ref) => secretStore.invalidate(ref),
};
const providers = new Map<string, EmbeddingProvider>();

// Amazon Bedrock only when a Bedrock model is configured (one client, shared by its models).
const loadBedrock = once(async () => (await import('./bedrock-runtime.js')).bedrockProviders());
if (config.models.some((m) => m.provider === 'bedrock')) loadBedrock().catch(() => undefined);
const bedrock = (m: ModelConfig): EmbeddingProvider => lazyProvider('bedrock', async () => (await loadBedrock())(m));

// Amazon Comprehend only when the configuration asks for it (the construct then allows the call).
const comprehend = config.masking?.enabled && config.masking.comprehend?.enabled ? config.masking.comprehend : undefined;
const loadDetector = comprehend
  ? once(async (): Promise<PiiDetector> => {
      const d = (await import('../adapters/aws/comprehend-client.js')).comprehendDetector(comprehend);
      return { name: d.name, detect: (text, signal) => span('comprehend', () => d.detect(text, signal)) };
    })
  : undefined;
if (loadDetector) loadDetector().catch(() => undefined);
const masker = lazyMasker(config, { secrets, ...(loadDetector ? { loadDetector } : {}) });

// Approvals only when a rule holds requests (the construct then sets both variables); a rule that
// holds a request without them is answered 503 by the core, never forwarded.
const approvalTable = process.env[HANDLER_ENV.approvalTable];
const dynamodb = new DynamoDBClient({});
// Per-principal limits only when the configuration sets some (the construct then creates the usage
// table); the stage and its DynamoDB store are a chunk, loaded from init.
const usageTable = hasRateLimits(config) ? requiredEnv(HANDLER_ENV.usageTable) : undefined;
const limits = usageTable
  ? lazyLimits(
      async () => {
        const l = (await import('../adapters/aws/limits-client.js')).rateLimiter(
          config,
          dynamodb,
          usageTable,
          systemClock,
          observeLimitEvent,
        );
        return { admit: (req: Parameters<typeof l.admit>[0]) => span('counter-store', () => l.admit(req)) };
      },
      config.gateway.rateLimitStoreFailMode === 'open',
      (e) =>
        observeLimitEvent({
          kind: 'store_error',
          during: 'acquire',
          error: e,
          failMode: config.gateway.rateLimitStoreFailMode ?? 'closed',
        }),
    )
  : undefined;
const approvals = approvalTable ? approvalsOf(approvalTable, requiredEnv(HANDLER_ENV.approvalStateMachine)) : undefined;

// Without egress, issuers' discovery documents and keys come from the key mirror's table (its
// reads are cheap, so an unknown kid is looked up again after 5 s rather than 30), and an unknown
// kid writes a refresh request the table's stream hands to the mirror. An issuer served inside the
// VPC (keysInVpc) is fetched over the network, as with egress.
const issuerKeysTable = process.env[HANDLER_ENV.issuerKeysTable];
const mirroredKeys = issuerKeysTable
  ? {
      fetch: dynamoDbKeySetFetch(dynamodb, issuerKeysTable),
      jwksCooldownMs: 5_000,
      requestKeyRefresh: dynamoDbKeyRefreshRequest(dynamodb, issuerKeysTable),
      onKeyRefreshError: (error: unknown) =>
        logger.warn('issuer key refresh request failed', {
          error: error instanceof Error ? { name: error.name, message: error.message } : String(error),
        }),
    }
  : undefined;

const gateway = new Gateway({
  config,
  ...(masker ? { masker } : {}),
  verifier: new TokenVerifier(config, {
    fetch: networkKeySetFetch,
    ...(mirroredKeys ? { forIssuer: (i: IssuerConfig) => (i.keysInVpc ? {} : mirroredKeys) } : {}),
  }),
  provider: (m: ModelConfig) => {
    let p = providers.get(m.name);
    if (!p) {
      const created = createProvider(m, { secrets, bedrock });
      providers.set(m.name, (p = { kind: created.kind, embed: (call) => span('upstream', () => created.embed(call)) }));
    }
    return p;
  },
  revocations: new DynamoDbRevocationList(dynamodb, { tableName: requiredEnv(HANDLER_ENV.revocationTable) }),
  ...(approvals ? { approvals } : {}),
  ...(limits ? { limits } : {}),
  onBackgroundError: (what, error) =>
    logger.warn(what, { error: error instanceof Error ? { name: error.name, message: error.message } : String(error) }),
  archive: tracedArchive(deployedArchive()),
  clock: systemClock,
  ids: uuidv7Ids(systemClock),
});

// The reviewers' page, when configured: its files ship next to config.json (lib/private/review-page-routes.ts).
const reviewPage = config.reviewerPage
  ? createReviewPage(config, readReviewFiles(process.env.LAMBDA_TASK_ROOT ?? process.cwd(), shippedReviewFileName))
  : undefined;

export const handler = createProxyHandler(gateway, { metricPrincipals: config.gateway.metricPrincipals ?? [], reviewPage });

/** The DynamoDB store and Step Functions workflow of approvals: a chunk, loaded from init. */
function approvalsOf(tableName: string, stateMachineArn: string) {
  return lazyApprovals(
    async () =>
      (await import('../adapters/aws/approvals-client.js')).approvalAdapters(dynamodb, tableName, stateMachineArn, {
        reviewPage: config.reviewerPage !== undefined,
      }),
    (e) =>
      logger.warn('loading the approvals adapters failed', {
        error: e instanceof Error ? { name: e.name, message: e.message } : String(e),
      }),
  );
}

/** The archive with its writes in `archive-write` subsegments. */
function tracedArchive(archive: Archive): Archive {
  return { put: (record) => span('archive-write', () => archive.put(record)) };
}
