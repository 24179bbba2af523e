/**
 * The contract between the constructs (lib/) and the handlers (lambda/), and the names the CLI
 * reads: every name one side writes and the other reads is declared here once, and both sides
 * import it. No dependency at all: the Lambda entries load it at start, and scripts/bundle.mjs
 * reads the compiled form (dist/shared/contract.js; `npm run build` runs tsc before it).
 *
 * - HANDLER_BUNDLES: the handler bundles (assets/<name>/, built from lambda/handlers/<name>.lambda.ts).
 * - HANDLER_ENV, DEPLOY_REF_ENV_PREFIX: the environment the constructs give the handler functions.
 * - METRICS_NAMESPACE, METRIC_DIMENSION_SERVICE, METRIC: the metrics the proxy publishes (EMF) and
 *   the construct's alarms, dashboard and `metric*` methods read.
 * - ACCESS_LOG_FORMAT, AccessLogEntry, EDGE_ENTRY_FILTER: the API's access log, which the edge
 *   recorder reads.
 * - CLI_ENV: the environment the `embedgate` CLI reads.
 */

/**
 * The handler bundles `npm run build` writes, each to `assets/<name>/` from the entry
 * `lambda/handlers/<name>.lambda.ts`; a construct names the one its function runs.
 */
export const HANDLER_BUNDLES = ['proxy', 'edge-recorder', 'digest', 'approval-task', 'compactor', 'key-mirror'] as const;
/** The name of a handler bundle. */
export type HandlerBundle = (typeof HANDLER_BUNDLES)[number];

/** Environment variables the constructs set on the handler functions, which the handlers read. */
export const HANDLER_ENV = {
  /** The archive bucket (proxy, edge recorder, approval task, digest). */
  archiveBucket: 'EMBEDGATE_ARCHIVE_BUCKET',
  /** The ARN of the archive's KMS key (same functions). */
  archiveKeyArn: 'EMBEDGATE_ARCHIVE_KEY_ARN',
  /** The revocation table (proxy). */
  revocationTable: 'EMBEDGATE_REVOCATION_TABLE',
  /** The approvals table (proxy, only when a rule has an approval; approval task). */
  approvalTable: 'EMBEDGATE_APPROVAL_TABLE',
  /** The ARN of the approval state machine (with the approvals table). */
  approvalStateMachine: 'EMBEDGATE_APPROVAL_STATE_MACHINE',
  /** The write-ahead journal table (proxy, edge recorder): records are journaled there and compacted into the archive. */
  journalTable: 'EMBEDGATE_JOURNAL_TABLE',
  /** The key mirror's table of issuers' discovery documents and key sets (proxy and key mirror, when the gateway has no egress). */
  issuerKeysTable: 'EMBEDGATE_ISSUER_KEYS_TABLE',
  /** The usage table of per-principal rate limits (proxy, only when some rule or the gateway sets `rateLimits`). */
  usageTable: 'EMBEDGATE_USAGE_TABLE',
  /** The ARN of the KMS key that signs digests (digest). */
  digestSigningKey: 'EMBEDGATE_DIGEST_SIGNING_KEY',
  /** `settleTime`, seconds: how long after an hour ends before it is digested (digest). */
  digestSettleSeconds: 'EMBEDGATE_DIGEST_SETTLE_SECONDS',
  /** `lateRecordLookback`, seconds: how far back each run looks for late records (digest). */
  digestLookbackSeconds: 'EMBEDGATE_DIGEST_LOOKBACK_SECONDS',
  /** `maxPeriod`, seconds: the longest period one digest covers (digest). */
  digestMaxPeriodSeconds: 'EMBEDGATE_DIGEST_MAX_PERIOD_SECONDS',
  /** Powertools' service name: logs, and the `service` dimension of metrics. */
  powertoolsServiceName: 'POWERTOOLS_SERVICE_NAME',
  /** Powertools' metrics namespace (set to METRICS_NAMESPACE). */
  powertoolsMetricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
} as const;

/**
 * Deploy-time references: a configuration value that is a CloudFormation token is written in the
 * shipped document as `${env:<prefix><n>}`, and the construct puts its value in that variable.
 */
