import { Annotations, CfnOutput, Duration, Names, Size, Validations } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { HANDLER_ENV, METRIC } from '../shared/contract';
import { ApprovalWorkflow } from './approval-workflow';
import { ArchiveJournal } from './archive-journal';
import { AuditDigests } from './audit-digests';
import { ArchiveFailureMode, type EmbeddingGatewayProps } from './embedding-gateway-props';
import { GatewayNetwork } from './gateway-network';
import { logsKey, retainedKey } from './private/keys';
import { addGatewayApi } from './private/gateway-api';
import { buildGatewayConfig } from './private/gateway-config';
import { addEdgeRecorder, addProxyFunction, ROLE_POLICY_REASON, type GatewayLogs } from './private/gateway-functions';
import { gatewayPseudonymKey } from './private/gateway-masking';
import { maskingConfig } from './private/masking-config';
import { recordingSection } from './private/recording-config';
import { validateGatewayProps } from './private/gateway-validation';
import { GatewayMonitoring } from './private/monitoring';
import { acknowledgeVpcCustomResource, applyControlTowerControls } from './private/control-tower';
import { checkIssuerKeyReach } from './private/issuer-key-reach';
import { IssuerKeyMirror } from './private/key-mirror';
import { fitUpstreamTimeouts } from './private/timeouts';
import { addReviewerPageRoutes, reviewerPageSection } from './private/review-page-routes';
import { addConfigWarnings, runPolicyTests } from './private/policy-checks';
import { UsageTable } from './usage-table';
import { RevocationTable } from './revocation-table';
import { SessionArchive } from './session-archive';

export { ArchiveFailureMode, type EmbeddingGatewayProps } from './embedding-gateway-props';

/**
 * An identity-aware gateway for embedding models: an HTTP API with a JWT authorizer per trusted
 * issuer, a proxy function in private subnets that verifies tokens again, checks the revocation
 * list, applies policy and forwards to the configured models with keys from Secrets Manager,
 * and an immutable session archive (S3 Object Lock, KMS, Glue, Athena).
 *
 * @example
 * new EmbeddingGateway(this, 'Gateway', {
 *   issuers: [{ id: 'okta', issuerUrl: 'https://acme.okta.com/oauth2/default', audiences: ['api://embedgate'] }],
 *   models: [UpstreamModel.bedrock('amazon.titan-embed-text-v2:0', { name: 'titan-v2' })],
 *   rules: [{ id: 'rag', effect: PolicyEffect.ALLOW, groups: ['rag-*'], models: ['titan-v2'] }],
 * });
 */
export class EmbeddingGateway extends Construct {
  /** The HTTP API. */
  public readonly api: apigwv2.HttpApi;
  /** The API stage. */
  public readonly stage: apigwv2.HttpStage;
  /** The proxy function. */
  public readonly proxyFunction: lambda.Function;
  /** The edge recorder function (records of requests API Gateway answered itself). */
  public readonly edgeRecorderFunction: lambda.Function;
  /** Where access-log batches the edge recorder could not archive end up. */
  public readonly edgeRecorderDeadLetterQueue: sqs.Queue;
  /** The network the functions run in. */
  public readonly network: GatewayNetwork;
  /** The session archive (bucket, key, Glue table, Athena workgroup). */
  public readonly archive: SessionArchive;
  /** The archive bucket. */
  public readonly archiveBucket: SessionArchive['bucket'];
  /** The hourly signed digests of the archive (`embedgate audit verify` checks them). */
  public readonly digests: AuditDigests;
  /** The archive's write-ahead journal (DynamoDB table, stream, compactor into batch objects). */
  public readonly journal: ArchiveJournal;
  /** The runtime revocation list. */
  public readonly revocations: RevocationTable;
  /** The counters of per-principal rate limits; undefined when no limit is configured. */
  public readonly usage?: UsageTable;
  /** The just-in-time approval workflow (state machine, table, topic, task function); only when a rule has `approval`. */
  public readonly approvals?: ApprovalWorkflow;
  /** The upstream API key secrets (given or created), by model name. */
  public readonly apiKeySecrets: { readonly [modelName: string]: secretsmanager.ISecret };
  /** The HMAC key of masking pseudonyms (given or created), if any strategy pseudonymizes. */
  public readonly pseudonymKey?: secretsmanager.ISecret;
  /** The key encrypting the gateway's log groups. */
  public readonly logsKey: kms.IKey;
  /** The API access log group. */
  public readonly accessLogGroup: logs.ILogGroup;
  /** Where alarms notify (the given `alarmTopic`, or one created here); undefined when `alarms` is false. */
  public readonly alarmTopic?: sns.ITopic;
  /** The alarms created (empty when `alarms` is false). */
  public readonly alarms: cloudwatch.Alarm[];
  /** The dashboard, if created. */
  public readonly dashboard?: cloudwatch.Dashboard;
  /** The base URL clients of the primary issuer use (`<url>/v1`). */
  public readonly url: string;

