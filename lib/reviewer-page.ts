import { Names, Token, Validations } from 'aws-cdk-lib';
import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

/**
 * How the reviewers' web page (`GET /review` on the gateway's own API) signs reviewers in: OIDC
 * authorization code with PKCE against one of the gateway's trusted issuers, as a public client
 * (no secret). Register the client at the identity provider as a single-page application with
 * the redirect URI `<gateway URL>/review` (see the README for Okta, Entra ID and Cognito).
 */
export interface ReviewerPageOptions {
  /** The `id` of the trusted issuer reviewers sign in with (their access tokens must verify there, as any caller's). */
  readonly issuerId: string;
  /** The client id of the page's public client at that issuer. */
  readonly clientId: string;
  /**
   * Scopes the page asks for (`openid` is always asked). Ask for what makes the access token
   * acceptable to the gateway (its audience), e.g. `api://embedgate/approvals` on Entra ID.
   * @default - `openid` only
   */
  readonly scopes?: string[];
  /**
   * The authorization endpoint, when it is not the one the issuer's discovery document names
   * (Cognito: `https://<domain>.auth.<region>.amazoncognito.com/oauth2/authorize`).
   * @default - from `<issuer>/.well-known/openid-configuration`
   */
  readonly authorizationEndpoint?: string;
  /**
   * The token endpoint, when it is not the discovered one (Cognito: `https://<domain>.auth.<region>.amazoncognito.com/oauth2/token`).
   * The page's Content-Security-Policy allows connections to it.
   * @default - from `<issuer>/.well-known/openid-configuration`
   */
  readonly tokenEndpoint?: string;
}

/**
 * A chat channel reviewers are notified in, through AWS Chatbot (Amazon Q Developer in chat
 * applications): the approval topic is mapped to the channel, and the notification is published
 * in Chatbot's custom notification format (with the link to the reviewer page) to it, while
 * e-mail and other subscribers keep the plain-text message.
 *
 * The workspace (Slack) or team (Microsoft Teams) must have been authorized in the AWS Chatbot
 * console once; the ids are shown there.
 */
export class ReviewerChatChannel {
  /**
   * A Slack channel.
   * @param workspaceId the Slack workspace (team) id, e.g. `T0123ABCD`
   * @param channelId the channel id, e.g. `C0123ABCD` (private channels: invite `@aws` first)
   */
  public static slack(workspaceId: string, channelId: string): ReviewerChatChannel {
    check('Slack workspace id', workspaceId, /^[0-9A-Z]{1,255}$/);
    check('Slack channel id', channelId, /^[A-Za-z0-9]{1,255}$/);
    return new ReviewerChatChannel('slack', { workspaceId, channelId });
  }

  /**
   * A Microsoft Teams channel.
   * @param tenantId the Microsoft Entra tenant id (a UUID)
   * @param teamId the team id (a UUID)
   * @param channelId the channel id, e.g. `19%3ab6ef...%40thread.tacv2` (as the channel link shows it)
   */
  public static microsoftTeams(tenantId: string, teamId: string, channelId: string): ReviewerChatChannel {
    const uuid = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;
    check('Microsoft Teams tenant id', tenantId, uuid);
    check('Microsoft Teams team id', teamId, uuid);
    check('Microsoft Teams channel id', channelId, /^[A-Za-z0-9._:%@-]{1,255}$/);
    return new ReviewerChatChannel('teams', { tenantId, teamId, channelId });
  }

  private constructor(
    /** `slack` or `teams`. */
    public readonly platform: string,
    private readonly ids: Readonly<Record<string, string>>,
  ) {}

  /** @internal Creates the Chatbot channel configuration for `topic` (a role without permissions: notifications only). */
  public _bind(scope: Construct, id: string, topic: sns.ITopic): Construct {
    const holder = new Construct(scope, id);
    // Notifications only: the channel's role has no permissions, so nobody can run AWS commands from the chat.
    const role = new iam.Role(holder, 'Role', {
      assumedBy: new iam.ServicePrincipal('chatbot.amazonaws.com'),
      description: 'embedgate reviewer chat channel: notifications only, no permissions',
    });
    const name = Names.uniqueResourceName(holder, { maxLength: 128 }).replace(/[^A-Za-z0-9-_]/g, '-');
    const common = { configurationName: name, iamRoleArn: role.roleArn, snsTopicArns: [topic.topicArn], loggingLevel: 'ERROR' };
    if (this.platform === 'slack') {
      new chatbot.CfnSlackChannelConfiguration(holder, 'Resource', {
        ...common,
        slackWorkspaceId: this.ids.workspaceId!,
        slackChannelId: this.ids.channelId!,
      });
    } else {
      new chatbot.CfnMicrosoftTeamsChannelConfiguration(holder, 'Resource', {
        ...common,
        teamsTenantId: this.ids.tenantId!,
        teamId: this.ids.teamId!,
        teamsChannelId: this.ids.channelId!,
      });
    }
    Validations.of(role).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason: 'The chat channel role has no policy at all: AWS Chatbot only delivers the approval notifications.',
    });
    return holder;
  }
}

function check(what: string, value: string, pattern: RegExp): void {
  if (Token.isUnresolved(value)) return;
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new Error(`ReviewerChatChannel: ${what} ${JSON.stringify(value)} is not valid (expected ${pattern.source})`);
  }
}
