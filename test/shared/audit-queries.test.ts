/**
 * The named audit queries: every one renders with its sample values, rendering quotes and escapes
 * parameter values (no value can change the SQL around it), bad parameters are refused with a
 * message that says what to pass, and every query reads only columns of the schema v1 Glue table.
 */
import fc from 'fast-check';
import { columnPaths } from '../../shared/glue-columns';
import { AUDIT_QUERIES, AuditParamKind, auditQuery, exampleParams, renderAthena, type AuditQuery } from '../../shared/audit-queries';

const WHERE = { database: 'embedgate_db', table: 'sessions' };
const principalQuery = auditQuery('sessions-of-principal');
const principalParams = { since: '2026-03-01', until: '2026-03-02', issuer: 'corp', principal: 'batch-indexer' };

/** The SQL split into string literals (decoded) and everything else, with literals as `?`. */
function lex(sql: string): { skeleton: string; literals: string[] } {
  const literals: string[] = [];
  let skeleton = '';
  for (let i = 0; i < sql.length; i++) {
    if (sql[i] !== "'") {
      skeleton += sql[i];
      continue;
    }
    let value = '';
    for (i++; ; i++) {
      if (i >= sql.length) throw new Error('unterminated string literal');
      if (sql[i] === "'" && sql[i + 1] === "'") {
        value += "'";
        i++;
      } else if (sql[i] === "'") {
        break;
      } else {
        value += sql[i];
      }
    }
    literals.push(value);
    skeleton += '?';
  }
  return { skeleton, literals };
}

