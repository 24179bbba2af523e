/**
 * `embedgate audit`: tamper evidence and queries over a session archive.
 *
 *   embedgate audit digest  [--archive-dir <dir>] [--signing-key <file>] [--include-current-hour] [--lookback-hours <n>]
 *   embedgate audit verify  [--archive-dir <dir> | --bucket <name> [--prefix <p>] [--region <r>] [--endpoint <url>]]
 *                           [--public-key <file>]... [--from <time>] [--to <time>] [--format text|json]
 *   embedgate audit query   <name> [--since <time>] [--until <time>] [--principal <sub>] [--issuer <iss>] [--model <m>]
 *                           [--session-id <id>] [--format table|json|csv] [--archive-dir <dir>] [--sql]
 *   embedgate audit query   <name> --athena --workgroup <wg> --database <db> --table <t> [--region <r>] [--format ...] [params...]
 *   embedgate audit query   <name> --athena --sql --database <db> --table <t> [--workgroup <wg>] [params...]
 *   embedgate audit export  [--archive-dir <dir> | --bucket <b> ...] [--since <time>] [--until <time>] --format jsonl
 *   embedgate audit queries
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseArgs } from 'node:util';
import { AthenaClient } from '@aws-sdk/client-athena';
import { S3Client } from '@aws-sdk/client-s3';
import { parsePublicKey } from '../lambda/core/audit/digest';
import { runDigestsUntilCurrent } from '../lambda/core/audit/digest-builder';
import type { ArchiveObjects } from '../lambda/core/audit/ports';
import { verifyArchive, type VerifyOptions, type VerifyReport } from '../lambda/core/audit/verify';
import { DynamoDbJournal } from '../lambda/adapters/aws/dynamodb-journal';
import { JOURNAL_DIR, readJournal } from '../lambda/adapters/local/journal';
import { exportRecords } from './audit-export';
import { S3Objects } from '../lambda/adapters/aws/s3-objects';
import { DirectoryObjects } from '../lambda/adapters/local/archive-objects';
import { defaultSigningKeyPath, LocalKeySigner, publicKeyPathOf } from '../lambda/adapters/local/digest-key';
import { AUDIT_QUERIES, auditQuery, parseInstant, renderAthena, renderDuckDb } from '../shared/audit-queries';
import { AthenaQueryError, runAthenaQuery } from './audit-athena';
import { DUCKDB_SCHEMA, DUCKDB_TABLE, runLocalQuery } from './audit-duckdb';
import { formatResult, OUTPUT_FORMATS, type OutputFormat } from './audit-format';

export const AUDIT_USAGE = `usage:
  embedgate audit digest [--archive-dir <dir>] [--signing-key <file>] [--include-current-hour] [--lookback-hours <n>]
      Write the signed digests of every complete hour of a local archive not digested yet
      (the key is created on first use: <dir>/keys/digest-signing-key.pem).
  embedgate audit verify [--archive-dir <dir> | --bucket <name> [--prefix <p>] [--region <r>] [--endpoint <url>]]
                         [--public-key <file>]... [--from <time>] [--to <time>] [--format text|json]
                         [--journal-table <name>] [--journal-grace-minutes <n>]
      Check records against digests, the digest chain and the signatures, and that every journaled
      record reached the archive unchanged (the journal of --archive-dir, or the DynamoDB journal
      table with --bucket); exit 1 on any problem.
  embedgate audit query <name> [--since <time>] [--until <time>] [--principal <sub>] [--issuer <iss>]
                        [--model <m>] [--session-id <id>] [--format table|json|csv] [--archive-dir <dir>] [--sql]
      Run a named audit query on DuckDB over a local archive (--sql: print the SQL instead).
  embedgate audit query <name> --athena --workgroup <wg> --database <db> --table <t> [--region <r>]
                        [--format table|json|csv] [parameters]
      Run the query in the Athena workgroup (AWS credentials from the environment)
      (--sql: print the Athena SQL, and with --workgroup the AWS CLI command, instead).
  embedgate audit export [--archive-dir <dir> | --bucket <name> [--prefix <p>] [--region <r>] [--endpoint <url>]]
                         [--since <time>] [--until <time>] --format jsonl
      Print every archived record (both layouts: one object per record, batch objects), each session once.
  embedgate audit queries
      List the named queries and their parameters.
  <time> is a UTC date (YYYY-MM-DD) or an ISO-8601 instant; periods are [since, until).`;

export interface AuditIo {
  out(text: string): void;
  err(text: string): void;
  now(): number;
}

const processIo: AuditIo = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
  now: () => Date.now(),
};

/** A mistake in the command line: reported with the usage, exit code 2. */
export class AuditUsageError extends Error {}

