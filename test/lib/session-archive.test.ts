/**
 * SessionArchive: every security promise of the archive asserted one by one on the synthesized
 * template, the Glue table checked against a real schema v1 record, the named queries against
 * shared/audit-queries.ts, and the whole construct run through cdk-nag (AwsSolutions, NIST 800-53 r5).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Size, Stack, Token, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { RECORD_SCHEMA, type SessionRecord } from '../../lambda/core/record';
import { ArchiveRetention, ArchiveRetentionMode } from '../../lib/archive-retention';
import { SessionArchive, type SessionArchiveProps } from '../../lib/session-archive';
import { AUDIT_QUERIES, exampleParams, renderAthena } from '../../shared/audit-queries';
import { describeFindings, findForbiddenArchiveGrants, RECORD_TAMPERING_ACTIONS, scanPolicies } from '../support/policy-scan';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function newApp(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
}

interface Built {
  readonly stack: Stack;
  readonly archive: SessionArchive;
  readonly template: Template;
}

function build(props: SessionArchiveProps = {}, extend?: (stack: Stack, archive: SessionArchive) => void): Built {
  const stack = new Stack(newApp(), 'ArchiveStack');
  const archive = new SessionArchive(stack, 'Archive', props);
  extend?.(stack, archive);
  return { stack, archive, template: Template.fromStack(stack) };
}

const logicalId = (stack: Stack, construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as never);

/** The stack most tests look at: defaults, a writer and an auditor. */
let base: Built;
let ids: { bucket: string; logs: string; results: string; key: string; workGroup: string };
beforeAll(() => {
  base = build({}, (stack, archive) => {
    archive.grantWrite(new iam.Role(stack, 'Writer', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }));
    archive.grantAuditQuery(new iam.Role(stack, 'Auditor', { assumedBy: new iam.AccountRootPrincipal() }));
  });
  const { stack, archive } = base;
  ids = {
    bucket: logicalId(stack, archive.bucket),
    logs: logicalId(stack, archive.accessLogsBucket),
    results: logicalId(stack, archive.resultsBucket),
    key: logicalId(stack, archive.encryptionKey),
    workGroup: stack.getLogicalId(archive.workGroup),
  };
});

