/**
 * The configuration as the Lambdas read it, without the schema (zod) on their start path.
 *
 * The construct validates the document with `loadConfig` at synth and ships its NORMALISED form
 * (defaults applied, `stringOrList` fields as lists) in `config.json`, sealed: `$schema` names the
 * format and carries the SHA-256 of the canonical JSON of that document, deploy-time references
 * still written as `${env:NAME}`. At start, `openShippedConfig` checks the seal (a document changed
 * after synth is refused), the expected keys, expands the references and checks the values they
 * brought (what the schema would check of them: URLs, non-empty strings, unique issuers), and
 * computes the version exactly as `loadConfig` does: over the expanded document. What it cannot
 * check cheaply (a document without the seal, from an older construct; a reference in a field with
 * rules of its own, e.g. a glob or a pattern) it hands back for the full validator, which the
 * caller loads on demand.
 *
 * `$schema` is the key the schema already accepts and drops, so a shipped document is still a
 * valid configuration file: `loadConfig` (and `embedgate dev`) read it to the same configuration.
 */
import { canonicalJson, sha256Hex } from './canonical';
import { ConfigError, configVersion, ENV_REF, expandEnvRefs, isLoopback } from './config-base';
import type { GatewayConfig } from './config-schema';
import { recordingOf } from './recording';

export { canonicalJson, sha256Hex } from './canonical';
export { ConfigError, configVersion, expandEnvRefs, isLoopback } from './config-base';

// ---- the shipped (sealed) document ------------------------------------------------------------

/** `$schema` of a shipped document: `embedgate:normalised-config:1:sha256:<hex>`. */
const FORMAT = 'embedgate:normalised-config';
const FORMAT_VERSION = 1;
const SEAL = /^embedgate:normalised-config:(\d+):sha256:([0-9a-f]{64})$/;

/** Seal a normalised document (`loadConfig`'s output without `version`) for shipping. */
export function sealConfig(normalised: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { $schema: _none, version: _version, ...doc } = normalised;
  return { $schema: `${FORMAT}:${FORMAT_VERSION}:sha256:${sha256Hex(canonicalJson(doc))}`, ...doc };
}

/**
 * What `openShippedConfig` found: the configuration, checked; or a document the full validator
 * must check (`loadConfig`, references already expanded), and why.
 */
export type ShippedConfig =
  | { readonly kind: 'checked'; readonly config: GatewayConfig }
  | { readonly kind: 'validate'; readonly document: unknown; readonly reason: string };

/**
 * Open `config.json` as the construct shipped it: check its seal and shape, expand its deploy-time
 * references from `env`, check what they brought. Throws `ConfigError` (clear, naming the file)
 * when the document was changed after synth or is not what this runtime reads.
 */
