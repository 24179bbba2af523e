/**
 * `embedgate policy test` and `embedgate policy explain`: cases run through the real gateway
 * (identity with real JWTs, revocation, policy, limits, masking, approval), so the answers are
 * the gateway's own: an expired token is refused, a limit is enforced, a held request is held.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../shared/config';
import { parseCases } from '../../cli/policy-cases';
import { policy, PolicyUsageError } from '../../cli/policy';
import { baseConfig, issuerDoc, localModelDoc, ruleDoc } from '../support/config-fixtures';

const dir = mkdtempSync(join(tmpdir(), 'embedgate-policy-test-'));
const write = (name: string, doc: unknown): string => {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(doc));
  return p;
};

async function run(args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await policy(args, (l) => lines.push(l));
  return { code, out: lines.join('\n') };
}

const CONFIG = write(
  'config.json',
  baseConfig({
    issuers: [issuerDoc({ scopeClaims: undefined }), issuerDoc({ id: 'github', issuer: 'https://token.actions.example.com' })],
    models: [localModelDoc({ name: 'small', limits: { maxInputs: 4 } }), localModelDoc({ name: 'large' })],
    policy: {
      rules: [
        ruleDoc({ id: 'quarantine', effect: 'deny', match: { subject: ['quarantine-*'] } }),
        ruleDoc({
          id: 'team',
          effect: 'allow',
          match: { issuer: ['corp'], groups: ['team'] },
          masking: { strategies: { EMAIL: 'block' } },
        }),
        ruleDoc({ id: 'ci', effect: 'allow', match: { issuer: ['github'] }, models: ['small'] }),
        ruleDoc({
          id: 'big-batches',
          effect: 'allow',
          match: { issuer: ['corp'], groups: ['batch'] },
          approval: { when: { batchOver: 2 }, reviewers: { groups: ['reviewers'] } },
        }),
      ],
    },
    masking: { enabled: true, strategies: { EMAIL: 'redact' } },
  }),
);

const team = { issuer: 'corp', claims: { sub: 'svc-a', groups: ['team'] } };
const kase = (name: string, extra: Record<string, unknown>) => ({
  name,
  principal: team,
  request: { model: 'small', input: ['hello'] },
  ...extra,
});

describe('embedgate policy test', () => {
  it('runs the example cases against examples/dev.json: every case passes, exit 0', async () => {
    const { code, out } = await run(['test', 'examples/policy-tests', '--config', 'examples/dev.json']);
    expect(out).toMatch(/^9 passed, 0 failed$/m);
    expect(out.match(/^ {2}ok {3}/gm)).toHaveLength(9);
    expect(code).toBe(0);
  });

  it('prints the differences of a failing case and exits 1', async () => {
    const file = write('failing.json', {
      cases: [
        kase('passes', { expect: { status: 200, rule: 'team' } }),
        kase('wrong', {
          request: { model: 'large', input: 'x' },
          principal: { issuer: 'github', claims: { sub: 'repo:a' } },
          expect: { status: 200, rule: 'ci' },
        }),
      ],
    });
    const { code, out } = await run(['test', file, '--config', CONFIG]);
    expect(code).toBe(1);
    expect(out).toContain('ok   passes');
    expect(out).toContain('FAIL wrong');
    expect(out).toContain('status: expected 200, got 403');
    expect(out).toContain('rule: expected "ci", got null');
    expect(out).toMatch(/^1 passed, 1 failed$/m);
  });

  it('uses the gateway itself: token claims, revocations, limits, rule masking and approval are all applied', async () => {
    const file = write('gateway.json', [
      kase('an expired token is refused at identity', {
        time: '2026-01-01T00:00:00Z',
        principal: { issuer: 'corp', claims: { sub: 'svc-a', groups: ['team'], exp: Date.parse('2025-12-31T00:00:00Z') / 1000 } },
        expect: { status: 401, reason: 'token_expired', rule: null },
      }),
      kase('a token from an untrusted issuer is refused', {
        principal: { claims: { sub: 'svc-a', iss: 'https://evil.example.com', groups: ['team'] } },
        expect: { status: 401 },
      }),
      kase('a revoked client is refused', {
        principal: { issuer: 'corp', claims: { sub: 'svc-a', client_id: 'c1', groups: ['team'] } },
        revocations: [{ kind: 'client', value: 'c1' }],
        expect: { status: 403, reason: 'revoked_client' },
      }),
      kase('the model limit applies', {
        request: { model: 'small', input: ['1', '2', '3', '4', '5'] },
        expect: { status: 422, reason: 'too_many_inputs', rule: 'team' },
      }),
      kase('the rule masking override blocks e-mail for the team', {
        request: { model: 'small', input: 'a@example.com' },
        expect: { status: 422, masking: { EMAIL: 'block' } },
      }),
      kase('a big batch is held', {
        principal: { issuer: 'corp', claims: { sub: 'svc-b', groups: ['batch'] } },
        request: { model: 'large', input: ['1', '2', '3'] },
        expect: { status: 202, held: true, outcome: 'held', rule: 'big-batches' },
      }),
      kase('the other issuer is served on its own route', {
        principal: { issuer: 'github', claims: { sub: 'repo:acme' } },
        request: { model: 'small', input: 'mail a@example.com' },
        expect: { status: 200, rule: 'ci', masking: { EMAIL: 'redact' } },
      }),
    ]);
    const { code, out } = await run(['test', file, '--config', CONFIG, '--format', 'json']);
    const report = JSON.parse(out) as { failed: number; cases: Array<{ name: string; passed: boolean; differences: string[] }> };
    expect(report.cases.filter((c) => !c.passed)).toStrictEqual([]);
    expect(report.failed).toBe(0);
    expect(code).toBe(0);
  });

  it('a case naming an issuer the configuration lacks fails with the reason, the others still run', async () => {
    const file = write('issuer.json', [
      kase('unknown issuer', { principal: { issuer: 'okta', claims: { sub: 'x' } }, expect: { status: 200 } }),
      kase('fine', { expect: { status: 200 } }),
    ]);
    const { code, out } = await run(['test', file, '--config', CONFIG]);
    expect(out).toContain('cannot run: principal.issuer "okta" is not a trusted issuer id (corp, github)');
    expect(out).toMatch(/^1 passed, 1 failed$/m);
    expect(code).toBe(1);
  });

  it('refuses malformed case files with the file and the path', async () => {
    const file = write('malformed.json', {
      cases: [{ name: 'n', principal: { claims: { groups: [] } }, request: { model: 'small', input: 'x' }, expect: {} }],
    });
    await expect(run(['test', file, '--config', CONFIG])).rejects.toThrow(ConfigError);
    try {
      await run(['test', file, '--config', CONFIG]);
    } catch (e) {
      expect((e as ConfigError).issues.join('\n')).toMatch(/malformed\.json#0: principal\.claims: principal\.claims must hold "sub"/);
      expect((e as ConfigError).issues.join('\n')).toMatch(/expect: expect must name at least one/);
    }
    expect(() =>
      parseCases({ name: 'x', principal: { claims: { sub: 's' } }, request: { model: 'm', input: 'i' }, expect: { staus: 200 } }, 'f.json'),
    ).toThrow(/f\.json: expect: Unrecognized key: "staus"/);
    await expect(run(['test', join(dir, 'missing.json'), '--config', CONFIG])).rejects.toThrow(/cannot read test cases/);
    await expect(run(['test', '--config', CONFIG])).rejects.toThrow(PolicyUsageError);
  });
});

describe('embedgate policy explain', () => {
  const claims = write('claims.json', { sub: 'svc-a', groups: ['team'] });

  it('prints the answer and each rule with the condition that did not hold', async () => {
    const request = write('request.json', { model: 'large', input: ['hello'] });
    const { code, out } = await run(['explain', '--config', CONFIG, '--claims', claims, '--request', request]);
    expect(code).toBe(0);
    expect(out).toContain('answer: 200 allow (rule_allow), rule team');
    expect(out).toContain('policy: allow (rule_allow) by rule team');
    expect(out).toMatch(/ {5}quarantine +deny +no match: subject "svc-a" not in \["quarantine-\*"\]/);
    expect(out).toMatch(/ {2}=> team +allow +matched, decided/);
    expect(out).toMatch(/ {5}ci +allow +no match: model "large" is not in models \["small"\]/);
    expect(out).toMatch(/ {5}big-batches +allow +no match: groups \[team\] have none of \["batch"\]/);
  });

  it('--format json: the answer, the principal and the trace; the trace agrees with the answer', async () => {
    const request = write('request-small.json', { model: 'small', input: ['hello'] });
    const { out } = await run(['explain', '--config', CONFIG, '--claims', claims, '--request', request, '--format', 'json']);
    const j = JSON.parse(out) as { answer: { rule: string; reason: string }; policy: { rule: string; reason: string; rules: unknown[] } };
    expect(j.answer.rule).toBe('team');
    expect(j.policy.rule).toBe(j.answer.rule);
    expect(j.policy.reason).toBe(j.answer.reason);
    expect(j.policy.rules).toHaveLength(4);
    expect(j.policy.rules[2]).toStrictEqual({
      ruleId: 'ci',
      effect: 'allow',
      matched: false,
      decided: false,
      mismatch: { condition: 'issuer', patterns: ['github'], actual: ['corp', 'https://idp.example.com'] },
    });
  });

  it('explains a refusal before policy (no principal) and the policy allow a later stage refused', async () => {
    const expired = write('expired.json', { sub: 'svc-a', exp: 1 });
    const request = write('request-many.json', { model: 'small', input: ['1', '2', '3', '4', '5'] });
    const refused = await run(['explain', '--config', CONFIG, '--claims', expired, '--request', request]);
    expect(refused.out).toContain('answer: 401 deny (token_expired)');
    expect(refused.out).toContain('principal: none');
    const limited = await run(['explain', '--config', CONFIG, '--claims', claims, '--request', request]);
    expect(limited.out).toContain('policy: allow (rule_allow) by rule team');
    expect(limited.out).toMatch(/policy allowed; the request was then refused: /);
  });

  it('needs --config, --claims and --request', async () => {
    await expect(run(['explain', '--config', CONFIG, '--claims', claims])).rejects.toThrow(/--request <file>/);
    await expect(run(['nope'])).rejects.toThrow(PolicyUsageError);
  });
});
