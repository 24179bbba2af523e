/**
 * `embedgate usage`: requests, items and tokens totalled from the archive, per principal, model,
 * rule or UTC day. It is the named query `usage-by-<by>` (shared/audit-queries.ts) run by
 * `embedgate audit query`: on DuckDB over a local archive directory, or on Athena with `--athena`.
 *
 *   embedgate usage [--by principal|model|rule|day] [--since <t>] [--until <t>] [--format table|json|csv]
 *                   [--principal <sub>] [--issuer <iss>] [--model <m>]
 *                   [--archive-dir <dir> | --athena --workgroup <wg> --database <db> --table <t> [--region <r>]] [--sql]
 */
import { audit, AuditUsageError, type AuditIo } from './audit';

export const USAGE_KEYS = ['principal', 'model', 'rule', 'day'] as const;

export const USAGE_HELP = `usage: embedgate usage [--by principal|model|rule|day] [--since <t>] [--until <t>] [--format table|json|csv]
                      [--principal <sub>] [--issuer <iss>] [--model <m>]
                      [--archive-dir <dir> | --athena --workgroup <wg> --database <db> --table <t> [--region <r>]] [--sql]
  Requests, allowed, throttled (429 rate limits and quotas), input items and tokens from the
  archive, per principal (the default), model, rule or UTC day; the last 7 days unless --since/--until.`;

/** Run `embedgate usage`; `--by` picks the named query, every other option is the audit query's. */
export async function usage(args: string[], io?: AuditIo): Promise<number> {
  let by: string = 'principal';
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--by') {
      const v = args[++i];
      if (v === undefined) throw new AuditUsageError(`--by needs a value: ${USAGE_KEYS.join(', ')}`);
      by = v;
    } else if (a.startsWith('--by=')) by = a.slice('--by='.length);
    else rest.push(a);
  }
  if (!(USAGE_KEYS as readonly string[]).includes(by)) throw new AuditUsageError(`--by must be one of ${USAGE_KEYS.join(', ')}, got ${by}`);
  return audit(['query', `usage-by-${by}`, ...rest], io);
}
