/**
 * Issue 19/23: `embedgate audit replay --athena` reads the records from the archive's Glue table
 * through Athena (the local Athena stand-in, fed the rows that DuckDB gives for the very same
 * query over the same archive) and reports exactly what the replay over the directory reports.
 * Records written before the input was kept (fixtures of the older shape) stay readable by the
 * queries, `audit verify`, `audit export` and replay, which says they have no text.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AthenaClient } from '@aws-sdk/client-athena';
import { loadConfig } from '../../shared/config';
import { REPLAY_RECORDS_QUERY, auditQuery, renderAthena, renderDuckDb } from '../../shared/audit-queries';
import { FileArchive } from '../../lambda/adapters/local/file-archive';
import { sealRecord, type SessionRecord } from '../../lambda/core/record';
import { PolicyCaseRunner } from '../../cli/policy-run';
import { auditReplay, missingText, replay, Replayer } from '../../cli/replay';
import { readRecords, recordFromJsonRow } from '../../cli/replay-source';
import { runLocalQuery } from '../../cli/audit-duckdb';
import { audit } from '../../cli/audit';
import { startFakeAthena, type FakeAthena } from '../support/fake-athena';
import { baseConfig, localModelDoc, ruleDoc, type Doc } from '../support/config-fixtures';

const models = [localModelDoc({ name: 'small' })];
const rules = [ruleDoc({ id: 'team', match: { groups: ['team'] } })];
const masking = { enabled: true, strategies: { EMAIL: 'redact' } };
const recordingConfig = (extra: Doc = {}) => loadConfig(baseConfig({ models, policy: { rules }, masking, ...extra }));
const newDoc = baseConfig({
  models,
  policy: { rules },
  masking: {
    enabled: true,
    strategies: { EMAIL: 'redact', PROJECT: 'block' },
    customDetectors: [{ name: 'PROJECT', pattern: 'Falcon-\\d+' }],
  },
});

const dir = mkdtempSync(join(tmpdir(), 'embedgate-replay-athena-'));
const team = { claims: { sub: 'svc-team', groups: ['team'] } };
const SINCE = '2026-01-01';
const UNTIL = '2026-01-03';

/** A record as schema v1 wrote it before the input was kept: no kept/tokens/cut, no output encoding. */
function olderShape(r: SessionRecord): SessionRecord {
  const { kept: _k, tokens: _t, cut: _c, ...input } = r.input;
  const { encoding_format: _e, ...output } = r.output!;
  const { record_sha256: _s, ...rest } = r;
  return sealRecord({ ...rest, input: { ...input, text: null }, output });
}

let fake: FakeAthena;
const records: SessionRecord[] = [];

beforeAll(async () => {
  fake = await startFakeAthena();
  const archive = new FileArchive(dir);
  const put = async (extra: Doc, time: string, input: string[] | number[][], shape = (r: SessionRecord) => r) => {
    const { record } = await new PolicyCaseRunner(recordingConfig(extra)).run({
      principal: team,
      request: { model: 'small', input },
      time,
    });
    const r = shape(record);
    records.push(r);
    await archive.put(r);
  };
  await put({}, '2026-01-01T10:00:00Z', ['notes on Falcon-7 for bob@example.com']); // kept -> blocked by the re-run
  await put({}, '2026-01-01T11:00:00Z', ['weather report']); // kept -> unchanged
  await put({ recording: { inputText: 'omit' } }, '2026-01-01T12:00:00Z', ['Falcon-9 plans']); // omitted -> unchanged, said so
  await put({}, '2026-01-02T09:00:00Z', ['Falcon-3 in an old record'], olderShape); // older record -> unchanged, said so
  await put({ recording: { maxTextBytes: 1024 } }, '2026-01-02T10:00:00Z', ['ok', 'Falcon-1 '.repeat(200)]); // cut -> unchanged, said so
  await put(
    {},
    '2026-01-02T11:00:00Z',
    ['later'].map((x) => x),
  ); // kept
});

afterAll(async () => {
  await fake.close();
});

/** The rows DuckDB gives for the replay query over the archive, as the Athena stand-in serves them (all varchar). */
async function athenaRowsFromDuckDb() {
  const result = await runLocalQuery(dir, REPLAY_RECORDS_QUERY, { since: SINCE, until: UNTIL });
  return {
    columns: result.columns.map((name) => ({ name, type: 'varchar' })),
    rows: result.rows.map((row) => result.columns.map((c) => (row[c] === null ? null : String(row[c])))),
  };
}

