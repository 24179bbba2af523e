/**
 * Field rules the configuration schema shares across its sections (zod): non-empty strings, URLs,
 * globs, entity type names, secret references, uniqueness within a list, screened patterns.
 */
import * as z from 'zod';
import { isLoopback } from './config-base';
import { compileGlob } from './glob';
import { ENTITY_TYPE_PATTERN } from './masking/catalog';
import { screenPattern } from './masking/pattern-safety';

export const nonEmpty = (what: string) => z.string().min(1, { error: `${what} must be a non-empty string` });
export const httpsOrLocalUrl = (what: string) =>
  z.string().refine(
    (v) => {
      try {
        const u = new URL(v);
        return u.protocol === 'https:' || (u.protocol === 'http:' && isLoopback(u.hostname));
      } catch {
        return false;
      }
    },
    { error: `${what} must be an https:// URL (http:// is accepted only for localhost)` },
  );

export const stringOrList = (what: string) =>
  z
    .union([nonEmpty(what), z.array(nonEmpty(what)).min(1, { error: `${what} must list at least one value` })], {
      error: `${what} must be a non-empty string or a non-empty list of non-empty strings`,
    })
    .transform((v) => (Array.isArray(v) ? v : [v]));

export const globList = (what: string) =>
  stringOrList(what).superRefine((patterns, ctx) => {
    for (const p of patterns) {
      try {
        compileGlob(p);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: `${what} pattern ${JSON.stringify(p)} is invalid: ${(e as Error).message}` });
      }
    }
  });

export const entityTypeName = (what: string) =>
  z.string().regex(ENTITY_TYPE_PATTERN, {
    error: `${what} must be an entity type in upper snake case (1-64 characters of A-Z, 0-9, "_", starting with a letter), e.g. "EMAIL"`,
  });

export const secretRefSchema = z.discriminatedUnion(
  'source',
  [
    z.strictObject({ source: z.literal('secretsManager'), secretId: nonEmpty('secretId'), field: nonEmpty('field').optional() }),
    z.strictObject({
      source: z.literal('env'),
      name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'env name must be a valid environment variable name' }),
    }),
    z.strictObject({ source: z.literal('file'), path: nonEmpty('path') }),
  ],
  { error: 'apiKey.source must be "secretsManager", "env" or "file"' },
);

export function unique(values: string[], list: string, field: string, ctx: z.RefinementCtx): void {
  const seen = new Map<string, number>();
  values.forEach((v, i) => {
    const first = seen.get(v);
    if (first !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [...list.split('.'), i, field],
        message: `duplicate ${field} ${JSON.stringify(v)} (also at ${list}[${first}]); each ${field} must be unique`,
      });
    } else {
      seen.set(v, i);
    }
  });
}

/** For a section that applies to allow rules only: on a deny rule, an issue at `path`. Whether the rule allows. */
export function allowRuleOnly(effect: 'allow' | 'deny', section: string, path: PropertyKey[], ctx: z.RefinementCtx): boolean {
  if (effect === 'allow') return true;
  ctx.addIssue({ code: 'custom', path, message: `${section} applies to allow rules only; remove it from this deny rule` });
  return false;
}

/**
 * A regular expression of the configuration (`pattern`, with `flags`) must pass the linear-time
 * screen (masking/pattern-safety); otherwise an issue at `pattern`: "<subject> is refused: <why>".
 */
export function screenPatternField(pattern: string, flags: string | undefined, subject: string, ctx: z.RefinementCtx): void {
  const screened = screenPattern(pattern, flags ?? '');
  if (!screened.ok) ctx.addIssue({ code: 'custom', path: ['pattern'], message: `${subject} is refused: ${screened.reason}` });
}
