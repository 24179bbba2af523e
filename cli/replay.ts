/**
 * `embedgate audit replay`: re-decide recorded sessions under another configuration and report
 * what would change (sessions that would now be denied, held, blocked, refused or allowed), by
 * principal and rule, with counts and examples.
 *
 *   embedgate audit replay --config <new> [--since <time>] [--until <time>] [--archive-dir <dir>] [--format text|json]
 *   embedgate audit replay --config <new> --athena --workgroup <wg> --database <db> --table <t> [--region <r>] [--since] [--until] ...
 *
 * Each embeddings session that reached policy is re-decided with the gateway's own functions:
 * identity is the record's principal (revocations are runtime state and are not replayed); policy
 * (`decide`), limits (`enforceLimits`) and approval triggers (`approvalTriggers`) run on the
 * record's model and input: the kept input (`input.text`, `input.tokens`) where the record has it.
 * Masking is re-run by the new configuration's masker on the kept text (masked already: it finds
 * what the old configuration let through); elsewhere the recorded findings are judged under the
 * new strategies, and approval patterns (`inputMatches`) cannot be evaluated. Sessions without
 * kept text are counted (`without_text`) and said so per session, with why (omitted by the
 * configuration, recorded before input was kept, refused before it was prepared); a record whose
 * budget cut items is replayed on the items it kept, and says so.
 */
import { parseArgs } from 'node:util';
import { AthenaClient } from '@aws-sdk/client-athena';
import type { GatewayConfig } from '../shared/config';
import { parseInstant } from '../shared/audit-queries';
import { DEFAULT_STRATEGY } from '../shared/masking/catalog';
import { decide } from '../lambda/core/policy';
import { approvalTriggers } from '../lambda/core/approvals/triggers';
import { GatewayError } from '../lambda/core/errors';
import { enforceLimits, type EmbeddingsRequest } from '../lambda/core/request';
import { lazyMasker } from '../lambda/core/masking/runtime';
import { ruleMaskingStrategies, type Masker } from '../lambda/core/masking/masker';
import type { SessionRecord } from '../lambda/core/record';
import { readConfig } from './policy';
import { principalOf } from './policy-run';
import { readRecords, type RecordSource } from './replay-source';
import { AthenaQueryError } from './audit-athena';

export const REPLAY_USAGE = `usage:
  embedgate audit replay --config <file> [--since <time>] [--until <time>] [--archive-dir <dir>] [--examples <n>] [--format text|json]
  embedgate audit replay --config <file> --athena --workgroup <wg> --database <db> --table <t> [--region <r>]
                         [--since <time>] [--until <time>] [--examples <n>] [--format text|json]
      Re-decide the recorded embeddings sessions of [since, until) under this configuration and report
      the sessions that would now be denied, held, blocked, refused or allowed, by principal and rule.
      --athena reads the records from the archive's Glue table (AWS credentials from the environment;
      default period: the 7 days up to now).`;

export class ReplayUsageError extends Error {}

/** What the gateway did (or would do) with a request, as far as policy is concerned. */
export type Verdict = 'allowed' | 'denied' | 'held' | 'blocked' | 'refused';

export interface Redecision {
  readonly verdict: Verdict;
  readonly reason: string;
  readonly rule: string | null;
  /** What could not be replayed exactly for this session. */
  readonly notes: readonly string[];
  /** True when masking was re-run on the kept (masked) text. */
  readonly maskingRerun: boolean;
  /** Why the record has no kept text to replay on, or null when it has text (or token ids). */
  readonly withoutText: string | null;
}

/** Why a record of a text or token request holds no kept input, or null when it holds some. */
export function missingText(r: SessionRecord): string | null {
  if (r.input.text || r.input.tokens) return null;
  switch (r.input.kept) {
    case 'omitted':
      return 'input not kept: the gateway omitted it (recording.inputText "omit")';
    case 'none':
      return 'input not kept: the request ended before its input was prepared for the model';
    case undefined:
    case null:
      return 'input not kept: recorded before records kept the input by default';
    default:
      return 'input not kept';
  }
}

const POLICY_DENIALS = new Set(['rule_deny', 'no_matching_rule', 'model_unknown']);

/** The verdict a record shows, or null for a session that never reached policy (or was revoked). */
export function recordedVerdict(r: SessionRecord): { verdict: Verdict; reason: string; rule: string | null } | null {
  if (!r.principal || !r.model || !/\/v1\/embeddings$/.test(r.request.path) || r.request.method !== 'POST') return null;
  const d = r.decision;
  const at = (verdict: Verdict) => ({ verdict, reason: d.reason, rule: d.rule_id });
  if (d.reason.startsWith('revoked_')) return null;
  if (POLICY_DENIALS.has(d.reason)) return at('denied');
  if (d.reason === 'masking_blocked') return at('blocked');
  if (d.outcome === 'held') return at('held');
  if (d.rule_id === null) return null; // refused before policy (a malformed body, ...)
  if (d.outcome === 'allow' || d.outcome === 'error') return at('allowed'); // policy allowed; upstream may have failed
  if (d.outcome === 'deny' && r.approval) return at('held'); // an approval refused its use: still subject to approval
  return at('refused');
}

