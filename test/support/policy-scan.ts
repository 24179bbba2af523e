/**
 * Scans a synthesized CloudFormation template for policy statements that ALLOW given actions,
 * directly or through wildcards (`s3:*`, `s3:Delete*`, `s3:Put*`, `*`, `s3:*Object*`) or through
 * `NotAction`. Used to prove that nothing in a stack can delete or unlock archived records.
 *
 * Looks at every policy document a template can hold:
 * - AWS::IAM::Policy, AWS::IAM::ManagedPolicy (PolicyDocument)
 * - AWS::IAM::RolePolicy, AWS::IAM::UserPolicy, AWS::IAM::GroupPolicy (PolicyDocument)
 * - AWS::IAM::Role, AWS::IAM::User, AWS::IAM::Group (inline Policies[].PolicyDocument)
 * - AWS::S3::BucketPolicy (PolicyDocument), AWS::KMS::Key (KeyPolicy)
 * and reports, conservatively:
 * - `allow`: an Allow statement whose Action matches, or whose NotAction leaves a target action allowed;
 * - `unresolved`: an Allow statement whose Action/NotAction is not plain strings (an intrinsic),
 *   so it cannot be checked;
 * - `external-managed-policy`: a role/user/group attaching a managed policy not defined in the
 *   template (e.g. an AWS managed policy), unless allowed by name in `allowedManagedPolicies`.
 */
import type { Template } from 'aws-cdk-lib/assertions';

/**
 * Actions that would let someone delete, hide or unlock archived records, or lift the bucket
 * policy's denies. (`DeleteObjects`, the batch API, is authorized as `s3:DeleteObject`.)
 */
export const RECORD_TAMPERING_ACTIONS: readonly string[] = [
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  's3:DeleteObjectTagging',
  's3:DeleteObjectVersionTagging',
  's3:PutObjectRetention',
  's3:PutBucketObjectLockConfiguration',
  's3:BypassGovernanceRetention',
  // A lifecycle expiration adds delete markers that hide records from Athena.
  's3:PutLifecycleConfiguration',
  // Whoever can rewrite the bucket policy can lift its denies.
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
];

export interface PolicyFinding {
  readonly kind: 'allow' | 'unresolved' | 'external-managed-policy';
  readonly logicalId: string;
  readonly resourceType: string;
  /** Where in the resource, e.g. `PolicyDocument`, `Policies[0].PolicyDocument`, `KeyPolicy`, `ManagedPolicyArns[1]`. */
  readonly location: string;
  readonly sid?: string;
  /** The statement's Action / NotAction patterns, or the managed policy ARN. */
  readonly patterns: readonly string[];
  /** The target actions this statement allows. */
  readonly actions: readonly string[];
}

export interface ScanOptions {
  /**
   * Names of managed policies that may be attached (the part after `:policy/`, e.g.
   * `service-role/AWSLambdaBasicExecutionRole`), having been reviewed not to allow the actions.
   */
  readonly allowedManagedPolicies?: readonly string[];
}

type Json = Record<string, unknown>;

/** Every finding in `template` (an assertions `Template` or the template JSON) for `actions`. */
export function scanPolicies(
  template: Template | Json,
  actions: readonly string[] = RECORD_TAMPERING_ACTIONS,
  options: ScanOptions = {},
): PolicyFinding[] {
  const json = (typeof (template as Template).toJSON === 'function' ? (template as Template).toJSON() : template) as Json;
  const resources = (json.Resources ?? {}) as Record<string, { Type: string; Properties?: Json }>;
  const findings: PolicyFinding[] = [];
  for (const [logicalId, res] of Object.entries(resources)) {
    const p = res.Properties ?? {};
    const docs: [string, unknown][] = [];
    switch (res.Type) {
      case 'AWS::IAM::Policy':
      case 'AWS::IAM::ManagedPolicy':
      case 'AWS::IAM::RolePolicy':
      case 'AWS::IAM::UserPolicy':
      case 'AWS::IAM::GroupPolicy':
      case 'AWS::S3::BucketPolicy':
        docs.push(['PolicyDocument', p.PolicyDocument]);
        break;
      case 'AWS::KMS::Key':
        docs.push(['KeyPolicy', p.KeyPolicy]);
        break;
      case 'AWS::IAM::Role':
      case 'AWS::IAM::User':
      case 'AWS::IAM::Group':
        asArray(p.Policies).forEach((pol, i) => docs.push([`Policies[${i}].PolicyDocument`, (pol as Json)?.PolicyDocument]));
        asArray(p.ManagedPolicyArns).forEach((arn, i) => {
          const f = externalManagedPolicy(arn, resources, options.allowedManagedPolicies ?? []);
          if (f)
            findings.push({
              kind: 'external-managed-policy',
              logicalId,
              resourceType: res.Type,
              location: `ManagedPolicyArns[${i}]`,
              patterns: [f],
              actions: [],
            });
        });
        break;
      default:
        continue;
    }
    for (const [location, doc] of docs) {
      for (const st of statementsOf(doc)) {
        const f = checkStatement(st, actions);
        if (f) findings.push({ ...f, logicalId, resourceType: res.Type, location, ...(typeof st.Sid === 'string' ? { sid: st.Sid } : {}) });
      }
    }
  }
  return findings;
}