  private readonly monitoring: GatewayMonitoring;

  constructor(scope: Construct, id: string, props: EmbeddingGatewayProps) {
    super(scope, id);
    validateGatewayProps(props);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    // Created upstream-key secrets are encrypted with a key of the gateway's own.
    const secretsKey = props.models.some((m) => m.needsCreatedSecret)
      ? retainedKey(this, 'SecretsKey', 'embedgate: encrypts the upstream API key secrets')
      : undefined;
    const bindings = fitUpstreamTimeouts(
      props.timeout ?? Duration.seconds(29),
      props.models.map((m, i) => m.bind(this, `ApiKey${i}`, secretsKey ? { encryptionKey: secretsKey } : {})),
    );
    const needsInternet = props.models.filter((_m, i) => bindings[i]!.needsInternet);
    this.network =
      props.network ??
      new GatewayNetwork(this, 'Network', {
        allowInternetEgress: props.allowInternetEgress ?? false,
        enableBedrockEndpoint: bindings.some((b) => b.isBedrock),
      });
    if (needsInternet.length > 0 && !this.network.egressAllowed) {
      throw new Error(
        `EmbeddingGateway: model(s) ${needsInternet.map((m) => `"${m.name}"`).join(', ')} are outside AWS and need internet egress; set allowInternetEgress: true (or pass a network that allows egress, or mark a private OpenAI-compatible server with inVpc: true)`,
      );
    }
    // Issuers too: each has a way to its keys (the proxy's egress, the VPC, or the key mirror).
    const mirroredIssuers = checkIssuerKeyReach(this, props.issuers, this.network);

    this.logsKey = logsKey(this, 'LogsKey', 'embedgate: encrypts the gateway log groups');

    this.archive = new SessionArchive(this, 'Archive', {
      ...(props.archiveRetention ? { retention: props.archiveRetention } : {}),
      ...(props.archiveEncryptionKey ? { encryptionKey: props.archiveEncryptionKey } : {}),
    });
    this.archiveBucket = this.archive.bucket;
    const replication =
      'Cross-Region replication of the archive needs a destination bucket with Object Lock and a key in a second Region: a decision of the deployment, not of this construct (configure it on archive.bucket).';
    Validations.of(this.archive.bucket).acknowledge({ id: 'NIST.800.53.R5-S3BucketReplicationEnabled', reason: replication });
    Validations.of(this.archive.accessLogsBucket).acknowledge({ id: 'NIST.800.53.R5-S3BucketReplicationEnabled', reason: replication });
    this.revocations = new RevocationTable(this, 'Revocations');
    // Hourly signed, chained digests of the archive (tamper evidence beyond Object Lock).
    this.digests = new AuditDigests(this, 'Digests', { archive: this.archive, network: this.network });
    // The write-ahead journal: records are durable in DynamoDB in the request path and reach the
    // archive in batches.
    this.journal = new ArchiveJournal(this, 'Journal', { archive: this.archive, network: this.network });

    const failMode = props.archiveFailureMode ?? ArchiveFailureMode.CLOSED;
    if (failMode === ArchiveFailureMode.OPEN) {
      Annotations.of(this).addWarningV2(
        'embedgate:archiveFailOpen',
        'archiveFailureMode is OPEN: responses leave even when their session record could not be archived',
      );
    }
    const masking = props.masking;
    this.pseudonymKey = gatewayPseudonymKey(this, masking, props.rules, this.logsKey);
    const config = buildGatewayConfig({
      ...(masking ? { masking: maskingConfig(masking, this.pseudonymKey?.secretArn) } : {}),
      ...(props.reviewerPage ? { reviewerPage: reviewerPageSection(props.reviewerPage) } : {}),
      ...(props.recording ? { recording: recordingSection(props.recording) } : {}),
      issuers: props.issuers,
      models: bindings,
      rules: props.rules,
      maxRequestBytes: (props.maxRequestSize ?? Size.mebibytes(2)).toBytes(),
      maxTokenBytes: (props.maxTokenSize ?? Size.kibibytes(8)).toBytes(),
      archiveFailMode: failMode,
      ...(props.rateLimits ? { rateLimits: props.rateLimits } : {}),
      ...(props.rateLimitStoreFailOpen !== undefined ? { rateLimitStoreFailOpen: props.rateLimitStoreFailOpen } : {}),
      ...(props.metricPrincipals ? { metricPrincipals: props.metricPrincipals } : {}),
    });
    addConfigWarnings(this, config.json);
    if (props.policyTests) runPolicyTests(config.json, props.policyTests);

    const serviceName = Names.uniqueResourceName(this, { maxLength: 64 });
    const gatewayLogs: GatewayLogs = { key: this.logsKey, retention: logRetention };
    const context = { props, config, logs: gatewayLogs, network: this.network, archive: this.archive, journal: this.journal, serviceName };
    const proxy = addProxyFunction(this, { ...context, revocations: this.revocations, bindings, pseudonymKey: this.pseudonymKey });
    this.proxyFunction = proxy.fn;
    this.apiKeySecrets = proxy.apiKeySecrets;
    if (props.rateLimits || props.rules.some((r) => r.rateLimits)) {
      this.usage = new UsageTable(this, 'Usage');
      this.usage.attachTo(this.proxyFunction);
    }

    // Without egress the proxy cannot reach the issuers: their keys come from the key mirror's table
    // (but for issuers whose keys are served inside the VPC).
    if (mirroredIssuers.length > 0) {
      const mirror = new IssuerKeyMirror(this, 'KeyMirror', {
        configuration: config.json,
        configurationEnvironment: config.environment,
        encryptionKey: this.logsKey,
        logRetention,
        ...(props.runtime ? { runtime: props.runtime } : {}),
        policyReason: ROLE_POLICY_REASON,
      });
      mirror.grantReadAndRefresh(this.proxyFunction);
      this.proxyFunction.addEnvironment(HANDLER_ENV.issuerKeysTable, mirror.table.tableName);
    }

    if (props.rules.some((r) => r.approval !== undefined)) {
      this.approvals = new ApprovalWorkflow(this, 'Approvals', {
        network: this.network,
        archive: this.archive,
        configuration: config.json,
        configurationEnvironment: config.environment,
        encryptionKey: this.logsKey,
        ...(props.approvalTopic ? { topic: props.approvalTopic } : {}),
        ...(props.approvalSubscriptions ? { subscriptions: props.approvalSubscriptions } : {}),
        logRetention,
        ...(props.runtime ? { runtime: props.runtime } : {}),
        serviceName,
        ...(props.reviewerChat ? { chatNotifications: true } : {}),
      });
      props.reviewerChat?._bind(this, 'ReviewerChat', this.approvals.topic);
      this.proxyFunction.addEnvironment(HANDLER_ENV.approvalTable, this.approvals.table.tableName);
      this.proxyFunction.addEnvironment(HANDLER_ENV.approvalStateMachine, this.approvals.stateMachine.stateMachineArn);
      this.approvals.grantUse(this.proxyFunction);
    } else if (props.approvalTopic || props.approvalSubscriptions || props.reviewerPage || props.reviewerChat) {
      Annotations.of(this).addWarningV2(
        'embedgate:approvalsUnused',
        'approvalTopic, approvalSubscriptions, reviewerPage or reviewerChat is set, but no policy rule has an approval: no approval workflow is created',
      );
    }

    const api = addGatewayApi(this, {
      props,
      logs: gatewayLogs,
      proxyFunction: this.proxyFunction,
      approvals: this.approvals !== undefined,
    });
    this.accessLogGroup = api.accessLogGroup;
    this.api = api.api;
    if (props.reviewerPage && this.approvals) addReviewerPageRoutes(this.api, api.integration);
    this.stage = api.stage;
    this.url = api.url;

    const edge = addEdgeRecorder(this, { ...context, accessLogGroup: this.accessLogGroup });
    this.edgeRecorderFunction = edge.fn;
    this.edgeRecorderDeadLetterQueue = edge.deadLetterQueue;

    const alarms = props.alarms ?? true;
    this.alarmTopic = alarms
      ? (props.alarmTopic ??
        new sns.Topic(this, 'AlarmTopic', { displayName: 'embedgate alarms', masterKey: this.logsKey, enforceSSL: true }))
      : undefined;
    this.monitoring = new GatewayMonitoring(this, 'Monitoring', {
      serviceName,
      proxyFunction: this.proxyFunction,
      edgeRecorderDeadLetterQueue: this.edgeRecorderDeadLetterQueue,
      ...(this.approvals ? { approvalStateMachine: this.approvals.stateMachine } : {}),
      api: this.api,
      alarms,
      dashboard: props.dashboard ?? true,
      ...(this.alarmTopic ? { alarmTopic: this.alarmTopic } : {}),
      rateLimits: this.usage !== undefined,
    });
    if (alarms) this.journal.createAlarms(this.alarmTopic);
    applyControlTowerControls(this);
    acknowledgeVpcCustomResource(this);
    this.alarms = this.monitoring.alarms;
    this.dashboard = this.monitoring.dashboard;

    new CfnOutput(this, 'Url', { description: "OpenAI base URL of the primary issuer's clients", value: this.url });
    new CfnOutput(this, 'ArchiveBucketName', { value: this.archive.bucket.bucketName });
    new CfnOutput(this, 'RevocationTableName', { value: this.revocations.table.tableName });
    new CfnOutput(this, 'AthenaWorkGroup', { value: this.archive.workGroupName });
    if (this.approvals) {
      new CfnOutput(this, 'ApprovalTopicArn', {
        description: 'Reviewers of held requests are notified here: subscribe to it',
        value: this.approvals.topic.topicArn,
      });
      new CfnOutput(this, 'ApprovalStateMachineArn', { value: this.approvals.stateMachine.stateMachineArn });
    }
    Object.entries(this.apiKeySecrets).forEach(
      ([name, s], i) =>
        new CfnOutput(this, `ApiKeySecret${i}`, { description: `Upstream API key secret of model "${name}"`, value: s.secretArn }),
    );
  }