export const DEPLOY_REF_ENV_PREFIX = 'EMBEDGATE_REF_';

/** The CloudWatch namespace of the gateway's metrics. */
export const METRICS_NAMESPACE = 'embedgate';
/** The dimension of every gateway metric: the service name (Powertools adds it from its service name). */
export const METRIC_DIMENSION_SERVICE = 'service';

/** The metrics the proxy publishes, by what they count. */
export const METRIC = {
  /** Every request the proxy handled (count). */
  requests: 'Requests',
  /** Outcomes (count): the request was forwarded. */
  allowed: 'Allowed',
  /** Held for a human decision. */
  heldForApproval: 'HeldForApproval',
  /** Refused by identity, revocation or policy. */
  denied: 'Denied',
  /** Refused as invalid. */
  invalid: 'Invalid',
  /** Failed (upstream 429, 5xx). */
  errors: 'Errors',
  /** Requests refused by per-principal rate limits or quotas (429; count, per rule and model too). */
  throttled: 'Throttled',
  /** Tokens used (count, per rule and model too). */
  tokens: 'Tokens',
  /** Failures of the rate-limit counter store (count). */
  limitStoreErrors: 'LimitStoreErrors',
  /** Principals past their daily token budget's warning percentage (count). */
  tokenBudgetWarnings: 'TokenBudgetWarnings',
  /** Records the archive refused (count). */
  archiveErrors: 'ArchiveErrors',
  /** The gateway's own time per request, without the upstream call (ms). */
  gatewayLatency: 'GatewayLatency',
  /** The upstream call's time (ms). */
  upstreamLatency: 'UpstreamLatency',
  /** Sensitive values masking found (count). */
  maskedEntities: 'MaskedEntities',
  /** Answers to `GET /health` (count). */
  healthChecks: 'HealthChecks',
} as const;

/**
 * The API's access-log format: one JSON line per request, each field an API Gateway `$context`
 * variable. The edge recorder reads these lines (see AccessLogEntry).
 */
export const ACCESS_LOG_FORMAT = {
  requestId: '$context.requestId',
  time: '$context.requestTimeEpoch',
  ip: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  method: '$context.httpMethod',
  path: '$context.path',
  routeKey: '$context.routeKey',
  status: '$context.status',
  responseLength: '$context.responseLength',
  latencyMs: '$context.responseLatency',
  integrationStatus: '$context.integrationStatus',
  integrationLatencyMs: '$context.integrationLatency',
  authorizerError: '$context.authorizer.error',
  subject: '$context.authorizer.claims.sub',
  clientId: '$context.authorizer.claims.client_id',
  issuer: '$context.authorizer.claims.iss',
  errorMessage: '$context.error.message',
} as const;

/** A field of the access log. */
export type AccessLogField = keyof typeof ACCESS_LOG_FORMAT;

/** One access-log line as the edge recorder reads it: every value a string (`-` when API Gateway has none). */
export type AccessLogEntry = { readonly requestId: string } & { readonly [F in Exclude<AccessLogField, 'requestId'>]?: string };

/**
 * The access-log lines sent to the edge recorder: requests API Gateway answered itself, where no
 * integration ran (`integrationStatus` is `-`).
 */
export const EDGE_ENTRY_FILTER: { readonly field: AccessLogField; readonly equals: string } = { field: 'integrationStatus', equals: '-' };

/** Environment variables the `embedgate` CLI reads. */
export const CLI_ENV = {
  /** `embedgate approvals`: the caller's access token. */
  token: 'EMBEDGATE_TOKEN',
  /** `1`: unexpected errors print their stack (as `--debug` does). */
  debug: 'EMBEDGATE_DEBUG',
  /** `embedgate approvals`: the gateway URL. */
  url: 'EMBEDGATE_URL',
  /** The pseudonym key of examples/dev.json (`{"source":"env"}`), which `embedgate demo` sets when it is unset. */
  examplePseudonymKey: 'EMBEDGATE_PSEUDONYM_KEY',
} as const;
