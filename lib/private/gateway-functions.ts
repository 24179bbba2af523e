import { Duration, RemovalPolicy, Size, Validations } from 'aws-cdk-lib';
import type { ArchiveJournal } from '../archive-journal';
import { reviewerPageFiles } from './review-page-routes';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as logsDestinations from 'aws-cdk-lib/aws-logs-destinations';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { EDGE_ENTRY_FILTER, HANDLER_ENV } from '../../shared/contract';
import type { EmbeddingGatewayProps } from '../embedding-gateway-props';
import type { GatewayNetwork } from '../gateway-network';
import type { RevocationTable } from '../revocation-table';
import type { SessionArchive } from '../session-archive';
import type { UpstreamModelBinding } from '../upstream-model';
import { functionRole } from './function-role';
import type { BuiltConfig } from './gateway-config';
import { gatewayFunction } from './gateway-function';
import { archiveEnvironment, metricsEnvironment } from './handler-environment';

/** Where the gateway's logs go: its logs key and retention. */
export interface GatewayLogs {
  readonly key: kms.IKey;
  readonly retention: logs.RetentionDays;
}

/** A log group of the gateway (function logs, API access logs): encrypted with the logs key, retained. */
export function gatewayLogGroup(scope: Construct, id: string, l: GatewayLogs): logs.LogGroup {
  return new logs.LogGroup(scope, id, { retention: l.retention, encryptionKey: l.key, removalPolicy: RemovalPolicy.RETAIN });
}

/** What the proxy and the edge recorder functions are built from. */
export interface GatewayFunctionsContext {
  readonly props: EmbeddingGatewayProps;
  readonly config: BuiltConfig;
  readonly logs: GatewayLogs;
  readonly network: GatewayNetwork;
  readonly archive: SessionArchive;
  /** The write-ahead journal the functions write records to. */
  readonly journal: ArchiveJournal;
  /** The Powertools service name of the gateway's metrics. */
  readonly serviceName: string;
}

/** The proxy function (construct ids `ProxyLogs`, `ProxyRole`, `Proxy`) and its grants. */
export function addProxyFunction(
  scope: Construct,
  c: GatewayFunctionsContext & {
    readonly revocations: RevocationTable;
    readonly bindings: readonly UpstreamModelBinding[];
    readonly pseudonymKey?: secretsmanager.ISecret;
  },
): { readonly fn: lambda.Function; readonly apiKeySecrets: Record<string, secretsmanager.ISecret> } {
  const props = c.props;
  const { logGroup: functionLogs, role } = logsAndRole(scope, 'Proxy', 'embedgate proxy function', c.logs);
  const fn = gatewayFunction(scope, 'Proxy', {
    description: 'embedgate proxy: identity, revocation, policy, upstream call, session record',
    bundle: 'proxy',
    files: { 'config.json': c.config.json, ...(props.reviewerPage ? reviewerPageFiles() : {}) },
    ...(props.runtime ? { runtime: props.runtime } : {}),
    memorySize: (props.memorySize ?? Size.mebibytes(1024)).toMebibytes(),
    timeout: props.timeout ?? Duration.seconds(29),
    ...(props.reservedConcurrentExecutions !== undefined
      ? { extra: { reservedConcurrentExecutions: props.reservedConcurrentExecutions } }
      : {}),
    network: c.network,
    logGroup: functionLogs,
    role,
    environment: {
      ...c.config.environment,
      ...archiveEnvironment(c.archive),
      [HANDLER_ENV.journalTable]: c.journal.table.tableName,
      [HANDLER_ENV.revocationTable]: c.revocations.table.tableName,
      ...metricsEnvironment(c.serviceName),
    },
  });
  c.journal.grantJournalWrite(fn);
  c.revocations.grantCheck(fn);
  const secrets: Record<string, secretsmanager.ISecret> = {};
  c.bindings.forEach((b, i) => {
    if (b.secret) {
      b.secret.grantRead(fn);
      secrets[props.models[i]!.name] = b.secret;
    }
    for (const s of b.statements) fn.addToRolePolicy(s);
  });
  c.pseudonymKey?.grantRead(fn);
  if (props.masking?.comprehend) {
    // DetectPiiEntities has no resource-level permissions.
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['comprehend:DetectPiiEntities'], resources: ['*'] }));
    c.network.addInterfaceEndpoint('ComprehendEndpoint', ec2.InterfaceVpcEndpointAwsService.COMPREHEND);
  }
  acknowledgeProxyFindings(fn, props.reservedConcurrentExecutions !== undefined);
  return { fn, apiKeySecrets: secrets };
}

/**
 * The edge recorder (construct ids `EdgeRecorderLogs`, `EdgeRecorderRole`, `EdgeRecorderDlq`,
 * `EdgeRecorder`, `EdgeRecords`): requests API Gateway answers itself (authorizer refusals, unknown
 * routes, throttling) never reach the proxy, so their access-log entries become session records.
 */
export function addEdgeRecorder(
  scope: Construct,
  c: GatewayFunctionsContext & { readonly accessLogGroup: logs.ILogGroup },
): { readonly fn: lambda.Function; readonly deadLetterQueue: sqs.Queue } {
  const { logGroup: edgeLogs, role: edgeRole } = logsAndRole(scope, 'EdgeRecorder', 'embedgate edge recorder function', c.logs);
  const deadLetterQueue = new sqs.Queue(scope, 'EdgeRecorderDlq', {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(deadLetterQueue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason:
      'This queue is the dead-letter queue of the edge recorder: access-log batches it could not archive after its retries wait here (alarmed) to be replayed.',
  });
  const fn = gatewayFunction(scope, 'EdgeRecorder', {
    description: 'embedgate edge recorder: session records for requests API Gateway refused itself',
    bundle: 'edge-recorder',
    files: { 'config.json': c.config.json },
    ...(c.props.runtime ? { runtime: c.props.runtime } : {}),
    memorySize: 256,
    timeout: Duration.minutes(1),
    network: c.network,
    logGroup: edgeLogs,
    role: edgeRole,
    extra: { deadLetterQueue, retryAttempts: 2 },
    environment: {
      ...c.config.environment,
      ...archiveEnvironment(c.archive),
      [HANDLER_ENV.journalTable]: c.journal.table.tableName,
      ...metricsEnvironment(c.serviceName),
    },
  });
  c.journal.grantJournalWrite(fn);
  Validations.of(fn).acknowledge({
    id: 'NIST.800.53.R5-LambdaConcurrency',
    reason:
      'Invoked by the access log subscription only, in batches; its concurrency follows the API traffic, which the stage throttle bounds.',
  });
  new logs.SubscriptionFilter(scope, 'EdgeRecords', {
    logGroup: c.accessLogGroup,
    destination: new logsDestinations.LambdaDestination(fn),
    filterPattern: logs.FilterPattern.stringValue(`$.${EDGE_ENTRY_FILTER.field}`, '=', EDGE_ENTRY_FILTER.equals),
  });
  return { fn, deadLetterQueue };
}

/** A gateway function's log group (`<name>Logs`) and role (`<name>Role`, in the VPC). */
function logsAndRole(scope: Construct, name: string, description: string, l: GatewayLogs): { logGroup: logs.LogGroup; role: iam.Role } {
  const logGroup = gatewayLogGroup(scope, `${name}Logs`, l);
  return { logGroup, role: functionRole(scope, `${name}Role`, { logGroup, inVpc: true, description, policyReason: ROLE_POLICY_REASON }) };
}

export const ROLE_POLICY_REASON =
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
