/**
 * AuditDigests: the digest function, its schedule, its signing key and its permissions asserted
 * on the synthesized template one by one (it may read records and digests, create digests only,
 * sign only with its key; nobody else may sign), and cdk-nag (AwsSolutions, NIST 800-53 r5) with
 * no finding left, in the gateway's network and outside any VPC.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { AuditDigests, type AuditDigestsProps } from '../../lib/audit-digests';
import { GatewayNetwork } from '../../lib/gateway-network';
import { SessionArchive } from '../../lib/session-archive';
import { describeFindings, findForbiddenArchiveGrants } from '../support/policy-scan';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Built {
  readonly app: App;
  readonly stack: Stack;
  readonly archive: SessionArchive;
  readonly network?: GatewayNetwork;
  readonly digests: AuditDigests;
  readonly template: Template;
}

interface BuildOptions {
  readonly network?: boolean;
  readonly props?: Partial<AuditDigestsProps>;
  readonly outdir?: string;
  /** Add the cdk-nag packs (the template is then not synthesized here: the test synthesizes). */
  readonly nag?: boolean;
  readonly extend?: (stack: Stack, digests: AuditDigests) => void;
}

function build(opts: BuildOptions = {}): Built {
  const app = new App({
    context: { 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
    ...(opts.outdir ? { outdir: opts.outdir } : {}),
  });
  const stack = new Stack(app, 'DigestStack');
  const archive = new SessionArchive(stack, 'Archive');
  const network = opts.network === false ? undefined : new GatewayNetwork(stack, 'Network');
  const digests = new AuditDigests(stack, 'Digests', { archive, ...(network ? { network } : {}), ...opts.props });
  opts.extend?.(stack, digests);
  if (opts.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new NIST80053R5Checks(app));
  const template = opts.nag ? (undefined as unknown as Template) : Template.fromStack(stack);
  return { app, stack, archive, digests, template, ...(network ? { network } : {}) };
}

const id = (stack: Stack, c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as never);

let base: Built;
let ids: { bucket: string; archiveKey: string; signingKey: string; fn: string; role: string };
beforeAll(() => {
  base = build();
  const { stack, archive, digests } = base;
  ids = {
    bucket: id(stack, archive.bucket),
    archiveKey: id(stack, archive.encryptionKey),
    signingKey: id(stack, digests.signingKey),
    fn: id(stack, digests.function),
    role: stack.getLogicalId(digests.function.role!.node.defaultChild as never),
  };
});

/** Every statement of the digest role's policies. */
function roleStatements(t: Template, roleId: string): Json[] {
  return Object.values(t.findResources('AWS::IAM::Policy'))
    .filter((p) => (p as Json).Properties.Roles.some((r: Json) => r.Ref === roleId))
    .flatMap((p) => (p as Json).Properties.PolicyDocument.Statement);
}
const objects = (bucketId: string, prefix: string) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, `/${prefix}`]] });

