import { ArnFormat, Duration, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { HANDLER_ENV } from '../shared/contract';
import type { GatewayNetwork } from './gateway-network';
import { logsKey } from './private/keys';
import { functionRole } from './private/function-role';
import { gatewayFunction } from './private/gateway-function';
import { archiveEnvironment, metricsEnvironment } from './private/handler-environment';
import { STEP_FUNCTIONS_ENDPOINT } from './private/network-endpoints';
import type { SessionArchive } from './session-archive';

/** The approvals table's status index (its name and keys are the DynamoDB adapter's: lambda/adapters/aws/dynamodb-approvals.ts). */
const STATUS_INDEX = 'by-status';

/** Properties of an `ApprovalWorkflow`. `EmbeddingGateway` creates one when a policy rule requires approval. */
export interface ApprovalWorkflowProps {
  /** The network the task function runs in (it gets a Step Functions interface endpoint). */
  readonly network: GatewayNetwork;
  /** The session archive the task function writes expiry records to. */
  readonly archive: SessionArchive;
  /** The gateway configuration document (JSON) the task function reads, as the proxy does. */
  readonly configuration: string;
  /**
   * Environment variables the configuration document refers to (`${env:NAME}`).
   * @default - none
   */
  readonly configurationEnvironment?: { [name: string]: string };
  /**
   * Key that encrypts the table, the topic and the workflow's log group. Its key policy must let
   * CloudWatch Logs use it.
   * @default - a new customer-managed key with rotation, usable by CloudWatch Logs
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Where reviewers are notified. If it is encrypted with a key this construct does not know,
   * let the state machine's role use that key.
   * @default - a new topic, encrypted with `encryptionKey`, TLS only
   */
  readonly topic?: sns.ITopic;
  /**
   * Subscriptions to add to the topic (e-mail, chat webhooks through Lambda or HTTPS, a queue).
   * @default - none; subscribe to `topic` yourself
   */
  readonly subscriptions?: sns.ITopicSubscription[];
  /**
   * Publish one message per subscription protocol: AWS Chatbot's custom notification format
   * (`notification.chatbot` of the execution input) to HTTPS subscriptions (how Chatbot
   * subscribes), the plain-text message to every other one (e-mail, SQS, Lambda).
   * @default false - the plain-text message to every subscription
   */
  readonly chatNotifications?: boolean;
  /**
   * Retention of the task function's and the workflow's log groups.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Lambda runtime of the task function (Node.js 22 or later).
   * @default lambda.Runtime.NODEJS_24_X
   */
  readonly runtime?: lambda.Runtime;
  /**
   * Powertools service name of the task function's logs.
   * @default - a name unique to this construct
   */
  readonly serviceName?: string;
  /**
   * What happens to the table when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** States of the workflow whose names the runtime and tests rely on. */
const STATE = {
  notify: 'Notify',
  wait: 'WaitForDecision',
  confirm: 'Confirm',
  decision: 'Decision',
  approved: 'Approved',
  denied: 'Denied',
  waitDeadline: 'WaitForDeadline',
  expire: 'Expire',
  expiryOutcome: 'ExpiryOutcome',
  expired: 'Expired',
} as const;

/**
 * Just-in-time approvals: a Step Functions standard workflow per held request, a DynamoDB table
 * of approvals and grants, an SNS topic for reviewers, and the task function the workflow calls.
 *
 * The proxy stores a pending approval and starts an execution named after it with
 * `{approvalId, timeoutSeconds, notification: {subject, message}}`. The workflow publishes the
 * notification (`Notify`), hands its task token to the task function and waits for it
 * (`WaitForDecision`, timing out after `timeoutSeconds`); a reviewer's decision through the
 * gateway releases it with `{"status": "approved" | "denied"}`. However the wait ends (but a
 * timeout), the workflow then reads the approval's status and deadline from the table (`Confirm`)
 * and ends on those, not on what ended the wait: one the table does not confirm (a forged
 * `SendTaskSuccess` or `SendTaskFailure`) waits until the deadline (`WaitForDeadline`). On
 * timeout, `Expire` marks the approval expired (if still pending) and records it; one decided
 * meanwhile ends as decided (`ExpiryOutcome`). The approval in the table is what the gateway enforces; the
 * workflow holds the wait, notifies, and expires.
 *
 * Logs: every event, without execution data (inputs and outputs): task parameters carry the task
 * token and the notification a masked preview of the input; both stay in the execution history
 * (90 days, `states:GetExecutionHistory`), and the approval chain is in the session records.
 */
export class ApprovalWorkflow extends Construct {
  /** The state machine (standard workflow, X-Ray traced, every event logged). */
  public readonly stateMachine: sfn.StateMachine;
  /** Approvals (`approval#<id>`), time-boxed grants (`grant#...`), pending lists (`pending#...`); TTL on `expiresAt`; index `by-status`. */
  public readonly table: dynamodb.Table;
  /** Where reviewers are notified. */
  public readonly topic: sns.ITopic;
  /** The function the workflow calls to register its task token and to expire an approval. */
  public readonly taskFunction: lambda.Function;
  /** The workflow's log group. */
  public readonly logGroup: logs.ILogGroup;
  /** Encrypts the table, the created topic and the log groups. */
  public readonly encryptionKey: kms.IKey;

  constructor(scope: Construct, id: string, props: ApprovalWorkflowProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    if (props.encryptionKey) {
      this.encryptionKey = props.encryptionKey;
    } else {
      this.encryptionKey = logsKey(this, 'Key', 'embedgate: encrypts approvals, reviewer notifications and workflow logs');
    }

    // Table (not TableV2): TableV2 cannot render a customer-managed key in an environment-agnostic stack.
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.encryptionKey,
      timeToLiveAttribute: 'expiresAt',
      deletionProtection: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    // Approvals by status, newest first: what the approvals list reads (lambda/adapters/aws/dynamodb-approvals.ts).
    this.table.addGlobalSecondaryIndex({
      indexName: STATUS_INDEX,
      partitionKey: { name: 'status', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'createdAt', type: dynamodb.AttributeType.NUMBER },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    Validations.of(this.table).acknowledge({
      id: 'NIST.800.53.R5-DynamoDBInBackupPlan',
      reason:
        'Point-in-time recovery is on (35 days). Items live until 30 days past their deadline, and every step of an approval is also a session record in the Object Lock archive; adding the table to an AWS Backup plan is a decision of the deployment.',
    });

    this.topic =
      props.topic ?? new sns.Topic(this, 'Topic', { displayName: 'embedgate approvals', masterKey: this.encryptionKey, enforceSSL: true });
    for (const s of props.subscriptions ?? []) this.topic.addSubscription(s);

    // The name is fixed so the task function can be given the ARN without a reference to the
    // state machine, which refers to the function (a reference would be a dependency cycle).
    const stateMachineName = Names.uniqueResourceName(this, { maxLength: 80 });
    const stateMachineArn = stack.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    props.network.addInterfaceEndpoint(STEP_FUNCTIONS_ENDPOINT.id, STEP_FUNCTIONS_ENDPOINT.service);
    const taskLogs = new logs.LogGroup(this, 'TaskLogs', {
      retention,
      encryptionKey: this.encryptionKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const role = functionRole(this, 'TaskRole', {
      logGroup: taskLogs,
      inVpc: true,
      description: 'embedgate approval task function',
      policyReason: POLICY_REASON,
    });
    this.taskFunction = gatewayFunction(this, 'TaskFunction', {
      description:
        'embedgate approval task: registers the workflow task token, confirms decisions from the table, expires undecided approvals',
      bundle: 'approval-task',
      files: { 'config.json': props.configuration },
      ...(props.runtime ? { runtime: props.runtime } : {}),
      memorySize: 256,
      timeout: Duration.seconds(30),
      network: props.network,
      logGroup: taskLogs,
      role,
      environment: {
        ...props.configurationEnvironment,
        ...archiveEnvironment(props.archive),
        [HANDLER_ENV.approvalTable]: this.table.tableName,
        [HANDLER_ENV.approvalStateMachine]: stateMachineArn,
        ...metricsEnvironment(props.serviceName ?? Names.uniqueResourceName(this, { maxLength: 64 })),
      },
    });
    props.archive.grantWrite(this.taskFunction);
    this.grantItems(this.taskFunction, 'dynamodb:GetItem', 'dynamodb:PutItem');
    // `register` releases the workflow at once when the approval was decided before it got there.
    role.addToPolicy(new iam.PolicyStatement({ actions: ['states:SendTaskSuccess'], resources: [stateMachineArn] }));
    Validations.of(this.taskFunction).acknowledge(
      {
        id: 'NIST.800.53.R5-LambdaDLQ',
        reason:
          'Invoked synchronously by the approval workflow, whose Retry and Catch handle its failures; a dead-letter queue applies to asynchronous invocations only.',
      },
      {
        id: 'NIST.800.53.R5-LambdaConcurrency',
        reason:
          'Invoked only by the approval workflow, at most three times per held request (register, confirm, expire) and their retries; held requests are bounded by the API stage throttle and the per-principal cap.',
      },
    );

    this.logGroup = new logs.LogGroup(this, 'Logs', { retention, encryptionKey: this.encryptionKey, removalPolicy: RemovalPolicy.RETAIN });
    this.stateMachine = new sfn.StateMachine(this, 'Resource', {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: 'embedgate: holds a request for a human decision (notify reviewers, wait for the task token, expire)',
      definitionBody: sfn.DefinitionBody.fromChainable(this.definition(props.chatNotifications ?? false)),
      // The longest approval timeout is 7 days; an execution never outlives it by much.
      timeout: Duration.days(8),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    // SnsPublish grants sns:Publish; this adds the topic key, when the topic has one.
    this.topic.grantPublish(this.stateMachine);
    Validations.of(this.stateMachine.role).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Only what IAM cannot scope to a resource: X-Ray PutTraceSegments/PutTelemetryRecords/GetSampling*, and the CloudWatch Logs delivery actions Step Functions needs to log to a log group.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(this.taskFunction.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
        reason: 'lambda:InvokeFunction on the task function and its versions (the CDK Lambda task grants both); nothing else.',
      },
      {
        id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
        reason:
          'Publishing to an SNS topic encrypted with a customer-managed key needs kms:GenerateDataKey* and kms:Decrypt on that key (as AWS documents for publishers); granted by topic.grantPublish on the topic key only.',
      },
      { id: 'NIST.800.53.R5-IAMNoInlinePolicy', reason: POLICY_REASON },
    );
  }

  /**
   * What the gateway's proxy needs: read and write approvals and grants, read the statuses of a
   * principal's pending approvals (BatchGetItem, for the cap on pending approvals), list
   * approvals (Query of the status index), start the workflow, and release it when a reviewer
   * decides.
   */
  public grantUse(grantee: iam.IGrantable): iam.Grant {
    return this.grantItems(grantee, 'dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem')
      .combine(
        iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:Query'], resourceArns: [`${this.table.tableArn}/index/${STATUS_INDEX}`] }),
      )
      .combine(this.stateMachine.grantStartExecution(grantee))
      .combine(this.stateMachine.grant(grantee, 'states:SendTaskSuccess'));
  }

  /** Workflow executions that failed (an approval left pending until the gateway sees its deadline pass). @default sum over 5 minutes */
  public metricExecutionsFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stateMachine.metricFailed(props);
  }

  /** Item actions on the table itself (`table.grant` would add `<table>/index/*` as soon as the table had an index). */
  private grantItems(grantee: iam.IGrantable, ...actions: string[]): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [this.table.tableArn] }).combine(
      this.encryptionKey.grant(grantee, ...TABLE_KEY_ACTIONS),
    );
  }

  private definition(chat: boolean): sfn.IChainable {
    const approvalId = sfn.JsonPath.stringAt('$.approvalId');
    const notify = new tasks.SnsPublish(this, STATE.notify, {
      comment: 'Tell reviewers: who, which model, which rule, a masked preview, how to decide',
      topic: this.topic,
      subject: sfn.JsonPath.stringAt('$.notification.subject'),
      // With a chat channel: Chatbot's custom notification format to HTTPS subscriptions (Chatbot), plain text to the others.
      ...(chat
        ? {
            messagePerSubscriptionType: true,
            message: sfn.TaskInput.fromObject({
              default: sfn.JsonPath.stringAt('$.notification.message'),
              https: sfn.JsonPath.stringAt('$.notification.chatbot'),
            }),
          }
        : { message: sfn.TaskInput.fromJsonPathAt('$.notification.message') }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    notify.addRetry({
      errors: ['SNS.SdkClientException', 'SNS.InternalErrorException', 'SNS.ThrottledException'],
      interval: Duration.seconds(2),
      maxAttempts: 4,
      backoffRate: 2,
    });

    const wait = new tasks.LambdaInvoke(this, STATE.wait, {
      comment: 'Give the task token to the gateway (stored on the approval); a reviewer decision releases it',
      lambdaFunction: this.taskFunction,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({ action: 'register', approvalId, taskToken: sfn.JsonPath.taskToken }),
      taskTimeout: sfn.Timeout.at('$.timeoutSeconds'),
      // What released the wait is not kept: it decides nothing (Confirm reads the table), and a
      // large forged output could push the state past Step Functions' size limit.
      resultPath: sfn.JsonPath.DISCARD,
    });
    // Function errors (e.g. DynamoDB briefly unavailable): registering again is harmless.
    wait.addRetry({ errors: ['States.TaskFailed'], interval: Duration.seconds(5), maxAttempts: 2, backoffRate: 2 });

    const expire = new tasks.LambdaInvoke(this, STATE.expire, {
      comment: 'Mark the approval expired (if still pending) and write its session record',
      lambdaFunction: this.taskFunction,
      payload: sfn.TaskInput.fromObject({ action: 'expire', approvalId, executionId: sfn.JsonPath.executionId }),
      resultSelector: { 'status.$': '$.Payload.status' },
      resultPath: '$.expiry',
    });
    expire.addRetry({ errors: ['States.TaskFailed'], interval: Duration.seconds(5), maxAttempts: 3, backoffRate: 2 });
    // Expire changes only a pending approval: one decided meanwhile ends as decided.
    const approved = new sfn.Succeed(this, STATE.approved);
    const denied = new sfn.Succeed(this, STATE.denied);
    // A status the table holds, read at `statusPath`: approved (or already used) and denied end the workflow so.
    const onDecided = (id: string, statusPath: string) =>
      new sfn.Choice(this, id)
        .when(
          sfn.Condition.or(sfn.Condition.stringEquals(statusPath, 'approved'), sfn.Condition.stringEquals(statusPath, 'used')),
          approved,
        )
        .when(sfn.Condition.stringEquals(statusPath, 'denied'), denied);
    expire.next(onDecided(STATE.expiryOutcome, '$.expiry.status').otherwise(new sfn.Succeed(this, STATE.expired)));
    wait.addCatch(expire, { errors: ['States.Timeout'], resultPath: '$.timeout' });

    // Whoever released the wait (a reviewer's decision through the gateway, or anyone else with
    // states:SendTaskSuccess and the token), the table says how the approval stands.
    const confirm = new tasks.LambdaInvoke(this, STATE.confirm, {
      comment: 'Read the approval status from the table: the workflow ends on it, not on what released the wait',
      lambdaFunction: this.taskFunction,
      payload: sfn.TaskInput.fromObject({ action: 'confirm', approvalId }),
      resultSelector: { 'status.$': '$.Payload.status', 'decideBy.$': '$.Payload.decideBy' },
      resultPath: '$.confirmed',
    });
    confirm.addRetry({ errors: ['States.TaskFailed'], interval: Duration.seconds(5), maxAttempts: 3, backoffRate: 2 });
    // Any other end of the wait (a forged SendTaskFailure, or register failing past its retries):
    // the table decides here too.
    wait.addCatch(confirm, { errors: ['States.ALL'], resultPath: '$.waitError' });

    const waitDeadline = new sfn.Wait(this, STATE.waitDeadline, {
      comment: 'The wait ended but the table still says pending: not a decision; wait for the deadline (from the table), then expire',
      time: sfn.WaitTime.timestampPath('$.confirmed.decideBy'),
    });
    waitDeadline.next(expire);

    const decision = onDecided(STATE.decision, '$.confirmed.status')
      .when(sfn.Condition.stringEquals('$.confirmed.status', 'pending'), waitDeadline)
      // Expired (withdrawn by the gateway, or registered after the deadline): expiring again writes
      // its record once and ends the same way.
      .otherwise(expire);
    return notify.next(wait).next(confirm).next(decision);
  }
}

/** What DynamoDB asks of a caller's identity on a table encrypted with a customer-managed key (no wildcards). */
const TABLE_KEY_ACTIONS = ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'];

const POLICY_REASON =
  "The role's policy is generated from least-privilege grants on this gateway's own resources (the approval table, topic, function and state machine); it belongs to this role alone and is not meant to be attached elsewhere.";