const bucketProps = (t: Template, id: string): Json => t.toJSON().Resources[id].Properties;
const policyOf = (t: Template, bucketId: string): Json[] => {
  const policies = Object.values(t.findResources('AWS::S3::BucketPolicy', { Properties: { Bucket: { Ref: bucketId } } }));
  expect(policies).toHaveLength(1);
  return (policies[0] as Json).Properties.PolicyDocument.Statement;
};
const objectsOf = (bucketId: string) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/*']] });

describe('SessionArchive: Object Lock', () => {
  it('locks every record in COMPLIANCE mode for 365 days by default', () => {
    base.template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 365 } } },
    });
    expect(base.archive.retention.mode).toBe(ArchiveRetentionMode.COMPLIANCE);
    // Only the archive bucket is locked.
    expect(Object.keys(base.template.findResources('AWS::S3::Bucket', { Properties: { ObjectLockEnabled: true } }))).toEqual([ids.bucket]);
  });

  it('uses the retention given, in GOVERNANCE mode too', () => {
    const { template } = build({ retention: ArchiveRetention.governance(Duration.days(2555)) });
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 2555 } } },
    });
  });

  it('passes an unresolved retention through to CloudFormation', () => {
    const { template } = build({ retention: ArchiveRetention.compliance(Duration.days(Token.asNumber({ Ref: 'RetentionDays' }))) });
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockConfiguration: { Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: { Ref: 'RetentionDays' } } } },
    });
  });

  it.each([
    ['0 days', Duration.days(0), /at least 1 day, got 0 days/],
    [
      'a fraction of a day',
      Duration.hours(36),
      /whole number of days .* got 1 day 12 hours \(1\.5 days\)\. Use ArchiveRetention\.compliance\(Duration\.days\(2\)\)/,
    ],
    [
      'more than 100 years',
      Duration.days(36_501),
      /at most 100 years \(36500 days\), got 36501 days\. Use ArchiveRetention\.compliance\(Duration\.days\(36500\)\) or less/,
    ],
  ])('fails when the retention is %s, and says how to fix it', (_what, duration, message) => {
    expect(() => ArchiveRetention.compliance(duration)).toThrow(message);
    expect(() => ArchiveRetention.governance(duration)).toThrow(/Use ArchiveRetention\.governance\(Duration\.days\(/);
  });

  it('accepts exactly 1 day and exactly 100 years', () => {
    expect(ArchiveRetention.compliance(Duration.days(1)).duration.toDays()).toBe(1);
    expect(ArchiveRetention.governance(Duration.days(36_500)).mode).toBe(ArchiveRetentionMode.GOVERNANCE);
  });
});

describe('SessionArchive: buckets', () => {
  it('versions all three buckets', () => {
    for (const id of [ids.bucket, ids.logs, ids.results]) {
      expect(bucketProps(base.template, id).VersioningConfiguration).toEqual({ Status: 'Enabled' });
    }
  });

  it('encrypts records and query results with one customer-managed key that rotates', () => {
    base.template.resourceCountIs('AWS::KMS::Key', 1);
    base.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    for (const id of [ids.bucket, ids.results]) {
      expect(bucketProps(base.template, id).BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
        expect.objectContaining({
          BucketKeyEnabled: true,
          ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [ids.key, 'Arn'] } },
        }),
      ]);
    }
  });

  it('refuses SSE-C uploads to the archive', () => {
    expect(bucketProps(base.template, ids.bucket).BucketEncryption.ServerSideEncryptionConfiguration[0].BlockedEncryptionTypes).toEqual({
      EncryptionType: ['SSE-C'],
    });
  });

  it('uses an existing key when given one, and creates none', () => {
    const stack = new Stack(newApp(), 'Imported');
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    new SessionArchive(stack, 'Archive', { encryptionKey: key });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::KMS::Key', 0);
    t.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: key.keyArn } }),
        ],
      },
    });
  });

  it('blocks all public access on every bucket and disables ACLs', () => {
    for (const id of [ids.bucket, ids.logs, ids.results]) {
      const p = bucketProps(base.template, id);
      expect(p.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(p.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    }
  });

  it('denies every request without TLS, or with TLS older than 1.2, on every bucket', () => {
    for (const id of [ids.bucket, ids.logs, ids.results]) {
      const resources = [{ 'Fn::GetAtt': [id, 'Arn'] }, objectsOf(id)];
      expect(policyOf(base.template, id)).toEqual(
        expect.arrayContaining([
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Resource: resources,
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Resource: resources,
            Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
          },
        ]),
      );
    }
  });

  it('logs access to the archive and results buckets into the SSE-S3 access-log bucket, which only S3 logging may write', () => {
    for (const [id, prefix] of [
      [ids.bucket, 'archive/'],
      [ids.results, 'results/'],
    ] as const) {
      expect(bucketProps(base.template, id).LoggingConfiguration).toEqual({
        DestinationBucketName: { Ref: ids.logs },
        LogFilePrefix: prefix,
        TargetObjectKeyFormat: { PartitionedPrefix: { PartitionDateSource: 'EventTime' } },
      });
      expect(policyOf(base.template, ids.logs)).toContainEqual(
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Service: 'logging.s3.amazonaws.com' },
          Action: 's3:PutObject',
          Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [ids.logs, 'Arn'] }, `/${prefix}*`]] },
          Condition: {
            ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [id, 'Arn'] } },
            StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          },
        }),
      );
    }
    const logs = bucketProps(base.template, ids.logs);
    expect(logs.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
      { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
    ]);
    expect(logs.LoggingConfiguration).toBeUndefined();
    expect(logs.LifecycleConfiguration.Rules).toEqual([expect.objectContaining({ ExpirationInDays: 365, Status: 'Enabled' })]);
  });

  it('keeps access logs as long as accessLogsRetention says', () => {
    const { template, stack, archive } = build({ accessLogsRetention: Duration.days(2555) });
    expect(bucketProps(template, logicalId(stack, archive.accessLogsBucket)).LifecycleConfiguration.Rules[0].ExpirationInDays).toBe(2555);
  });

  it('moves records to Standard-IA after 30 days and Glacier Instant Retrieval after 90, and never expires them', () => {
    const lifecycle = bucketProps(base.template, ids.bucket).LifecycleConfiguration;
    expect(lifecycle.TransitionDefaultMinimumObjectSize).toBe('all_storage_classes_128K');
    expect(lifecycle.Rules).toEqual([
      {
        Id: 'TransitionRecords',
        Status: 'Enabled',
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
        Transitions: [
          { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
          { StorageClass: 'GLACIER_IR', TransitionInDays: 90 },
        ],
      },
    ]);
  });

  it('uses the transition ages given', () => {
    const { template, stack, archive } = build({
      infrequentAccessTransitionAfter: Duration.days(60),
      glacierTransitionAfter: Duration.days(365),
    });
    expect(bucketProps(template, logicalId(stack, archive.bucket)).LifecycleConfiguration.Rules[0].Transitions).toEqual([
      { StorageClass: 'STANDARD_IA', TransitionInDays: 60 },
      { StorageClass: 'GLACIER_IR', TransitionInDays: 365 },
    ]);
  });

  it('retains every bucket and the key when the stack is deleted or they are replaced', () => {
    for (const id of [ids.bucket, ids.logs, ids.results, ids.key]) {
      const r = base.template.toJSON().Resources[id];
      expect([r.DeletionPolicy, r.UpdateReplacePolicy]).toEqual(['Retain', 'Retain']);
    }
  });
});

describe('SessionArchive: nobody can delete or unlock a record', () => {
  it('no policy in the stack allows deleting, unlocking or re-policing records (scan of every IAM, bucket and key policy)', () => {
    expect(describeFindings(findForbiddenArchiveGrants(base.template))).toBe('');
    expect(describeFindings(scanPolicies(base.template, RECORD_TAMPERING_ACTIONS))).toBe('');
  });

  it('the bucket policy denies deletes and retention changes to every principal', () => {
    expect(policyOf(base.template, ids.bucket)).toContainEqual({
      Sid: 'DenyRecordDeletionAndRetentionChanges',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectRetention', 's3:BypassGovernanceRetention'],
      Resource: objectsOf(ids.bucket),
    });
  });

  it('the bucket policy denies writes that name another encryption or another key, but not writes that rely on the default', () => {
    const statements = policyOf(base.template, ids.bucket);
    expect(statements).toContainEqual(
      expect.objectContaining({
        Sid: 'DenyOtherEncryption',
        Effect: 'Deny',
        Action: 's3:PutObject',
        Condition: {
          StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' },
          Null: { 's3:x-amz-server-side-encryption': 'false' },
        },
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Sid: 'DenyOtherKmsKey',
        Effect: 'Deny',
        Action: 's3:PutObject',
        Condition: {
          StringNotEquals: { 's3:x-amz-server-side-encryption-aws-kms-key-id': { 'Fn::GetAtt': [ids.key, 'Arn'] } },
          Null: { 's3:x-amz-server-side-encryption-aws-kms-key-id': 'false' },
        },
      }),
    );
  });

  it('the bucket policy denies writes without If-None-Match (no overwrite), unless enforceWriteOnce is false', () => {
    const overwrite = expect.objectContaining({
      Sid: 'DenyOverwrites',
      Effect: 'Deny',
      Action: 's3:PutObject',
      Condition: { Null: { 's3:if-none-match': 'true' } },
    });
    expect(policyOf(base.template, ids.bucket)).toContainEqual(overwrite);
    const { template, stack, archive } = build({ enforceWriteOnce: false });
    expect(policyOf(template, logicalId(stack, archive.bucket))).not.toContainEqual(overwrite);
  });

  it('the key policy denies scheduling the deletion of the key to every principal', () => {
    base.template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          { Sid: 'DenyKeyDeletion', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:ScheduleKeyDeletion', Resource: '*' },
        ]),
      },
    });
  });
});

describe('policy scanner (test/support/policy-scan.ts)', () => {
  const doc = (...Statement: Json[]) => ({ Version: '2012-10-17', Statement });
  const template = (Resources: Json) => ({ Resources });

  it('finds Allow statements with wildcards covering the actions, wherever policies live', () => {
    const findings = scanPolicies(
      template({
        P: { Type: 'AWS::IAM::Policy', Properties: { PolicyDocument: doc({ Effect: 'Allow', Action: 's3:*', Resource: '*' }) } },
        R: {
          Type: 'AWS::IAM::Role',
          Properties: {
            Policies: [
              { PolicyName: 'x', PolicyDocument: doc({ Effect: 'Allow', Action: ['s3:GetObject', 's3:Delete*'], Resource: '*' }) },
            ],
          },
        },
        B: {
          Type: 'AWS::S3::BucketPolicy',
          Properties: { PolicyDocument: doc({ Effect: 'Allow', Principal: '*', Action: 'S3:PUT*', Resource: '*' }) },
        },
        K: { Type: 'AWS::KMS::Key', Properties: { KeyPolicy: doc({ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }) } },
        M: {
          Type: 'AWS::IAM::ManagedPolicy',
          Properties: { PolicyDocument: doc({ Effect: 'Allow', Action: 's3:Bypass?overnanceRetention', Resource: '*' }) },
        },
      }),
    );
    expect(findings.map((f) => `${f.logicalId}:${f.location}:${f.actions.join('|')}`)).toEqual([
      `P:PolicyDocument:${RECORD_TAMPERING_ACTIONS.join('|')}`,
      'R:Policies[0].PolicyDocument:s3:DeleteObject|s3:DeleteObjectVersion|s3:DeleteObjectTagging|s3:DeleteObjectVersionTagging|s3:DeleteBucketPolicy',
      'B:PolicyDocument:s3:PutObjectRetention|s3:PutBucketObjectLockConfiguration|s3:PutLifecycleConfiguration|s3:PutBucketPolicy',
      `K:KeyPolicy:${RECORD_TAMPERING_ACTIONS.join('|')}`,
      'M:PolicyDocument:s3:BypassGovernanceRetention',
    ]);
  });

  it('ignores Deny statements and unrelated Allows, flags NotAction, intrinsic actions and foreign managed policies', () => {
    const findings = scanPolicies(
      template({
        D: {
          Type: 'AWS::S3::BucketPolicy',
          Properties: {
            PolicyDocument: doc(
              { Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: '*' },
              { Effect: 'Allow', Action: ['s3:GetObject', 'kms:*'], Resource: '*' },
            ),
          },
        },
        N: { Type: 'AWS::IAM::Policy', Properties: { PolicyDocument: doc({ Effect: 'Allow', NotAction: ['s3:Delete*'], Resource: '*' }) } },
        I: {
          Type: 'AWS::IAM::Policy',
          Properties: { PolicyDocument: doc({ Effect: 'Allow', Action: { 'Fn::Split': [',', 'a,b'] }, Resource: '*' }) },
        },
        R: {
          Type: 'AWS::IAM::Role',
          Properties: {
            ManagedPolicyArns: [
              { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/service-role/AWSLambdaBasicExecutionRole']] },
              { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AmazonS3FullAccess']] },
            ],
          },
        },
      }),
      RECORD_TAMPERING_ACTIONS,
      { allowedManagedPolicies: ['service-role/AWSLambdaBasicExecutionRole'] },
    );
    expect(findings.map((f) => `${f.kind}:${f.logicalId}`)).toEqual(['allow:N', 'unresolved:I', 'external-managed-policy:R']);
    expect(findings[2]!.location).toBe('ManagedPolicyArns[1]');
    expect(findings[0]!.actions).not.toContain('s3:DeleteObject');
    expect(findings[0]!.actions).toContain('s3:PutObjectRetention');
    expect(describeFindings(findings)).toContain('AmazonS3FullAccess');
  });

  it('catches a bucket grant that would let the gateway delete records', () => {
    const { template } = build({}, (stack, archive) => {
      archive.bucket.grantReadWrite(new iam.Role(stack, 'Careless', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }));
    });
    expect(
      scanPolicies(template)
        .map((f) => f.actions)
        .flat(),
    ).toContain('s3:DeleteObject');
  });
});

describe('SessionArchive: grants', () => {
  const policyOfRole = (t: Template, role: string): Json[] => {
    const policies = Object.values(t.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify((p as Json).Properties.Roles).includes(role),
    );
    expect(policies).toHaveLength(1);
    return (policies[0] as Json).Properties.PolicyDocument.Statement;
  };

  it('grantWrite gives exactly PutObject on sessions/* and the key actions SSE-KMS writes need', () => {
    expect(policyOfRole(base.template, 'Writer')).toEqual([
      { Effect: 'Allow', Action: 's3:PutObject', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [ids.bucket, 'Arn'] }, '/sessions/*']] } },
      { Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Encrypt'], Resource: { 'Fn::GetAtt': [ids.key, 'Arn'] } },
    ]);
  });

  it('grantAuditQuery gives Athena on the workgroup, Glue reads of the table, record reads, results and key use', () => {
    const { archive } = base;
    const statements = policyOfRole(base.template, 'Auditor');
    const join = (bucket: string, suffix: string) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, suffix]] });
    const region = (service: string, rest: string) => ({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:${service}:`, { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, rest]],
    });
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: [
          'athena:StartQueryExecution',
          'athena:GetQueryExecution',
          'athena:GetQueryResults',
          'athena:StopQueryExecution',
          'athena:GetWorkGroup',
          'athena:GetNamedQuery',
          'athena:ListNamedQueries',
        ],
        Resource: region('athena', `:workgroup/${archive.workGroupName}`),
      },
      {
        Effect: 'Allow',
        Action: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions'],
        Resource: [
          region('glue', ':catalog'),
          region('glue', `:database/${archive.databaseName}`),
          region('glue', `:table/${archive.databaseName}/sessions`),
        ],
      },
      { Effect: 'Allow', Action: ['s3:ListBucket', 's3:GetBucketLocation'], Resource: { 'Fn::GetAtt': [ids.bucket, 'Arn'] } },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: join(ids.bucket, '/sessions/*') },
      {
        Effect: 'Allow',
        Action: ['s3:ListBucket', 's3:GetBucketLocation', 's3:ListBucketMultipartUploads'],
        Resource: { 'Fn::GetAtt': [ids.results, 'Arn'] },
      },
      {
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        Resource: join(ids.results, '/results/*'),
      },
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: { 'Fn::GetAtt': [ids.key, 'Arn'] } },
    ]);
  });

  it('writes no literal aws partition into any ARN', () => {
    expect(JSON.stringify(base.template.toJSON())).not.toMatch(/arn:aws[a-z-]*:/);
  });
});

/** The Glue kind of a JSON value of a record: what the table must declare for it. */
function kindOf(path: string, v: unknown): string {
  if (v === null || v === undefined) throw new Error(`the sample record must fill ${path} (null has no type)`);
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'number') return Number.isInteger(v) ? 'bigint' : 'double';
  if (Array.isArray(v)) {
    if (v.length === 0) throw new Error(`the sample record must give ${path} at least one element`);
    return `array<${kindOf(`${path}[0]`, v[0])}>`;
  }
  const fields = Object.entries(v as Json)
    .map(([k, x]) => `${k}:${kindOf(`${path}.${k}`, x)}`)
    .sort();
  return `struct<${fields.join(',')}>`;
}

