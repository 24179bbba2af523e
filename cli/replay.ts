/**
 * `embedgate audit replay`: re-decide recorded sessions under another configuration and report
 * what would change (sessions that would now be denied, held, blocked, refused or allowed), by
 * principal and rule, with counts and examples.
 *
 *   embedgate audit replay --config <new> [--since <time>] [--until <time>] [--archive-dir <dir>] [--format text|json]
 *
 * Each embeddings session that reached policy is re-decided with the gateway's own functions:
 * identity is the record's principal (revocations are runtime state and are not replayed); policy
 * (`decide`), limits (`enforceLimits`) and approval triggers (`approvalTriggers`) run on the
 * record's model and input summary. Masking is re-run by the new configuration's masker where the
 * record kept the masked text (`input.text`); elsewhere the recorded findings are judged under the
 * new strategies, and approval patterns (`inputMatches`) cannot be evaluated (said per session).
 */
import { parseArgs } from 'node:util';
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

export const REPLAY_USAGE = `usage:
  embedgate audit replay --config <file> [--since <time>] [--until <time>] [--archive-dir <dir>] [--examples <n>] [--format text|json]
      Re-decide the recorded embeddings sessions of [since, until) under this configuration and report
      the sessions that would now be denied, held, blocked, refused or allowed, by principal and rule.`;

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
    const done = (verdict: Verdict, reason: string, maskingRerun = false): Redecision => ({
      verdict,
      reason,
      rule: decision.ruleId,
      notes,
      maskingRerun,
    });
    if (decision.effect === 'deny') return done('denied', decision.reason);

    const text = r.input.text;
    const kind = r.input.kind ?? 'text';
    const items: string[] = text ?? Array.from({ length: r.input.items }, () => '');
    const request: EmbeddingsRequest = {
      model: r.model!.name,
      input: kind === 'tokens' ? { kind: 'tokens', items: items.map(() => []) } : { kind: 'text', items },
      encodingFormat: r.input.encoding_format === 'base64' ? 'base64' : 'float',
      ...(r.input.dimensions !== null ? { dimensions: r.input.dimensions } : {}),
    };
    try {
      enforceLimits(request, decision.limits!);
    } catch (e) {
      if (e instanceof GatewayError) return done('refused', e.reason);
      throw e;
    }
    const limits = decision.limits!;
    if (!text && limits.maxTotalChars !== undefined && r.input.characters > limits.maxTotalChars) return done('refused', 'input_too_long');
    if (!text && limits.maxInputChars !== undefined) notes.push('maxInputChars not checked (no text kept)');

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
      else if (!text) notes.push('masking judged from the recorded findings (no text kept)');
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
  for (const r of records) {
    const from = recordedVerdict(r);
    if (!from) continue;
    replayed++;
    const to = await replayer.redecide(r);
    if (to.maskingRerun) rerun++;
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

export async function auditReplay(args: string[], out: (line: string) => void): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' },
      since: { type: 'string' },
      until: { type: 'string' },
      'archive-dir': { type: 'string', default: '.archive' },
      athena: { type: 'boolean', default: false },
      examples: { type: 'string', default: '3' },
      format: { type: 'string', default: 'text' },
    },
    strict: true,
  });
  if (!values.config) throw new ReplayUsageError(`audit replay needs --config <file>\n${REPLAY_USAGE}`);
  if (values.athena)
    throw new ReplayUsageError(
      'audit replay --athena is not available yet: copy the records (aws s3 sync s3://<archive bucket>/sessions/ <dir>/sessions/) and use --archive-dir <dir>',
    );
  if (values.format !== 'text' && values.format !== 'json')
    throw new ReplayUsageError(`--format must be text or json, got ${JSON.stringify(values.format)}`);
  const instant = (name: 'since' | 'until'): number | undefined => {
    const v = values[name];
    if (v === undefined) return undefined;
    const t = parseInstant(v);
    if (t === undefined)
      throw new ReplayUsageError(`--${name} must be a UTC date (YYYY-MM-DD) or an ISO-8601 instant, got ${JSON.stringify(v)}`);
    return t;
  };
  const since = instant('since');
  const until = instant('until');
  const examples = Number(values.examples);
  if (!Number.isInteger(examples) || examples < 0) throw new ReplayUsageError(`--examples must be a whole number, got ${values.examples}`);
  const config = readConfig(values.config);
  const source: RecordSource = { kind: 'local', dir: values['archive-dir']! };
  const records = await readRecords(source, { ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}) });
  const report = await replay(records, config, {
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
    examples,
  });
  if (values.format === 'json') out(JSON.stringify(report, null, 2));
  else for (const l of formatReplay(report, values.config)) out(l);
  return 0;
}