describe('AUDIT_QUERIES', () => {
  it('has the nine audit questions and the four usage totals, with unique kebab-case names', () => {
    expect(AUDIT_QUERIES.map((q) => q.name)).toEqual([
      'calls-by-principal-and-model',
      'denied-by-principal-and-reason',
      'masking-findings-by-principal-and-type',
      'sessions-with-pseudonym',
      'sessions-with-text-matching',
      'sessions-of-principal',
      'session-by-id',
      'approval-chain',
      'upstream-errors-by-model',
      'usage-by-principal',
      'usage-by-model',
      'usage-by-rule',
      'usage-by-day',
    ]);
    for (const q of AUDIT_QUERIES) expect(q.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
  });

  it.each(AUDIT_QUERIES.map((q) => [q.name, q] as const))('%s renders with its sample values, every placeholder filled', (_n, q) => {
    const sql = renderAthena(q, { ...WHERE, params: exampleParams(q) });
    expect(sql).not.toMatch(/\{\{|\}\}/);
    expect(sql).toContain('FROM "embedgate_db"."sessions"');
    expect(q.params.map((p) => p.name)).not.toContain('database');
    expect(q.params.map((p) => p.name)).not.toContain('table');
    expect(new Set(q.params.map((p) => p.name)).size).toBe(q.params.length);
  });

  it.each(AUDIT_QUERIES.map((q) => [q.name, q] as const))('%s bounds the partitions dt and hr and the exact period', (_n, q) => {
    const sql = renderAthena(q, {
      ...WHERE,
      params: { ...exampleParams(q), since: '2026-01-31T22:15:00Z', until: '2026-02-02T03:00:00Z' },
    });
    expect(sql).toContain("dt >= '2026-01-31' AND dt <= '2026-02-02'");
    expect(sql).toContain("(dt > '2026-01-31' OR hr >= '22')");
    // `until` is exclusive: 03:00:00.000 itself is outside, so the last hour partition is 02.
    expect(sql).toContain("(dt < '2026-02-02' OR hr <= '02')");
    expect(sql).toContain("started_at >= '2026-01-31T22:15:00.000Z' AND started_at < '2026-02-02T03:00:00.000Z'");
  });
});

describe('renderAthena', () => {
  it('ends a date-only period with the last hour of the previous day', () => {
    const sql = renderAthena(principalQuery, { ...WHERE, params: { ...principalParams, since: '2026-01-01', until: '2026-02-01' } });
    expect(sql).toContain("dt >= '2026-01-01' AND dt <= '2026-01-31'");
    expect(sql).toContain("(dt < '2026-01-31' OR hr <= '23')");
  });

  it("normalises offsets and fractions to the records' toISOString form, and accepts Date objects", () => {
    const sql = renderAthena(principalQuery, {
      ...WHERE,
      params: { ...principalParams, since: '2026-01-01T01:30:00.123456+02:00', until: new Date(Date.UTC(2026, 0, 2, 5)) },
    });
    expect(sql).toContain("started_at >= '2025-12-31T23:30:00.123Z' AND started_at < '2026-01-02T05:00:00.000Z'");
    expect(sql).toContain("(dt > '2025-12-31' OR hr >= '23')");
  });

  it('doubles single quotes in string values', () => {
    const sql = renderAthena(principalQuery, { ...WHERE, params: { ...principalParams, principal: "o'brien" } });
    expect(sql).toContain("principal.subject = 'o''brien'");
  });

  it('quotes identifiers and doubles double quotes in them', () => {
    const sql = renderAthena(principalQuery, { database: 'a"b', table: 't', params: principalParams });
    expect(sql).toContain('FROM "a""b"."t"');
  });

  it('never expands placeholders found inside a value', () => {
    const sql = renderAthena(principalQuery, { ...WHERE, params: { ...principalParams, principal: '{{table}} {{since}}' } });
    expect(lex(sql).literals).toContain('{{table}} {{since}}');
  });

  it('property: no string value changes the SQL around it (injection), and it comes back intact as a literal', () => {
    const benign = lex(renderAthena(principalQuery, { ...WHERE, params: principalParams }));
    const printable = fc.string({
      unit: fc.constantFrom("'", '"', '\\', ';', '-', '/', '*', '{', '}', ' ', 'a', 'Z', '0', 'é', '😀'),
      minLength: 1,
      maxLength: 40,
    });
    fc.assert(
      fc.property(printable, printable, (issuer, subject) => {
        const rendered = lex(renderAthena(principalQuery, { ...WHERE, params: { ...principalParams, issuer, principal: subject } }));
        expect(rendered.skeleton).toBe(benign.skeleton);
        const at = benign.literals.indexOf(principalParams.principal);
        expect(rendered.literals[at]).toBe(subject);
        expect(rendered.literals.filter((l) => l === issuer).length).toBeGreaterThanOrEqual(2);
      }),
    );
  });

  it.each([
    ['a number', 42, /must be a string or a Date, got number 42/],
    ['a boolean', true, /must be a string or a Date, got boolean true/],
    ['null', null, /must be a string or a Date, got null/],
    ['an object', { toString: () => '2026-01-01' }, /must be a string or a Date, got an object/],
    ['an array', ['2026-01-01'], /must be a string or a Date, got an array/],
    ['an invalid Date', new Date('nope'), /invalid Date/],
  ])('rejects %s as a timestamp', (_what, value, message) => {
    expect(() => renderAthena(principalQuery, { ...WHERE, params: { ...principalParams, since: value } })).toThrow(message);
  });

  it('rejects a Date, a number or an array for a string parameter', () => {
    for (const principal of [new Date(), 7, ['x']]) {
      expect(() => renderAthena(principalQuery, { ...WHERE, params: { ...principalParams, principal } })).toThrow(
        /"principal" must be a string, got/,
      );
    }
  });

  it.each([
    '2026-02-30',
    '2026-13-01',
    '2026-1-1',
    'yesterday',
    '2026-01-01 00:00',
    '2026-01-01T25:00Z',
    '2026-01-01T10:00',
    '2026-01-01T10:00+24:00',
    '+02026-01-01',
  ])('rejects the timestamp %j and says which forms it takes', (since) => {
    expect(() => renderAthena(principalQuery, { ...WHERE, params: { ...principalParams, since } })).toThrow(
      /"since" must be a UTC date \(YYYY-MM-DD\) or an ISO-8601 instant/,
    );
  });

  it('rejects a period that does not start before it ends', () => {
    expect(() =>
      renderAthena(principalQuery, { ...WHERE, params: { ...principalParams, since: '2026-02-01', until: '2026-02-01' } }),
    ).toThrow(/"since" \(2026-02-01T00:00:00.000Z\) must be before "until"/);
  });

  it('rejects missing, unknown, empty, oversized and control-character values', () => {
    const { principal: _s, ...withoutPrincipal } = principalParams;
    expect(() => renderAthena(principalQuery, { ...WHERE, params: withoutPrincipal })).toThrow(
      /needs the parameter "principal".*e\.g\. "batch-indexer"/,
    );
    expect(() => renderAthena(principalQuery, { ...WHERE, params: { ...principalParams, subject: 'x' } })).toThrow(
      /has no parameter "subject"; its parameters are: since, until, principal, issuer, model/,
    );
    expect(() => renderAthena(principalQuery, { ...WHERE, params: { ...principalParams, principal: '' } })).toThrow(/1 to 1024 characters/);
    expect(() => renderAthena(principalQuery, { ...WHERE, params: { ...principalParams, principal: 'x'.repeat(1025) } })).toThrow(
      /1 to 1024 characters/,
    );
    for (const bad of ['a\nb', 'a\u0000b', 'a\tb', 'a\u007fb']) {
      expect(() => renderAthena(principalQuery, { ...WHERE, params: { ...principalParams, principal: bad } })).toThrow(
        /control characters/,
      );
    }
    expect(() => renderAthena(principalQuery, { ...WHERE, params: null as never })).toThrow(/params must be an object/);
  });

  it('rejects empty or control-character identifiers', () => {
    expect(() => renderAthena(principalQuery, { database: '', table: 't', params: principalParams })).toThrow(/database name must be/);
    expect(() => renderAthena(principalQuery, { database: 'd', table: 't\n', params: principalParams })).toThrow(/table name must be/);
  });

  it('rejects a query whose SQL names a placeholder it has no parameter for, or a malformed one', () => {
    const broken: AuditQuery = { ...principalQuery, sql: `${principalQuery.sql} AND model.provider = {{provider}}` };
    expect(() => renderAthena(broken, { ...WHERE, params: principalParams })).toThrow(
      /uses \{\{provider\}\}, which is not one of its parameters/,
    );
    const notTimestamp: AuditQuery = { ...principalQuery, sql: `${principalQuery.sql} AND dt = {{principal.dt}}` };
    expect(() => renderAthena(notTimestamp, { ...WHERE, params: principalParams })).toThrow(/"principal" is not a timestamp parameter/);
    const malformed: AuditQuery = { ...principalQuery, sql: `${principalQuery.sql} AND x = {{ since }}` };
    expect(() => renderAthena(malformed, { ...WHERE, params: principalParams })).toThrow(/malformed placeholder \{\{ since \}\}/);
  });

  it('auditQuery names the known queries when asked for an unknown one', () => {
    expect(() => auditQuery('nope')).toThrow(/Unknown audit query "nope". Known queries: calls-by-principal-and-model, /);
  });
});

describe('columns of the audit queries', () => {
  const glue = new Set(columnPaths());
  const KEYWORDS = new Set([
    'select',
    'as',
    'from',
    'where',
    'and',
    'or',
    'not',
    'is',
    'null',
    'group',
    'by',
    'order',
    'desc',
    'asc',
    'distinct',
    'count',
    'count_if',
    'substr',
    'min',
    'max',
    'avg',
    'sum',
    'starts_with',
    'coalesce',
    'case',
    'when',
    'then',
    'end',
    'cross',
    'join',
    'unnest',
    'contains',
    'list_contains',
  ]);

  /** Identifiers outside literals, quoted identifiers and placeholders; aliases (after AS) apart. */
  function identifiers(sql: string): { refs: string[]; aliases: Set<string> } {
    const bare = lex(sql.replace(/\{\{[^}]*\}\}/g, '?'))
      .skeleton.replace(/"[^"]*"/g, '?')
      .replace(/--[^\n]*/g, '');
    const tokens = bare.match(/[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/g) ?? [];
    const aliases = new Set<string>();
    const refs: string[] = [];
    // `UNNEST(x) AS table_alias(row_alias)`: the row alias names each element, not a column.
    const rowAliases = new Set([...bare.matchAll(/\bAS\s+[A-Za-z_]\w*\s*\(\s*([A-Za-z_]\w*)\s*\)/gi)].map((m) => m[1]!));
    tokens.forEach((t, i) => {
      if (i > 0 && tokens[i - 1]!.toLowerCase() === 'as') aliases.add(t);
      else if (rowAliases.has(t.split('.')[0]!)) aliases.add(t);
      else if (!KEYWORDS.has(t.toLowerCase())) refs.push(t);
    });
    return { refs, aliases };
  }

  it.each(AUDIT_QUERIES.map((q) => [q.name, q] as const))('%s lists only columns of the schema v1 Glue table', (_n, q) => {
    expect(Object.keys(q.columns).filter((c) => !glue.has(c))).toEqual([]);
  });

  it.each(AUDIT_QUERIES.map((q) => [q.name, q] as const))('%s reads exactly the columns it lists', (_n, q) => {
    const { refs, aliases } = identifiers(q.sql);
    const read = new Set(refs.filter((r) => r.includes('.') || !aliases.has(r)));
    const listed = Object.keys(q.columns);
    // Every identifier the SQL reads is a listed column ...
    expect([...read].filter((r) => !listed.includes(r))).toEqual([]);
    // ... and every listed column is read.
    expect(listed.filter((c) => !read.has(c))).toEqual([]);
  });

  it('the checker itself catches a column that schema v1 does not have', () => {
    const q: AuditQuery = {
      ...principalQuery,
      sql: principalQuery.sql.replace('timings.total_ms AS total_ms', 'masking.raw_values AS leaked'),
    };
    const { refs } = identifiers(q.sql);
    expect(refs).toContain('masking.raw_values');
    expect(glue.has('masking.raw_values')).toBe(false);
  });

  it('every timestamp parameter is a TIMESTAMP and every query has since and until', () => {
    for (const q of AUDIT_QUERIES) {
      expect(q.params.filter((p) => p.kind === AuditParamKind.TIMESTAMP).map((p) => p.name)).toEqual(['since', 'until']);
    }
  });
});