/** A Hive type string with struct fields sorted, to compare with `kindOf`. */
function normaliseHive(type: string): string {
  let i = 0;
  const parse = (): string => {
    const name = /^[a-z]+/.exec(type.slice(i))![0];
    i += name.length;
    if (name === 'array') {
      i++; // <
      const inner = parse();
      i++; // >
      return `array<${inner}>`;
    }
    if (name === 'struct') {
      i++; // <
      const fields: string[] = [];
      for (;;) {
        const field = /^[a-z_0-9]+/.exec(type.slice(i))![0];
        i += field.length + 1; // name and ':'
        fields.push(`${field}:${parse()}`);
        if (type[i++] === '>') break; // ',' or '>'
      }
      return `struct<${fields.sort().join(',')}>`;
    }
    return name;
  };
  const out = parse();
  if (i !== type.length) throw new Error(`trailing text in ${type}`);
  return out;
}

describe('SessionArchive: Glue table', () => {
  // Typed as SessionRecord, so tsc fails here when schema v1 gains, loses or renames a field.
  // Every nullable field is filled; durations carry fractions (they are fractional in records).
  const sample: SessionRecord = {
    schema: RECORD_SCHEMA,
    session_id: '0190f5d2-7c4e-7a1b-8c3d-2e4f6a8b0c1d',
    started_at: '2026-03-01T12:00:00.000Z',
    ended_at: '2026-03-01T12:00:00.250Z',
    request: { method: 'POST', path: '/v1/embeddings', request_id: 'req-1', source_ip: '10.0.0.1', user_agent: 'openai-node/6' },
    principal: {
      issuer: 'https://idp.example.com',
      issuer_id: 'corp',
      subject: 'batch-indexer',
      client_id: 'indexer',
      groups: ['ml'],
      scopes: ['embeddings'],
      token_id: 'jti-1',
      token_expires_at: '2026-03-01T13:00:00.000Z',
    },
    model: { name: 'text-embedding-3-small', provider: 'openai', upstream_model: 'text-embedding-3-small' },
    decision: { outcome: 'allow', status: 200, reason: 'rule_allow', rule_id: 'indexers', policy_version: 'sha256:abc' },
    input: {
      kind: 'text',
      items: 2,
      characters: 11,
      encoding_format: 'float',
      dimensions: 256,
      request_bytes: 80,
      text: ['a masked item', 'another'],
      kept: 'partial',
      tokens: [[1, 2]],
      cut: [{ item: 2, items: 1, sha256: 'sha256:abc', bytes: 300_000 }],
    },
    masking: {
      scanned: true,
      findings: [
        {
          item: 0,
          type: 'EMAIL',
          detector: 'email',
          strategy: 'pseudonymize',
          count: 1,
          offsets: [[2, 19]],
          pseudonyms: ['<EMAIL_0123abcd>'],
        },
      ],
      counts: [{ type: 'EMAIL', count: 1 }],
      blocked: ['US_SSN'],
      external: { detector: 'comprehend', status: 'ok' },
    },
    upstream: { status: 200, latency_ms: 182.4, attempts: 1, batches: 1 },
    usage: { prompt_tokens: 4, total_tokens: 4 },
    output: { vectors: 2, dimensions: 256, fingerprint: 'sha256:def', encoding_format: 'float' },
    timings: { total_ms: 190.75, auth_ms: 1.5, upstream_ms: 182.4 },
    approval: {
      id: '0190f5d2-7c4e-7a1b-8c3d-2e4f6a8b0c1e',
      step: 'decided',
      status: 'approved',
      rule_id: 'indexers',
      payload_sha256: 'sha256:abc',
      triggers: ['batch_over:100'],
      decision: 'approve',
      reviewer: { issuer: 'https://idp.example.com', subject: 'alice' },
      via_grant: false,
    },
    record_sha256: 'sha256:0123',
  };

  const table = (): Json => (Object.values(base.template.findResources('AWS::Glue::Table'))[0] as Json).Properties;

  it('has exactly the columns of a schema v1 record, with matching types', () => {
    const columns: { Name: string; Type: string }[] = table().TableInput.StorageDescriptor.Columns;
    const actual = Object.fromEntries(columns.map((c) => [c.Name, normaliseHive(c.Type)]));
    const expected = Object.fromEntries(Object.entries(sample).map(([k, v]) => [k, kindOf(k, v)]));
    expect(actual).toEqual(expected);
    expect(columns).toHaveLength(Object.keys(sample).length);
  });

  it('is an external JSON table over s3://<bucket>/sessions/, partitioned by dt and hr', () => {
    const t = table();
    expect(t.DatabaseName).toBe(base.archive.databaseName);
    expect(t.TableInput).toMatchObject({
      Name: 'sessions',
      TableType: 'EXTERNAL_TABLE',
      PartitionKeys: [expect.objectContaining({ Name: 'dt', Type: 'string' }), expect.objectContaining({ Name: 'hr', Type: 'string' })],
      StorageDescriptor: {
        Location: { 'Fn::Join': ['', ['s3://', { Ref: ids.bucket }, '/sessions/']] },
        InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
        SerdeInfo: {
          SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
          Parameters: expect.objectContaining({ 'ignore.malformed.json': 'false' }),
        },
      },
    });
  });

  it('projects dt (daily dates) and hr (00 to 23) partitions onto the record key layout', () => {
    expect(table().TableInput.Parameters).toEqual({
      EXTERNAL: 'TRUE',
      classification: 'json',
      'projection.enabled': 'true',
      'projection.dt.type': 'date',
      'projection.dt.format': 'yyyy-MM-dd',
      'projection.dt.range': '2026-01-01,NOW',
      'projection.dt.interval': '1',
      'projection.dt.interval.unit': 'DAYS',
      'projection.hr.type': 'integer',
      'projection.hr.range': '00,23',
      'projection.hr.digits': '2',
      'storage.location.template': { 'Fn::Join': ['', ['s3://', { Ref: ids.bucket }, '/sessions/dt=${dt}/hr=${hr}/']] },
    });
  });

  it('starts the dt projection at projectionStartDate', () => {
    const { template } = build({ projectionStartDate: '2027-06-01' });
    template.hasResourceProperties('AWS::Glue::Table', {
      TableInput: { Parameters: Match.objectLike({ 'projection.dt.range': '2027-06-01,NOW' }) },
    });
  });
});

