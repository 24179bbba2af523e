/**
 * The configuration document as the construct ships it to the Lambdas: validated, normalised and
 * sealed. Kept apart from the schema (shared/config-schema.ts) and the runtime reader
 * (shared/config-runtime.ts), which must not import each other's values.
 */
import { sealConfig } from './config-runtime';
import { loadConfig } from './config-schema';

/**
 * The document a Lambda ships (`config.json`): validated and normalised by `loadConfig`, then
 * sealed (`sealConfig` in shared/config-runtime.ts), so the runtime reads it without the schema.
 * Deploy-time references (`${env:NAME}`, the whole string) stay references: for validation each
 * is replaced by a placeholder URL (`https://deploy-time-reference.invalid/NAME`, which every
 * string rule they may stand for accepts), and put back in the normalised document. `refs`, when
 * given, limits this to those names. Throws `ConfigError` as `loadConfig` does.
 */
export function shipConfig(doc: unknown, refs?: ReadonlySet<string>): Record<string, unknown> {
  const placeholder = (name: string) => `https://deploy-time-reference.invalid/${name}`;
  const back = new Map<string, string>();
  const swap = (v: unknown, f: (s: string) => string): unknown => {
    if (typeof v === 'string') return f(v);
    if (Array.isArray(v)) return v.map((x) => swap(x, f));
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x, f)]));
    return v;
  };
  const forValidation = swap(doc, (s) => {
    const m = /^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(s);
    if (!m || (refs && !refs.has(m[1]))) return s;
    back.set(placeholder(m[1]), s);
    return placeholder(m[1]);
  });
  const normalised = swap(loadConfig(forValidation), (s) => back.get(s) ?? s) as Record<string, unknown>;
  return sealConfig(normalised);
}
