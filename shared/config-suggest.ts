/**
 * "Did you mean": the nearest valid key for a misspelled one. Used by `loadConfig` for unknown
 * keys (zod's `unrecognized_keys`), and by the configuration warnings for unknown model ids.
 * Pure, no I/O.
 */
import type * as z from 'zod';

/** Levenshtein distance (insertions, deletions, substitutions), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const cur = [i];
    for (let j = 1; j <= t.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (s[i - 1] === t[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[t.length]!;
}

/**
 * The candidate nearest to `word`, when it is near enough to be a misspelling (at most a third of
 * the word's length in edits, at least 2; or one contains the other); undefined otherwise.
 */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (!best || d < best.d) best = { c, d };
  }
  if (!best) return undefined;
  const near = best.d <= Math.max(2, Math.floor(word.length / 3));
  const contained =
    word.length >= 3 && (best.c.toLowerCase().includes(word.toLowerCase()) || word.toLowerCase().includes(best.c.toLowerCase()));
  return near || contained ? best.c : undefined;
}

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  valueType?: z.ZodType;
}
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The object schemas at `path` under `schema` (through optional, default, pipe, array, union, record). */
function objectsAt(schema: z.ZodType, path: readonly PropertyKey[]): Def[] {
  const d = defOf(schema);
  if (d.innerType) return objectsAt(d.innerType, path);
  if (d.type === 'pipe' && d.in) return objectsAt(d.in, path);
  if (d.type === 'union' && d.options) return d.options.flatMap((o) => objectsAt(o, path));
  if (path.length === 0) return d.type === 'object' ? [d] : [];
  const [head, ...rest] = path;
  if (d.type === 'object' && typeof head === 'string' && d.shape?.[head]) return objectsAt(d.shape[head], rest);
  if (d.type === 'array' && typeof head === 'number' && d.element) return objectsAt(d.element, rest);
  if (d.type === 'record' && d.valueType) return objectsAt(d.valueType, rest);
  return [];
}

/** The keys an object at `path` of `schema` accepts (empty when the path leads to no object). */
export function validKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  return [...new Set(objectsAt(schema, path).flatMap((d) => Object.keys(d.shape ?? {})))];
}

/**
 * The message of a validation issue, with the nearest valid key for each unknown one:
 * `unknown key "efect": did you mean "effect"?`, or the list of valid keys when none is near.
 */
export function describeIssue(schema: z.ZodType, issue: z.core.$ZodIssue): string {
  if (issue.code !== 'unrecognized_keys') return issue.message;
  const valid = validKeysAt(schema, issue.path).filter((k) => k !== '$schema');
  return issue.keys
    .map((k) => {
      const near = nearest(k, valid);
      return near
        ? `unknown key ${JSON.stringify(k)}: did you mean ${JSON.stringify(near)}?`
        : `unknown key ${JSON.stringify(k)}: valid keys are ${valid.join(', ')}`;
    })
    .join('; ');
}
