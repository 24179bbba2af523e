/**
 * The named audit queries on DuckDB over a generated archive (the real Gateway writing through the
 * real FileArchive) return the known answers; an empty archive and records without newer fields
 * work; the output formats.
 */
import { rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { audit } from '../../cli/audit';
import { runLocalQuery } from '../../cli/audit-duckdb';
import { FileArchive } from '../../lambda/adapters/local/file-archive';
import { formatCsv, formatJson, formatTable } from '../../cli/audit-format';
import { auditQuery } from '../../shared/audit-queries';
import type { SessionRecord } from '../../lambda/core/record';
import { ISSUER, tempDir, writeSessions } from './archive-fixture';

let dir: string;
let records: SessionRecord[];
beforeAll(async () => {
  dir = await tempDir('audit-duckdb');
  records = await writeSessions(dir);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const DAY = { since: '2026-03-01', until: '2026-03-02' };
const run = (name: string, params: Record<string, string>) => runLocalQuery(dir, auditQuery(name), params);

describe('calls-by-principal-and-model', () => {
  it('counts requests per day, principal and model, by outcome', async () => {
    const r = await run('calls-by-principal-and-model', DAY);
    expect(r.columns).toEqual([
      'day',
      'issuer',
      'subject',
      'client_id',
      'model',
      'requests',
      'allowed',
      'held',
      'denied',
      'invalid',
      'failed',
    ]);
    expect(r.rows).toEqual([
      {
        day: '2026-03-01',
        issuer: ISSUER,
        subject: 'svc-bot',
        client_id: 'bot',
        model: 'large',
        requests: 1,
        allowed: 0,
        held: 0,
        denied: 1,
        invalid: 0,
        failed: 0,
      },
      {
        day: '2026-03-01',
        issuer: ISSUER,
        subject: 'svc-bot',
        client_id: 'bot',
        model: 'small',
        requests: 2,
        allowed: 1,
        held: 0,
        denied: 0,
        invalid: 1,
        failed: 0,
      },
      {
        day: '2026-03-01',
        issuer: ISSUER,
        subject: 'svc-indexer',
        client_id: 'indexer',
        model: 'large',
        requests: 1,
        allowed: 1,
        held: 0,
        denied: 0,
        invalid: 0,
        failed: 0,
      },
      {
        day: '2026-03-01',
        issuer: ISSUER,
        subject: 'svc-indexer',
        client_id: 'indexer',
        model: 'small',
        requests: 2,
        allowed: 1,
        held: 0,
        denied: 0,
        invalid: 0,
        failed: 1,
      },
    ]);
  });

  it('filters by principal, by issuer id and by model', async () => {
    const bot = await run('calls-by-principal-and-model', { ...DAY, principal: 'svc-bot' });
    expect(bot.rows.map((x) => [x.subject, x.model])).toEqual([
      ['svc-bot', 'large'],
      ['svc-bot', 'small'],
    ]);
    const small = await run('calls-by-principal-and-model', { ...DAY, model: 'small', issuer: 'corp' });
    expect(small.rows.map((x) => [x.subject, x.requests])).toEqual([
      ['svc-bot', 2],
      ['svc-indexer', 2],
    ]);
    expect((await run('calls-by-principal-and-model', { ...DAY, issuer: 'https://other.example.com' })).rows).toEqual([]);
  });

  it('keeps to the exact period: since inclusive, until exclusive, within one hour partition', async () => {
    const r = await run('calls-by-principal-and-model', { since: '2026-03-01T05:20:00Z', until: '2026-03-01T06:05:00Z' });
    // 05:20 (indexer large) and 05:30 (bot large); 06:05 is the exclusive end.
    expect(r.rows.map((x) => [x.subject, x.model, x.requests])).toEqual([
      ['svc-bot', 'large', 1],
      ['svc-indexer', 'large', 1],
    ]);
  });
});

describe('denied-by-principal-and-reason', () => {
  it('lists every refusal by principal and reason, unauthenticated ones with an empty principal', async () => {
    const r = await run('denied-by-principal-and-reason', DAY);
    expect(r.rows).toEqual([
      {
        issuer: ISSUER,
        subject: 'svc-bot',
        client_id: 'bot',
        reason: 'no_matching_rule',
        rule_id: null,
        status: 403,
        attempts: 1,
        source_ips: 1,
        first_attempt: '2026-03-01T05:30:00.000Z',
        last_attempt: '2026-03-01T05:30:00.000Z',
      },
      {
        issuer: null,
        subject: null,
        client_id: null,
        reason: 'bad_signature',
        rule_id: null,
        status: 401,
        attempts: 1,
        source_ips: 1,
        first_attempt: '2026-03-01T06:15:00.000Z',
        last_attempt: '2026-03-01T06:15:00.000Z',
      },
      {
        issuer: null,
        subject: null,
        client_id: null,
        reason: 'missing_token',
        rule_id: null,
        status: 401,
        attempts: 1,
        source_ips: 1,
        first_attempt: '2026-03-01T06:10:00.000Z',
        last_attempt: '2026-03-01T06:10:00.000Z',
      },
    ]);
  });
});

describe('sessions-of-principal', () => {
  it('lists every session of one principal, oldest first, with its seal', async () => {
    const r = await run('sessions-of-principal', { ...DAY, principal: 'svc-indexer' });
    const mine = records.filter((x) => x.principal?.subject === 'svc-indexer');
    expect(r.rows.map((x) => x.session_id)).toEqual(mine.map((x) => x.session_id));
    expect(r.rows.map((x) => [x.model, x.outcome, x.reason, x.status])).toEqual([
      ['small', 'allow', 'rule_allow', 200],
      ['large', 'allow', 'rule_allow', 200],
      ['small', 'error', 'upstream_5xx', 502],
    ]);
    expect(r.rows[0]).toMatchObject({
      groups: 'search-team ml',
      client_id: 'indexer',
      token_id: 'jti-1',
      input_items: 2,
      input_characters: 3,
      vectors: 2,
      vector_dimensions: 8,
      fingerprint: mine[0]!.output!.fingerprint,
      record_sha256: mine[0]!.record_sha256,
      upstream_status: 200,
      total_tokens: 3,
    });
    expect(r.rows[2]).toMatchObject({ upstream_status: 503, vectors: null, fingerprint: null });
  });

  it('narrows down by issuer and model', async () => {
    expect((await run('sessions-of-principal', { ...DAY, principal: 'svc-indexer', model: 'large' })).rows).toHaveLength(1);
    expect((await run('sessions-of-principal', { ...DAY, principal: 'svc-indexer', issuer: ISSUER })).rows).toHaveLength(3);
    expect((await run('sessions-of-principal', { ...DAY, principal: 'svc-indexer', issuer: 'other' })).rows).toHaveLength(0);
  });
});

describe('session-by-id', () => {
  it('finds one record by its session id', async () => {
    const target = records[3]!;
    const r = await run('session-by-id', { ...DAY, session_id: target.session_id });
    expect(r.rows).toHaveLength(1);
    expect(r.rows[0]).toMatchObject({
      session_id: target.session_id,
      subject: 'svc-bot',
      model: 'small',
      outcome: 'allow',
      record_sha256: target.record_sha256,
    });
  });
});

describe('upstream-errors-by-model', () => {
  it('counts upstream failures by model and reason', async () => {
    const r = await run('upstream-errors-by-model', DAY);
    expect(r.rows).toEqual([
      {
        model: 'small',
        provider: 'local',
        upstream_model: 'small',
        reason: 'upstream_5xx',
        status: 502,
        upstream_status: 503,
        failures: 1,
        max_attempts: 3,
        avg_latency_ms: 40.5,
        max_latency_ms: 40.5,
        first_failure: '2026-03-01T07:45:00.000Z',
        last_failure: '2026-03-01T07:45:00.000Z',
      },
    ]);
  });
});

describe('archives the schema does not fully describe', () => {
  it('answers with no rows over an empty archive (no sessions/ at all)', async () => {
    const empty = await tempDir('audit-empty');
    try {
      const r = await runLocalQuery(empty, auditQuery('calls-by-principal-and-model'), DAY);
      expect(r.columns[0]).toBe('day');
      expect(r.rows).toEqual([]);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('reads records that lack fields (older records) as NULL, and ignores fields it does not know', async () => {
    const old = await tempDir('audit-old');
    try {
      const partition = join(old, 'sessions', 'dt=2026-03-01', 'hr=09');
      await mkdir(partition, { recursive: true });
      const minimal = {
        session_id: 'old-1',
        started_at: '2026-03-01T09:00:00.000Z',
        principal: { issuer: ISSUER, subject: 'svc-old' },
        model: { name: 'small' },
        decision: { outcome: 'allow' },
        future_field: { x: 1 },
      };
      await writeFile(join(partition, 'old-1.json'), `${JSON.stringify(minimal)}\n`);
      const r = await runLocalQuery(old, auditQuery('sessions-of-principal'), { ...DAY, principal: 'svc-old' });
      expect(r.rows).toHaveLength(1);
      expect(r.rows[0]).toMatchObject({
        session_id: 'old-1',
        model: 'small',
        outcome: 'allow',
        client_id: null,
        groups: null,
        record_sha256: null,
      });
    } finally {
      await rm(old, { recursive: true, force: true });
    }
  });
});

describe('output formats', () => {
  const result = {
    columns: ['name', 'n', 'note'],
    rows: [
      { name: 'a,b', n: 2, note: null },
      { name: 'say "hi"', n: 10, note: 'x' },
    ],
  };

  it('table: padded columns, NULL as -, a row count', () => {
    expect(formatTable(result)).toBe(
      ['name      n   note', '--------  --  ----', 'a,b       2   -', 'say "hi"  10  x', '(2 rows)'].join('\n'),
    );
  });

  it('json: an array of row objects with nulls', () => {
    expect(JSON.parse(formatJson(result))).toEqual(result.rows);
  });

  it('csv: RFC 4180 quoting, NULL as an empty field', () => {
    expect(formatCsv(result)).toBe('name,n,note\r\n"a,b",2,\r\n"say ""hi""",10,x');
  });
});

describe('embedgate audit query (CLI)', () => {
  function io() {
    const out: string[] = [];
    const err: string[] = [];
    return {
      out,
      err,
      io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), now: () => Date.parse('2026-03-02T12:00:00.000Z') },
    };
  }

  it('runs a query over the archive directory, as a table, JSON or CSV, over the last 7 days by default', async () => {
    const t = io();
    expect(await audit(['query', 'denied-by-principal-and-reason', '--archive-dir', dir], t.io)).toBe(0);
    expect(t.out[0]!.split('\n')[0]).toMatch(/^issuer\s+subject\s+client_id\s+reason\s+rule_id\s+status\s+attempts/);
    expect(t.out[0]).toMatch(/\(3 rows\)$/);
    const j = io();
    expect(
      await audit(
        [
          'query',
          'sessions-of-principal',
          '--principal',
          'svc-bot',
          '--model',
          'small',
          '--since',
          '2026-03-01',
          '--until',
          '2026-03-02',
          '--format',
          'json',
          '--archive-dir',
          dir,
        ],
        j.io,
      ),
    ).toBe(0);
    expect((JSON.parse(j.out[0]!) as { reason: string }[]).map((x) => x.reason)).toEqual(['rule_allow', 'too_many_inputs']);
    const c = io();
    expect(
      await audit(['query', 'session-by-id', '--session-id', records[0]!.session_id, '--format', 'csv', '--archive-dir', dir], c.io),
    ).toBe(0);
    expect(c.out[0]!.split('\r\n')).toHaveLength(2);
  });

  it('prints the DuckDB SQL with --sql, and the Athena SQL with --athena', async () => {
    const s = io();
    expect(await audit(['query', 'sessions-of-principal', '--principal', 'svc-bot', '--sql'], s.io)).toBe(0);
    expect(s.out[0]).toMatch(
      /array_to_string\(principal\.groups, ' '\)[\s\S]*FROM "embedgate"\."sessions"[\s\S]*principal\.subject = 'svc-bot'/,
    );
    const a = io();
    expect(
      await audit(
        [
          'query',
          'sessions-of-principal',
          '--principal',
          'svc-bot',
          '--athena',
          '--database',
          'audit_db',
          '--table',
          'sessions',
          '--workgroup',
          'wg',
          '--sql',
        ],
        a.io,
      ),
    ).toBe(0);
    expect(a.out[0]).toMatch(/array_join\(principal\.groups, ' '\)[\s\S]*FROM "audit_db"\."sessions"/);
    expect(a.err.join('')).toMatch(/aws athena start-query-execution --work-group 'wg'/);
  });

  it('refuses an unknown query, a missing parameter and a bad format with exit code 2', async () => {
    const e = io();
    expect(await audit(['query', 'nope'], e.io)).toBe(2);
    expect(e.err.join('')).toMatch(/Unknown audit query "nope"/);
    expect(await audit(['query', 'sessions-of-principal', '--archive-dir', dir], e.io)).toBe(2);
    expect(e.err.join('')).toMatch(/needs the parameter "principal"/);
    expect(await audit(['query', 'calls-by-principal-and-model', '--format', 'xml'], e.io)).toBe(2);
    expect(await audit(['query', 'calls-by-principal-and-model', '--athena'], e.io)).toBe(2);
    expect(e.err.join('')).toMatch(/--athena needs --database and --table/);
  });

  it('lists the queries and their parameters', async () => {
    const l = io();
    expect(await audit(['queries'], l.io)).toBe(0);
    expect(l.out[0]).toContain(
      'sessions-of-principal\n  Every session of one principal\n  --since <timestamp> --until <timestamp> --principal <string> [--issuer <string>] [--model <string>]',
    );
  });
});

describe('masking-findings-by-principal-and-type', () => {
  it('sums the values found per principal and entity type, with sessions and blocked sessions', async () => {
    const mdir = await tempDir('audit-masking');
    try {
      const base = (await writeSessions(mdir)).filter((r) => r.decision.status === 200);
      const archive = new FileArchive(mdir);
      const masked = (r: SessionRecord, n: number, counts: { type: string; count: number }[], blocked = false): SessionRecord => ({
        ...r,
        session_id: `${r.session_id.slice(0, 30)}${String(n).padStart(6, '0')}`,
        decision: blocked ? { ...r.decision, status: 422, outcome: 'invalid', reason: 'masking_blocked' } : r.decision,
        masking: { scanned: true, findings: [], counts, blocked: blocked ? ['US_SSN'] : [], external: null },
      });
      const a = base[0]!;
      await archive.put(
        masked(a, 1, [
          { type: 'EMAIL', count: 2 },
          { type: 'CREDIT_CARD', count: 1 },
        ]),
      );
      await archive.put(masked(a, 2, [{ type: 'EMAIL', count: 1 }]));
      await archive.put(masked(a, 3, [{ type: 'US_SSN', count: 1 }], true));
      const r = await runLocalQuery(mdir, auditQuery('masking-findings-by-principal-and-type'), DAY);
      expect(r.columns).toEqual(['issuer', 'subject', 'entity_type', 'values_found', 'sessions', 'sessions_blocked']);
      expect(r.rows).toEqual([
        {
          issuer: a.principal!.issuer,
          subject: a.principal!.subject,
          entity_type: 'EMAIL',
          values_found: 3,
          sessions: 2,
          sessions_blocked: 0,
        },
        {
          issuer: a.principal!.issuer,
          subject: a.principal!.subject,
          entity_type: 'CREDIT_CARD',
          values_found: 1,
          sessions: 1,
          sessions_blocked: 0,
        },
        {
          issuer: a.principal!.issuer,
          subject: a.principal!.subject,
          entity_type: 'US_SSN',
          values_found: 1,
          sessions: 1,
          sessions_blocked: 1,
        },
      ]);
    } finally {
      await rm(mdir, { recursive: true, force: true });
    }
  });
});

describe('sessions-with-pseudonym', () => {
  it('finds every session whose input was pseudonymized to the token, and only those', async () => {
    const pdir = await tempDir('audit-pseudonym');
    try {
      const base = (await writeSessions(pdir)).filter((r) => r.decision.status === 200);
      const archive = new FileArchive(pdir);
      const finding = (item: number, pseudonyms: string[]) => ({
        item,
        type: 'EMAIL',
        detector: 'email',
        strategy: 'pseudonymize',
        count: pseudonyms.length,
        offsets: pseudonyms.map((_, i) => [i, i + 5]),
        pseudonyms,
      });
      const withFindings = (r: SessionRecord, n: number, findings: ReturnType<typeof finding>[]): SessionRecord => ({
        ...r,
        session_id: `${r.session_id.slice(0, 30)}${String(n).padStart(6, '0')}`,
        masking: { scanned: true, findings, counts: [{ type: 'EMAIL', count: findings.length }], blocked: [], external: null },
      });
      const a = base[0]!;
      const hit1 = withFindings(a, 1, [finding(0, ['<EMAIL_aaaaaaaa>'])]);
      const hit2 = withFindings(a, 2, [finding(0, ['<EMAIL_bbbbbbbb>']), finding(3, ['<EMAIL_aaaaaaaa>', '<EMAIL_cccccccc>'])]);
      const miss = withFindings(a, 3, [finding(0, ['<EMAIL_bbbbbbbb>'])]);
      for (const r of [hit1, hit2, miss]) await archive.put(r);
      const r = await runLocalQuery(pdir, auditQuery('sessions-with-pseudonym'), { ...DAY, pseudonym: '<EMAIL_aaaaaaaa>' });
      expect(r.rows.map((x) => [x.session_id, x.item, x.entity_type])).toEqual([
        [hit1.session_id, 0, 'EMAIL'],
        [hit2.session_id, 3, 'EMAIL'],
      ]);
    } finally {
      await rm(pdir, { recursive: true, force: true });
    }
  });
});
