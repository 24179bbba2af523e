/**
 * `embedgate revoke | unrevoke | revocations list`: the runtime deny list, from the command line.
 * Against the DynamoDB table of a deployed gateway (`--table`, with your AWS credentials), or
 * the local list of `embedgate dev` (`--archive-dir`, a JSON file the dev server re-reads within
 * a second). The gateway applies a change within its cache time (15 s in AWS), without a deploy.
 */
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FileRevocationList } from '../lambda/adapters/local/file-revocations';
import type { Revocation } from '../lambda/core/ports';
import type { RevocationKind } from '../lambda/core/revocation';
import { alignedLines } from './text-table';

interface Store {
  put(r: Revocation): Promise<void>;
  delete(kind: RevocationKind, value: string, issuer: string | null): Promise<boolean>;
  list(): Promise<Revocation[]>;
}

export class UsageError extends Error {}
export { InvalidRevocationError } from '../lambda/core/revocation';

const TARGET = {
  subject: { type: 'string' },
  'client-id': { type: 'string' },
  'token-id': { type: 'string' },
  issuer: { type: 'string' },
  table: { type: 'string' },
  region: { type: 'string' },
  'archive-dir': { type: 'string' },
} as const;

async function store(values: { table?: string; region?: string; 'archive-dir'?: string }): Promise<{ store: Store; where: string }> {
  if (values.table && values['archive-dir']) throw new UsageError('use either --table (AWS) or --archive-dir (embedgate dev), not both');
  if (values.table) {
    const [{ DynamoDBClient }, { DynamoDbRevocationList }] = await Promise.all([
      import('@aws-sdk/client-dynamodb'),
      import('../lambda/adapters/aws/dynamodb-revocations.js'),
    ]);
    const client = new DynamoDBClient(values.region ? { region: values.region } : {});
    return { store: new DynamoDbRevocationList(client, { tableName: values.table }), where: `DynamoDB table ${values.table}` };
  }
  const path = join(resolve(values['archive-dir'] ?? '.archive'), 'revocations.json');
  return { store: new FileRevocationList(path), where: path };
}

function target(values: { subject?: string; 'client-id'?: string; 'token-id'?: string; issuer?: string }): {
  kind: RevocationKind;
  value: string;
  issuer: string | null;
} {
  const given = (['subject', 'client-id', 'token-id'] as const).filter((k) => values[k] !== undefined);
  if (given.length !== 1) throw new UsageError('name exactly one of --subject, --client-id or --token-id');
  const flag = given[0]!;
  const kind: RevocationKind = flag === 'subject' ? 'subject' : flag === 'client-id' ? 'client' : 'token';
  if (kind === 'token' && !values.issuer) throw new UsageError('--token-id needs --issuer: a token id is only unique per issuer');
  return { kind, value: values[flag]!, issuer: values.issuer ?? null };
}

/** `--until` as an ISO time (`2026-12-01T00:00:00Z`) or a duration from now (`30m`, `12h`, `7d`). */
export function parseUntil(text: string | undefined, now: number): number | null {
  if (text === undefined) return null;
  const d = /^(\d+)([mhd])$/.exec(text);
  if (d) return now + Number(d[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[d[2] as 'm' | 'h' | 'd'];
  const t = Date.parse(text);
  if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(text))
    throw new UsageError(`--until must be an ISO time (2026-12-01T00:00:00Z) or a duration (30m, 12h, 7d), got ${JSON.stringify(text)}`);
  if (t <= now) throw new UsageError(`--until ${text} is in the past`);
  return t;
}

export async function revoke(args: string[], out: (s: string) => void): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...TARGET, reason: { type: 'string' }, until: { type: 'string' }, by: { type: 'string' } },
    strict: true,
  });
  const t = target(values);
  const now = Date.now();
  const r: Revocation = {
    ...t,
    reason: values.reason ?? null,
    until: parseUntil(values.until, now),
    createdAt: now,
    createdBy: values.by ?? safeUser(),
  };
  const { store: s, where } = await store(values);
  await s.put(r);
  out(
    `revoked ${t.kind} ${t.value}${t.issuer ? ` (issuer ${t.issuer})` : ' (any issuer)'}${r.until ? ` until ${new Date(r.until).toISOString()}` : ''} in ${where}`,
  );
  return 0;
}

export async function unrevoke(args: string[], out: (s: string) => void): Promise<number> {
  const { values } = parseArgs({ args, options: TARGET, strict: true });
  const t = target(values);
  const { store: s, where } = await store(values);
  const deleted = await s.delete(t.kind, t.value, t.issuer);
  out(
    deleted
      ? `lifted the revocation of ${t.kind} ${t.value} in ${where}`
      : `no revocation of ${t.kind} ${t.value}${t.issuer ? ` for issuer ${t.issuer}` : ' for any issuer'} in ${where}`,
  );
  return deleted ? 0 : 1;
}

export async function listRevocations(args: string[], out: (s: string) => void): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      table: TARGET.table,
      region: TARGET.region,
      'archive-dir': TARGET['archive-dir'],
      format: { type: 'string', default: 'table' },
    },
    strict: true,
  });
  if (values.format !== 'table' && values.format !== 'json') throw new UsageError('--format must be table or json');
  const { store: s } = await store(values);
  const list = await s.list();
  const now = Date.now();
  if (values.format === 'json') {
    out(JSON.stringify(list, null, 2));
    return 0;
  }
  const rows = list.map((r) => [
    r.kind,
    r.value,
    r.issuer ?? '*',
    r.until === null ? 'forever' : new Date(r.until).toISOString(),
    r.until !== null && r.until <= now ? 'expired' : 'active',
    r.reason ?? '',
    r.createdBy ?? '',
  ]);
  const header = ['kind', 'value', 'issuer', 'until', 'state', 'reason', 'by'];
  out(alignedLines(header, rows).join('\n'));
  return 0;
}

function safeUser(): string | null {
  try {
    return userInfo().username;
  } catch {
    return null;
  }
}
