/**
 * The example gateway of bin/app.ts (the cdk.json app), one stack per stage: built here so that
 * tests (the Control Tower controls, test/lib/control-tower.test.ts) check exactly what the app deploys.
 */
import type { App } from 'aws-cdk-lib';
import { Duration, Stack, Tags } from 'aws-cdk-lib';
import { ArchiveRetention, EmbeddingGateway, JwtAlgorithm, MaskingStrategy, PolicyEffect, UpstreamModel } from '../lib';

/** The example stack of `stage` in `app`. */
export function exampleStack(app: App, stage: 'dev' | 'prod'): { stack: Stack; gateway: EmbeddingGateway } {
  const prod = stage === 'prod';

  // Environment-agnostic on purpose: synthesizes offline (no AZ lookups).
  const stack = new Stack(app, `Embedgate-${stage}`, { description: `embedgate identity-aware embeddings gateway (${stage})` });
  Tags.of(stack).add('app', 'embedgate');
  Tags.of(stack).add('stage', stage);

  const gateway = new EmbeddingGateway(stack, 'Gateway', {
    issuers: [
      {
        id: 'okta',
        issuerUrl: 'https://acme.okta.com/oauth2/ausembedgate',
        audiences: ['api://embedgate'],
        algorithms: [JwtAlgorithm.RS256],
        groupClaims: ['groups'],
        scopeClaims: ['scp'],
        maxTokenAge: Duration.hours(1),
      },
      {
        id: 'github',
        issuerUrl: 'https://token.actions.githubusercontent.com',
        audiences: ['embedgate'],
        // GitHub Actions: the repository and environment become groups rules can match.
        groupClaims: ['repository', 'environment'],
      },
    ],
    models: [
      UpstreamModel.bedrock('amazon.titan-embed-text-v2:0', {
        name: 'titan-v2',
        limits: { maxInputs: 256, maxInputChars: 50_000, allowedDimensions: [256, 512, 1024] },
      }),
      UpstreamModel.openAi({ model: 'text-embedding-3-small', limits: { maxInputs: 512, maxInputChars: 32_000 } }),
      UpstreamModel.openAiCompatible('https://tei.embeddings.internal.acme.com/v1', { model: 'bge-m3', name: 'bge-m3', inVpc: true }),
    ],
    rules: [
      { id: 'quarantine', effect: PolicyEffect.DENY, description: 'Principals under investigation.', subjects: ['quarantine-*'] },
      {
        id: 'no-external-for-hr',
        effect: PolicyEffect.DENY,
        description: 'HR data never leaves AWS.',
        groups: ['hr-*'],
        models: ['text-embedding-3-small'],
      },
      {
        id: 'rag-indexers',
        effect: PolicyEffect.ALLOW,
        description: 'Indexing jobs of the RAG platform: every model.',
        issuers: ['okta'],
        groups: ['rag-platform'],
        scopes: ['embeddings:write'],
        // Bulk jobs and card data wait for data governance (two people in prod); see docs/policy.md.
        approval: {
          when: { batchOver: 200, maskingFound: ['CREDIT_CARD'] },
          reviewers: { groups: ['data-governance'] },
          requiredApprovals: prod ? 2 : 1,
          timeout: Duration.hours(4),
        },
      },
      {
        id: 'support-bots',
        effect: PolicyEffect.ALLOW,
        description: 'Support agents: the in-VPC model only, small batches.',
        issuers: ['okta'],
        groups: ['support-bots'],
        models: ['bge-m3'],
        limits: { maxInputs: 16 },
      },
      {
        id: 'ci-evals',
        effect: PolicyEffect.ALLOW,
        description: 'Embedding evaluations in CI, from the main branch of the search repository only.',
        issuers: ['github'],
        subjects: ['repo:acme/search:ref:refs/heads/main'],
        models: ['titan-v2', 'bge-m3'],
        limits: { maxInputs: 64 },
      },
    ],
    // Mask before anything leaves: e-mails and phones redacted, card numbers pseudonymized (retrieval
    // keeps working), SSNs and private keys refused; names and addresses found by Comprehend in prod.
    masking: {
      strategies: {
        EMAIL: MaskingStrategy.REDACT,
        PHONE: MaskingStrategy.REDACT,
        CREDIT_CARD: MaskingStrategy.PSEUDONYMIZE,
        US_SSN: MaskingStrategy.BLOCK,
        PRIVATE_KEY: MaskingStrategy.BLOCK,
      },
      comprehend: prod,
    },
    allowInternetEgress: true, // text-embedding-3-small is on OpenAI's API
    archiveRetention: prod ? ArchiveRetention.compliance(Duration.days(365 * 7)) : ArchiveRetention.governance(Duration.days(7)),
    throttlingRateLimit: prod ? 500 : 50,
    throttlingBurstLimit: prod ? 1000 : 100,
    reservedConcurrentExecutions: prod ? 200 : undefined,
  });
  return { stack, gateway };
}
