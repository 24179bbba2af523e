import type { Duration } from 'aws-cdk-lib';
import type { MaskingStrategy } from './masking';
import type { RateLimits } from './rate-limits';
import type { ModelLimits } from './upstream-model';

/** JWS algorithms a trusted issuer may sign with. */
export enum JwtAlgorithm {
  RS256 = 'RS256',
  RS384 = 'RS384',
  RS512 = 'RS512',
}

/** An OIDC issuer whose service principals may call the gateway. */
export interface TrustedIssuer {
  /** Stable id of this trust relationship; rules match on it. Letters, digits, `_`, `.`, `-`. */
  readonly id: string;
  /** The exact `iss` value, an https:// URL (e.g. `https://acme.okta.com/oauth2/default`). */
  readonly issuerUrl: string;
  /** Accepted audiences: a token must carry one of them in `aud` (or `client_id`, at the API Gateway edge). */
  readonly audiences: string[];
  /**
   * JWKS URL.
   * @default - `jwks_uri` from the issuer's OIDC discovery document
   */
  readonly jwksUri?: string;
  /**
   * The proxy fetches this issuer's keys itself, through the VPC: `jwksUri` (or the discovery
   * host) is an address inside the VPC, e.g. an internal load balancer of the identity provider
   * or a private hosted zone. The key mirror leaves the issuer out. The Lambda security group
   * (`network.lambdaSecurityGroup`) must allow 443 to that address. `issuerUrl` stays public:
   * API Gateway's JWT authorizer discovers the keys from the internet.
   * @default false - without internet egress, the key mirror (outside the VPC) serves the issuer's keys
   */
  readonly keysInVpc?: boolean;
  /**
   * Allowed signature algorithms. API Gateway's JWT authorizer verifies RSA signatures only,
   * so only RSA algorithms are offered here.
   * @default [JwtAlgorithm.RS256]
   */
  readonly algorithms?: JwtAlgorithm[];
  /**
   * Leeway for `exp`, `nbf` and `iat`.
   * @default Duration.seconds(30)
   */
  readonly clockTolerance?: Duration;
  /**
   * Refuse tokens issued longer ago than this.
   * @default - only `exp` bounds a token's life
   */
  readonly maxTokenAge?: Duration;
  /**
   * Required JOSE `typ` header, e.g. `at+jwt` (RFC 9068).
   * @default - any
   */
  readonly requiredTokenType?: string;
  /**
   * Claim holding the subject.
   * @default 'sub'
   */
  readonly subjectClaim?: string;
  /**
   * Claims tried in order for the client id.
   * @default ['client_id', 'azp', 'cid', 'appid']
   */
  readonly clientIdClaims?: string[];
  /**
   * Claims whose values are the principal's groups (e.g. `cognito:groups`, `roles`, GitHub's `repository`).
   * @default ['groups']
   */
  readonly groupClaims?: string[];
  /**
   * Claims whose values are the principal's scopes.
   * @default ['scope', 'scp']
   */
  readonly scopeClaims?: string[];
}

/** Whether a rule allows or denies. */
export enum PolicyEffect {
  ALLOW = 'allow',
  DENY = 'deny',
}

/**
 * A policy rule. Values are exact strings or globs (`*`, `?`). Any matching deny wins; otherwise
 * the first matching allow decides; otherwise the request is denied. See docs/policy.md.
 */
