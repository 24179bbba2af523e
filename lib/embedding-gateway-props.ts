import type { Duration, Size } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { ArchiveRetention } from './archive-retention';
import type { GatewayNetwork } from './gateway-network';
import type { GatewayMasking } from './masking';
import type { PolicyRule, TrustedIssuer } from './policy';
import type { PolicyTests } from './policy-tests';
import type { RateLimits } from './rate-limits';
import type { GatewayRecording } from './recording';
import type { ReviewerChatChannel, ReviewerPageOptions } from './reviewer-page';
import type { UpstreamModel } from './upstream-model';

/** What the gateway does when a session record cannot be archived. */
export enum ArchiveFailureMode {
  /** Answer 503 and return no model output (the default: no output without its record). */
  CLOSED = 'closed',
  /** Return the output anyway and log the lost record. Weakens the audit promise. */
  OPEN = 'open',
}

/** Properties of an `EmbeddingGateway`. */
export interface EmbeddingGatewayProps {
  /**
   * The OIDC issuers whose service principals may call the gateway. The first is the primary
   * issuer, served at `/v1/...`; each other issuer is served under its id, at `/<id>/v1/...`
   * (one JWT authorizer per route is all API Gateway allows), so its clients use
   * `<url>/<id>/v1` as their base URL.
   */
  readonly issuers: TrustedIssuer[];
  /** The models clients may ask for. */
  readonly models: UpstreamModel[];
  /** Policy rules (default deny). See docs/policy.md. */
  readonly rules: PolicyRule[];

  /**
   * Policy test cases run at synth against the configuration built from these props
   * (`PolicyTests.fromPath('policy-tests')`): a failing case fails synth, naming the case and the
   * difference. Needs the built package (its CLI runs them). See docs/policy.md.
   * @default - no policy tests
   */
  readonly policyTests?: PolicyTests;

  /**
   * The reviewers' web page at `<gateway>/review` (sign-in with OIDC code + PKCE, approve or deny
   * with a reason); approval notifications then carry its link. Needs a rule with `approval`.
   * @default - no page; reviewers decide with `embedgate approvals` or the API
   */
  readonly reviewerPage?: ReviewerPageOptions;
  /**
   * A Slack or Microsoft Teams channel (AWS Chatbot) that gets the approval notifications, in
   * Chatbot's custom notification format. Needs a rule with `approval`.
   * @default - no chat channel
   */
  readonly reviewerChat?: ReviewerChatChannel;

  /**
   * Masking of sensitive data in inputs (see docs/configuration.md, masking).
   * @default - no masking
   */
  readonly masking?: GatewayMasking;

  /**
   * What session records keep of the input (see docs/session-record.md): by default the input
   * exactly as it left for the model (masked when masking is on), within 256 KiB per record.
   * @default - input kept, 256 KiB per record
   */
  readonly recording?: GatewayRecording;

  /**
   * Default per-principal rate limits and quotas of every allow rule (a rule's `rateLimits`
   * overrides them field by field). Any limit anywhere creates the usage table (`usage`).
   * @default - no per-principal limits
   */
  readonly rateLimits?: RateLimits;
  /**
   * When the usage table cannot be read or written: true lets requests through uncounted; false
   * refuses them (503 `rate_limits_unavailable`). Either way `LimitStoreErrors` is alarmed.
   * @default false
   */
  readonly rateLimitStoreFailOpen?: boolean;
  /**
   * Subjects that get a metric dimension of their own (at most 20); every other principal is
   * counted per rule and model only, so metrics never grow with the number of principals.
   * @default - none
   */
  readonly metricPrincipals?: string[];

  /**
   * Network to run in.
   * @default - a new `GatewayNetwork` (a VPC with isolated subnets and endpoints)
   */
  readonly network?: GatewayNetwork;
  /**
   * Allow the proxy to reach the internet (through NAT), needed for models outside AWS
   * (OpenAI, Azure OpenAI, Cohere, an OpenAI-compatible server outside the VPC). Must be set
   * explicitly when such a model is configured; ignored when `network` is given.
   * @default false
   */
  readonly allowInternetEgress?: boolean;

  /**
   * Retention of session records.
   * @default ArchiveRetention.compliance(Duration.days(365))
   */
  readonly archiveRetention?: ArchiveRetention;
  /**
   * Key for the archive (records, Athena results).
   * @default - a new customer-managed key with rotation
   */
  readonly archiveEncryptionKey?: kms.IKey;
  /**
   * What to do when a record cannot be archived.
   * @default ArchiveFailureMode.CLOSED
   */
  readonly archiveFailureMode?: ArchiveFailureMode;

  /**
   * Largest request body.
   * @default Size.mebibytes(2)
   */
  readonly maxRequestSize?: Size;
  /**
   * Largest bearer token.
   * @default Size.kibibytes(8)
   */
  readonly maxTokenSize?: Size;
  /**
   * Steady-state request rate limit of the API stage, requests per second.
   * @default 100
   */
  readonly throttlingRateLimit?: number;
  /**
   * Burst limit of the API stage.
   * @default 200
   */
  readonly throttlingBurstLimit?: number;
  /**
   * A custom domain for the API.
   * @default - the API's execute-api endpoint
   */
  readonly domainName?: apigwv2.IDomainName;

  /**
   * Memory of the proxy function.
   * @default Size.mebibytes(1024)
   */
  readonly memorySize?: Size;
  /**
   * Timeout of the proxy function: at most 29 seconds (API Gateway ends the integration after 30);
   * every model's upstream timeout x attempts + backoff must fit in it less 2.5 s kept to answer
   * and record (checked at synth; a model without `upstream.timeout` gets the longest that fits).
   * @default Duration.seconds(29)
   */
  readonly timeout?: Duration;
  /**
   * Reserved concurrency of the proxy function.
   * @default - unreserved
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Lambda runtime of the proxy function (Node.js 22 or later).
   * @default lambda.Runtime.NODEJS_24_X
   */
  readonly runtime?: lambda.Runtime;
  /**
   * Retention of the gateway's log groups (function logs, API access logs).
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Where reviewers of held requests are notified (when a rule has `approval`).
   * @default - a new topic, encrypted with the gateway's key, TLS only
   */
  readonly approvalTopic?: sns.ITopic;
  /**
   * Subscriptions to add to the approval topic (when a rule has `approval`).
   * @default - none; subscribe to `approvals.topic` yourself
   */
  readonly approvalSubscriptions?: sns.ITopicSubscription[];

  /**
   * Create alarms (errors, archive failures, throttles, latency).
   * @default true
   */
  readonly alarms?: boolean;
  /**
   * Where alarms notify.
   * @default - a new SNS topic (encrypted, TLS-only); subscribe to it
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Create a CloudWatch dashboard.
   * @default true
   */
  readonly dashboard?: boolean;
}
