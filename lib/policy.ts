import type { Duration } from 'aws-cdk-lib';
import type { MaskingStrategy } from './masking';
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
}