describe('SessionArchive: Athena', () => {
  it('enforces the workgroup settings: encrypted results in the results bucket, metrics, a scan cutoff, automatic engine', () => {
    base.template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: base.archive.workGroupName,
      State: 'ENABLED',
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        PublishCloudWatchMetricsEnabled: true,
        BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
        EngineVersion: { SelectedEngineVersion: 'AUTO' },
        ResultConfiguration: {
          OutputLocation: { 'Fn::Join': ['', ['s3://', { Ref: ids.results }, '/results/']] },
          EncryptionConfiguration: { EncryptionOption: 'SSE_KMS', KmsKey: { 'Fn::GetAtt': [ids.key, 'Arn'] } },
          ExpectedBucketOwner: { Ref: 'AWS::AccountId' },
        },
      },
    });
  });

  it('expires query results after queryResultsExpiration (30 days by default)', () => {
    expect(bucketProps(base.template, ids.results).LifecycleConfiguration.Rules).toEqual([
      expect.objectContaining({ ExpirationInDays: 30, NoncurrentVersionExpiration: { NoncurrentDays: 1 } }),
    ]);
    const { template, stack, archive } = build({ queryResultsExpiration: Duration.days(7), bytesScannedCutoffPerQuery: Size.gibibytes(1) });
    expect(bucketProps(template, logicalId(stack, archive.resultsBucket)).LifecycleConfiguration.Rules[0].ExpirationInDays).toBe(7);
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({ BytesScannedCutoffPerQuery: 1024 ** 3 }),
    });
  });

  it('saves every audit query as a named query of the workgroup, rendered with sample values', () => {
    const { archive } = base;
    const queries = Object.values(base.template.findResources('AWS::Athena::NamedQuery')).map((q) => (q as Json).Properties);
    expect(queries.map((q) => q.Name)).toEqual(AUDIT_QUERIES.map((q) => q.name));
    expect(archive.namedQueries).toHaveLength(AUDIT_QUERIES.length);
    for (const [i, q] of AUDIT_QUERIES.entries()) {
      const saved = queries[i];
      expect(saved.WorkGroup).toEqual({ Ref: ids.workGroup });
      expect(saved.Database).toBe(archive.databaseName);
      const sql = renderAthena(q, { database: archive.databaseName, table: archive.tableName, params: exampleParams(q) });
      expect(saved.QueryString.endsWith(`\n${sql}`)).toBe(true);
      expect(saved.QueryString).toMatch(
        /^-- embedgate audit query .*\n-- Sample values, replace them: since = 2026-01-01; until = 2026-02-01/,
      );
      expect(saved.QueryString).toContain(`FROM "${archive.databaseName}"."sessions"`);
    }
  });

  it('derives valid names, unique per stack, and uses the names given', () => {
    const other = build({}, undefined);
    for (const a of [base.archive, other.archive]) {
      expect(a.databaseName).toMatch(/^[a-z0-9_]{1,64}$/);
      expect(a.workGroupName).toMatch(/^[a-zA-Z0-9._-]{1,128}$/);
    }
    const stack2 = new Stack(newApp(), 'OtherStack');
    const second = new SessionArchive(stack2, 'Archive');
    expect(second.databaseName).not.toBe(base.archive.databaseName);
    expect(second.workGroupName).not.toBe(base.archive.workGroupName);
    const named = build({ databaseName: 'audit', tableName: 'gateway_sessions', workGroupName: 'audit-wg' });
    expect([named.archive.databaseName, named.archive.tableName, named.archive.workGroupName]).toEqual([
      'audit',
      'gateway_sessions',
      'audit-wg',
    ]);
    named.template.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: Match.objectLike({ Name: 'audit' }) });
    named.template.hasResourceProperties('AWS::Athena::NamedQuery', {
      QueryString: Match.stringLikeRegexp('FROM "audit"."gateway_sessions"'),
    });
  });
});