  /** Permission to run the audit queries (Athena workgroup, Glue table, archive read). */
  public grantAuditQuery(grantee: iam.IGrantable): iam.Grant {
    return this.archive.grantAuditQuery(grantee);
  }

  /** Permission to revoke and unrevoke principals at runtime (`embedgate revoke`). */
  public grantRevoke(grantee: iam.IGrantable): iam.Grant {
    return this.revocations.grantRevoke(grantee);
  }

  /** All requests (every outcome). @default sum over 5 minutes */
  public metricRequests(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metric(METRIC.requests, { statistic: 'Sum', ...props });
  }

  /** Requests refused by identity, revocation or policy (401, 403). @default sum over 5 minutes */
  public metricDenied(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metric(METRIC.denied, { statistic: 'Sum', ...props });
  }

  /** Requests that failed (429 from upstream, 5xx). @default sum over 5 minutes */
  public metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metric(METRIC.errors, { statistic: 'Sum', ...props });
  }

  /** Records the archive refused. @default sum over 5 minutes */
  public metricArchiveErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metric(METRIC.archiveErrors, { statistic: 'Sum', ...props });
  }

  /** The gateway's own time per request (without the upstream call), ms. @default p99 over 5 minutes */
  public metricLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metric(METRIC.gatewayLatency, { statistic: 'p99', ...props });
  }

  /** Sensitive values found by masking (all entity types). @default sum over 5 minutes */
  public metricMaskedEntities(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metric(METRIC.maskedEntities, { statistic: 'Sum', ...props });
  }

  /** Upstream latency per request, ms. @default p99 over 5 minutes */
  public metricUpstreamLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metric(METRIC.upstreamLatency, { statistic: 'p99', ...props });
  }
}