describe('the replay records query', () => {
  it('renders every top-level column as JSON text in both dialects', () => {
    const params = { since: SINCE, until: UNTIL };
    const athena = renderAthena(REPLAY_RECORDS_QUERY, { database: 'db', table: 'sessions', params });
    const duck = renderDuckDb(REPLAY_RECORDS_QUERY, { database: 'db', table: 'sessions', params });
    expect(athena).toContain('json_format(CAST("input" AS JSON)) AS "input"');
    expect(duck).toContain('CAST(to_json("input") AS VARCHAR) AS "input"');
    expect(athena).toContain("dt >= '2026-01-01' AND dt <= '2026-01-02'");
  });

  it('gives back every record (new and older shapes) with the fields it has, the missing ones as null', async () => {
    const read = (await runLocalQuery(dir, REPLAY_RECORDS_QUERY, { since: SINCE, until: UNTIL })).rows.map((r) => recordFromJsonRow(r));
    expect(read.map((r) => r.session_id)).toEqual(records.map((r) => r.session_id));
    expect(read[0]!.input).toMatchObject({ kept: 'all', text: ['notes on Falcon-7 for [EMAIL]'], tokens: null, cut: null });
    expect(read[0]!.principal).toEqual(records[0]!.principal);
    expect(read[0]!.masking).toEqual(records[0]!.masking);
    expect(read[2]!.input).toMatchObject({ kept: 'omitted', text: null });
    expect(read[3]!.input).toMatchObject({ kept: null, text: null, tokens: null, cut: null });
    expect(read[3]!.output).toMatchObject({ encoding_format: null, fingerprint: records[3]!.output!.fingerprint });
    expect(read[4]!.input.cut).toEqual(records[4]!.input.cut);
  });

  it('reads structs that an engine returns as JSON arrays (row-to-array cast) by the Glue field order', () => {
    const r = records[0]!;
    const row = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? null : JSON.stringify(v)]));
    const p = r.principal!;
    row.principal = JSON.stringify([p.issuer, p.issuer_id, p.subject, p.client_id, p.groups, p.scopes, p.token_id, p.token_expires_at]);
    expect(recordFromJsonRow(row).principal).toEqual(p);
    expect(() => recordFromJsonRow({ ...row, input: '{not json' })).toThrow(/column "input" of session .* is not JSON/);
    const { schema: _s, ...missing } = row;
    expect(() => recordFromJsonRow(missing)).toThrow(/has no column "schema"/);
  });
});