describe('SessionArchive: fails when', () => {
  it.each([
    ['the database name is not lower-case', { databaseName: 'Audit-DB' }, /databaseName must be .* got "Audit-DB". Try "audit_db"/],
    ['the table name has a dash', { tableName: 'my-table' }, /tableName must be .* Try "my_table"/],
    ['the workgroup name has a space', { workGroupName: 'audit wg' }, /workGroupName must be .* Try "audit-wg"/],
    ['Standard-IA comes before 30 days', { infrequentAccessTransitionAfter: Duration.days(10) }, /at least 30 days .* got 10 days/],
    [
      'Glacier IR comes less than 30 days after Standard-IA',
      { glacierTransitionAfter: Duration.days(45) },
      /must be at least 30 days after .* Use Duration.days\(60\)/,
    ],
    [
      'a transition is a fraction of a day',
      { glacierTransitionAfter: Duration.hours(2200) },
      /glacierTransitionAfter must be a whole number of days/,
    ],
    [
      'the results expire in 0 days',
      { queryResultsExpiration: Duration.days(0) },
      /queryResultsExpiration must be a whole number of days, at least 1/,
    ],
    [
      'the access logs are kept 12 hours',
      { accessLogsRetention: Duration.hours(12) },
      /accessLogsRetention must be a whole number of days/,
    ],
    ['the scan cutoff is below 10 MB', { bytesScannedCutoffPerQuery: Size.mebibytes(1) }, /at least 10 MB .* got 1048576 bytes/],
    ['the projection start is not a date', { projectionStartDate: '2026-02-30' }, /projectionStartDate must be a calendar date YYYY-MM-DD/],
  ])('%s', (_what, props, message) => {
    expect(() => build(props as SessionArchiveProps)).toThrow(message);
  });
});

