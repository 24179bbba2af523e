/**
 * Warnings about a valid configuration: authoring mistakes the schema accepts but that almost
 * certainly do not do what was meant. Pure; used by the construct (CDK Annotations at synth) and
 * by `embedgate config validate` (warning lines, exit 0).
 *
 *   rule-model-matches-nothing    a rule's `models` pattern names no configured model
 *   rule-issuer-matches-nothing   a rule's `match.issuer` pattern names no trusted issuer (id or URL)
 *   rule-group-matches-nothing    a `match.groups` pattern matches no known group   (only when groups are known)
 *   rule-scope-matches-nothing    a `match.scopes` pattern matches no known scope   (only when scopes are known)
 *   no-allow-rule                 no allow rule: every request is denied
 *   dimensions-outside-model      allowed dimensions the model cannot produce
 *   unknown-bedrock-model         a Bedrock model id that is not a supported embedding model
 *
 * Groups and scopes are not part of the configuration; they are known only where the caller can
 * list them (`embedgate config validate` takes them from the embedded dev issuer's clients).
 */
import { nearest } from './config-suggest';
import { matchesAny } from './glob';

/** The parts of a (validated, normalised) configuration the warnings read. */
export interface WarnableConfig {
  readonly issuers: ReadonlyArray<{ readonly id: string; readonly issuer: string }>;
  readonly models: ReadonlyArray<{
    readonly name: string;
    readonly provider: string;
    readonly upstreamModel?: string;
    readonly dimensions?: number;
    readonly limits?: { readonly allowedDimensions?: readonly number[] };
  }>;
  readonly policy: {
    readonly rules: ReadonlyArray<{
      readonly id: string;
      readonly effect: string;
      readonly models?: readonly string[];
      readonly match?: {
        readonly issuer?: readonly string[];
        readonly groups?: readonly string[];
        readonly scopes?: readonly string[];
      };
      readonly limits?: { readonly allowedDimensions?: readonly number[] };
    }>;
  };
}

export interface ConfigWarning {
  /** Stable id, e.g. `embedgate:no-allow-rule` (CDK acknowledges warnings by id). */
  readonly id: string;
  /** Where, in the document's terms (`policy.rules[2].models`). */
  readonly path: string;
  readonly message: string;
}

export interface WarningContext {
  /** Every group principals can have; group patterns are checked only when given. */
  readonly knownGroups?: readonly string[];
  /** Every scope principals can have; scope patterns are checked only when given. */
  readonly knownScopes?: readonly string[];
}

/**
 * Bedrock embedding models the gateway's Bedrock provider speaks, with the output sizes each can
 * produce (keep in step with lambda/providers/bedrock.ts, which refuses any other id at runtime).
 */
export const BEDROCK_EMBEDDING_MODELS: Readonly<Record<string, readonly number[]>> = {
  'amazon.titan-embed-text-v2:0': [256, 512, 1024],
  'cohere.embed-english-v3': [1024],
  'cohere.embed-multilingual-v3': [1024],
};

/** Output sizes of well-known hosted models (OpenAI, Azure OpenAI deployments named like them, Cohere). */
const KNOWN_DIMENSIONS: Readonly<Record<string, { readonly max: number; readonly only?: readonly number[] }>> = {
  'text-embedding-3-small': { max: 1536 },
  'text-embedding-3-large': { max: 3072 },
  'text-embedding-ada-002': { max: 1536, only: [1536] },
  'embed-english-v3.0': { max: 1024, only: [1024] },
  'embed-multilingual-v3.0': { max: 1024, only: [1024] },
  'embed-english-light-v3.0': { max: 384, only: [384] },
  'embed-multilingual-light-v3.0': { max: 384, only: [384] },
  'embed-v4.0': { max: 1536, only: [256, 512, 1024, 1536] },
};

/** The base Bedrock model id of an id, an inference profile (`us.…`) or an ARN ending in either. */
function bedrockBase(id: string): string {
  return id.slice(id.lastIndexOf('/') + 1).replace(/^(us|eu|apac|us-gov|ca|jp|au|global)\./, '');
}

/** The output sizes a model can produce, when known: an explicit list, or a maximum. */
function producible(m: WarnableConfig['models'][number]): { readonly max: number; readonly only?: readonly number[] } | undefined {
  const id = m.upstreamModel ?? m.name;
  if (m.provider === 'local') return undefined; // the local model produces any size asked for
  if (m.provider === 'bedrock') {
    const dims = BEDROCK_EMBEDDING_MODELS[bedrockBase(id)];
    return dims ? { max: Math.max(...dims), only: dims } : undefined;
  }
  const known = KNOWN_DIMENSIONS[id];
  if (known) return known;
  // Elsewhere `dimensions` is the model's native size: it can be shortened, never grown.
  return m.dimensions !== undefined ? { max: m.dimensions } : undefined;
}

