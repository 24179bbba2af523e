/**
 * Policy test cases: the file format of `embedgate policy test` (and the construct's
 * `policyTests`), how case files are found, and how an outcome is compared with what a case
 * expects. Documented in docs/policy.md ("Testing a policy").
 *
 * A file holds one case, a list of cases, or `{"cases": [...]}`. A case:
 *
 *   {
 *     "name": "search team may embed with the large model",
 *     "principal": { "issuer": "dev", "claims": { "sub": "indexer", "groups": ["search-team"] } },
 *     "request": { "model": "local-large", "input": ["hello"], "dimensions": 512 },
 *     "time": "2026-01-05T10:00:00Z",                                 (optional; default: now)
 *     "revocations": [{ "kind": "subject", "value": "indexer" }],    (optional)
 *     "expect": { "status": 200, "reason": "rule_allow", "rule": "search-team-all-local",
 *                 "held": false, "masking": { "EMAIL": "redact" } }
 *   }
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as z from 'zod';
import { ConfigError } from '../shared/config';
import type { SessionRecord } from '../lambda/core/record';

const claimsSchema = z.record(z.string(), z.unknown()).refine((c) => typeof c.sub === 'string' && c.sub.length > 0, {
  error: 'principal.claims must hold "sub" (the subject), a non-empty string',
});

const inputSchema = z.union([z.string(), z.array(z.string()), z.array(z.number().int()), z.array(z.array(z.number().int()))], {
  error: 'request.input must be a string, a list of strings, token ids, or lists of token ids',
});

const isoTime = (what: string) =>
  z.string().refine((v) => /^\d{4}-\d{2}-\d{2}T/.test(v) && !Number.isNaN(Date.parse(v)), {
    error: `${what} must be an ISO-8601 time, e.g. "2026-01-05T10:00:00Z"`,
  });

export const policyCaseSchema = z.strictObject({
  name: z.string().min(1, { error: 'name must be a non-empty string' }),
  principal: z.strictObject({
    /** Trusted-issuer id whose token the principal presents; default: the first issuer. */
    issuer: z.string().min(1).optional(),
    /** The access token's claims (`iss`, `aud`, `iat`, `exp` are filled in unless given). */
    claims: claimsSchema,
  }),
  /** The body of `POST /v1/embeddings`. */
  request: z.strictObject({
    model: z.string(),
    input: inputSchema,
    dimensions: z.number().int().optional(),
    encoding_format: z.enum(['float', 'base64']).optional(),
    user: z.string().optional(),
  }),
  time: isoTime('time').optional(),
  revocations: z
    .array(
      z.strictObject({
        kind: z.enum(['subject', 'client', 'token'], { error: 'revocations[].kind must be "subject", "client" or "token"' }),
        value: z.string().min(1),
        /** Issuer id or URL; default: any issuer (required for "token"). */
        issuer: z.string().min(1).optional(),
        until: isoTime('revocations[].until').optional(),
      }),
    )
    .optional(),
  expect: z
    .strictObject({
      status: z.number().int().min(100).max(599).optional(),
      outcome: z.enum(['allow', 'held', 'deny', 'invalid', 'error']).optional(),
      reason: z.string().optional(),
      /** The deciding rule's id; null: no rule decided. */
      rule: z.string().nullable().optional(),
      /** True when the request is held for approval (202). */
      held: z.boolean().optional(),
      /** Strategy applied per entity type found; exactly these types must be found. */
      masking: z.record(z.string(), z.string()).optional(),
    })
    .refine((e) => Object.keys(e).length > 0, { error: 'expect must name at least one of status, outcome, reason, rule, held, masking' }),
});

export type PolicyCase = z.output<typeof policyCaseSchema>;
export type PolicyExpectation = PolicyCase['expect'];

/** A case with where it came from (`file` or `file#3`), for messages. */
export interface LoadedCase {
  readonly source: string;
  readonly case: PolicyCase;
}

