/**
 * What reviewers are told about a held request, per channel: the plain-text message (e-mail, SQS,
 * the dev server's terminal; built by `approvalExecutionInput`) with the reviewer page's link to
 * the approval first, and the same in AWS Chatbot's custom notification format (Slack, Microsoft
 * Teams), `{"version":"1.0","source":"custom","content":{...},"metadata":{...}}`.
 *
 * Everything a requester controls (the preview, and the subject and client id of their token) is
 * defused for chat markdown: no backticks (it cannot leave its code block), no angle brackets
 * (no Slack `<url|text>` links or mentions), no control characters.
 */
import { approvalExecutionInput, type ApprovalExecutionInput } from './task';
import type { ApprovalNotice } from '../ports';

/** The execution input with the chat form of the notification. */
export type ReviewerNotificationInput = ApprovalExecutionInput & {
  readonly notification: ApprovalExecutionInput['notification'] & {
    /** The notification in AWS Chatbot's custom notification format (JSON). */
    readonly chatbot: string;
  };
};

export interface ReviewerNotificationOptions {
  /** The gateway serves the reviewer page (`reviewerPage` is configured): link to it. */
  readonly reviewPage: boolean;
}

/**
 * The reviewer page's URL for an approval: `<gateway origin>/review#approval=<id>`. The origin is
 * the one of the poll URL (the API's own domain, never a client's Host header); a relative poll
 * path gives a relative link.
 */
export function reviewPageLink(pollPath: string, approvalId: string): string {
  let origin: string;
  try {
    origin = new URL(pollPath).origin;
  } catch {
    origin = '';
  }
  return `${origin}/review#approval=${encodeURIComponent(approvalId)}`;
}

/** Chatbot limits (custom notifications): a title of 250 characters, a description of 8,000; we stay well below. */
const TITLE_MAX = 250;
const DESCRIPTION_MAX = 4000;

/** Requester-controlled text, made inert for chat markdown (Slack mrkdwn, Teams markdown). */
export function chatSafe(text: string): string {
  return text
    .replace(/[\p{Cc}\p{Cf}\u2028\u2029]+/gu, (m) => (m.includes('\n') ? '\n' : ' '))
    .replace(/`/g, "'")
    .replace(/</g, '‹')
    .replace(/>/g, '›')
    .replace(/&/g, '+')
    .replace(/@(here|channel|everyone)\b/gi, '(at)$1');
}

/** The notification of a new approval for every channel. */
export function reviewerNotification(notice: ApprovalNotice, opts: ReviewerNotificationOptions): ReviewerNotificationInput {
  const input = approvalExecutionInput(notice);
  const a = notice.approval;
  const link = opts.reviewPage ? reviewPageLink(notice.pollPath, a.id) : null;
  const message = link ? `Review and decide in the browser: ${link}\n\n${input.notification.message}` : input.notification.message;

  const who = chatSafe(
    `${a.requester.subject}${a.requester.clientId && a.requester.clientId !== a.requester.subject ? ` (client ${a.requester.clientId})` : ''}`,
  );
  const preview = chatSafe(a.preview).slice(0, 1500);
  const title = `:hourglass_flowing_sand: Approval needed: ${chatSafe(a.model)} for ${who}`.slice(0, TITLE_MAX);
  const description = [
    `*${who}* asks to use model \`${chatSafe(a.model)}\` under rule \`${chatSafe(a.ruleId)}\`.`,
    `*Why held:* ${chatSafe(a.triggers.join(', '))}`,
    `*Scope:* ${a.grantMinutes === null ? 'this request, once' : `ANY request to this model for ${a.grantMinutes} minute(s)`}`,
    `*Approvals needed:* ${a.requiredApprovals} (the requester cannot approve)`,
    `*Decide before:* ${new Date(a.expiresAt).toISOString()}`,
    "*Preview* (masked; the requester's text, not instructions):",
    '```',
    preview,
    '```',
  ]
    .join('\n')
    .slice(0, DESCRIPTION_MAX);
  const chatbot = {
    version: '1.0',
    source: 'custom',
    id: a.id,
    content: {
      textType: 'client-markdown',
      title,
      description,
      nextSteps: link
        ? [`Review and decide: ${link}`]
        : [
            `embedgate approvals approve ${a.id} --reason "..." --url <gateway URL>`,
            `embedgate approvals deny ${a.id} --reason "..." --url <gateway URL>`,
          ],
      keywords: ['embedgate', chatSafe(a.model).slice(0, 50), chatSafe(a.ruleId).slice(0, 50)],
    },
    metadata: {
      threadId: a.id,
      summary: title,
      eventType: 'EmbedgateApprovalRequested',
      relatedResources: [a.id],
      additionalContext: { approvalId: a.id, ...(link ? { reviewUrl: link } : {}), pollUrl: notice.pollPath },
    },
  };
  return { ...input, notification: { ...input.notification, message: message.slice(0, 200_000), chatbot: JSON.stringify(chatbot) } };
}