export function openShippedConfig(doc: unknown, env: Readonly<Record<string, string | undefined>>): ShippedConfig {
  if (!isObject(doc)) throw new ConfigError(['config.json: the document must be a JSON object']);
  const marker = doc.$schema;
  if (typeof marker !== 'string' || !marker.startsWith(`${FORMAT}:`)) {
    return {
      kind: 'validate',
      document: expandEnvRefs(doc, env),
      reason: 'config.json is not sealed (written by an older embedgate construct, or by hand)',
    };
  }
  const seal = SEAL.exec(marker);
  if (!seal || Number(seal[1]) !== FORMAT_VERSION) {
    throw new ConfigError([
      `config.json: $schema ${JSON.stringify(marker)} is not a format this runtime reads (${FORMAT}:${FORMAT_VERSION}:sha256:<64 hex digits>); deploy the function from the same embedgate version as its construct`,
    ]);
  }
  const { $schema: _marker, ...normalised } = doc;
  const digest = sha256Hex(canonicalJson(normalised));
  if (digest !== seal[2]) {
    throw new ConfigError([
      `config.json does not match the digest written at synth (sha256:${seal[2]}, the document has sha256:${digest}): it was changed after the construct validated it; change the CDK app and deploy again instead of editing the asset`,
    ]);
  }
  const shapeIssues = checkShape(normalised);
  if (shapeIssues.length > 0)
    throw new ConfigError(shapeIssues.map((i) => `config.json: ${i} (the construct always writes it: was the document sealed by hand?)`));

  const refs: Path[] = [];
  collectRefs(normalised, [], refs);
  const expanded = expandEnvRefs(normalised, env) as Record<string, unknown>;
  const unchecked = refs.filter((p) => !REF_CHECKS.some(([pattern]) => matches(pattern, p)));
  if (unchecked.length > 0) {
    return {
      kind: 'validate',
      document: expanded,
      reason: `deploy-time references in ${unchecked.map(formatPath).join(', ')} need the full validator`,
    };
  }
  const issues: string[] = [];
  for (const p of refs) {
    const check = REF_CHECKS.find(([pattern]) => matches(pattern, p))![1];
    const problem = check(valueAt(expanded, p));
    if (problem) issues.push(`${formatPath(p)}: ${problem} (from a deploy-time reference)`);
  }
  if (refs.some((p) => p[0] === 'issuers' && p[2] === 'issuer')) {
    const seen = new Map<unknown, number>();
    (expanded.issuers as Array<Record<string, unknown>>).forEach((x, i) => {
      const first = seen.get(x.issuer);
      if (first !== undefined)
        issues.push(
          `issuers[${i}].issuer: duplicate issuer ${JSON.stringify(x.issuer)} (also at issuers[${first}]); each issuer must be unique`,
        );
      else seen.set(x.issuer, i);
    });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  // A document sealed before the recording section existed: resolved as `loadConfig` resolves it.
  if (expanded.recording === undefined) expanded.recording = recordingOf(expanded);
  return { kind: 'checked', config: Object.freeze({ ...expanded, version: configVersion(expanded) }) as unknown as GatewayConfig };
}

type Path = ReadonlyArray<string | number>;
type Check = (v: unknown) => string | undefined;

const nonEmpty: Check = (v) => (typeof v === 'string' && v.length > 0 ? undefined : 'must be a non-empty string');
const httpsOrLocalUrl: Check = (v) => {
  try {
    const u = new URL(String(v));
    if (u.protocol === 'https:' || (u.protocol === 'http:' && isLoopback(u.hostname))) return undefined;
  } catch {
    // not a URL
  }
  return 'must be an https:// URL (http:// is accepted only for localhost)';
};

/**
 * Fields a deploy-time reference may fill that are checked here, with the schema's rule for them
 * (`*`: any index). A reference anywhere else goes to the full validator.
 */
const REF_CHECKS: ReadonlyArray<readonly [Path, Check]> = [
  [['issuers', '*', 'issuer'], httpsOrLocalUrl],
  [['issuers', '*', 'jwksUri'], httpsOrLocalUrl],
  [['issuers', '*', 'audiences', '*'], nonEmpty],
  [['models', '*', 'baseUrl'], httpsOrLocalUrl],
  [['models', '*', 'upstreamModel'], nonEmpty],
  [['models', '*', 'apiVersion'], nonEmpty],
  [['models', '*', 'apiKey', 'secretId'], nonEmpty],
  [['models', '*', 'apiKey', 'field'], nonEmpty],
  [['models', '*', 'apiKey', 'path'], nonEmpty],
  [['masking', 'pseudonymKey', 'secretId'], nonEmpty],
  [['masking', 'pseudonymKey', 'field'], nonEmpty],
  [['masking', 'pseudonymKey', 'path'], nonEmpty],
];

const matches = (pattern: Path, p: Path) =>
  pattern.length === p.length && pattern.every((x, i) => (x === '*' ? typeof p[i] === 'number' : x === p[i]));

function collectRefs(v: unknown, path: Array<string | number>, out: Path[]): void {
  if (typeof v === 'string') {
    ENV_REF.lastIndex = 0;
    if (ENV_REF.test(v)) out.push([...path]);
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => collectRefs(x, [...path, i], out));
  } else if (isObject(v)) {
    for (const [k, x] of Object.entries(v)) collectRefs(x, [...path, k], out);
  }
}

function valueAt(doc: unknown, p: Path): unknown {
  return p.reduce<unknown>((v, k) => (v as Record<string | number, unknown> | undefined)?.[k], doc);
}