describe('AuditDigests: the function', () => {
  it('runs the digest bundle on Node.js 24, arm64, traced, in the gateway network', () => {
    const { template, network, stack } = base;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 1024,
      Timeout: 900,
      TracingConfig: { Mode: 'Active' },
      VpcConfig: {
        SecurityGroupIds: [{ 'Fn::GetAtt': [stack.getLogicalId(network!.lambdaSecurityGroup.node.defaultChild as never), 'GroupId'] }],
        SubnetIds: Match.anyValue(),
      },
      Environment: {
        Variables: {
          EMBEDGATE_ARCHIVE_BUCKET: { Ref: ids.bucket },
          EMBEDGATE_ARCHIVE_KEY_ARN: { 'Fn::GetAtt': [ids.archiveKey, 'Arn'] },
          EMBEDGATE_DIGEST_SIGNING_KEY: { 'Fn::GetAtt': [ids.signingKey, 'Arn'] },
          EMBEDGATE_DIGEST_SETTLE_SECONDS: '900',
          EMBEDGATE_DIGEST_LOOKBACK_SECONDS: '21600',
          EMBEDGATE_DIGEST_MAX_PERIOD_SECONDS: '86400',
          POWERTOOLS_SERVICE_NAME: Match.stringLikeRegexp('Digests'),
        },
      },
    });
  });

  it('runs outside any VPC when no network is given', () => {
    const { template } = build({ network: false });
    const fn = Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler' } }))[0] as Json;
    expect(fn.Properties.VpcConfig).toBeUndefined();
  });

  it('runs every hour at 20 past by default, with retries, and on the schedule given', () => {
    base.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(20 * * * ? *)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [ids.fn, 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
        }),
      ],
    });
    const { template } = build({
      props: {
        schedule: events.Schedule.rate(Duration.minutes(30)),
        settleTime: Duration.minutes(5),
        lateRecordLookback: Duration.hours(2),
        maxPeriod: Duration.hours(6),
      },
    });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(30 minutes)' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          EMBEDGATE_DIGEST_SETTLE_SECONDS: '300',
          EMBEDGATE_DIGEST_LOOKBACK_SECONDS: '7200',
          EMBEDGATE_DIGEST_MAX_PERIOD_SECONDS: '21600',
        }),
      },
    });
  });

  it('logs to its own log group, encrypted with a rotating key, kept a year', () => {
    const { template, stack, digests } = base;
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365, KmsKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogGroup: { Ref: stack.getLogicalId(digests.logGroup.node.defaultChild as never) } },
    });
  });

  it.each([
    [
      'maxPeriod is not whole hours',
      { maxPeriod: Duration.minutes(90) },
      /maxPeriod must be a whole number of hours, at least 1, got 1 hour 30 minutes; use Duration\.hours\(n\)/,
    ],
    ['the lookback is over 48 hours', { lateRecordLookback: Duration.hours(72) }, /lateRecordLookback must be at most 48 hours/],
    ['the timeout is over 15 minutes', { timeout: Duration.minutes(20) }, /timeout must be 1 to 15 minutes/],
    ['the settle time is over a day', { settleTime: Duration.hours(25) }, /settleTime must be at most 24 hours/],
  ])('fails when %s', (_what, props, message) => {
    expect(() => build({ network: false, props })).toThrow(message);
  });
});

describe('AuditDigests: the signing key', () => {
  it('is an asymmetric ECC_NIST_P256 SIGN_VERIFY key, retained', () => {
    base.template.hasResource('AWS::KMS::Key', {
      Properties: { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('denies key deletion to everyone, and signing to every principal but the digest function', () => {
    const policy = (base.template.toJSON().Resources[ids.signingKey] as Json).Properties.KeyPolicy.Statement as Json[];
    expect(policy).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Sid: 'DenyKeyDeletion',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: 'kms:ScheduleKeyDeletion',
          Resource: '*',
        }),
        expect.objectContaining({
          Sid: 'DenySigningByOthers',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: 'kms:Sign',
          Resource: '*',
          Condition: { ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [ids.role, 'Arn'] } } },
        }),
      ]),
    );
  });

  it('uses the key given, and creates no signing key', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'S');
    const key = kms.Key.fromKeyArn(stack, 'K', 'arn:aws:kms:us-east-1:123456789012:key/0b1e2f3a-4c5d-4e6f-8a9b-0c1d2e3f4a5b');
    const digests = new AuditDigests(stack, 'Digests', { archive: new SessionArchive(stack, 'Archive'), signingKey: key });
    const t = Template.fromStack(stack);
    expect(Object.values(t.findResources('AWS::KMS::Key')).filter((k) => (k as Json).Properties.KeySpec === 'ECC_NIST_P256')).toHaveLength(
      0,
    );
    expect(digests.signingKey).toBe(key);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ EMBEDGATE_DIGEST_SIGNING_KEY: key.keyArn }) },
    });
  });

  it('outputs the signing key ARN (the auditor fetches its public key with it)', () => {
    base.template.hasOutput('*', { Value: { 'Fn::GetAtt': [ids.signingKey, 'Arn'] } });
  });
});

