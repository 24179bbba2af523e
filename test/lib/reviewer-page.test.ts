/**
 * The reviewer page and chat channel as `EmbeddingGateway` provisions them: the page's routes
 * without an authorizer (and only those), the configuration section, the Chatbot channel with a
 * role of no permissions, and the workflow's per-protocol notification.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EmbeddingGateway, PolicyEffect, ReviewerChatChannel, UpstreamModel, type EmbeddingGatewayProps } from '../../lib';
import { stateMachineDefinition } from '../support/asl';

const TENANT = '0a1b2c3d-1111-2222-3333-444455556666';
const TEAM = '9f8e7d6c-1111-2222-3333-444455556666';

function synth(overrides: Partial<EmbeddingGatewayProps> = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Test');
  const gateway = new EmbeddingGateway(stack, 'Gateway', {
    issuers: [
      { id: 'okta', issuerUrl: 'https://acme.okta.com/oauth2/default', audiences: ['api://embedgate'] },
      { id: 'entra', issuerUrl: 'https://login.microsoftonline.com/tenant/v2.0', audiences: ['api://embedgate'] },
    ],
    models: [UpstreamModel.bedrock('amazon.titan-embed-text-v2:0', { name: 'titan-v2' })],
    rules: [
      {
        id: 'held',
        effect: PolicyEffect.ALLOW,
        groups: ['rag-*'],
        approval: { reviewers: { groups: ['reviewers'] }, timeout: Duration.hours(1) },
      },
    ],
    ...overrides,
  });
  return { stack, gateway, template: Template.fromStack(stack) };
}

const PAGE = { issuerId: 'entra', clientId: 'spa-client-id', scopes: ['api://embedgate/approvals.review'] };

test('GET /review and GET /review/{file} are routes without an authorizer; every API route stays authorized', () => {
  const { template } = synth({ reviewerPage: PAGE });
  for (const key of ['GET /review', 'GET /review/{file}']) {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: key, AuthorizationType: 'NONE' });
  }
  const routes = template.findResources('AWS::ApiGatewayV2::Route');
  const open = Object.values(routes)
    .filter((r) => (r.Properties as { AuthorizationType?: string }).AuthorizationType !== 'JWT')
    .map((r) => (r.Properties as { RouteKey: string }).RouteKey)
    .sort();
  expect(open).toEqual(['GET /health', 'GET /review', 'GET /review/{file}']);
});

test('no reviewerPage: no page routes', () => {
  const { template } = synth();
  const keys = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map(
    (r) => (r.Properties as { RouteKey: string }).RouteKey,
  );
  expect(keys.filter((k) => k.includes('/review'))).toEqual([]);
});

test('fails at synth when reviewerPage names an issuer that is not trusted', () => {
  expect(() => synth({ reviewerPage: { ...PAGE, issuerId: 'nope' } })).toThrow(/reviewerPage.issuerId "nope" names no issuer/);
});

test('reviewerChat (Slack): a Chatbot channel on the approval topic, a role with no permissions, per-protocol messages', () => {
  const { template, gateway, stack } = synth({ reviewerPage: PAGE, reviewerChat: ReviewerChatChannel.slack('T0123ABCD', 'C0123ABCD') });
  template.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
    SlackWorkspaceId: 'T0123ABCD',
    SlackChannelId: 'C0123ABCD',
    SnsTopicArns: [{ Ref: stack.getLogicalId(gateway.approvals!.topic.node.defaultChild as never) }],
  });
  const roles = template.findResources('AWS::IAM::Role', {
    Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'chatbot.amazonaws.com' } })] } },
  });
  expect(Object.keys(roles)).toHaveLength(1);
  const [roleId] = Object.keys(roles);
  expect(roles[roleId!]!.Properties.ManagedPolicyArns).toBeUndefined();
  expect(roles[roleId!]!.Properties.Policies).toBeUndefined();
  const policies = template.findResources('AWS::IAM::Policy');
  expect(Object.values(policies).filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId!))).toEqual([]);

  const notify = (
    stateMachineDefinition(template.toJSON()) as unknown as { States: Record<string, { Parameters: Record<string, unknown> }> }
  ).States.Notify!;
  expect(notify.Parameters).toMatchObject({
    MessageStructure: 'json',
    Message: { 'default.$': '$.notification.message', 'https.$': '$.notification.chatbot' },
  });
});

test('reviewerChat (Microsoft Teams): the Teams channel configuration', () => {
  const { template } = synth({ reviewerChat: ReviewerChatChannel.microsoftTeams(TENANT, TEAM, '19%3aabc%40thread.tacv2') });
  template.hasResourceProperties('AWS::Chatbot::MicrosoftTeamsChannelConfiguration', {
    TeamsTenantId: TENANT,
    TeamId: TEAM,
    TeamsChannelId: '19%3aabc%40thread.tacv2',
    IamRoleArn: Match.anyValue(),
  });
});

test('without a chat channel the workflow publishes the plain-text message to everyone', () => {
  const { template } = synth();
  const notify = (
    stateMachineDefinition(template.toJSON()) as unknown as { States: Record<string, { Parameters: Record<string, unknown> }> }
  ).States.Notify!;
  expect(notify.Parameters.MessageStructure).toBeUndefined();
  expect(notify.Parameters['Message.$']).toBe('$.notification.message');
});

test('fails when chat channel ids are malformed', () => {
  expect(() => ReviewerChatChannel.slack('t lower', 'C1')).toThrow(/Slack workspace id "t lower" is not valid/);
  expect(() => ReviewerChatChannel.microsoftTeams('not-a-uuid', TEAM, 'c')).toThrow(/tenant id "not-a-uuid" is not valid/);
});