function formatPath(p: Path): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${k}`)).join('');
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

// ---- shape: the keys the normalised document always has ---------------------------------------

type Kind = 'string' | 'number' | 'boolean' | 'array' | 'object';
const kindOf = (v: unknown): string => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);

const TOP: Record<string, Kind> = { issuers: 'array', models: 'array', policy: 'object', gateway: 'object' };
const OPTIONAL_TOP = new Set(['masking', 'recording', 'reviewerPage']);
const ISSUER: Record<string, Kind> = {
  id: 'string',
  issuer: 'string',
  audiences: 'array',
  algorithms: 'array',
  clockToleranceSeconds: 'number',
  claims: 'object',
};
const CLAIMS: Record<string, Kind> = { subject: 'string', clientId: 'array', groups: 'array', scopes: 'array' };
const MODEL: Record<string, Kind> = { name: 'string', provider: 'string', limits: 'object', upstream: 'object' };
const UPSTREAM: Record<string, Kind> = { maxBatchSize: 'number', concurrency: 'number', timeoutMs: 'number', maxRetries: 'number' };
const RULE: Record<string, Kind> = { id: 'string', effect: 'string', match: 'object', models: 'array' };
const APPROVAL: Record<string, Kind> = {
  reviewers: 'object',
  requiredApprovals: 'number',
  timeoutSeconds: 'number',
  useWithinSeconds: 'number',
};
const GATEWAY: Record<string, Kind> = { maxRequestBytes: 'number', maxTokenBytes: 'number', archiveFailMode: 'string' };
const MASKING: Record<string, Kind> = {
  enabled: 'boolean',
  strategies: 'object',
  pseudonymLength: 'number',
  tokenInputs: 'string',
  maxScanChars: 'number',
};
const RECORDING: Record<string, Kind> = { inputText: 'string', maxTextBytes: 'number' };
const COMPREHEND: Record<string, Kind> = {
  enabled: 'boolean',
  languageCode: 'string',
  minScore: 'number',
  failMode: 'string',
  maxConcurrency: 'number',
};

/** The normalised document's required keys and their types (the schema's required keys and defaults). */
function checkShape(doc: Record<string, unknown>): string[] {
  const issues: string[] = [];
  const need = (v: unknown, path: string, keys: Record<string, Kind>): void => {
    if (!isObject(v)) {
      issues.push(`${path || '(document)'} must be an object`);
      return;
    }
    for (const [k, kind] of Object.entries(keys)) {
      if (kindOf(v[k]) !== kind)
        issues.push(
          `${path ? `${path}.` : ''}${k} must be ${kind === 'array' || kind === 'object' ? `an ${kind}` : `a ${kind}`}${k in v ? `, got ${kindOf(v[k])}` : ', missing'}`,
        );
    }
  };
  const each = (
    v: unknown,
    path: string,
    keys: Record<string, Kind>,
    nonEmptyList: boolean,
    more?: (x: Record<string, unknown>, at: string) => unknown,
  ): void => {
    if (!Array.isArray(v)) return; // reported by the parent
    if (nonEmptyList && v.length === 0) issues.push(`${path} must not be empty`);
    v.forEach((x, i) => {
      need(x, `${path}[${i}]`, keys);
      if (isObject(x) && more) more(x, `${path}[${i}]`);
    });
  };
  need(doc, '', TOP);
  for (const k of Object.keys(doc)) if (!(k in TOP) && !OPTIONAL_TOP.has(k)) issues.push(`unknown key ${JSON.stringify(k)}`);
  each(doc.issuers, 'issuers', ISSUER, true, (x, at) => isObject(x.claims) && need(x.claims, `${at}.claims`, CLAIMS));
  each(doc.models, 'models', MODEL, true, (x, at) => isObject(x.upstream) && need(x.upstream, `${at}.upstream`, UPSTREAM));
  if (isObject(doc.policy)) {
    if (!Array.isArray(doc.policy.rules)) issues.push('policy.rules must be an array');
    each(doc.policy.rules, 'policy.rules', RULE, false, (x, at) => {
      if (x.approval !== undefined) need(x.approval, `${at}.approval`, APPROVAL);
    });
  }
  if (isObject(doc.gateway)) need(doc.gateway, 'gateway', GATEWAY);
  if (doc.masking !== undefined) {
    need(doc.masking, 'masking', MASKING);
    if (isObject(doc.masking) && doc.masking.comprehend !== undefined) need(doc.masking.comprehend, 'masking.comprehend', COMPREHEND);
  }
  if (doc.recording !== undefined) {
    need(doc.recording, 'recording', RECORDING);
    if (isObject(doc.recording) && doc.recording.inputText !== 'keep' && doc.recording.inputText !== 'omit')
      issues.push(`recording.inputText must be "keep" or "omit", got ${JSON.stringify(doc.recording.inputText)}`);
  }
  if (doc.reviewerPage !== undefined) need(doc.reviewerPage, 'reviewerPage', { issuerId: 'string', clientId: 'string', scopes: 'array' });
  return issues;
}
