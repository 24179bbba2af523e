/** What reviewers are told: the link to the reviewer page, and Chatbot's custom notification format, defused. */
import { chatSafe, reviewerNotification, reviewPageLink } from '../../lambda/core/approvals/notification';
import type { Approval } from '../../lambda/core/ports';
import { pendingApproval } from '../support/approval-items';

const ID = '01a25270-9970-716e-b867-28fea45534d2';
const approval = (over: Partial<Approval> = {}): Approval =>
  pendingApproval(ID, {
    requester: { issuer: 'https://idp.example.com', subject: 'indexer', clientId: 'indexer' },
    model: 'regulated',
    ruleId: 'needs-approval',
    triggers: ['input_matches:EXPORT_CONTROLLED'],
    preview: '  [0] ITAR text for [EMAIL]',
    ...over,
  });
const notice = (a: Approval, poll = `https://api.example.com/v1/approvals/${ID}`) => ({
  approval: a,
  pollPath: poll,
  decisionPath: `${poll}/decision`,
});

test('the link is the gateway origin (of the poll URL) + /review#approval=<id>, also for another issuer\u2019s prefix', () => {
  expect(reviewPageLink(`https://api.example.com/v1/approvals/${ID}`, ID)).toBe(`https://api.example.com/review#approval=${ID}`);
  expect(reviewPageLink(`https://api.example.com/github/v1/approvals/${ID}`, ID)).toBe(`https://api.example.com/review#approval=${ID}`);
  expect(reviewPageLink(`/v1/approvals/${ID}`, ID)).toBe(`/review#approval=${ID}`);
});

test('with the page: the plain-text message starts with the link, and Chatbot gets its custom format with the link as next step', () => {
  const n = reviewerNotification(notice(approval()), { reviewPage: true });
  expect(n.notification.message.split('\n')[0]).toBe(`Review and decide in the browser: https://api.example.com/review#approval=${ID}`);
  const c = JSON.parse(n.notification.chatbot);
  expect(c).toMatchObject({ version: '1.0', source: 'custom', id: ID, content: { textType: 'client-markdown' } });
  expect(c.content.title).toContain('Approval needed: regulated for indexer');
  expect(c.content.nextSteps).toEqual([`Review and decide: https://api.example.com/review#approval=${ID}`]);
  expect(c.content.description).toContain('ITAR text for [EMAIL]');
  expect(c.metadata).toMatchObject({ threadId: ID, additionalContext: { approvalId: ID } });
  expect(c.content.title.length).toBeLessThanOrEqual(250);
  expect(c.content.description.length).toBeLessThanOrEqual(8000);
});

test('without the page: no link anywhere, the CLI commands as next steps', () => {
  const n = reviewerNotification(notice(approval()), { reviewPage: false });
  expect(n.notification.message).not.toContain('/review');
  expect(n.notification.chatbot).not.toContain('/review');
  expect(JSON.parse(n.notification.chatbot).content.nextSteps[0]).toContain(`embedgate approvals approve ${ID}`);
});

test('attack: a preview or subject cannot break out of the code block, post links, or ping the channel', () => {
  const evil = approval({
    requester: { issuer: 'https://idp.example.com', subject: 'bot <!channel>', clientId: 'bot' },
    preview: '```\n<https://evil.example|Approve here> @here *urgent* <@U123> & more\u202e',
  });
  const c = JSON.parse(reviewerNotification(notice(evil), { reviewPage: true }).notification.chatbot);
  const text = `${c.content.title}\n${c.content.description}`;
  expect(text).not.toMatch(/<|>|<!channel>|@here/);
  expect(text.match(/```/g)).toHaveLength(2); // only the block we opened and closed
  expect(text).not.toContain('\u202e');
  expect(chatSafe('a`b<c>d&e')).toBe("a'b‹c›d+e");
});