/** Re-decides records under one configuration (one masker for all of them). */
export class Replayer {
  private readonly masker: (() => Promise<Masker>) | undefined;

  constructor(private readonly config: GatewayConfig) {
    const m = config.masking;
    // The pseudonym key only shapes pseudonyms, never a decision; Comprehend is not called.
    this.masker = lazyMasker(
      m?.comprehend?.enabled ? { ...config, masking: { ...m, comprehend: { ...m.comprehend, enabled: false } } } : config,
      {
        secrets: { get: async () => 'embedgate-replay-pseudonym-key' },
      },
    );
  }

  async redecide(r: SessionRecord): Promise<Redecision> {
    const config = this.config;
    const notes: string[] = [];
    const principal = principalOf(r);
    const decision = decide(config, principal, r.model!.name);
    if (decision.effect === 'deny')
      return { verdict: 'denied', reason: decision.reason, rule: decision.ruleId, notes, maskingRerun: false, withoutText: missingText(r) };

    const kind = r.input.kind ?? 'text';
    const withoutText = missingText(r);
    if (withoutText) notes.push(withoutText);
    const kept = r.input.text ?? null;
    const cut = (r.input.cut ?? []).reduce((n, c) => n + c.items, 0);
    if (cut > 0) notes.push(`replayed on the ${r.input.items - cut} item(s) the record kept (${cut} cut by its budget)`);
    // The text masking and patterns look at: every item, or the kept prefix of a record whose budget cut items.
    const text = kept && kept.length > 0 ? kept : null;
    const items: string[] = kept && cut === 0 ? kept : Array.from({ length: r.input.items }, (_, i) => kept?.[i] ?? '');
    const tokens = r.input.tokens ?? null;
    const request: EmbeddingsRequest = {
      model: r.model!.name,
      input:
        kind === 'tokens'
          ? { kind: 'tokens', items: Array.from({ length: r.input.items }, (_, i) => tokens?.[i] ?? []) }
          : { kind: 'text', items },
      encodingFormat: r.input.encoding_format === 'base64' ? 'base64' : 'float',
      ...(r.input.dimensions !== null ? { dimensions: r.input.dimensions } : {}),
    };
    const done = (verdict: Verdict, reason: string, maskingRerun = false): Redecision => ({
      verdict,
      reason,
      rule: decision.ruleId,
      notes,
      maskingRerun,
      withoutText,
    });
    try {
      enforceLimits(request, decision.limits!);
    } catch (e) {
      if (e instanceof GatewayError) return done('refused', e.reason);
      throw e;
    }
    const limits = decision.limits!;
    const exact = (kept !== null && cut === 0) || kind === 'tokens';
    if (!exact && limits.maxTotalChars !== undefined && r.input.characters > limits.maxTotalChars) return done('refused', 'input_too_long');
    if (!exact && limits.maxInputChars !== undefined) notes.push('maxInputChars not checked on items not kept');

    // Masking: the new masker on the kept text; else the recorded findings under the new strategies.
    const ruleStrategies = ruleMaskingStrategies(config, decision.ruleId);
    const found = new Set((r.masking?.findings ?? []).map((f) => f.type));
    let blocked: string[] = [];
    let rerun = false;
    if (this.masker && text && kind === 'text') {
      const result = await (await this.masker()).maskItems(text, ruleStrategies);
      for (const [type, count] of Object.entries(result.counts)) if (count > 0) found.add(type);
      blocked = result.blocked;
      rerun = true;
      // Values the old configuration redacted are no longer in the text: judge the recorded findings too.
      const strategies = { ...config.masking!.strategies, ...(ruleStrategies ?? {}) } as Record<string, string>;
      for (const t of found) if ((strategies[t] ?? DEFAULT_STRATEGY) === 'block' && !blocked.includes(t)) blocked.push(t);
    } else if (config.masking?.enabled) {
      const strategies = { ...config.masking.strategies, ...(ruleStrategies ?? {}) } as Record<string, string>;
      blocked = [...found].filter((t) => (strategies[t] ?? DEFAULT_STRATEGY) === 'block');
      if (r.masking === null && kind === 'text') notes.push('masking not replayed (the record has no masking findings and no text)');
      else if (!text && kind === 'text') notes.push('masking judged from the recorded findings (no text kept)');
    }
    if (blocked.length > 0) return done('blocked', 'masking_blocked', rerun);

    const rule = config.policy.rules.find((x) => x.id === decision.ruleId);
    if (rule?.approval) {
      if (rule.approval.when?.inputMatches && !text) notes.push('approval patterns (inputMatches) not evaluated (no text kept)');
      const triggers = approvalTriggers(rule.approval, principal, request.input, found);
      if (triggers.length > 0) return done('held', `approval_required:${triggers.join(',')}`, rerun);
    }
    return done('allowed', decision.reason, rerun);
  }
}

