/**
 * What both the configuration schema (shared/config-schema.ts, zod) and the runtime reader of the
 * shipped document (shared/config-runtime.ts, no zod) need: the error type, the loopback rule, the
 * version, deploy-time references. No dependency but shared/canonical.ts.
 */
import { canonicalJson, sha256Hex } from './canonical';

/** An invalid configuration document: every problem, each with its path and the fix. */
export class ConfigError extends Error {
  constructor(readonly issues: readonly string[]) {
    super(`Invalid embedgate configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Loopback host names, where plain http:// is accepted (local development only). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]' || host.endsWith('.localhost');
}

/** The configuration version: `sha256:<hex>` of the canonical JSON of the normalised document (references expanded). */
export function configVersion(normalised: object): string {
  return `sha256:${sha256Hex(canonicalJson(normalised))}`;
}

/** A deploy-time reference, `${env:NAME}`, anywhere in a string (global: reset `lastIndex` before `test`). */
export const ENV_REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Deploy-time references: the construct writes the configuration document into the function's
 * code asset, where CloudFormation cannot resolve tokens (a created secret's ARN, say). Such
 * values are written as `${env:NAME}` and their resolved value is put in the function's
 * environment (references only, never secret values). The runtime expands them before using the
 * document; a missing variable is a configuration error naming it.
 */
export function expandEnvRefs(doc: unknown, env: Readonly<Record<string, string | undefined>>): unknown {
  const missing: string[] = [];
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      return v.replace(ENV_REF, (_m, name: string) => {
        const value = env[name];
        if (value === undefined) {
          missing.push(name);
          return '';
        }
        return value;
      });
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  const out = walk(doc);
  if (missing.length > 0)
    throw new ConfigError([...new Set(missing)].map((n) => `environment variable ${n} (a deploy-time reference) is not set`));
  return out;
}