describe('AuditDigests: permissions', () => {
  it('may list the bucket, read records and digests, create digests only, decrypt and encrypt with the archive key, sign with its key', () => {
    const statements = roleStatements(base.template, ids.role);
    const find = (action: string) => statements.filter((s) => [s.Action].flat().includes(action));
    expect(find('s3:ListBucket')).toEqual([expect.objectContaining({ Effect: 'Allow', Resource: { 'Fn::GetAtt': [ids.bucket, 'Arn'] } })]);
    expect(find('s3:GetObject')).toEqual([
      expect.objectContaining({ Resource: [objects(ids.bucket, 'sessions/*'), objects(ids.bucket, 'digests/*')] }),
    ]);
    expect(find('s3:PutObject')).toEqual([expect.objectContaining({ Action: 's3:PutObject', Resource: objects(ids.bucket, 'digests/*') })]);
    expect(find('kms:Sign')).toEqual([
      expect.objectContaining({ Action: ['kms:Sign', 'kms:GetPublicKey'], Resource: { 'Fn::GetAtt': [ids.signingKey, 'Arn'] } }),
    ]);
    expect(find('kms:Decrypt')).toEqual([
      expect.objectContaining({
        Action: ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:Encrypt'],
        Resource: { 'Fn::GetAtt': [ids.archiveKey, 'Arn'] },
      }),
    ]);
    // Nothing else touches S3 or KMS.
    const s3kms = statements
      .flatMap((s) => [s.Action].flat())
      .filter((a: string) => /^(s3|kms):/.test(a))
      .sort();
    expect(s3kms).toEqual([
      'kms:Decrypt',
      'kms:Encrypt',
      'kms:GenerateDataKey',
      'kms:GetPublicKey',
      'kms:Sign',
      's3:GetBucketLocation',
      's3:GetObject',
      's3:ListBucket',
      's3:PutObject',
    ]);
  });

  it('grants nothing that could delete, hide or unlock a record or a digest', () => {
    const findings = findForbiddenArchiveGrants(base.template);
    expect(describeFindings(findings)).toBe(describeFindings([]));
  });

  it('grantVerify lets an auditor read records and digests, decrypt, and get or use the public key, nothing more', () => {
    const { template } = build({
      network: false,
      extend: (stack, digests) => digests.grantVerify(new iam.Role(stack, 'Auditor', { assumedBy: new iam.AccountRootPrincipal() })),
    });
    const auditorId = Object.keys(template.findResources('AWS::IAM::Role')).find((k) => k.startsWith('Auditor'))!;
    const statements = roleStatements(template, auditorId);
    expect(statements.flatMap((s) => [s.Action].flat()).sort()).toEqual([
      'kms:Decrypt',
      'kms:GetPublicKey',
      'kms:Verify',
      's3:GetBucketLocation',
      's3:GetObject',
      's3:ListBucket',
    ]);
    expect(statements.find((s) => [s.Action].flat().includes('s3:GetObject'))!.Resource).toEqual([
      objects(ids.bucket, 'sessions/*'),
      objects(ids.bucket, 'digests/*'),
    ]);
  });
});

describe('AuditDigests: compliance', () => {
  const outdirs: string[] = [];
  afterAll(() => outdirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  function findings(app: App): string[] {
    try {
      app.synth();
      return [];
    } catch {
      const report = JSON.parse(readFileSync(join(app.outdir, 'validation-report.json'), 'utf8')) as {
        pluginReports: { violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }[];
      };
      return report.pluginReports
        .flatMap((p) => p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} ${c.constructPath}`)))
        .sort();
    }
  }

  it.each([
    ['in the gateway network', true],
    ['outside any VPC', false],
  ])('adds no AwsSolutions or NIST 800-53 r5 finding %s', (_where, network) => {
    const outdir = mkdtempSync(join(tmpdir(), 'embedgate-nag-digests-'));
    outdirs.push(outdir);
    const { app } = build({ network, outdir, nag: true });
    // Only the archive's own replication findings remain: the app (EmbeddingGateway) decides on them.
    expect(findings(app)).toEqual([
      'NIST.800.53.R5-S3BucketReplicationEnabled DigestStack/Archive/AccessLogsBucket/Resource',
      'NIST.800.53.R5-S3BucketReplicationEnabled DigestStack/Archive/Bucket/Resource',
    ]);
  });
});
