/**
 * `runAthenaQuery` with the real AthenaClient against a local fake Athena (JSON 1.1).
 */
import { AthenaClient } from '@aws-sdk/client-athena';
import { AthenaQueryError, cellValue, runAthenaQuery } from '../../cli/audit-athena';
import { formatResult } from '../../cli/audit-format';
import { audit } from '../../cli/audit';
import { auditQuery, renderAthena } from '../../shared/audit-queries';
import { startFakeAthena, type FakeAthena } from '../support/fake-athena';

const SECRET = 'fakeSecretAccessKeyThatMustNotLeak';
const params = { since: '2026-03-01', until: '2026-03-02' };
const base = { database: 'audit_db', table: 'sessions', workGroup: 'embedgate-audit', params, pollMs: 5, maxPollMs: 20 };

describe('runAthenaQuery', () => {
  let fake: FakeAthena;
  let client: AthenaClient;

  beforeAll(async () => {
    fake = await startFakeAthena();
    client = new AthenaClient({
      endpoint: fake.endpoint,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIAFAKEFAKEFAKE', secretAccessKey: SECRET },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    client.destroy();
    await fake.close();
  });
  beforeEach(() => void (fake.requests.length = 0));

  it('starts the rendered SQL in the workgroup and database, polls, and reads every page with typed columns', async () => {
    const q = auditQuery('calls-by-principal-and-model');
    fake.enqueue({
      states: ['QUEUED', 'RUNNING', 'RUNNING', 'SUCCEEDED'],
      columns: [
        { name: 'day', type: 'varchar' },
        { name: 'subject', type: 'varchar' },
        { name: 'requests', type: 'bigint' },
        { name: 'avg_ms', type: 'double' },
        { name: 'huge', type: 'bigint' },
      ],
      rows: [
        ['2026-03-01', 'svc-a', '3', '12.5', '1'],
        ['2026-03-01', null, '1', null, '9007199254740993'],
        ['2026-03-01', '', '2', '0.25', null],
      ],
      pageSize: 2, // page 1: header + 1 row; page 2: 2 rows
    });
    const result = await runAthenaQuery(client, q, base);

    expect(result.columns).toEqual(['day', 'subject', 'requests', 'avg_ms', 'huge']);
    expect(result.rows).toEqual([
      { day: '2026-03-01', subject: 'svc-a', requests: 3, avg_ms: 12.5, huge: 1 },
      { day: '2026-03-01', subject: null, requests: 1, avg_ms: null, huge: '9007199254740993' },
      { day: '2026-03-01', subject: '', requests: 2, avg_ms: 0.25, huge: null },
    ]);
    expect(fake.requestsOf('GetQueryResults')).toHaveLength(2);
    expect(fake.requestsOf('GetQueryResults')[1]!.body?.NextToken).toBe('2');
    expect(fake.requestsOf('GetQueryExecution')).toHaveLength(4);

    const [start] = fake.requestsOf('StartQueryExecution');
    expect(start!.body?.QueryString).toBe(renderAthena(q, { database: 'audit_db', table: 'sessions', params }));
    expect(start!.body?.QueryString).toMatch(/FROM "audit_db"\."sessions"/);
    expect(start!.body?.WorkGroup).toBe('embedgate-audit');
    expect(start!.body?.QueryExecutionContext).toEqual({ Database: 'audit_db' });
    expect(start!.body).not.toHaveProperty('ResultConfiguration');
    expect(start!.headers.authorization).toMatch(/AKIAFAKEFAKEFAKE\/\d{8}\/eu-west-1\/athena\/aws4_request/);

    expect(formatResult(result, 'csv').split('\r\n')).toEqual([
      'day,subject,requests,avg_ms,huge',
      '2026-03-01,svc-a,3,12.5,1',
      '2026-03-01,,1,,9007199254740993',
      '2026-03-01,,2,0.25,',
    ]);
  });

  it('rejects a FAILED query with its state change reason and workgroup, and no credentials', async () => {
    fake.enqueue({ states: ['RUNNING', 'FAILED'], reason: "COLUMN_NOT_FOUND: line 3:3: Column 'nope' cannot be resolved" });
    const err = await runAthenaQuery(client, auditQuery('denied-by-principal-and-reason'), base).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AthenaQueryError);
    expect((err as AthenaQueryError).state).toBe('FAILED');
    expect((err as Error).message).toMatch(
      /in workgroup embedgate-audit FAILED: COLUMN_NOT_FOUND: line 3:3: Column 'nope' cannot be resolved/,
    );
    expect((err as Error).message).not.toContain(SECRET);
    expect(fake.requestsOf('GetQueryResults')).toHaveLength(0);
    expect(fake.requestsOf('StopQueryExecution')).toHaveLength(0);
  });

  it('stops a query that does not finish in time', async () => {
    fake.enqueue({ states: ['RUNNING'] });
    const err = await runAthenaQuery(client, auditQuery('upstream-errors-by-model'), { ...base, timeoutMs: 60 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AthenaQueryError);
    expect((err as Error).message).toMatch(/did not finish within .* \(last state RUNNING\); sent StopQueryExecution/);
    const stops = fake.requestsOf('StopQueryExecution');
    expect(stops).toHaveLength(1);
    expect(stops[0]!.body?.QueryExecutionId).toBe((err as AthenaQueryError).queryExecutionId);
    expect(fake.requestsOf('GetQueryResults')).toHaveLength(0);
  });

  it('stops the query when aborted', async () => {
    fake.enqueue({ states: ['RUNNING'] });
    const ac = new AbortController();
    const running = runAthenaQuery(client, auditQuery('upstream-errors-by-model'), { ...base, pollMs: 20, signal: ac.signal }).catch(
      (e: unknown) => e,
    );
    setTimeout(() => ac.abort(), 50);
    expect(((await running) as Error).message).toMatch(/was aborted; sent StopQueryExecution/);
    expect(fake.requestsOf('StopQueryExecution')).toHaveLength(1);
  });

  it('refuses bad parameters before any request', async () => {
    const err = await runAthenaQuery(client, auditQuery('upstream-errors-by-model'), {
      ...base,
      database: 'x',
      params: { since: 'bad' },
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/since/);
    expect(fake.requestsOf('StartQueryExecution')).toHaveLength(0);
  });

  it('maps cells by column type', () => {
    expect(cellValue('integer', '42')).toBe(42);
    expect(cellValue('double', 'NaN')).toBe('NaN');
    expect(cellValue('boolean', 'true')).toBe(true);
    expect(cellValue('varchar', '007')).toBe('007');
    expect(cellValue('decimal', '1.10')).toBe('1.10');
    expect(cellValue('bigint', undefined)).toBeNull();
  });
});

describe('embedgate audit query --athena', () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return {
      out,
      err,
      io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t), now: () => Date.parse('2026-03-02T00:00:00Z') },
    };
  };

  it('needs --workgroup to run, not to print the SQL with --sql', async () => {
    const e = io();
    expect(await audit(['query', 'calls-by-principal-and-model', '--athena', '--database', 'db', '--table', 't'], e.io)).toBe(2);
    expect(e.err.join('')).toMatch(/--athena needs --workgroup/);
    const s = io();
    expect(await audit(['query', 'calls-by-principal-and-model', '--athena', '--sql', '--database', 'db', '--table', 't'], s.io)).toBe(0);
    expect(s.out[0]).toMatch(/FROM "db"\."t"/);
  });
});