/**
 * AWS managed policies reviewed not to allow any of `RECORD_TAMPERING_ACTIONS` (CloudWatch Logs
 * and VPC network interfaces only), which Lambda functions commonly attach.
 */
export const REVIEWED_MANAGED_POLICIES: readonly string[] = [
  'service-role/AWSLambdaBasicExecutionRole',
  'service-role/AWSLambdaVPCAccessExecutionRole',
];

/**
 * Every way a stack could delete, hide or unlock archived records: `scanPolicies` with the
 * tampering actions, accepting only the reviewed managed policies (plus any given).
 */
export function findForbiddenArchiveGrants(template: Template | Json, options: ScanOptions = {}): PolicyFinding[] {
  return scanPolicies(template, RECORD_TAMPERING_ACTIONS, {
    allowedManagedPolicies: [...REVIEWED_MANAGED_POLICIES, ...(options.allowedManagedPolicies ?? [])],
  });
}

/** Human-readable one line per finding, for test failure messages. */
export function describeFindings(findings: readonly PolicyFinding[]): string {
  return findings
    .map(
      (f) =>
        `${f.kind}: ${f.logicalId} (${f.resourceType}) ${f.location}${f.sid ? ` [${f.sid}]` : ''}: ` +
        `${f.patterns.join(', ')}${f.actions.length ? ` -> ${f.actions.join(', ')}` : ''}`,
    )
    .join('\n');
}

/** IAM action matching: case-insensitive, `*` any run, `?` one character. */
export function actionMatches(pattern: string, action: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('')}$`,
    'i',
  );
  return re.test(action);
}

function checkStatement(st: Json, actions: readonly string[]): Omit<PolicyFinding, 'logicalId' | 'resourceType' | 'location'> | undefined {
  if (st.Effect === 'Deny') return undefined;
  const isNot = st.Action === undefined && st.NotAction !== undefined;
  const raw = asArray(isNot ? st.NotAction : st.Action);
  if (raw.some((a) => typeof a !== 'string')) {
    return { kind: 'unresolved', patterns: raw.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))), actions: [...actions] };
  }
  const patterns = raw as string[];
  const hit = actions.filter((a) => {
    const matched = patterns.some((p) => actionMatches(p, a));
    return isNot ? !matched : matched;
  });
  return hit.length > 0 ? { kind: 'allow', patterns: isNot ? patterns.map((p) => `NotAction ${p}`) : patterns, actions: hit } : undefined;
}

function statementsOf(doc: unknown): Json[] {
  if (!doc || typeof doc !== 'object') return [];
  return asArray((doc as Json).Statement).filter((s): s is Json => !!s && typeof s === 'object');
}

function asArray(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

/** The ARN (flattened) of an attached managed policy that is not defined in this template and not allowed; else undefined. */
function externalManagedPolicy(arn: unknown, resources: Record<string, { Type: string }>, allowed: readonly string[]): string | undefined {
  if (arn && typeof arn === 'object' && 'Ref' in arn && resources[(arn as { Ref: string }).Ref]?.Type === 'AWS::IAM::ManagedPolicy') {
    return undefined; // defined here, scanned as a resource
  }
  const flat = flatten(arn);
  const name = /:policy\/(.+)$/.exec(flat)?.[1];
  return name !== undefined && allowed.includes(name) ? undefined : flat;
}

/** A readable string for a possibly intrinsic value: Fn::Join joined, other intrinsics as `${...}`. */
function flatten(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const o = v as Json;
    if (Array.isArray(o['Fn::Join'])) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return asArray(parts).map(flatten).join(sep);
    }
    if (typeof o.Ref === 'string') return `\${${o.Ref}}`;
    // Fn::Sub with a plain template string (e.g. "arn:${AWS::Partition}:iam::aws:policy/...").
    if (typeof o['Fn::Sub'] === 'string') return o['Fn::Sub'];
  }
  return `\${${JSON.stringify(v)}}`;
}
