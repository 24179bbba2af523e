/**
 * The approval workflow as `EmbeddingGateway` provisions it when a policy rule requires approval:
 * state machine, table, topic, task function, the proxy's wiring, routes, endpoint, alarm, and
 * the `approval` prop turned into the configuration document.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Duration, Stack, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { EmbeddingGateway, PolicyEffect, UpstreamModel, type EmbeddingGatewayProps, type PolicyRule } from '../../lib';
import { APPROVAL_ATTRIBUTES, APPROVAL_STATUS_INDEX } from '../../lambda/adapters/aws/dynamodb-approvals';
import { stateMachineDefinition } from '../support/asl';

const ISSUERS: EmbeddingGatewayProps['issuers'] = [
  { id: 'okta', issuerUrl: 'https://acme.okta.com/oauth2/default', audiences: ['api://embedgate'] },
  { id: 'github', issuerUrl: 'https://token.actions.githubusercontent.com', audiences: ['embedgate'] },
];
const HELD: PolicyRule = {
  id: 'export',
  effect: PolicyEffect.ALLOW,
  groups: ['export-*'],
  approval: {
    when: {
      batchOver: 100,
      inputMatches: [{ name: 'EXPORT_CONTROLLED', pattern: '\\bITAR\\b', flags: 'i' }],
      principalOutsideGroups: ['trusted-*'],
    },
    reviewers: { groups: ['reviewers'], subjects: ['security-lead'] },
    requiredApprovals: 2,
    timeout: Duration.hours(4),
    useWithin: Duration.minutes(5),
  },
};

function synth(overrides: Partial<EmbeddingGatewayProps> = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Test');
  const gateway = new EmbeddingGateway(stack, 'Gateway', {
    issuers: ISSUERS,
    models: [UpstreamModel.bedrock('amazon.titan-embed-text-v2:0', { name: 'titan-v2' })],
    rules: [{ id: 'rag', effect: PolicyEffect.ALLOW, groups: ['rag-*'] }, HELD],
    ...overrides,
  });
  const template = Template.fromStack(stack);
  const id = (c: { node: { defaultChild?: unknown } } | CfnElement) =>
    stack.getLogicalId(('node' in c && c.node.defaultChild ? c.node.defaultChild : c) as CfnElement);
  return { app, stack, gateway, template, id };
}

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
function statementsOf(template: Template, roleLogicalId: string): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${roleLogicalId}"`))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}
const actionsOn = (statements: Statement[], resourceFragment: string) =>
  statements
    .filter((s) => JSON.stringify(s.Resource).includes(resourceFragment))
    .flatMap((s) => [s.Action].flat())
    .sort();

describe('without a rule that requires approval', () => {
  const { gateway, template } = synth({ rules: [{ id: 'rag', effect: PolicyEffect.ALLOW, groups: ['rag-*'] }] });

  test('nothing of the workflow exists: no state machine, table, topic, routes, endpoint or environment', () => {
    expect(gateway.approvals).toBeUndefined();
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 0);
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((r) => r.Properties.RouteKey as string);
    expect(routes.filter((k) => k.includes('approvals'))).toEqual([]);
    expect(JSON.stringify(template.findResources('AWS::EC2::VPCEndpoint'))).not.toContain('.states');
    expect(JSON.stringify(template.findResources('AWS::Lambda::Function'))).not.toContain('EMBEDGATE_APPROVAL');
  });

  test('an approval topic given anyway is reported, not used', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Unused');
    new EmbeddingGateway(stack, 'Gateway', {
      issuers: ISSUERS,
      models: [UpstreamModel.bedrock('amazon.titan-embed-text-v2:0', { name: 'titan-v2' })],
      rules: [{ id: 'rag', effect: PolicyEffect.ALLOW }],
      approvalTopic: new sns.Topic(stack, 'Reviewers'),
    });
    Annotations.fromStack(stack).hasWarning('/Unused/Gateway', Match.stringLikeRegexp('no policy rule has an approval'));
  });
});

describe('with a rule that requires approval', () => {
  const { app, gateway, template, id } = synth();
  const approvals = gateway.approvals!;
  const machine = () => template.toJSON().Resources[id(approvals.stateMachine)].Properties;

  test('the workflow is exposed on the gateway: state machine, table, topic, task function', () => {
    expect(approvals.stateMachine).toBeDefined();
    expect(id(approvals.table)).toMatch(/ApprovalsTable/);
    expect(id(approvals.topic as sns.Topic)).toMatch(/ApprovalsTopic/);
    expect(id(approvals.taskFunction)).toMatch(/ApprovalsTaskFunction/);
  });

  test('a standard workflow, X-Ray traced, logging every event (without execution data) to an encrypted log group with retention', () => {
    expect(machine()).toMatchObject({
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: false,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [id(approvals.logGroup as never), 'Arn'] } } }],
      },
    });
    const lg = template.toJSON().Resources[id(approvals.logGroup as never)].Properties;
    expect(lg).toMatchObject({ RetentionInDays: 365, KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/LogsKey/), 'Arn'] } });
  });

  test('the definition: Notify (SNS) → WaitForDecision (task token, timeout from the input) → Confirm (the table) → Approved / Denied / WaitForDeadline → Expire; timeout → Expire → Expired', () => {
    const asl = stateMachineDefinition(template.toJSON());
    expect(asl.StartAt).toBe('Notify');
    const s = asl.States;
    expect(Object.keys(s).sort()).toEqual([
      'Approved',
      'Confirm',
      'Decision',
      'Denied',
      'Expire',
      'Expired',
      'ExpiryOutcome',
      'Notify',
      'WaitForDeadline',
      'WaitForDecision',
    ]);
    expect(s.Notify).toMatchObject({
      Type: 'Task',
      Resource: 'arn:aws:states:::sns:publish',
      Parameters: {
        TopicArn: expect.stringContaining(':sns:'),
        'Subject.$': '$.notification.subject',
        'Message.$': '$.notification.message',
      },
      ResultPath: null,
      Next: 'WaitForDecision',
    });
    expect(s.WaitForDecision).toMatchObject({
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: {
        FunctionName: expect.stringContaining(id(approvals.taskFunction)),
        Payload: { action: 'register', 'approvalId.$': '$.approvalId', 'taskToken.$': '$$.Task.Token' },
      },
      TimeoutSecondsPath: '$.timeoutSeconds',
      // What released the wait is discarded: it decides nothing.
      ResultPath: null,
      Catch: [
        { ErrorEquals: ['States.Timeout'], Next: 'Expire', ResultPath: '$.timeout' },
        // Any other end (a forged SendTaskFailure, register failing past its retries): the table decides.
        { ErrorEquals: ['States.ALL'], Next: 'Confirm', ResultPath: '$.waitError' },
      ],
      Next: 'Confirm',
    });
    expect(s.WaitForDecision!.TimeoutSeconds).toBeUndefined();
    // What released the wait is not trusted: the workflow ends on the status the table holds.
    expect(s.Confirm).toMatchObject({
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: {
        FunctionName: expect.stringContaining(id(approvals.taskFunction)),
        Payload: { action: 'confirm', 'approvalId.$': '$.approvalId' },
      },
      ResultSelector: { 'status.$': '$.Payload.status', 'decideBy.$': '$.Payload.decideBy' },
      ResultPath: '$.confirmed',
      Next: 'Decision',
    });
    expect(s.Decision).toEqual({
      Type: 'Choice',
      Choices: [
        {
          Or: [
            { Variable: '$.confirmed.status', StringEquals: 'approved' },
            { Variable: '$.confirmed.status', StringEquals: 'used' },
          ],
          Next: 'Approved',
        },
        { Variable: '$.confirmed.status', StringEquals: 'denied', Next: 'Denied' },
        { Variable: '$.confirmed.status', StringEquals: 'pending', Next: 'WaitForDeadline' },
      ],
      Default: 'Expire',
    });
    // The deadline from the table as well.
    expect(s.WaitForDeadline).toMatchObject({ Type: 'Wait', TimestampPath: '$.confirmed.decideBy', Next: 'Expire' });
    expect(s.Expire).toMatchObject({
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { Payload: { action: 'expire', 'approvalId.$': '$.approvalId', 'executionId.$': '$$.Execution.Id' } },
      Next: 'ExpiryOutcome',
    });
    // Expire changes only a pending approval: one decided meanwhile ends as decided.
    expect(s.ExpiryOutcome).toEqual({
      Type: 'Choice',
      Choices: [
        {
          Or: [
            { Variable: '$.expiry.status', StringEquals: 'approved' },
            { Variable: '$.expiry.status', StringEquals: 'used' },
          ],
          Next: 'Approved',
        },
        { Variable: '$.expiry.status', StringEquals: 'denied', Next: 'Denied' },
      ],
      Default: 'Expired',
    });
    for (const end of ['Approved', 'Denied', 'Expired']) expect(s[end]).toEqual({ Type: 'Succeed' });
    // The longest approval timeout is 7 days; the execution as a whole stops a day after.
    expect(asl.TimeoutSeconds).toBe(8 * 86_400);
  });

  test('Lambda tasks retry on Lambda service errors (and their own failures); no retry swallows the timeout', () => {
    const s = stateMachineDefinition(template.toJSON()).States;
    for (const name of ['WaitForDecision', 'Confirm', 'Expire']) {
      const retry = s[name]!.Retry as { ErrorEquals: string[] }[];
      expect(retry[0]!.ErrorEquals).toEqual(
        expect.arrayContaining(['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException']),
      );
      expect(retry.flatMap((r) => r.ErrorEquals)).not.toContain('States.Timeout');
      expect(retry.flatMap((r) => r.ErrorEquals)).not.toContain('States.ALL');
    }
  });

  test('table: on demand, point-in-time recovery, encrypted with the gateway key, TTL on expiresAt, retained and deletion-protected', () => {
    const table = template.toJSON().Resources[id(approvals.table)];
    expect(table).toMatchObject({
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [expect.stringMatching(/LogsKey/), 'Arn'] } },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        DeletionProtectionEnabled: true,
      },
    });
  });

  test('table: the status index the approvals list queries, as the adapter queries it', () => {
    const table = template.toJSON().Resources[id(approvals.table)].Properties;
    expect(table.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: APPROVAL_STATUS_INDEX,
        KeySchema: [
          { AttributeName: APPROVAL_ATTRIBUTES.status, KeyType: 'HASH' },
          { AttributeName: APPROVAL_ATTRIBUTES.createdAt, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ]);
    expect(table.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: APPROVAL_ATTRIBUTES.status, AttributeType: 'S' },
        { AttributeName: APPROVAL_ATTRIBUTES.createdAt, AttributeType: 'N' },
      ]),
    );
  });

  test('topic: KMS-encrypted, TLS only; its ARN is an output', () => {
    expect(template.toJSON().Resources[id(approvals.topic as sns.Topic)].Properties).toMatchObject({
      KmsMasterKeyId: { 'Fn::GetAtt': [expect.stringMatching(/LogsKey/), 'Arn'] },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: id(approvals.topic as sns.Topic) }],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
    template.hasOutput('*', { Value: { Ref: id(approvals.topic as sns.Topic) } });
  });

  test('task function: Node.js 24, arm64, X-Ray, in the VPC, its own encrypted log group, the table and the machine ARN (not a reference) in its environment', () => {
    const fn = template.toJSON().Resources[id(approvals.taskFunction)].Properties;
    expect(fn).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      Handler: 'index.handler',
    });
    expect(fn.VpcConfig.SubnetIds.length).toBeGreaterThanOrEqual(2);
    const env = fn.Environment.Variables;
    expect(env.EMBEDGATE_APPROVAL_TABLE).toEqual({ Ref: id(approvals.table) });
    // A reference to the machine would be a cycle (the machine refers to the function): its ARN is built from its fixed name.
    expect(JSON.stringify(env.EMBEDGATE_APPROVAL_STATE_MACHINE)).toContain(`:stateMachine:${machine().StateMachineName}`);
    expect(JSON.stringify(env.EMBEDGATE_APPROVAL_STATE_MACHINE)).not.toContain(id(approvals.stateMachine));
    expect(Object.keys(env)).toEqual(
      expect.arrayContaining(['EMBEDGATE_ARCHIVE_BUCKET', 'EMBEDGATE_ARCHIVE_KEY_ARN', 'POWERTOOLS_SERVICE_NAME']),
    );
    const lg = template.toJSON().Resources[fn.LoggingConfig.LogGroup.Ref].Properties;
    expect(lg).toMatchObject({ RetentionInDays: 365, KmsKeyId: expect.anything() });
  });

  test('task function ships the approval-task bundle with the same configuration document, including the approval section', () => {
    const fn = template.toJSON().Resources[id(approvals.taskFunction)].Properties;
    const dir = join(app.synth().directory, `asset.${(fn.Code.S3Key as string).replace(/\.zip$/, '')}`);
    const doc = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(doc.policy.rules[1]).toEqual({
      id: 'export',
      effect: 'allow',
      match: { groups: ['export-*'] },
      models: ['*'],
      approval: {
        when: {
          principalOutsideGroups: ['trusted-*'],
          batchOver: 100,
          inputMatches: [{ name: 'EXPORT_CONTROLLED', pattern: '\\bITAR\\b', flags: 'i' }],
        },
        reviewers: { groups: ['reviewers'], subjects: ['security-lead'] },
        requiredApprovals: 2,
        timeoutSeconds: 14_400,
        useWithinSeconds: 300,
        maxPending: 10,
      },
    });
    expect(readFileSync(join(dir, 'index.mjs'), 'utf8')).toContain('approval task');
  });

  test('least privilege: the task role may get and put approvals, release its workflow, write records; nothing else', () => {
    const statements = statementsOf(template, template.toJSON().Resources[id(approvals.taskFunction)].Properties.Role['Fn::GetAtt'][0]);
    expect(actionsOn(statements, id(approvals.table))).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem']);
    const states = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('states:')));
    expect(states.flatMap((s) => [s.Action].flat())).toEqual(['states:SendTaskSuccess']);
    expect(JSON.stringify(states[0]!.Resource)).toContain(`:stateMachine:${machine().StateMachineName}`);
    const all = statements.flatMap((s) => [s.Action].flat());
    expect(all.filter((a) => a.startsWith('s3:'))).toEqual(['s3:PutObject']);
    expect(all).not.toContain('dynamodb:DeleteItem');
    expect(all).not.toContain('states:StartExecution');
    expect(all.filter((a) => a.includes('*') && a.startsWith('kms:'))).toEqual([]);
  });

  test('the state machine role: publish to the topic (and use its key), invoke the task function', () => {
    const statements = statementsOf(template, machine().RoleArn['Fn::GetAtt'][0]);
    expect(actionsOn(statements, id(approvals.topic as sns.Topic))).toContain('sns:Publish');
    expect(actionsOn(statements, id(approvals.taskFunction))).toEqual(['lambda:InvokeFunction']);
    const kms = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('kms:')));
    expect(kms.map((s) => s.Resource)).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/LogsKey/), 'Arn'] }]);
  });

  test('the proxy: table and machine in its environment; get, put, batch-read and list (by status) approvals, start and release executions', () => {
    const proxy = Object.values(
      template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('^embedgate proxy') } }),
    )[0]!.Properties;
    expect(proxy.Environment.Variables).toMatchObject({
      EMBEDGATE_APPROVAL_TABLE: { Ref: id(approvals.table) },
      EMBEDGATE_APPROVAL_STATE_MACHINE: { Ref: id(approvals.stateMachine) },
    });
    const statements = statementsOf(template, proxy.Role['Fn::GetAtt'][0]);
    expect(actionsOn(statements, id(approvals.table))).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
    ]);
    // Items on the table itself; the Query on the status index only (no index wildcard, no Scan).
    const onTable = statements.filter((st) => JSON.stringify(st.Resource).includes(id(approvals.table)));
    expect(onTable.map((st) => [[st.Action].flat().sort(), st.Resource])).toEqual([
      [['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem'], { 'Fn::GetAtt': [id(approvals.table), 'Arn'] }],
      [['dynamodb:Query'], { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id(approvals.table), 'Arn'] }, `/index/${APPROVAL_STATUS_INDEX}`]] }],
    ]);
    expect(actionsOn(statements, id(approvals.stateMachine))).toEqual(['states:SendTaskSuccess', 'states:StartExecution']);
  });

  test('the approval routes exist for every issuer, each behind the JWT authorizer of that issuer', () => {
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route'));
    const keys = routes
      .map((r) => r.Properties.RouteKey as string)
      .filter((k) => k.includes('approvals'))
      .sort();
    expect(keys).toEqual([
      'GET /github/v1/approvals',
      'GET /github/v1/approvals/{id}',
      'GET /v1/approvals',
      'GET /v1/approvals/{id}',
      'POST /github/v1/approvals/{id}/decision',
      'POST /v1/approvals/{id}/decision',
    ]);
    const authorizerOf = (key: string) => routes.find((r) => r.Properties.RouteKey === key)!.Properties;
    for (const k of keys) expect(authorizerOf(k).AuthorizationType).toBe('JWT');
    expect(authorizerOf('POST /v1/approvals/{id}/decision').AuthorizerId).toEqual(authorizerOf('POST /v1/embeddings').AuthorizerId);
    expect(authorizerOf('POST /github/v1/approvals/{id}/decision').AuthorizerId).toEqual(
      authorizerOf('POST /github/v1/embeddings').AuthorizerId,
    );
  });

  test('a Step Functions interface endpoint with private DNS in the VPC', () => {
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.states']] },
    });
  });

  test('an alarm on failed executions, notifying the alarm topic', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsFailed',
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: id(approvals.stateMachine) } }],
      Threshold: 1,
      AlarmActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }],
    });
  });
});

describe('topic and subscriptions', () => {
  test('subscriptions are added to the created topic', () => {
    const { template, gateway, id } = synth({ approvalSubscriptions: [new subscriptions.EmailSubscription('reviewers@example.com')] });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'reviewers@example.com',
      TopicArn: { Ref: id(gateway.approvals!.topic as sns.Topic) },
    });
  });

  test('a given topic is used, not a new one, and the workflow may publish to it', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Given');
    const topic = new sns.Topic(stack, 'Reviewers', { enforceSSL: true });
    const gateway = new EmbeddingGateway(stack, 'Gateway', {
      issuers: ISSUERS,
      models: [UpstreamModel.bedrock('amazon.titan-embed-text-v2:0', { name: 'titan-v2' })],
      rules: [HELD],
      approvalTopic: topic,
    });
    expect(gateway.approvals!.topic).toBe(topic);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SNS::Topic', 2); // the given one and the alarm topic
    const topicId = stack.getLogicalId(topic.node.defaultChild as sns.CfnTopic);
    const asl = stateMachineDefinition(template.toJSON());
    expect(asl.States.Notify!.Parameters.TopicArn).toContain(topicId);
    const machineRole =
      template.toJSON().Resources[stack.getLogicalId(gateway.approvals!.stateMachine.node.defaultChild as CfnElement)].Properties.RoleArn[
        'Fn::GetAtt'
      ][0];
    expect(actionsOn(statementsOf(template, machineRole), topicId)).toContain('sns:Publish');
  });
});

describe('invalid approval props', () => {
  const withApproval = (approval: PolicyRule['approval']) => () => synth({ rules: [{ ...HELD, approval }] });

  test('fails when a timeout is shorter than a minute, naming the path', () => {
    expect(withApproval({ reviewers: { groups: ['r'] }, timeout: Duration.seconds(30) })).toThrow(
      /policy\.rules\[0\]\.approval\.timeoutSeconds: Too small/,
    );
  });

  test('fails when no reviewer is named', () => {
    expect(withApproval({ reviewers: {} })).toThrow(/approval\.reviewers must name at least one group or subject/);
  });

  test('fails when a grant is not a whole number of minutes', () => {
    expect(withApproval({ reviewers: { groups: ['r'] }, grantDuration: Duration.seconds(90) })).toThrow(
      /rule "export" approval\.grantDuration must be a whole number of minutes/,
    );
  });

  test('fails when a deny rule has an approval', () => {
    expect(() => synth({ rules: [{ id: 'no', effect: PolicyEffect.DENY, approval: { reviewers: { groups: ['r'] } } }] })).toThrow(
      /approval applies to allow rules only/,
    );
  });

  test('a grant duration becomes grantMinutes', () => {
    const { app, template, gateway, id } = synth({
      rules: [{ ...HELD, approval: { reviewers: { groups: ['r'] }, grantDuration: Duration.hours(2) } }],
    });
    const fn = template.toJSON().Resources[id(gateway.approvals!.taskFunction)].Properties;
    const doc = JSON.parse(
      readFileSync(join(app.synth().directory, `asset.${(fn.Code.S3Key as string).replace(/\.zip$/, '')}`, 'config.json'), 'utf8'),
    );
    expect(doc.policy.rules[0].approval).toEqual({
      reviewers: { groups: ['r'] },
      grantMinutes: 120,
      requiredApprovals: 1,
      timeoutSeconds: 3600,
      useWithinSeconds: 900,
      maxPending: 10,
    });
  });

  test('maxPending is carried into the configuration, and checked at synth', () => {
    const { app, template, gateway, id } = synth({ rules: [{ ...HELD, approval: { reviewers: { groups: ['r'] }, maxPending: 3 } }] });
    const fn = template.toJSON().Resources[id(gateway.approvals!.taskFunction)].Properties;
    const doc = JSON.parse(
      readFileSync(join(app.synth().directory, `asset.${(fn.Code.S3Key as string).replace(/\.zip$/, '')}`, 'config.json'), 'utf8'),
    );
    expect(doc.policy.rules[0].approval.maxPending).toBe(3);
    expect(withApproval({ reviewers: { groups: ['r'] }, maxPending: 0 })).toThrow(/maxPending/);
  });
});
