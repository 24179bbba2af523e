import { Annotations, CfnOutput, Duration, Names, RemovalPolicy, Size, Stack, Token, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as logsDestinations from 'aws-cdk-lib/aws-logs-destinations';
import { Construct } from 'constructs';
import { ApprovalWorkflow } from './approval-workflow';
import type { ArchiveRetention } from './archive-retention';
import { AuditDigests } from './audit-digests';
import { GatewayNetwork } from './gateway-network';
import { MaskingStrategy, type GatewayMasking } from './masking';
import { JwtAlgorithm, type PolicyRule, type TrustedIssuer } from './policy';
import { buildGatewayConfig } from './private/gateway-config';
import { fitUpstreamTimeouts } from './private/timeouts';
import { RoleLambdaIntegration } from './private/role-lambda-integration';
import { IssuerKeyMirror } from './private/key-mirror';
import { acknowledgeVpcCustomResource, applyControlTowerControls, CT_RULES } from './private/control-tower';
import { functionRole } from './private/function-role';
import { gatewayFunction } from './private/gateway-function';
import { GatewayMonitoring } from './private/monitoring';
import { RevocationTable } from './revocation-table';
import { SessionArchive } from './session-archive';
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
   * Masking of sensitive data in inputs (see docs/configuration.md, masking).
   * @default - no masking
   */
  readonly masking?: GatewayMasking;

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
  /** The runtime revocation list. */
  public readonly revocations: RevocationTable;
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
    validateProps(props);
    const stack = Stack.of(this);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;

    // Created upstream-key secrets are encrypted with a key of the gateway's own.
    const secretsKey = props.models.some((m) => m.needsCreatedSecret)
      ? new kms.Key(this, 'SecretsKey', {
          description: 'embedgate: encrypts the upstream API key secrets',
          enableKeyRotation: true,
          removalPolicy: RemovalPolicy.RETAIN,
        })
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

    this.logsKey = new kms.Key(this, 'LogsKey', {
      description: 'embedgate: encrypts the gateway log groups',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.logsKey.grantEncryptDecrypt(new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`));

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

    const failMode = props.archiveFailureMode ?? ArchiveFailureMode.CLOSED;
    if (failMode === ArchiveFailureMode.OPEN) {
      Annotations.of(this).addWarningV2(
        'embedgate:archiveFailOpen',
        'archiveFailureMode is OPEN: responses leave even when their session record could not be archived',
      );
    }
    const masking = props.masking;
    const pseudonymize =
      masking !== undefined &&
      [...Object.values(masking.strategies ?? {}), ...props.rules.flatMap((r) => Object.values(r.maskingStrategies ?? {}))].includes(
        MaskingStrategy.PSEUDONYMIZE,
      );
    this.pseudonymKey =
      masking?.pseudonymKey ??
      (pseudonymize
        ? new secretsmanager.Secret(this, 'PseudonymKey', {
            description: 'embedgate: HMAC key of masking pseudonyms (the same value always maps to the same token under it)',
            generateSecretString: { passwordLength: 64, excludePunctuation: true },
            encryptionKey: this.logsKey,
          })
        : undefined);
    if (this.pseudonymKey && !masking?.pseudonymKey) {
      const reason =
        'Rotating the pseudonym key changes every pseudonym and breaks retrieval over already embedded documents; rotate it deliberately, with a re-embedding plan.';
      Validations.of(this.pseudonymKey).acknowledge(
        { id: 'AwsSolutions-SMG4', reason },
        { id: 'NIST.800.53.R5-SecretsManagerRotationEnabled', reason },
      );
    }
    const config = buildGatewayConfig({
      ...(masking
        ? {
            masking: {
              enabled: true,
              strategies: masking.strategies ?? {},
              ...(this.pseudonymKey ? { pseudonymKey: { source: 'secretsManager', secretId: this.pseudonymKey.secretArn } } : {}),
              ...(masking.customDetectors ? { customDetectors: masking.customDetectors } : {}),
              ...(masking.comprehend ? { comprehend: { enabled: true, failMode: masking.comprehendFailOpen ? 'open' : 'closed' } } : {}),
              tokenInputs: masking.allowTokenInputs ? 'allow' : 'refuse',
              storeInputText: masking.storeInputText ?? false,
            },
          }
        : {}),
      issuers: props.issuers,
      models: bindings,
      rules: props.rules,
      maxRequestBytes: (props.maxRequestSize ?? Size.mebibytes(2)).toBytes(),
      maxTokenBytes: (props.maxTokenSize ?? Size.kibibytes(8)).toBytes(),
      archiveFailMode: failMode,
    });

    const serviceName = Names.uniqueResourceName(this, { maxLength: 64 });
    const functionLogs = new logs.LogGroup(this, 'ProxyLogs', {
      retention: logRetention,
      encryptionKey: this.logsKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const role = functionRole(this, 'ProxyRole', {
      logGroup: functionLogs,
      inVpc: true,
      description: 'embedgate proxy function',
      policyReason: ROLE_POLICY_REASON,
    });
    this.proxyFunction = gatewayFunction(this, 'Proxy', {
      description: 'embedgate proxy: identity, revocation, policy, upstream call, session record',
      bundle: 'proxy',
      files: { 'config.json': config.json },
      ...(props.runtime ? { runtime: props.runtime } : {}),
      memorySize: (props.memorySize ?? Size.mebibytes(1024)).toMebibytes(),
      timeout: props.timeout ?? Duration.seconds(29),
      ...(props.reservedConcurrentExecutions !== undefined
        ? { extra: { reservedConcurrentExecutions: props.reservedConcurrentExecutions } }
        : {}),
      network: this.network,
      logGroup: functionLogs,
      role,
      environment: {
        ...config.environment,
        EMBEDGATE_ARCHIVE_BUCKET: this.archive.bucket.bucketName,
        EMBEDGATE_ARCHIVE_KEY_ARN: this.archive.encryptionKey.keyArn,
        EMBEDGATE_REVOCATION_TABLE: this.revocations.table.tableName,
        POWERTOOLS_SERVICE_NAME: serviceName,
        POWERTOOLS_METRICS_NAMESPACE: 'embedgate',
      },
    });
    this.archive.grantWrite(this.proxyFunction);
    this.revocations.grantCheck(this.proxyFunction);
    const secrets: Record<string, secretsmanager.ISecret> = {};
    bindings.forEach((b, i) => {
      if (b.secret) {
        b.secret.grantRead(this.proxyFunction);
        secrets[props.models[i]!.name] = b.secret;
      }
      for (const s of b.statements) this.proxyFunction.addToRolePolicy(s);
    });
    this.apiKeySecrets = secrets;
    this.pseudonymKey?.grantRead(this.proxyFunction);
    if (masking?.comprehend) {
      // DetectPiiEntities has no resource-level permissions.
      this.proxyFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['comprehend:DetectPiiEntities'], resources: ['*'] }));
      this.network.addInterfaceEndpoint('ComprehendEndpoint', ec2.InterfaceVpcEndpointAwsService.COMPREHEND);
    }
    acknowledgeProxyFindings(this.proxyFunction, props.reservedConcurrentExecutions !== undefined);
    // Without egress the proxy cannot reach the issuers: their keys come from the key mirror's table.
    if (!this.network.egressAllowed) {
      const mirror = new IssuerKeyMirror(this, 'KeyMirror', {
        configuration: config.json,
        configurationEnvironment: config.environment,
        encryptionKey: this.logsKey,
        logRetention,
        ...(props.runtime ? { runtime: props.runtime } : {}),
        policyReason: ROLE_POLICY_REASON,
      });
      mirror.table.grantReadData(this.proxyFunction);
      this.proxyFunction.addEnvironment('EMBEDGATE_ISSUER_KEYS_TABLE', mirror.table.tableName);
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
      });
      this.proxyFunction.addEnvironment('EMBEDGATE_APPROVAL_TABLE', this.approvals.table.tableName);
      this.proxyFunction.addEnvironment('EMBEDGATE_APPROVAL_STATE_MACHINE', this.approvals.stateMachine.stateMachineArn);
      this.approvals.grantUse(this.proxyFunction);
    } else if (props.approvalTopic || props.approvalSubscriptions) {
      Annotations.of(this).addWarningV2(
        'embedgate:approvalsUnused',
        'approvalTopic or approvalSubscriptions is set, but no policy rule has an approval: no approval workflow is created',
      );
    }

    // API: one JWT authorizer per issuer; the primary issuer at /v1, the others at /<id>/v1.
    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: logRetention,
      encryptionKey: this.logsKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.api = new apigwv2.HttpApi(this, 'Api', {
      description: 'embedgate: identity-aware embeddings gateway',
      createDefaultStage: false,
      ...(props.domainName ? { defaultDomainMapping: { domainName: props.domainName } } : {}),
    });
    this.stage = new apigwv2.HttpStage(this, 'Stage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttlingRateLimit ?? 100, burstLimit: props.throttlingBurstLimit ?? 200 },
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup), format: accessLogFormat() },
    });
    const integration = new RoleLambdaIntegration('Proxy', this.proxyFunction, this);
    props.issuers.forEach((issuer, i) => {
      const authorizer = new HttpJwtAuthorizer(`Jwt-${issuer.id}`, issuer.issuerUrl, {
        jwtAudience: issuer.audiences,
        authorizerName: `jwt-${issuer.id}`,
      });
      const prefix = i === 0 ? '' : `/${issuer.id}`;
      this.api.addRoutes({ path: `${prefix}/v1/embeddings`, methods: [apigwv2.HttpMethod.POST], integration, authorizer });
      this.api.addRoutes({ path: `${prefix}/v1/models`, methods: [apigwv2.HttpMethod.GET], integration, authorizer });
      if (this.approvals) {
        this.api.addRoutes({ path: `${prefix}/v1/approvals`, methods: [apigwv2.HttpMethod.GET], integration, authorizer });
        this.api.addRoutes({ path: `${prefix}/v1/approvals/{id}`, methods: [apigwv2.HttpMethod.GET], integration, authorizer });
        this.api.addRoutes({ path: `${prefix}/v1/approvals/{id}/decision`, methods: [apigwv2.HttpMethod.POST], integration, authorizer });
      }
    });
    const [health] = this.api.addRoutes({ path: '/health', methods: [apigwv2.HttpMethod.GET], integration });
    const healthReason =
      'GET /health is the liveness probe: it answers a constant {"status":"ok"} without reading a body, a token or any data, and writes no record.';
    Validations.of(health!).acknowledge(
      { id: 'AwsSolutions-APIG4', reason: healthReason },
      { id: CT_RULES.routeAuthorization, reason: `CT.APIGATEWAY.PR.5: ${healthReason}` },
    );
    applyControlTowerControls(this);
    acknowledgeVpcCustomResource(this);
    this.url = `${this.stage.url.replace(/\/$/, '')}/v1`;

    // Requests API Gateway answers itself (authorizer refusals, unknown routes, throttling) never
    // reach the proxy: the edge recorder turns their access-log entries into session records.
    const edgeLogs = new logs.LogGroup(this, 'EdgeRecorderLogs', {
      retention: logRetention,
      encryptionKey: this.logsKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const edgeRole = functionRole(this, 'EdgeRecorderRole', {
      logGroup: edgeLogs,
      inVpc: true,
      description: 'embedgate edge recorder function',
      policyReason: ROLE_POLICY_REASON,
    });
    this.edgeRecorderDeadLetterQueue = new sqs.Queue(this, 'EdgeRecorderDlq', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.edgeRecorderDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is the dead-letter queue of the edge recorder: access-log batches it could not archive after its retries wait here (alarmed) to be replayed.',
    });
    this.edgeRecorderFunction = gatewayFunction(this, 'EdgeRecorder', {
      description: 'embedgate edge recorder: session records for requests API Gateway refused itself',
      bundle: 'edge-recorder',
      files: { 'config.json': config.json },
      ...(props.runtime ? { runtime: props.runtime } : {}),
      memorySize: 256,
      timeout: Duration.minutes(1),
      network: this.network,
      logGroup: edgeLogs,
      role: edgeRole,
      extra: { deadLetterQueue: this.edgeRecorderDeadLetterQueue, retryAttempts: 2 },
      environment: {
        ...config.environment,
        EMBEDGATE_ARCHIVE_BUCKET: this.archive.bucket.bucketName,
        EMBEDGATE_ARCHIVE_KEY_ARN: this.archive.encryptionKey.keyArn,
        POWERTOOLS_SERVICE_NAME: serviceName,
        POWERTOOLS_METRICS_NAMESPACE: 'embedgate',
      },
    });
    this.archive.grantWrite(this.edgeRecorderFunction);
    Validations.of(this.edgeRecorderFunction).acknowledge({
      id: 'NIST.800.53.R5-LambdaConcurrency',
      reason:
        'Invoked by the access log subscription only, in batches; its concurrency follows the API traffic, which the stage throttle bounds.',
    });
    new logs.SubscriptionFilter(this, 'EdgeRecords', {
      logGroup: this.accessLogGroup,
      destination: new logsDestinations.LambdaDestination(this.edgeRecorderFunction),
      filterPattern: logs.FilterPattern.stringValue('$.integrationStatus', '=', '-'),
    });

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
    });
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
    Object.entries(secrets).forEach(
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
    return this.monitoring.metric('Requests', { statistic: 'Sum', ...props });
  }

  /** Requests refused by identity, revocation or policy (401, 403). @default sum over 5 minutes */
  public metricDenied(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metric('Denied', { statistic: 'Sum', ...props });
  }

  /** Requests that failed (429 from upstream, 5xx). @default sum over 5 minutes */
  public metricErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metric('Errors', { statistic: 'Sum', ...props });
  }

  /** Records the archive refused. @default sum over 5 minutes */
  public metricArchiveErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metric('ArchiveErrors', { statistic: 'Sum', ...props });
  }

  /** The gateway's own time per request (without the upstream call), ms. @default p99 over 5 minutes */
  public metricLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metric('GatewayLatency', { statistic: 'p99', ...props });
  }

  /** Sensitive values found by masking (all entity types). @default sum over 5 minutes */
  public metricMaskedEntities(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metric('MaskedEntities', { statistic: 'Sum', ...props });
  }

  /** Upstream latency per request, ms. @default p99 over 5 minutes */
  public metricUpstreamLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.monitoring.metric('UpstreamLatency', { statistic: 'p99', ...props });
  }
}

const ROLE_POLICY_REASON =
  "The role's policy is generated from least-privilege grants on this gateway's own resources (one bucket prefix, one table, the configured secrets and models); it belongs to this role alone and is not meant to be attached elsewhere.";

function acknowledgeProxyFindings(fn: lambda.Function, concurrencyReserved: boolean): void {
  Validations.of(fn).acknowledge({
    id: 'NIST.800.53.R5-LambdaDLQ',
    reason:
      "The proxy is invoked synchronously by API Gateway; a dead-letter queue applies to asynchronous invocations only. Every request's outcome is in its session record.",
  });
  if (!concurrencyReserved) {
    Validations.of(fn).acknowledge({
      id: 'NIST.800.53.R5-LambdaConcurrency',
      reason:
        'Concurrency is bounded by the API stage throttle (throttlingRateLimit / throttlingBurstLimit); set reservedConcurrentExecutions to reserve it as well.',
    });
  }
}

function validateProps(props: EmbeddingGatewayProps): void {
  if (!props.issuers || props.issuers.length === 0) throw new Error('EmbeddingGateway: issuers must list at least one trusted OIDC issuer');
  if (!props.models || props.models.length === 0) throw new Error('EmbeddingGateway: models must list at least one UpstreamModel');
  for (const issuer of props.issuers) {
    if (!Token.isUnresolved(issuer.issuerUrl) && !issuer.issuerUrl.startsWith('https://')) {
      throw new Error(
        `EmbeddingGateway: issuer "${issuer.id}" has issuerUrl ${JSON.stringify(issuer.issuerUrl)}; API Gateway's JWT authorizer needs an https:// issuer (use embedgate dev for a local issuer)`,
      );
    }
    for (const alg of issuer.algorithms ?? []) {
      if (!Object.values(JwtAlgorithm).includes(alg))
        throw new Error(
          `EmbeddingGateway: issuer "${issuer.id}" algorithm ${String(alg)} is not supported; use JwtAlgorithm.RS256, RS384 or RS512`,
        );
    }
  }
  const names = props.models.map((m) => m.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`EmbeddingGateway: two models are named "${dup}"; give one a different name with the "name" option`);
  const size = props.maxRequestSize?.toBytes();
  if (size !== undefined && size > 6 * 1024 * 1024) {
    throw new Error('EmbeddingGateway: maxRequestSize must be at most 6 MiB (the Lambda payload limit)');
  }
}

/** One JSON line per request: what API Gateway decided, even when the function never ran. */
function accessLogFormat(): AccessLogFormat {
  return AccessLogFormat.custom(
    JSON.stringify({
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
    }),
  );
}