export interface ReplayChange {
  readonly session_id: string;
  readonly started_at: string;
  readonly principal: string;
  readonly model: string;
  readonly from: { readonly verdict: Verdict; readonly reason: string; readonly rule: string | null };
  readonly to: Redecision;
}

export interface ReplayReport {
  readonly config_version: string;
  readonly since: string | null;
  readonly until: string | null;
  readonly sessions: number;
  readonly replayed: number;
  readonly unchanged: number;
  readonly skipped: number;
  readonly masking_rerun: number;
  /** Replayed sessions whose record kept no input (masking and patterns judged without it). */
  readonly without_text: number;
  /** Per transition (`allowed -> denied`), per principal and rule: counts and example sessions. */
  readonly changes: ReadonlyArray<{
    readonly from: Verdict;
    readonly to: Verdict;
    readonly count: number;
    readonly by: ReadonlyArray<{
      readonly principal: string;
      readonly from_rule: string | null;
      readonly to_rule: string | null;
      readonly to_reason: string;
      readonly count: number;
      readonly examples: readonly string[];
      readonly notes: readonly string[];
    }>;
  }>;
}

export async function replay(
  records: readonly SessionRecord[],
  config: GatewayConfig,
  opts: { since?: number; until?: number; examples?: number } = {},
): Promise<ReplayReport> {
  const replayer = new Replayer(config);
  const examples = opts.examples ?? 3;
  const changes: ReplayChange[] = [];
  let replayed = 0;
  let unchanged = 0;
  let rerun = 0;
  let withoutText = 0;
  for (const r of records) {
    const from = recordedVerdict(r);
    if (!from) continue;
    replayed++;
    const to = await replayer.redecide(r);
    if (to.maskingRerun) rerun++;
    if (to.withoutText) withoutText++;
    if (to.verdict === from.verdict) unchanged++;
    else
      changes.push({
        session_id: r.session_id,
        started_at: r.started_at,
        principal: `${r.principal!.issuer_id}/${r.principal!.subject}`,
        model: r.model!.name,
        from,
        to,
      });
  }
  const byTransition = new Map<string, ReplayChange[]>();
  for (const c of changes) {
    const k = `${c.from.verdict}>${c.to.verdict}`;
    byTransition.set(k, [...(byTransition.get(k) ?? []), c]);
  }
  return {
    config_version: config.version,
    since: opts.since === undefined ? null : new Date(opts.since).toISOString(),
    until: opts.until === undefined ? null : new Date(opts.until).toISOString(),
    sessions: records.length,
    replayed,
    unchanged,
    skipped: records.length - replayed,
    masking_rerun: rerun,
    without_text: withoutText,
    changes: [...byTransition.values()]
      .sort((a, b) => b.length - a.length)
      .map((cs) => {
        const groups = new Map<string, ReplayChange[]>();
        for (const c of cs) {
          const k = JSON.stringify([c.principal, c.from.rule, c.to.rule, c.to.reason]);
          groups.set(k, [...(groups.get(k) ?? []), c]);
        }
        return {
          from: cs[0]!.from.verdict,
          to: cs[0]!.to.verdict,
          count: cs.length,
          by: [...groups.values()]
            .sort((a, b) => b.length - a.length)
            .map((g) => ({
              principal: g[0]!.principal,
              from_rule: g[0]!.from.rule,
              to_rule: g[0]!.to.rule,
              to_reason: g[0]!.to.reason,
              count: g.length,
              examples: g.slice(0, examples).map((c) => c.session_id),
              notes: [...new Set(g.flatMap((c) => c.to.notes))],
            })),
        };
      }),
  };
}

export function formatReplay(r: ReplayReport, configPath: string): string[] {
  const period = `[${r.since ?? 'beginning'}, ${r.until ?? 'now'})`;
  const lines = [
    `audit replay: ${r.sessions} session(s) in ${period} under ${configPath} (version ${r.config_version})`,
    `  replayed ${r.replayed} embeddings session(s) that reached policy (${r.skipped} other(s) skipped: other routes, refused before policy, revoked); unchanged ${r.unchanged}; changed ${r.replayed - r.unchanged}`,
    `  masking re-run on the kept text for ${r.masking_rerun} session(s); elsewhere judged from the recorded findings`,
    `  ${r.without_text} replayed session(s) without kept input (no text to re-run masking or patterns on)`,
  ];
  if (r.changes.length === 0) lines.push('no decision would change');
  for (const c of r.changes) {
    lines.push(`${c.from} -> ${c.to}: ${c.count}`);
    for (const b of c.by) {
      lines.push(
        `  ${b.count}  ${b.principal}  rule ${b.from_rule ?? '-'} -> ${b.to_rule ?? '-'} (${b.to_reason})  e.g. ${b.examples.join(', ')}`,
      );
      for (const n of b.notes) lines.push(`       note: ${n}`);
    }
  }
  return lines;
}