export interface PolicyRule {
  /** Unique id, cited in every decision and record. */
  readonly id: string;
  /** Allow or deny. */
  readonly effect: PolicyEffect;
  /**
   * What the rule is for, for reviewers.
   * @default - none
   */
  readonly description?: string;
  /**
   * Issuer ids (or URLs) the rule applies to.
   * @default - any issuer
   */
  readonly issuers?: string[];
  /**
   * Subjects the rule applies to.
   * @default - any subject
   */
  readonly subjects?: string[];
  /**
   * Client ids the rule applies to.
   * @default - any client
   */
  readonly clientIds?: string[];
  /**
   * The principal must be in at least one matching group.
   * @default - no group condition
   */
  readonly groups?: string[];
  /**
   * The principal must hold every one of these scopes.
   * @default - no scope condition
   */
  readonly scopes?: string[];
  /**
   * Model names the rule covers.
   * @default ['*']
   */
  readonly models?: string[];
  /**
   * Limits that tighten the models' own (allow rules only).
   * @default - the models' limits
   */
  readonly limits?: ModelLimits;
  /**
   * Masking strategies for this rule's principals, per entity type, over the gateway's (allow rules only).
   * @default - the gateway's strategies
   */
  readonly maskingStrategies?: { [entityType: string]: MaskingStrategy };
  /**
   * Hold the requests this rule allows for a human decision (allow rules only). The gateway then
   * provisions the approval workflow (see `ApprovalWorkflow`) and the `/v1/approvals` routes.
   * @default - no approval
   */
  readonly approval?: ApprovalRequirement;
  /**
   * Per-principal rate limits and quotas under this rule (allow rules only), over the gateway's
   * `rateLimits` field by field.
   * @default - the gateway's `rateLimits`
   */
  readonly rateLimits?: RateLimits;
}

/** A regulated-language pattern: an input item matching it requires approval. */
export interface ApprovalPattern {
  /** Upper snake case name, cited in the approval's triggers, e.g. `EXPORT_CONTROLLED`. */
  readonly name: string;
  /** JavaScript regular expression source. Patterns open to catastrophic backtracking are refused at synth. */
  readonly pattern: string;
  /**
   * Flags among `i`, `m`, `s` and `u`.
   * @default - none
   */
  readonly flags?: string;
}

/** When a request the rule allows needs approval. Conditions are alternatives: any one that holds is enough. */
export interface ApprovalConditions {
  /**
   * The principal is in none of the groups matching these globs.
   * @default - no group condition
   */
  readonly principalOutsideGroups?: string[];
  /**
   * The request has more than this many input items.
   * @default - no batch-size condition
   */
  readonly batchOver?: number;
  /**
   * Some input item matches one of these patterns (checked on the input as sent, before masking).
   * @default - no pattern condition
   */
  readonly inputMatches?: ApprovalPattern[];
  /**
   * Masking found at least one value of one of these entity types (needs masking).
   * @default - no masking condition
   */
  readonly maskingFound?: string[];
}

/** Who may decide an approval: principals in a matching group or with a matching subject (never the requester). */
export interface ApprovalReviewers {
  /**
   * Group globs.
   * @default - none (then `subjects` must name someone)
   */
  readonly groups?: string[];
  /**
   * Subject globs.
   * @default - none (then `groups` must name one)
   */
  readonly subjects?: string[];
  /**
   * Issuers (ids or issuer URLs, globs) reviewers come from. A group or subject name means
   * nothing across identity providers, so reviewers of another issuer must be named here.
   * @default - the requester's own issuer only
   */
  readonly issuers?: string[];
}

/** A rule's approval requirement (see docs/policy.md, approvals). */
export interface ApprovalRequirement {
  /**
   * When approval is needed.
   * @default - always
   */
  readonly when?: ApprovalConditions;
  /** Who may approve or deny. */
  readonly reviewers: ApprovalReviewers;
  /**
   * Distinct reviewers that must approve (1 to 5); 2 or more is the two-person rule.
   * @default 1
   */
  readonly requiredApprovals?: number;
  /**
   * How long a request waits for a decision before it expires (1 minute to 7 days, whole seconds).
   * @default Duration.hours(1)
   */
  readonly timeout?: Duration;
  /**
   * After approval, how long the client has to re-send the request, once (10 seconds to 1 day).
   * @default Duration.minutes(15)
   */
  readonly useWithin?: Duration;
  /**
   * Instead of a single use, grant the principal the model for this long after approval (whole
   * minutes, at most 1 day).
   * @default - single use
   */
  readonly grantDuration?: Duration;
  /**
   * How many approvals of this rule one principal may have pending at once (1 to 1000). Every
   * held request notifies the reviewers and starts a workflow execution; past the cap a new held
   * request is refused with 429 `too_many_pending_approvals` (and recorded) until one of the
   * principal's pending approvals is decided or expires. The same request sent again while its
   * approval is pending is not counted again. Exact under concurrency (a conditional write on the
   * principal's list of pending approvals for the rule).
   * @default 10
   */
  readonly maxPending?: number;
}