/** Validate the cases of one document (a case, a list, or `{"cases": [...]}`); errors name `source` and the path. */
export function parseCases(doc: unknown, source: string): LoadedCase[] {
  const list: unknown[] = Array.isArray(doc)
    ? doc
    : doc && typeof doc === 'object' && 'cases' in doc
      ? ((doc as { cases: unknown }).cases as unknown[])
      : [doc];
  if (!Array.isArray(list)) throw new ConfigError([`${source}: "cases" must be a list of test cases`]);
  const issues: string[] = [];
  const out: LoadedCase[] = [];
  list.forEach((c, i) => {
    const where =
      list.length === 1 && !Array.isArray(doc) && !(doc && typeof doc === 'object' && 'cases' in doc) ? source : `${source}#${i}`;
    const r = policyCaseSchema.safeParse(c);
    if (r.success) out.push({ source: where, case: r.data });
    else
      issues.push(
        ...r.error.issues.map(
          (x) =>
            `${where}: ${
              x.path
                .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
                .join('')
                .replace(/^\./, '') || '(case)'
            }: ${x.message}`,
        ),
      );
  });
  if (issues.length > 0) throw new ConfigError(issues);
  return out;
}

/** Every case of a file, or of every `.json` file under a directory (sorted by path). */
export function loadCases(path: string): LoadedCase[] {
  let files: string[];
  try {
    files = statSync(path).isDirectory()
      ? readdirSync(path, { recursive: true, encoding: 'utf8' })
          .filter((f) => f.endsWith('.json'))
          .sort()
          .map((f) => join(path, f))
      : [path];
  } catch (e) {
    throw new ConfigError([`${path}: cannot read test cases: ${(e as Error).message}`]);
  }
  if (files.length === 0) throw new ConfigError([`${path}: no .json test case files found`]);
  return files.flatMap((f) => {
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(f, 'utf8'));
    } catch (e) {
      throw new ConfigError([`${f}: cannot read JSON: ${(e as Error).message}`]);
    }
    const rel = relative(process.cwd(), f);
    return parseCases(doc, rel && !rel.startsWith('..') ? rel : f);
  });
}

/** What the gateway answered for a case, in the terms a case expects. */
export interface CaseOutcome {
  readonly status: number;
  readonly outcome: string;
  readonly reason: string;
  readonly rule: string | null;
  readonly held: boolean;
  /** Strategy per entity type found (several strategies of one type are joined with "+"). */
  readonly masking: Readonly<Record<string, string>>;
}

export function outcomeOfRecord(record: SessionRecord): CaseOutcome {
  const strategies = new Map<string, Set<string>>();
  for (const f of record.masking?.findings ?? []) {
    if (!strategies.has(f.type)) strategies.set(f.type, new Set());
    strategies.get(f.type)!.add(f.strategy);
  }
  return {
    status: record.decision.status,
    outcome: record.decision.outcome,
    reason: record.decision.reason,
    rule: record.decision.rule_id,
    held: record.decision.outcome === 'held',
    masking: Object.fromEntries([...strategies].sort(([a], [b]) => (a < b ? -1 : 1)).map(([t, s]) => [t, [...s].sort().join('+')])),
  };
}

/** The differences between what a case expects and what happened, one line each; empty when it passes. */
export function differences(expect: PolicyExpectation, got: CaseOutcome): string[] {
  const diffs: string[] = [];
  const show = (v: unknown) => JSON.stringify(v);
  for (const key of ['status', 'outcome', 'reason', 'rule', 'held'] as const) {
    if (expect[key] !== undefined && expect[key] !== got[key]) diffs.push(`${key}: expected ${show(expect[key])}, got ${show(got[key])}`);
  }
  if (expect.masking) {
    const types = [...new Set([...Object.keys(expect.masking), ...Object.keys(got.masking)])].sort();
    for (const t of types) {
      const want = expect.masking[t];
      const have = got.masking[t];
      if (want === have) continue;
      if (have === undefined) diffs.push(`masking.${t}: expected ${show(want)}, but no ${t} was found`);
      else if (want === undefined) diffs.push(`masking.${t}: not expected, got ${show(have)}`);
      else diffs.push(`masking.${t}: expected ${show(want)}, got ${show(have)}`);
    }
  }
  return diffs;
}
