/**
 * `embedgate policy`: test and explain a policy before it is deployed.
 *
 *   embedgate policy test <file|dir> --config <file> [--format text|json]
 *   embedgate policy explain --config <file> --claims <file> --request <file> [--issuer <id>] [--time <ISO>] [--format text|json]
 *
 * Both run the real gateway on the configuration (cli/policy-run.ts); `explain` adds the policy's
 * trace (`explain` in lambda/core/policy.ts).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, type GatewayConfig } from '../shared/config';
import { explain, type PolicyExplanation, type RuleTrace } from '../lambda/core/policy';
import { buildConfig, readDevConfigFile } from './dev-config';
import { differences, loadCases, outcomeOfRecord, policyCaseSchema, type CaseOutcome, type LoadedCase } from './policy-cases';
import { PolicyCaseRunner } from './policy-run';

export const POLICY_USAGE = `usage:
  embedgate policy test <file|dir> --config <file> [--format text|json]
      Run policy test cases (a .json file, or every .json file under a directory) through the
      gateway with this configuration: one line per case, the differences of a failing one;
      exit 1 when any case fails.
  embedgate policy explain --config <file> --claims <file> --request <file> [--issuer <id>] [--time <ISO time>] [--format text|json]
      The gateway's answer to one request (claims of the caller's token, body of POST /v1/embeddings)
      and the policy's trace: each rule, whether it matched, and the condition that did not.`;

export class PolicyUsageError extends Error {}

type Out = (line: string) => void;

/** Read a configuration file the way `embedgate dev` and `config validate` do. */
export function readConfig(path: string): GatewayConfig {
  const file = readDevConfigFile(path);
  return buildConfig(file, file.dev.issuer ? 'http://127.0.0.1:1' : undefined);
}

export async function policy(args: string[], out: Out): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'test') return policyTest(rest, out);
  if (sub === 'explain') return policyExplain(rest, out);
  throw new PolicyUsageError(POLICY_USAGE);
}

/** The result of one case. */
export interface CaseResult {
  readonly name: string;
  readonly source: string;
  readonly passed: boolean;
  readonly differences: readonly string[];
  readonly got: CaseOutcome | null;
  /** Set when the case could not run (e.g. it names an issuer the configuration lacks). */
  readonly error?: string;
}

/** Run loaded cases through the gateway; a case that cannot run fails with its error. */
export async function runCases(config: GatewayConfig, cases: readonly LoadedCase[]): Promise<{ results: CaseResult[]; notes: string[] }> {
  const runner = new PolicyCaseRunner(config);
  const results: CaseResult[] = [];
  for (const { source, case: c } of cases) {
    try {
      const got = outcomeOfRecord((await runner.run(c)).record);
      const diffs = differences(c.expect, got);
      results.push({ name: c.name, source, passed: diffs.length === 0, differences: diffs, got });
    } catch (e) {
      const error = (e as Error).message;
      results.push({ name: c.name, source, passed: false, differences: [`cannot run: ${error}`], got: null, error });
    }
  }
  return { results, notes: runner.notes };
}

async function policyTest(args: string[], out: Out): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { config: { type: 'string', short: 'c' }, format: { type: 'string', default: 'text' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new PolicyUsageError(`policy test needs one <file|dir> of test cases\n${POLICY_USAGE}`);
  if (!values.config) throw new PolicyUsageError(`policy test needs --config <file>\n${POLICY_USAGE}`);
  const format = checkFormat(values.format!);
  const config = readConfig(values.config);
  const cases = loadCases(positionals[0]!);
  const { results, notes } = await runCases(config, cases);
  const failed = results.filter((r) => !r.passed).length;
  if (format === 'json') {
    out(JSON.stringify({ config_version: config.version, passed: results.length - failed, failed, notes, cases: results }, null, 2));
  } else {
    out(`policy test: ${results.length} case(s) against ${values.config} (version ${config.version})`);
    for (const n of notes) out(`  note: ${n}`);
    for (const r of results) {
      out(`  ${r.passed ? 'ok  ' : 'FAIL'} ${r.name}  (${r.source})`);
      for (const d of r.differences) out(`         ${d}`);
    }
    out(`${results.length - failed} passed, ${failed} failed`);
  }
  return failed > 0 ? 1 : 0;
}

function checkFormat(f: string): 'text' | 'json' {
  if (f !== 'text' && f !== 'json') throw new PolicyUsageError(`--format must be text or json, got ${JSON.stringify(f)}`);
  return f;
}

function readJson(path: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError([`${what} ${path}: cannot read JSON: ${(e as Error).message}`]);
  }
}

