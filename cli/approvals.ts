/**
 * `embedgate approvals list | show | approve | deny`: a reviewer's (or requester's) client of
 * the gateway's approval API. It goes through the gateway on purpose, not to the table: the
 * gateway verifies the reviewer's token, applies the no-self-approval and two-person rules,
 * releases the workflow and records the decision, for the CLI exactly as for any other client.
 *
 * The token comes from the environment (CLI_ENV.token in shared/contract.ts) or --token-file (never
 * a flag value: command lines are visible to other users of the machine).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CLI_ENV } from '../shared/contract';
import { alignedLines } from './text-table';

export class ApprovalsUsageError extends Error {}

export const APPROVALS_USAGE = `usage:
  embedgate approvals list [--status pending|approved|denied|expired|used] [--format table|json] --url <gateway URL>
  embedgate approvals show <approval id> --url <gateway URL>
  embedgate approvals approve <approval id> --reason <text> --url <gateway URL>
  embedgate approvals deny <approval id> --reason <text> --url <gateway URL>
      --url is the gateway's base URL (for a secondary issuer, with its prefix: https://<api>/<issuer id>),
      or ${CLI_ENV.url}. The caller's access token comes from ${CLI_ENV.token} or --token-file <file>.`;

export interface ApprovalsIo {
  readonly out: (line: string) => void;
  readonly env?: NodeJS.ProcessEnv;
  readonly fetch?: typeof fetch;
}

export async function approvals(argv: string[], io: ApprovalsIo): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      url: { type: 'string' },
      'token-file': { type: 'string' },
      status: { type: 'string' },
      reason: { type: 'string' },
      format: { type: 'string', default: 'table' },
    },
    allowPositionals: true,
    strict: true,
  });
  const env = io.env ?? process.env;
  const url = (values.url ?? env[CLI_ENV.url] ?? '').replace(/\/+$/, '').replace(/\/v1$/, '');
  if (!url) throw new ApprovalsUsageError(`--url <gateway URL> (or ${CLI_ENV.url}) is required\n${APPROVALS_USAGE}`);
  if (!/^https?:\/\//.test(url)) throw new ApprovalsUsageError(`--url must be an http(s) URL, got ${JSON.stringify(url)}`);
  const token = (values['token-file'] ? readFileSync(values['token-file'], 'utf8') : (env[CLI_ENV.token] ?? '')).trim();
  if (!token) throw new ApprovalsUsageError(`an access token is required: set ${CLI_ENV.token} or pass --token-file <file>`);
  if (values.format !== 'table' && values.format !== 'json') throw new ApprovalsUsageError('--format must be table or json');
  const call = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await (io.fetch ?? fetch)(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new Error(`the gateway answered ${res.status} with a body that is not JSON`);
    }
    if (!res.ok) {
      const err = (json.error ?? {}) as { message?: string; code?: string };
      throw new ApprovalsUsageError(`the gateway refused (${res.status} ${err.code ?? ''}): ${err.message ?? text.slice(0, 200)}`);
    }
    return json;
  };
  const id = (): string => {
    const v = positionals[0];
    if (!v) throw new ApprovalsUsageError(`an approval id is required\n${APPROVALS_USAGE}`);
    return encodeURIComponent(v);
  };
  switch (sub) {
    case 'list': {
      const q = values.status ? `?status=${encodeURIComponent(values.status)}` : '';
      const list = (await call('GET', `/v1/approvals${q}`)).data as Record<string, unknown>[];
      if (values.format === 'json') io.out(JSON.stringify(list, null, 2));
      else printTable(list, io.out);
      return 0;
    }
    case 'show':
      io.out(JSON.stringify(await call('GET', `/v1/approvals/${id()}`), null, 2));
      return 0;
    case 'approve':
    case 'deny': {
      const target = id();
      if (!values.reason?.trim()) throw new ApprovalsUsageError(`--reason <text> is required: reviewers say why`);
      const a = await call('POST', `/v1/approvals/${target}/decision`, { decision: sub, reason: values.reason });
      io.out(
        `${sub === 'approve' ? 'approved' : 'denied'} by you: approval ${String(a.id)} is now ${String(a.status)} (${String(a.approvals)}/${String(a.required_approvals)} approvals)`,
      );
      return 0;
    }
    default:
      throw new ApprovalsUsageError(APPROVALS_USAGE);
  }
}

function printTable(rows: Record<string, unknown>[], out: (line: string) => void): void {
  if (rows.length === 0) {
    out('no approvals');
    return;
  }
  const cols = ['id', 'status', 'model', 'requester', 'rule_id', 'approvals', 'expires_at', 'triggers'];
  const cells = rows.map((r) => [
    String(r.id),
    String(r.status),
    String(r.model),
    String((r.requester as { subject?: string } | undefined)?.subject ?? ''),
    String(r.rule_id),
    `${String(r.approvals)}/${String(r.required_approvals)}`,
    String(r.expires_at),
    (r.triggers as string[] | undefined)?.join(',') ?? '',
  ]);
  for (const line of alignedLines(cols, cells)) out(line);
}