/** What `auditReplay` reaches the world through (tests replace them). */
export interface ReplayDeps {
  /** The Athena client for `--athena` (default: the SDK's, credentials and region from the environment). */
  readonly athena?: (region: string | undefined) => AthenaClient;
  readonly now?: () => number;
  /** First wait between Athena polls, ms. */
  readonly athenaPollMs?: number;
  /** Where errors go (default stderr). */
  readonly err?: (line: string) => void;
}

export async function auditReplay(args: string[], out: (line: string) => void, deps: ReplayDeps = {}): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' },
      since: { type: 'string' },
      until: { type: 'string' },
      'archive-dir': { type: 'string' },
      athena: { type: 'boolean', default: false },
      workgroup: { type: 'string' },
      database: { type: 'string' },
      table: { type: 'string' },
      region: { type: 'string' },
      examples: { type: 'string', default: '3' },
      format: { type: 'string', default: 'text' },
    },
    strict: true,
  });
  if (!values.config) throw new ReplayUsageError(`audit replay needs --config <file>\n${REPLAY_USAGE}`);
  if (values.format !== 'text' && values.format !== 'json')
    throw new ReplayUsageError(`--format must be text or json, got ${JSON.stringify(values.format)}`);
  if (values.athena && values['archive-dir'] !== undefined)
    throw new ReplayUsageError('give either --archive-dir <dir> or --athena (with --workgroup, --database, --table), not both');
  if (!values.athena) {
    const athenaOnly = (['workgroup', 'database', 'table', 'region'] as const).filter((k) => values[k] !== undefined);
    if (athenaOnly.length > 0)
      throw new ReplayUsageError(`--${athenaOnly.join(', --')} ${athenaOnly.length > 1 ? 'go' : 'goes'} with --athena`);
  }
  if (values.athena && (!values.workgroup || !values.database || !values.table))
    throw new ReplayUsageError(
      '--athena needs --workgroup, --database and --table (the AthenaWorkGroup stack output; the SessionArchive names the database and table)',
    );
  const instant = (name: 'since' | 'until'): number | undefined => {
    const v = values[name];
    if (v === undefined) return undefined;
    const t = parseInstant(v);
    if (t === undefined)
      throw new ReplayUsageError(`--${name} must be a UTC date (YYYY-MM-DD) or an ISO-8601 instant, got ${JSON.stringify(v)}`);
    return t;
  };
  let since = instant('since');
  let until = instant('until');
  if (values.athena) {
    // Athena reads partitions: a bounded period, by default the 7 days up to now.
    until ??= (deps.now ?? Date.now)();
    since ??= until - 7 * 86_400_000;
  }
  if (since !== undefined && until !== undefined && since >= until) throw new ReplayUsageError('--since must be before --until');
  const examples = Number(values.examples);
  if (!Number.isInteger(examples) || examples < 0) throw new ReplayUsageError(`--examples must be a whole number, got ${values.examples}`);
  const config = readConfig(values.config);
  const period = { ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}) };
  let records: SessionRecord[];
  if (values.athena) {
    const client = (deps.athena ?? ((region) => new AthenaClient(region ? { region } : {})))(values.region);
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once('SIGINT', onSigint);
    try {
      const source: RecordSource = {
        kind: 'athena',
        client,
        database: values.database!,
        table: values.table!,
        workGroup: values.workgroup!,
        signal: abort.signal,
        ...(deps.athenaPollMs !== undefined ? { pollMs: deps.athenaPollMs } : {}),
      };
      records = await readRecords(source, period);
    } catch (e) {
      if (!(e instanceof AthenaQueryError)) throw e;
      (deps.err ?? ((l: string) => process.stderr.write(`${l}\n`)))(`embedgate audit replay: ${e.message}`);
      return 1;
    } finally {
      process.removeListener('SIGINT', onSigint);
      client.destroy();
    }
  } else {
    records = await readRecords({ kind: 'local', dir: values['archive-dir'] ?? '.archive' }, period);
  }
  const report = await replay(records, config, { ...period, examples });
  if (values.format === 'json') out(JSON.stringify(report, null, 2));
  else for (const l of formatReplay(report, values.config)) out(l);
  return 0;
}