describe('SessionArchive: cdk-nag', () => {
  const outdirs: string[] = [];
  afterAll(() => outdirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  function nagApp(acknowledge: boolean): App {
    const outdir = mkdtempSync(join(tmpdir(), 'embedgate-nag-'));
    outdirs.push(outdir);
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false, outdir });
    const stack = new Stack(app, 'NagStack');
    const archive = new SessionArchive(stack, 'Archive');
    const writer = new iam.Role(stack, 'Writer', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const auditor = new iam.Role(stack, 'Auditor', { assumedBy: new iam.AccountRootPrincipal() });
    archive.grantWrite(writer);
    archive.grantAuditQuery(auditor);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new NIST80053R5Checks(app));
    if (acknowledge) {
      const replication =
        'Cross-Region replication needs a destination bucket, Object Lock and key in a second Region: ' +
        'a deployment decision of the app, outside this construct.';
      Validations.of(archive.bucket).acknowledge({ id: 'NIST.800.53.R5-S3BucketReplicationEnabled', reason: replication });
      Validations.of(archive.accessLogsBucket).acknowledge({ id: 'NIST.800.53.R5-S3BucketReplicationEnabled', reason: replication });
      for (const role of [writer, auditor]) {
        Validations.of(role).acknowledge({
          id: 'NIST.800.53.R5-IAMNoInlinePolicy',
          reason: 'Test fixture role: grants land in its default policy, which is what the grant methods under test produce.',
        });
      }
    }
    return app;
  }

  it('passes AwsSolutions and NIST 800-53 r5 with only the acknowledged findings', () => {
    expect(() => nagApp(true).synth()).not.toThrow();
  });

  it("reports the findings that are the app's to decide, and only those (the checks are really running)", () => {
    const app = nagApp(false);
    expect(() => app.synth()).toThrow(/does not have replication enabled/);
    const report = JSON.parse(readFileSync(join(app.outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }[];
    };
    const findings = report.pluginReports
      .flatMap((p) => p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} ${c.constructPath}`)))
      .sort();
    expect(findings).toEqual([
      'NIST.800.53.R5-IAMNoInlinePolicy NagStack/Auditor/DefaultPolicy/Resource',
      'NIST.800.53.R5-IAMNoInlinePolicy NagStack/Writer/DefaultPolicy/Resource',
      'NIST.800.53.R5-S3BucketReplicationEnabled NagStack/Archive/AccessLogsBucket/Resource',
      'NIST.800.53.R5-S3BucketReplicationEnabled NagStack/Archive/Bucket/Resource',
    ]);
  });
});