async function policyExplain(args: string[], out: Out): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' },
      claims: { type: 'string' },
      request: { type: 'string' },
      issuer: { type: 'string' },
      time: { type: 'string' },
      format: { type: 'string', default: 'text' },
    },
    strict: true,
  });
  for (const k of ['config', 'claims', 'request'] as const)
    if (!values[k]) throw new PolicyUsageError(`policy explain needs --${k} <file>\n${POLICY_USAGE}`);
  const format = checkFormat(values.format!);
  const config = readConfig(values.config!);
  const parsed = policyCaseSchema.omit({ name: true, expect: true }).safeParse({
    principal: { ...(values.issuer ? { issuer: values.issuer } : {}), claims: readJson(values.claims!, '--claims') },
    request: readJson(values.request!, '--request'),
    ...(values.time ? { time: values.time } : {}),
  });
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(input)'}: ${i.message}`));
  const runner = new PolicyCaseRunner(config);
  let run;
  try {
    run = await runner.run(parsed.data);
  } catch (e) {
    throw new PolicyUsageError((e as Error).message);
  }
  const got = outcomeOfRecord(run.record);
  const trace = run.principal ? explain(config, run.principal, parsed.data.request.model) : null;
  if (format === 'json') {
    out(
      JSON.stringify(
        {
          config_version: config.version,
          notes: runner.notes,
          answer: got,
          approval_triggers: run.record.approval?.triggers ?? [],
          principal: run.record.principal,
          policy: trace && {
            effect: trace.decision.effect,
            reason: trace.decision.reason,
            rule: trace.decision.ruleId,
            rules: trace.rules,
          },
        },
        null,
        2,
      ),
    );
    return 0;
  }
  for (const line of explainText(got, run.record.approval?.triggers ?? [], run.principal, trace, runner.notes)) out(line);
  return 0;
}

/** The text of `policy explain`. */
export function explainText(
  got: CaseOutcome,
  triggers: readonly string[],
  principal: { issuerId: string; subject: string; clientId: string | null; groups: readonly string[]; scopes: readonly string[] } | null,
  trace: PolicyExplanation | null,
  notes: readonly string[] = [],
): string[] {
  const lines = [
    `answer: ${got.status} ${got.outcome} (${got.reason}), rule ${got.rule ?? '-'}`,
    ...notes.map((n) => `note: ${n}`),
    ...(got.held ? [`held for approval: ${triggers.join(', ') || '(always)'}`] : []),
    ...Object.entries(got.masking).map(([t, s]) => `masking: ${t} ${s}`),
  ];
  if (!principal || !trace) {
    lines.push('principal: none (the token was refused before policy; see the reason above)');
    return lines;
  }
  lines.push(
    `principal: ${principal.issuerId} / ${principal.subject}; client ${principal.clientId ?? '-'}; groups [${principal.groups.join(', ')}]; scopes [${principal.scopes.join(', ')}]`,
  );
  const d = trace.decision;
  lines.push(`policy: ${d.effect} (${d.reason})${d.ruleId ? ` by rule ${d.ruleId}` : ''}`);
  if (trace.rules.length === 0 && d.reason === 'model_unknown') lines.push('  the model is not configured: no rule is consulted');
  else if (trace.rules.length === 0) lines.push('  no rules: nothing is allowed');
  const width = Math.max(0, ...trace.rules.map((r) => r.ruleId.length));
  for (const r of trace.rules) lines.push(`  ${r.decided ? '=>' : '  '} ${r.ruleId.padEnd(width)}  ${r.effect.padEnd(5)}  ${ruleLine(r)}`);
  if (d.effect === 'allow' && got.outcome !== 'allow' && got.outcome !== 'held')
    lines.push(`  (policy allowed; the request was then refused: ${got.reason})`);
  return lines;
}

function ruleLine(r: RuleTrace): string {
  if (!r.mismatch) return r.decided ? 'matched, decided' : 'matched';
  const m = r.mismatch;
  const pats = JSON.stringify(m.patterns);
  switch (m.condition) {
    case 'models':
      return `no match: model ${JSON.stringify(m.actual[0])} is not in models ${pats}`;
    case 'scopes':
      return `no match: scopes ${JSON.stringify(m.actual)} required by ${pats} are missing`;
    case 'clientId':
      return m.actual.length === 0
        ? `no match: no client id (clientId ${pats})`
        : `no match: clientId ${JSON.stringify(m.actual[0])} not in ${pats}`;
    case 'issuer':
      return `no match: issuer ${JSON.stringify(m.actual[0])} (${m.actual[1]}) not in ${pats}`;
    case 'groups':
      return `no match: groups [${m.actual.join(', ')}] have none of ${pats}`;
    case 'subject':
      return `no match: subject ${JSON.stringify(m.actual[0])} not in ${pats}`;
  }
}
