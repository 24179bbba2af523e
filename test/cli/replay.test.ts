/**
 * `embedgate audit replay`: sessions recorded by the real gateway (through the policy test
 * runner) under one configuration, re-decided under another; the report counts the changes by
 * transition, principal and rule, and says where masking could be re-run and where not.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../shared/config';
import { FileArchive } from '../../lambda/adapters/local/file-archive';
import { PolicyCaseRunner } from '../../cli/policy-run';
import { auditReplay, replay, ReplayUsageError, type ReplayReport } from '../../cli/replay';
import { readRecords } from '../../cli/replay-source';
import { baseConfig, localModelDoc, ruleDoc, type Doc } from '../support/config-fixtures';

const models = [localModelDoc({ name: 'small' })];
const oldRules = [ruleDoc({ id: 'team', match: { groups: ['team'] } }), ruleDoc({ id: 'ci', match: { subject: ['ci-*'] } })];
const masking = (extra: Doc = {}) => ({ enabled: true, strategies: { EMAIL: 'redact' }, ...extra });
const oldConfig = (storeInputText: boolean) =>
  loadConfig(baseConfig({ models, policy: { rules: oldRules }, masking: masking({ storeInputText }) }));

const newDoc = baseConfig({
  models,
  policy: {
    rules: [
      ruleDoc({ id: 'team', match: { groups: ['team'] }, approval: { when: { batchOver: 2 }, reviewers: { groups: ['reviewers'] } } }),
    ],
  },
  masking: masking({
    strategies: { EMAIL: 'block' },
    customDetectors: [{ name: 'PROJECT', pattern: 'Project-\\d+' }],
    storeInputText: true,
  }),
});
newDoc.masking = { ...(newDoc.masking as Doc), strategies: { EMAIL: 'block', PROJECT: 'block' } };

const dir = mkdtempSync(join(tmpdir(), 'embedgate-replay-'));
const team = { claims: { sub: 'svc-team', groups: ['team'] } };
const ci = { claims: { sub: 'ci-build' } };

beforeAll(async () => {
  const archive = new FileArchive(dir);
  const record = async (storeText: boolean, time: string, principal: { claims: Record<string, unknown> }, input: string[]) => {
    const { record } = await new PolicyCaseRunner(oldConfig(storeText)).run({ principal, request: { model: 'small', input }, time });
    await archive.put(record);
  };
  await record(true, '2026-01-01T10:00:00Z', ci, ['build log']); // allowed -> denied (ci rule gone)
  await record(false, '2026-01-01T10:01:00Z', ci, ['build log']); // allowed -> denied
  await record(true, '2026-01-01T10:02:00Z', team, ['a', 'b', 'c']); // allowed -> held (batchOver 2)
  await record(false, '2026-01-01T10:03:00Z', team, ['mail jane@example.com']); // allowed -> blocked (recorded EMAIL finding)
  await record(true, '2026-01-01T10:04:00Z', team, ['Project-42 notes']); // allowed -> blocked (PROJECT found by the re-run)
  await record(false, '2026-01-01T10:05:00Z', team, ['Project-42 notes']); // unchanged: no text kept, PROJECT cannot be found
  await record(true, '2026-01-02T10:00:00Z', { claims: { sub: 'other' } }, ['x']); // denied -> denied
});

const newConfig = loadConfig(newDoc);

describe('audit replay', () => {
  it('reads the records through readRecords, within [since, until)', async () => {
    expect(await readRecords({ kind: 'local', dir })).toHaveLength(7);
    expect(
      await readRecords({ kind: 'local', dir }, { since: Date.parse('2026-01-01T10:02:00Z'), until: Date.parse('2026-01-02T00:00:00Z') }),
    ).toHaveLength(4);
  });

  it('reports each change by transition, principal and rule, with examples and notes', async () => {
    const report: ReplayReport = await replay(await readRecords({ kind: 'local', dir }), newConfig);
    expect(report).toMatchObject({ sessions: 7, replayed: 7, unchanged: 2, skipped: 0, masking_rerun: 2 });
    const summary = Object.fromEntries(report.changes.map((c) => [`${c.from}>${c.to}`, c.count]));
    expect(summary).toStrictEqual({ 'allowed>denied': 2, 'allowed>blocked': 2, 'allowed>held': 1 });
    const denied = report.changes.find((c) => c.to === 'denied')!;
    expect(denied.by).toStrictEqual([
      expect.objectContaining({ principal: 'corp/ci-build', from_rule: 'ci', to_rule: null, to_reason: 'no_matching_rule', count: 2 }),
    ]);
    expect(denied.by[0]!.examples).toHaveLength(2);
    const held = report.changes.find((c) => c.to === 'held')!;
    expect(held.by[0]).toMatchObject({
      principal: 'corp/svc-team',
      from_rule: 'team',
      to_rule: 'team',
      to_reason: 'approval_required:batch_over:2',
    });
    const blocked = report.changes.find((c) => c.to === 'blocked')!;
    expect(blocked.by.map((b) => b.count)).toStrictEqual([2]);
    expect(blocked.by[0]!.notes).toContain('masking judged from the recorded findings (no text kept)');
  });

  it('a configuration that changes nothing reports nothing', async () => {
    const report = await replay(await readRecords({ kind: 'local', dir }), oldConfig(true));
    expect(report.changes).toStrictEqual([]);
    expect(report.unchanged).toBe(7);
  });

  it('the command: text and JSON, --since/--until, usage errors', async () => {
    const configFile = join(dir, 'new.json');
    writeFileSync(configFile, JSON.stringify(newDoc));
    const lines: string[] = [];
    expect(await auditReplay(['--config', configFile, '--archive-dir', dir, '--until', '2026-01-01T10:02:00Z'], (l) => lines.push(l))).toBe(
      0,
    );
    const text = lines.join('\n');
    expect(text).toMatch(/^audit replay: 2 session\(s\) in \[beginning, 2026-01-01T10:02:00\.000Z\)/);
    expect(text).toMatch(/^allowed -> denied: 2$/m);
    expect(text).toMatch(/^ {2}2 {2}corp\/ci-build {2}rule ci -> - \(no_matching_rule\) {2}e\.g\. /m);
    const json: string[] = [];
    await auditReplay(['--config', configFile, '--archive-dir', dir, '--since', '2026-01-02', '--format', 'json'], (l) => json.push(l));
    expect(JSON.parse(json.join('\n'))).toMatchObject({ sessions: 1, unchanged: 1, changes: [] });
    await expect(auditReplay(['--archive-dir', dir], () => undefined)).rejects.toThrow(ReplayUsageError);
    await expect(auditReplay(['--config', configFile, '--since', 'yesterday'], () => undefined)).rejects.toThrow(
      /--since must be a UTC date/,
    );
    await expect(auditReplay(['--config', configFile, '--athena'], () => undefined)).rejects.toThrow(
      /--athena needs --workgroup, --database and --table/,
    );
  });
});