/** `embedgate audit ...`: the exit code (0 fine, 1 problems found, 2 usage). */
export async function audit(args: string[], io: AuditIo = processIo): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'digest':
        return await digest(rest, io);
      case 'verify':
        return await verify(rest, io);
      case 'query':
        return await query(rest, io);
      case 'export':
        return await exportCommand(rest, io);
      case 'queries':
        io.out(listQueries());
        return 0;
      default:
        io.err(AUDIT_USAGE);
        return 2;
    }
  } catch (e) {
    if (e instanceof AuditUsageError) {
      io.err(`embedgate audit ${sub}: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

async function digest(args: string[], io: AuditIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'archive-dir': { type: 'string', default: '.archive' },
      'signing-key': { type: 'string' },
      'include-current-hour': { type: 'boolean', default: false },
      'lookback-hours': { type: 'string', default: '24' },
    },
    strict: true,
  });
  const lookbackHours = Number(values['lookback-hours']);
  if (!Number.isInteger(lookbackHours) || lookbackHours < 0)
    throw new AuditUsageError(`--lookback-hours must be a whole number, got ${values['lookback-hours']}`);
  const dir = resolve(values['archive-dir']);
  const keyPath = values['signing-key'] ? resolve(values['signing-key']) : defaultSigningKeyPath(dir);
  const signer = await LocalKeySigner.open(keyPath);
  const results = await runDigestsUntilCurrent({
    store: new DirectoryObjects(dir),
    signer,
    clock: { now: io.now },
    // Locally every complete hour is digested at once; with --include-current-hour the current one
    // too (records written later in that hour go into the next digest as late records).
    settleMs: values['include-current-hour'] ? -3_600_000 : 0,
    lookbackMs: lookbackHours * 3_600_000,
  });
  for (const r of results) {
    if (r.written) {
      const { start, end } = r.doc.period;
      io.out(`wrote ${r.key}: ${start} to ${end}, ${r.doc.counts.records} record(s), ${r.doc.counts.late} late`);
    } else {
      io.out(`${results.length === 1 ? 'nothing to digest' : 'done'}: ${r.reason}`);
    }
  }
  io.out(`signed with ${keyPath} (public key ${publicKeyPathOf(keyPath)})`);
  return 0;
}

async function verify(args: string[], io: AuditIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...ARCHIVE_OPTIONS,
      'public-key': { type: 'string', multiple: true },
      from: { type: 'string' },
      to: { type: 'string' },
      format: { type: 'string', default: 'text' },
      'journal-table': { type: 'string' },
      'journal-grace-minutes': { type: 'string' },
    },
    strict: true,
  });
  if (values.format !== 'text' && values.format !== 'json')
    throw new AuditUsageError(`--format must be text or json, got ${values.format}`);
  if (values['archive-dir'] && values.bucket) throw new AuditUsageError('give --archive-dir or --bucket, not both');
  const from = values.from === undefined ? undefined : instant('--from', values.from);
  const to = values.to === undefined ? undefined : instant('--to', values.to);
  if (from !== undefined && to !== undefined && from >= to) throw new AuditUsageError('--from must be before --to');

  if (values['journal-table'] && !values.bucket)
    throw new AuditUsageError('--journal-table goes with --bucket (a local archive has its journal in <dir>/journal)');
  const grace = values['journal-grace-minutes'] === undefined ? undefined : Number(values['journal-grace-minutes']);
  if (grace !== undefined && !(Number.isFinite(grace) && grace >= 0))
    throw new AuditUsageError(`--journal-grace-minutes must be a number of minutes, got ${values['journal-grace-minutes']}`);
  let journal: VerifyOptions['journal'];
  const keyFiles = [...(values['public-key'] ?? [])].map((f) => resolve(f));
  if (values.bucket && keyFiles.length === 0) {
    throw new AuditUsageError(
      "--bucket needs --public-key <file>: the signing key's public key, e.g. " +
        'aws kms get-public-key --key-id <SigningKeyArn> --query PublicKey --output text | base64 -d > digest-key.der',
    );
  }
  const { store, dir, close: closeStore } = openArchive(values);
  let close = closeStore;
  if (dir !== undefined) {
    const local = publicKeyPathOf(defaultSigningKeyPath(dir));
    if (keyFiles.length === 0 && existsSync(local)) keyFiles.push(local);
    if (existsSync(join(dir, JOURNAL_DIR))) {
      const j = await readJournal(dir);
      journal = {
        location: join(dir, JOURNAL_DIR),
        entries: [...j.archived, ...j.pending, ...j.intents.map((i) => ({ ...i, intent: true }))],
      };
    }
  } else if (values['journal-table']) {
    const ddb = new DynamoDBClient({
      ...(values.region ? { region: values.region } : {}),
      ...(values.endpoint ? { endpoint: values.endpoint } : {}),
    });
    journal = {
      location: `dynamodb:${values['journal-table']}`,
      entries: new DynamoDbJournal(ddb, { tableName: values['journal-table'] }).entries(),
    };
    close = () => (closeStore(), ddb.destroy());
  }
  const publicKeys = await Promise.all(
    keyFiles.map(async (f) => {
      try {
        return parsePublicKey(await readFile(f));
      } catch (e) {
        throw new AuditUsageError(`${f} is not a public key (PEM or DER SubjectPublicKeyInfo): ${(e as Error).message}`);
      }
    }),
  );
  try {
    const report = await verifyArchive({
      store,
      publicKeys,
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
      ...(journal ? { journal } : {}),
      ...(grace !== undefined ? { journalGraceMs: grace * 60_000 } : {}),
      now: io.now(),
    });
    io.out(values.format === 'json' ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.ok ? 0 : 1;
  } finally {
    close();
  }
}

/** The human form of a verification report. */
export function formatReport(r: VerifyReport): string {
  const lines = [`embedgate audit verify: ${r.location}`];
  lines.push(`  window:  ${r.window.from ?? 'the beginning'} to ${r.window.to ?? 'now'}`);
  lines.push(
    r.digests.checked === 0
      ? '  digests: none (run "embedgate audit digest", or wait for the hourly digest in AWS)'
      : `  digests: ${r.digests.checked} checked, covering ${r.digests.coveredFrom} to ${r.digests.coveredUntil}`,
  );
  lines.push(
    `  records: ${r.records.checked} in the archive, ${r.records.digested} listed in digests, ${r.records.undigested} not digested yet`,
  );
  if (r.journal)
    lines.push(
      `  journal: ${r.journal.checked} journaled record(s) in ${r.journal.location}, ${r.journal.archived} archived unchanged, ${r.journal.pending} not archived yet (within the grace period)`,
    );
  const notYet = r.warnings.filter((w) => w.message.startsWith('not digested yet'));
  const otherWarnings = r.warnings.filter((w) => !notYet.includes(w));
  if (notYet.length > 0)
    lines.push(`  note: ${notYet.length} record(s) newer than the last digest (ends ${r.digests.coveredUntil ?? '-'}) are not covered yet`);
  for (const w of otherWarnings) lines.push(`  warning: ${w.key}: ${w.message}`);
  if (r.problems.length > 0) {
    lines.push(`  PROBLEMS (${r.problems.length}):`);
    const width = Math.max(...r.problems.map((p) => p.kind.length));
    for (const p of r.problems) lines.push(`    ${p.kind.padEnd(width)}  ${p.key}: ${p.message}`);
  }
  lines.push(
    r.ok
      ? 'OK: no missing, changed or inserted record; the digest chain and its signatures are intact'
      : `FAILED: ${r.problems.length} problem(s)`,
  );
  return lines.join('\n');
}

async function exportCommand(args: string[], io: AuditIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...ARCHIVE_OPTIONS,
      since: { type: 'string' },
      until: { type: 'string' },
      format: { type: 'string' },
    },
    strict: true,
  });
  if (values.format !== 'jsonl')
    throw new AuditUsageError(`--format jsonl is required (the only export format), got ${values.format ?? 'none'}`);
  if (values['archive-dir'] && values.bucket) throw new AuditUsageError('give --archive-dir or --bucket, not both');
  const since = values.since === undefined ? undefined : instant('--since', values.since);
  const until = values.until === undefined ? undefined : instant('--until', values.until);
  if (since !== undefined && until !== undefined && since >= until) throw new AuditUsageError('--since must be before --until');
  const { store, close } = openArchive(values);
  try {
    const records = await exportRecords(store, { ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}) });
    for (let i = 0; i < records.length; i += 1000)
      io.out(
        records
          .slice(i, i + 1000)
          .map((r) => JSON.stringify(r))
          .join('\n'),
      );
    return 0;
  } finally {
    close();
  }
}

/** The options that name an archive: a local directory, or a bucket (its prefix, region and endpoint). */
const ARCHIVE_OPTIONS = {
  'archive-dir': { type: 'string' },
  bucket: { type: 'string' },
  prefix: { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
} as const;

interface ArchiveValues {
  readonly 'archive-dir'?: string;
  readonly bucket?: string;
  readonly prefix?: string;
  readonly region?: string;
  readonly endpoint?: string;
}

/**
 * The archive `ARCHIVE_OPTIONS` name: the bucket (an S3 client, released by `close`), or the local
 * directory (`dir`, `.archive` by default; it must exist).
 */
function openArchive(values: ArchiveValues): { store: ArchiveObjects; dir?: string; close: () => void } {
  if (values.bucket) {
    const client = new S3Client({
      ...(values.region ? { region: values.region } : {}),
      ...(values.endpoint ? { endpoint: values.endpoint, forcePathStyle: true } : {}),
    });
    return {
      store: new S3Objects(client, { bucket: values.bucket, ...(values.prefix ? { prefix: values.prefix } : {}) }),
      close: () => client.destroy(),
    };
  }
  const dir = resolve(values['archive-dir'] ?? '.archive');
  if (!existsSync(dir)) throw new AuditUsageError(`no archive directory ${dir}`);
  return { store: new DirectoryObjects(dir), dir, close: () => {} };
}

const QUERY_PARAM_OPTIONS = Object.fromEntries(
  [...new Set(AUDIT_QUERIES.flatMap((q) => q.params.map((p) => p.name)))].map((name) => [
    name.replace(/_/g, '-'),
    { type: 'string' as const },
  ]),
);

async function query(args: string[], io: AuditIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...QUERY_PARAM_OPTIONS,
      format: { type: 'string', default: 'table' },
      'archive-dir': { type: 'string', default: '.archive' },
      sql: { type: 'boolean', default: false },
      athena: { type: 'boolean', default: false },
      database: { type: 'string' },
      table: { type: 'string' },
      workgroup: { type: 'string' },
      region: { type: 'string' },
    },
    strict: true,
  });
  if (positionals.length !== 1) throw new AuditUsageError(`name one query: ${AUDIT_QUERIES.map((q) => q.name).join(', ')}`);
  let q;
  try {
    q = auditQuery(positionals[0]!);
  } catch (e) {
    throw new AuditUsageError((e as Error).message);
  }
  const format = values.format as OutputFormat;
  if (!OUTPUT_FORMATS.includes(format))
    throw new AuditUsageError(`--format must be one of ${OUTPUT_FORMATS.join(', ')}, got ${values.format}`);
  const v = values as Record<string, unknown>;
  const params: Record<string, string> = {};
  for (const name of Object.keys(QUERY_PARAM_OPTIONS)) {
    if (typeof v[name] === 'string') params[name.replace(/-/g, '_')] = v[name];
  }
  // Default period: the 7 days up to now.
  params.until ??= new Date(io.now()).toISOString();
  if (params.since === undefined) {
    const until = parseInstant(params.until);
    if (until === undefined)
      throw new AuditUsageError(`--until must be a UTC date (YYYY-MM-DD) or an ISO-8601 instant, got ${params.until}`);
    params.since = new Date(until - 7 * 86_400_000).toISOString();
  }
  const render = (fn: () => string) => {
    try {
      return fn();
    } catch (e) {
      throw new AuditUsageError((e as Error).message);
    }
  };

  if (values.athena) {
    if (!values.database || !values.table)
      throw new AuditUsageError(
        '--athena needs --database and --table (the stack outputs the workgroup; the SessionArchive names the database and table)',
      );
    const target = { database: values.database, table: values.table };
    const sql = render(() => renderAthena(q, { ...target, params }));
    if (values.sql) {
      io.out(sql);
      if (values.workgroup) {
        io.err(
          `# save the SQL above as query.sql, then: aws athena start-query-execution --work-group ${shellQuote(values.workgroup)} ` +
            `--query-execution-context Database=${shellQuote(values.database)} --query-string file://query.sql`,
        );
      }
      return 0;
    }
    if (!values.workgroup)
      throw new AuditUsageError('--athena needs --workgroup to run the query (the AthenaWorkGroup stack output), or --sql to print it');
    const client = new AthenaClient(values.region ? { region: values.region } : {});
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once('SIGINT', onSigint);
    try {
      const result = await runAthenaQuery(client, q, { ...target, workGroup: values.workgroup, params, signal: abort.signal });
      io.out(formatResult(result, format));
      return 0;
    } catch (e) {
      if (!(e instanceof AthenaQueryError)) throw e;
      io.err(`embedgate audit query: ${e.message}`);
      return 1;
    } finally {
      process.removeListener('SIGINT', onSigint);
      client.destroy();
    }
  }
  if (values.sql) {
    io.out(render(() => renderDuckDb(q, { database: DUCKDB_SCHEMA, table: DUCKDB_TABLE, params })));
    return 0;
  }
  render(() => renderDuckDb(q, { database: DUCKDB_SCHEMA, table: DUCKDB_TABLE, params }));
  const result = await runLocalQuery(resolve(values['archive-dir']), q, params);
  io.out(formatResult(result, format));
  return 0;
}

function listQueries(): string {
  return AUDIT_QUERIES.map((q) => {
    const params = q.params
      .map((p) => (p.optional ? `[--${p.name.replace(/_/g, '-')} <${p.kind}>]` : `--${p.name.replace(/_/g, '-')} <${p.kind}>`))
      .join(' ');
    return `${q.name}\n  ${q.title}\n  ${params}`;
  }).join('\n');
}

function instant(flag: string, text: string): number {
  const t = parseInstant(text);
  if (t === undefined) throw new AuditUsageError(`${flag} must be a UTC date (YYYY-MM-DD) or an ISO-8601 instant, got ${text}`);
  return t;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
