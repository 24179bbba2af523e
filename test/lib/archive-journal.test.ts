/** The journal construct (issue 16): what the intents and their completion need of the table and the compactor. */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ArchiveJournal, SessionArchive } from '../../lib';

const { template } = (() => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Test');
  new ArchiveJournal(stack, 'Journal', { archive: new SessionArchive(stack, 'Archive') });
  return { template: Template.fromStack(stack) };
})();

test('the stream carries old images: an intent removed by TTL reaches the compactor with its content', () => {
  template.hasResourceProperties('AWS::DynamoDB::Table', {
    StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
  });
});

test('the compactor is invoked for inserts and for TTL removals of intents only (not for removals of records)', () => {
  const patterns = (
    Object.values(template.findResources('AWS::Lambda::EventSourceMapping'))[0]!.Properties.FilterCriteria.Filters as { Pattern: string }[]
  ).map((f) => JSON.parse(f.Pattern));
  expect(patterns).toEqual([{ eventName: ['INSERT'] }, { eventName: ['REMOVE'], dynamodb: { OldImage: { kind: { S: ['intent'] } } } }]);
});

test('the compactor may journal a completion (PutItem, GetItem on the table) and nothing more of the table: no update, no delete', () => {
  const fn = Object.values(
    template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('compactor') } }),
  )[0]!.Properties;
  expect(Object.keys(fn.Environment.Variables)).toEqual(expect.arrayContaining(['EMBEDGATE_JOURNAL_TABLE']));
  const roleId = fn.Role['Fn::GetAtt'][0] as string;
  const actions = Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[] }[])
    .flatMap((st) => [st.Action].flat());
  expect(actions).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:GetItem']));
  expect(actions.filter((a) => /dynamodb:(Update|Delete|BatchWrite)/.test(a))).toEqual([]);
});