export function configWarnings(config: WarnableConfig, ctx: WarningContext = {}): ConfigWarning[] {
  const out: ConfigWarning[] = [];
  const warn = (id: string, path: string, message: string) => out.push({ id: `embedgate:${id}`, path, message });
  const modelNames = config.models.map((m) => m.name);
  const issuerNames = config.issuers.flatMap((i) => [i.id, i.issuer]);

  config.models.forEach((m, i) => {
    if (m.provider === 'bedrock') {
      const id = m.upstreamModel ?? m.name;
      if (!isReference(id) && !BEDROCK_EMBEDDING_MODELS[bedrockBase(id)]) {
        const near = nearest(bedrockBase(id), Object.keys(BEDROCK_EMBEDDING_MODELS));
        warn(
          'unknown-bedrock-model',
          `models[${i}].upstreamModel`,
          `model "${m.name}": ${JSON.stringify(id)} is not a Bedrock embedding model the gateway supports${near ? `: did you mean ${JSON.stringify(near)}?` : ''} (supported: ${Object.keys(BEDROCK_EMBEDDING_MODELS).join(', ')}); requests to it will fail`,
        );
      }
    }
    const can = producible(m);
    const outside = can && (m.limits?.allowedDimensions ?? []).filter((d) => (can.only ? !can.only.includes(d) : d > can.max));
    if (can && outside && outside.length > 0)
      warn(
        'dimensions-outside-model',
        `models[${i}].limits.allowedDimensions`,
        `model "${m.name}" cannot produce ${outside.join(', ')} dimensions (${can.only ? `it produces ${can.only.join(', ')}` : `at most ${can.max}`}); requests asking for them will fail upstream`,
      );
  });

  const rules = config.policy.rules;
  if (!rules.some((r) => r.effect === 'allow'))
    warn(
      'no-allow-rule',
      'policy.rules',
      rules.length === 0 ? 'there are no policy rules: every request is denied' : 'there is no allow rule: every request is denied',
    );

  rules.forEach((r, i) => {
    const at = `policy.rules[${i}]`;
    const covered = config.models.filter((m) => matchesAny(r.models ?? ['*'], m.name));
    for (const p of r.models ?? []) {
      if (!isReference(p) && !modelNames.some((n) => matchesAny([p], n)))
        warn(
          'rule-model-matches-nothing',
          `${at}.models`,
          `rule "${r.id}": models pattern ${JSON.stringify(p)} matches no configured model${hint(p, modelNames)}`,
        );
    }
    for (const p of r.match?.issuer ?? []) {
      if (!isReference(p) && !issuerNames.some((n) => matchesAny([p], n)))
        warn(
          'rule-issuer-matches-nothing',
          `${at}.match.issuer`,
          `rule "${r.id}": issuer pattern ${JSON.stringify(p)} matches no trusted issuer id or URL${hint(
            p,
            config.issuers.map((x) => x.id),
          )}`,
        );
    }
    for (const [field, known, id] of [
      ['groups', ctx.knownGroups, 'rule-group-matches-nothing'],
      ['scopes', ctx.knownScopes, 'rule-scope-matches-nothing'],
    ] as const) {
      if (!known) continue;
      for (const p of r.match?.[field] ?? []) {
        if (!known.some((g) => matchesAny([p], g)))
          warn(
            id,
            `${at}.match.${field}`,
            `rule "${r.id}": ${field} pattern ${JSON.stringify(p)} matches none of the known ${field}${hint(p, known)}`,
          );
      }
    }
    const dims = r.limits?.allowedDimensions;
    if (r.effect === 'allow' && dims) {
      for (const m of covered) {
        const can = producible(m);
        const own = m.limits?.allowedDimensions;
        const outside = dims.filter((d) => (own && !own.includes(d)) || (can && (can.only ? !can.only.includes(d) : d > can.max)));
        if (outside.length > 0)
          warn(
            'dimensions-outside-model',
            `${at}.limits.allowedDimensions`,
            `rule "${r.id}": model "${m.name}" does not allow ${outside.join(', ')} dimensions (${own ? `its limits allow ${own.join(', ')}` : can?.only ? `it produces ${can.only.join(', ')}` : `it produces at most ${can!.max}`}); the rule cannot widen the model's limits`,
          );
      }
    }
  });
  return out;
}

/** A deploy-time reference (`${env:...}` or a CDK token), which cannot be checked at synth. */
function isReference(s: string): boolean {
  return s.includes('${') || s.includes('deploy-time-reference.invalid');
}

function hint(pattern: string, names: readonly string[]): string {
  const near = /[*?]/.test(pattern) ? undefined : nearest(pattern, names);
  return near ? `: did you mean ${JSON.stringify(near)}?` : names.length > 0 ? ` (${names.slice(0, 10).join(', ')})` : '';
}