describe('embedgate audit replay --athena', () => {
  const client = () =>
    new AthenaClient({ endpoint: fake.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  const configFile = join(dir, 'new.json');
  beforeAll(() => writeFileSync(configFile, JSON.stringify(newDoc)));

  it('reports what the replay over the archive directory reports, re-running masking on the kept text', async () => {
    fake.enqueue({ ...(await athenaRowsFromDuckDb()), states: ['QUEUED', 'RUNNING', 'SUCCEEDED'], pageSize: 3 });
    const out: string[] = [];
    const args = ['--config', configFile, '--since', SINCE, '--until', UNTIL, '--format', 'json'];
    const code = await auditReplay(
      [...args, '--athena', '--workgroup', 'wg', '--database', 'db', '--table', 'sessions'],
      (l) => out.push(l),
      { athena: client, athenaPollMs: 1 },
    );
    expect(code).toBe(0);
    const viaAthena = JSON.parse(out.join('\n'));
    const local: string[] = [];
    await auditReplay([...args, '--archive-dir', dir], (l) => local.push(l));
    expect(viaAthena).toEqual(JSON.parse(local.join('\n')));
    expect(viaAthena).toMatchObject({ sessions: 6, replayed: 6, masking_rerun: 4, without_text: 2 });
    expect(viaAthena.changes).toEqual([
      expect.objectContaining({
        from: 'allowed',
        to: 'blocked',
        count: 1,
        by: [expect.objectContaining({ examples: [records[0]!.session_id] })],
      }),
    ]);
    const start = fake.requestsOf('StartQueryExecution')[0]!.body!;
    expect(start).toMatchObject({ WorkGroup: 'wg', QueryExecutionContext: { Database: 'db' } });
    expect(String(start.QueryString)).toContain('json_format(CAST("masking" AS JSON)) AS "masking"');
    expect(String(start.QueryString)).toContain("started_at >= '2026-01-01T00:00:00.000Z' AND started_at < '2026-01-03T00:00:00.000Z'");
  });

  it('says which sessions had no text and why (omitted, older record), and which were cut by the budget', async () => {
    const report = await replay(await readRecords({ kind: 'local', dir }), loadConfig(newDoc));
    expect(report.without_text).toBe(2);
    expect(missingText(records[2]!)).toBe('input not kept: the gateway omitted it (recording.inputText "omit")');
    expect(missingText(records[3]!)).toBe('input not kept: recorded before records kept the input by default');
    expect(missingText(records[0]!)).toBeNull();
    // A cut record is replayed on what it kept: the PROJECT value in the cut item is not seen, and the note says so.
    const cut = await new Replayer(loadConfig(newDoc)).redecide(records[4]!);
    expect(cut.notes).toContain('replayed on the 1 item(s) the record kept (1 cut by its budget)');
    const omitted = await new Replayer(loadConfig(newDoc)).redecide(records[2]!);
    expect(omitted).toMatchObject({ verdict: 'allowed', maskingRerun: false, withoutText: expect.stringMatching(/omitted/) });
  });

  it('defaults to the 7 days up to now; refuses a mixed source or an incomplete Athena target', async () => {
    fake.enqueue({ columns: [], rows: [] });
    const out: string[] = [];
    const now = Date.parse('2026-01-10T00:00:00.000Z');
    expect(
      await auditReplay(['--config', configFile, '--athena', '--workgroup', 'wg', '--database', 'db', '--table', 't'], (l) => out.push(l), {
        athena: client,
        athenaPollMs: 1,
        now: () => now,
      }),
    ).toBe(0);
    expect(out[0]).toMatch(/^audit replay: 0 session\(s\) in \[2026-01-03T00:00:00\.000Z, 2026-01-10T00:00:00\.000Z\)/);
    await expect(auditReplay(['--config', configFile, '--athena', '--archive-dir', dir], () => undefined)).rejects.toThrow(/not both/);
    await expect(auditReplay(['--config', configFile, '--workgroup', 'wg'], () => undefined)).rejects.toThrow(
      /--workgroup goes with --athena/,
    );
  });

  it('an Athena failure is reported on stderr with exit code 1', async () => {
    fake.enqueue({ states: ['RUNNING', 'FAILED'], reason: 'HIVE_CURSOR_ERROR: bad row' });
    const err: string[] = [];
    const code = await auditReplay(
      ['--config', configFile, '--since', SINCE, '--until', UNTIL, '--athena', '--workgroup', 'wg', '--database', 'db', '--table', 't'],
      () => undefined,
      { athena: client, athenaPollMs: 1, err: (l) => err.push(l) },
    );
    expect(code).toBe(1);
    expect(err[0]).toMatch(/FAILED: HIVE_CURSOR_ERROR: bad row/);
  });
});

describe('the kept text in the named queries, and older records', () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return {
      out,
      err,
      io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), now: () => Date.parse('2026-01-05T00:00:00Z') },
    };
  };

  it('sessions-with-text-matching finds sessions by a pattern in their kept (masked) text, never in omitted or older records', async () => {
    const q = auditQuery('sessions-with-text-matching');
    const r = await runLocalQuery(dir, q, { since: SINCE, until: UNTIL, pattern: '(?i)falcon-\\d' });
    expect(r.rows.map((x) => x.session_id)).toEqual([records[0]!.session_id]); // the cut record's kept item is "ok"
    expect(r.rows[0]).toMatchObject({ subject: 'svc-team', outcome: 'allow', matching_items: 1, example: 'notes on Falcon-7 for [EMAIL]' });
    expect((await runLocalQuery(dir, q, { since: SINCE, until: UNTIL, pattern: 'bob@example' })).rows).toEqual([]); // masked away
    expect((await runLocalQuery(dir, q, { since: SINCE, until: UNTIL, pattern: 'weather|later', model: 'small' })).rows).toHaveLength(2);
    expect((await runLocalQuery(dir, q, { since: SINCE, until: UNTIL, pattern: 'weather', principal: 'nobody' })).rows).toHaveLength(0);
    const athena = renderAthena(q, { database: 'db', table: 't', params: { since: SINCE, until: UNTIL, pattern: "it's" } });
    expect(athena).toContain("regexp_like(item_text, 'it''s')");
    expect(athena).toContain('CROSS JOIN UNNEST(input.text) AS kept_items(item_text)');
  });

  it('audit verify and audit export read the older records with the new ones', async () => {
    const v = io();
    expect(await audit(['verify', '--archive-dir', dir, '--format', 'json'], v.io)).toBe(0);
    expect(v.out.join('\n')).toMatch(/"records":\s*6|6 record/);
    const e = io();
    expect(await audit(['export', '--archive-dir', dir, '--since', SINCE, '--until', UNTIL, '--format', 'jsonl'], e.io)).toBe(0);
    const lines = e.out
      .join('\n')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as SessionRecord);
    expect(lines).toHaveLength(6);
    expect(lines[3]).toEqual(records[3]);
  });
});
