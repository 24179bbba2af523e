/**
 * Compliance: the whole gateway passes cdk-nag's AwsSolutions and NIST 800-53 rev 5 packs with
 * zero unacknowledged findings. Each acknowledgement names the exact finding and a real reason,
 * inside the construct that owns it; a second test proves the checks really run.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { EmbeddingGateway, MaskingStrategy, PolicyEffect, ReviewerChatChannel, UpstreamModel } from '../../lib';

const outdirs: string[] = [];
afterAll(() => outdirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function nagApp(extra?: (stack: Stack) => void): App {
  const outdir = mkdtempSync(join(tmpdir(), 'embedgate-nag-'));
  outdirs.push(outdir);
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false, outdir });
  const stack = new Stack(app, 'Gateway');
  const gateway = new EmbeddingGateway(stack, 'Gateway', {
    issuers: [
      { id: 'okta', issuerUrl: 'https://acme.okta.com/oauth2/default', audiences: ['api://embedgate'] },
      { id: 'github', issuerUrl: 'https://token.actions.githubusercontent.com', audiences: ['embedgate'] },
    ],
    models: [
      UpstreamModel.bedrock('amazon.titan-embed-text-v2:0', { name: 'titan-v2' }),
      UpstreamModel.openAi({ model: 'text-embedding-3-small' }),
      UpstreamModel.openAiCompatible('https://tei.internal.example.com/v1', { model: 'bge-m3', inVpc: true }),
    ],
    rules: [
      // Rate limits: the usage table and its grants are nagged too.
      {
        id: 'rag',
        effect: PolicyEffect.ALLOW,
        groups: ['rag-*'],
        maskingStrategies: { EMAIL: MaskingStrategy.PSEUDONYMIZE },
        rateLimits: { requestsPerMinute: 600, tokensPerDay: 5_000_000, maxInFlight: 20 },
      },
      // A rule with approval: the approval workflow (state machine, table, topic, task function) is nagged too.
      {
        id: 'export',
        effect: PolicyEffect.ALLOW,
        groups: ['export-*'],
        approval: { reviewers: { groups: ['reviewers'] }, requiredApprovals: 2 },
      },
    ],
    allowInternetEgress: true,
    masking: { strategies: { US_SSN: MaskingStrategy.BLOCK }, comprehend: true },
    // The reviewer page's open routes and the chat channel's role are nagged too.
    reviewerPage: { issuerId: 'okta', clientId: 'review-spa' },
    reviewerChat: ReviewerChatChannel.slack('T0123ABCD', 'C0123ABCD'),
  });
  const auditor = new iam.Role(stack, 'Auditor', { assumedBy: new iam.AccountRootPrincipal() });
  gateway.grantAuditQuery(auditor);
  Validations.of(auditor).acknowledge({
    id: 'NIST.800.53.R5-IAMNoInlinePolicy',
    reason: 'Test fixture: the auditor role holds exactly what grantAuditQuery gives, which is what this test checks.',
  });
  extra?.(stack);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new NIST80053R5Checks(app));
  return app;
}

function findings(app: App): string[] {
  const report = JSON.parse(readFileSync(join(app.outdir, 'validation-report.json'), 'utf8')) as {
    pluginReports: { violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }[];
  };
  return report.pluginReports
    .flatMap((p) => p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} ${c.constructPath}`)))
    .sort();
}

test('the whole gateway has no unacknowledged AwsSolutions or NIST 800-53 r5 finding', () => {
  const app = nagApp();
  let error: unknown;
  try {
    app.synth();
  } catch (e) {
    error = e;
  }
  expect(error === undefined ? [] : findings(app)).toEqual([]);
});

test('the checks really run: a non-compliant resource next to the gateway is reported', () => {
  const app = nagApp((stack) => new s3.Bucket(stack, 'Careless'));
  expect(() => app.synth()).toThrow();
  const reported = findings(app);
  expect(reported.length).toBeGreaterThan(0);
  expect(reported.every((f) => f.includes('Gateway/Careless/'))).toBe(true);
});
