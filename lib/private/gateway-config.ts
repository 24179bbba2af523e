import { Token, type Duration } from 'aws-cdk-lib';
import { ConfigError, shipConfig } from '../../shared/config';
import { DEPLOY_REF_ENV_PREFIX } from '../../shared/contract';
import type { ApprovalRequirement, PolicyRule, TrustedIssuer } from '../policy';
import type { RateLimits } from '../rate-limits';
import type { UpstreamModelBinding } from '../upstream-model';

/** The gateway configuration document built from construct props, ready for the asset. */
export interface BuiltConfig {
  /**
   * The document as written into the function's code: normalised by `loadConfig` and sealed
   * (`shipConfig`), tokens replaced by `${env:...}`. The Lambdas read it without the schema.
   */
  readonly json: string;
  /** Environment variables carrying the deploy-time references. */
  readonly environment: Record<string, string>;
}

export interface GatewayConfigInputs {
  readonly issuers: readonly TrustedIssuer[];
  readonly models: readonly UpstreamModelBinding[];
  readonly rules: readonly PolicyRule[];
  readonly maxRequestBytes: number;
  readonly maxTokenBytes: number;
  readonly archiveFailMode: 'closed' | 'open';
  /** The gateway's default rate limits. */
  readonly rateLimits?: RateLimits;
  /** Let requests through uncounted when the counter store fails (default: refuse with 503). */
  readonly rateLimitStoreFailOpen?: boolean;
  /** Subjects with a metric dimension of their own. */
  readonly metricPrincipals?: readonly string[];
  /** The masking section (built by the construct), or undefined when masking is off. */
  readonly masking?: Record<string, unknown>;
  /** The reviewer page section, or undefined when there is no page. */
  readonly reviewerPage?: Record<string, unknown>;
  /** The recording section, or undefined for the defaults. */
  readonly recording?: Record<string, unknown>;
}

const seconds = (d: Duration | undefined) => (d === undefined ? undefined : d.toSeconds());
const minutes = (d: Duration | undefined, what: string) => {
  if (d === undefined) return undefined;
  try {
    return d.toMinutes();
  } catch (e) {
    // No `cause`: the message carries it (Node would print the cause a second time), and jsii
    // compiles lib/ for ES2020, where Error takes no options.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`EmbeddingGateway: ${what} must be a whole number of minutes, got ${d.toHumanString()} (${(e as Error).message})`);
  }
};
const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

function approvalSection(ruleId: string, a: ApprovalRequirement): Record<string, unknown> {
  const w = a.when;
  return defined({
    when: w
      ? defined({
          principalOutsideGroups: w.principalOutsideGroups,
          batchOver: w.batchOver,
          inputMatches: w.inputMatches?.map((p) => defined({ ...p })),
          maskingFound: w.maskingFound,
        })
      : undefined,
    reviewers: defined({ groups: a.reviewers?.groups, subjects: a.reviewers?.subjects, issuers: a.reviewers?.issuers }),
    requiredApprovals: a.requiredApprovals,
    timeoutSeconds: seconds(a.timeout),
    useWithinSeconds: seconds(a.useWithin),
    grantMinutes: minutes(a.grantDuration, `rule "${ruleId}" approval.grantDuration`),
    maxPending: a.maxPending,
  });
}

/**
 * Build the configuration document from the props and validate it with the runtime's own
 * validator (`loadConfig`), so a bad policy fails `cdk synth`, not the first request; what is
 * shipped is its normalised, sealed form (shared/config-runtime.ts).
 */
export function buildGatewayConfig(i: GatewayConfigInputs): BuiltConfig {
  const doc = {
    issuers: i.issuers.map((x) =>
      defined({
        id: x.id,
        issuer: x.issuerUrl,
        audiences: x.audiences,
        jwksUri: x.jwksUri,
        keysInVpc: x.keysInVpc,
        algorithms: x.algorithms,
        clockToleranceSeconds: seconds(x.clockTolerance),
        maxTokenAgeSeconds: seconds(x.maxTokenAge),
        requiredTyp: x.requiredTokenType,
        claims: defined({ subject: x.subjectClaim, clientId: x.clientIdClaims, groups: x.groupClaims, scopes: x.scopeClaims }),
      }),
    ),
    models: i.models.map((m) => m.config),
    policy: {
      rules: i.rules.map((r) =>
        defined({
          id: r.id,
          description: r.description,
          effect: r.effect,
          match: defined({ issuer: r.issuers, subject: r.subjects, clientId: r.clientIds, groups: r.groups, scopes: r.scopes }),
          models: r.models,
          limits: r.limits,
          masking: r.maskingStrategies ? { strategies: r.maskingStrategies } : undefined,
          approval: r.approval ? approvalSection(r.id, r.approval) : undefined,
          rateLimits: r.rateLimits ? defined({ ...r.rateLimits }) : undefined,
        }),
      ),
    },
    gateway: defined({
      maxRequestBytes: i.maxRequestBytes,
      maxTokenBytes: i.maxTokenBytes,
      archiveFailMode: i.archiveFailMode,
      rateLimits: i.rateLimits ? defined({ ...i.rateLimits }) : undefined,
      rateLimitStoreFailMode: i.rateLimitStoreFailOpen === undefined ? undefined : i.rateLimitStoreFailOpen ? 'open' : 'closed',
      metricPrincipals: i.metricPrincipals,
    }),
    ...(i.masking ? { masking: i.masking } : {}),
    ...(i.reviewerPage ? { reviewerPage: i.reviewerPage } : {}),
    ...(i.recording ? { recording: i.recording } : {}),
  };

  // Tokens cannot live in a file asset: each becomes ${env:<DEPLOY_REF_ENV_PREFIX>n}, resolved by
  // CloudFormation into the function's environment.
  const environment: Record<string, string> = {};
  let n = 0;
  const withRefs: unknown = JSON.parse(
    JSON.stringify(doc, (_k, v: unknown) => {
      if (typeof v === 'string' && Token.isUnresolved(v)) {
        const name = `${DEPLOY_REF_ENV_PREFIX}${n++}`;
        environment[name] = v;
        return `\${env:${name}}`;
      }
      return v;
    }),
  );
  try {
    return { json: JSON.stringify(shipConfig(withRefs, new Set(Object.keys(environment)))), environment };
  } catch (e) {
    // Without `cause`, for the same reasons: every issue is in the message already.
    if (e instanceof ConfigError)
      // eslint-disable-next-line preserve-caught-error
      throw new Error(
        `EmbeddingGateway: the gateway configuration built from the props is invalid:\n${e.issues.map((x) => `  - ${x}`).join('\n')}`,
      );
    throw e;
  }
}
