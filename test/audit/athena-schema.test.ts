/**
 * Each named query's Athena SQL against the Glue table of the synthesized template: every column
 * the query reads exists there with the type the query expects; the saved named query is exactly
 * its Athena rendering; the DuckDB runner's schema is the same table.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { duckDbType, sessionsViewSql } from '../../cli/audit-duckdb';
import { PARTITION_KEYS, SESSION_COLUMNS } from '../../shared/glue-columns';
import { SessionArchive } from '../../lib/session-archive';
import { AUDIT_QUERIES, DIALECTS, renderAthena, renderDuckDb, SqlDialect } from '../../shared/audit-queries';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false }), 'SchemaStack');
const archive = new SessionArchive(stack, 'Archive');
const template = Template.fromStack(stack);
const tableInput = (Object.values(template.findResources('AWS::Glue::Table'))[0] as Json).Properties.TableInput;

/** Split a Hive type at top-level commas / the first colon. */
function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '<') depth++;
    if (ch === '>') depth--;
    if (ch === sep && depth === 0) {
      out.push(cur);
      cur = '';
      if (sep === ':') return [out[0]!, s.slice(out[0]!.length + 1)];
    } else {
      cur += ch;
    }
  }
  return [...out, cur];
}

/** path -> Hive type, for every column and struct field of the template's table. */
function templateColumns(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (name: string, type: string) => {
    out.set(name, type);
    const m = /^struct<(.*)>$/.exec(type);
    if (m)
      for (const field of splitTop(m[1]!, ',')) {
        const [n, t] = splitTop(field, ':');
        walk(`${name}.${n}`, t!);
      }
  };
  for (const c of [...tableInput.StorageDescriptor.Columns, ...tableInput.PartitionKeys] as { Name: string; Type: string }[])
    walk(c.Name, c.Type);
  return out;
}

const glue = templateColumns();
const QUERY_CASES = AUDIT_QUERIES.map((q) => [q.name, q] as const);

describe('the named queries against the synthesized Glue table', () => {
  it('the table has the schema v1 columns, record_sha256 among them, partitioned by dt and hr', () => {
    expect(glue.get('record_sha256')).toBe('string');
    expect(glue.get('principal.groups')).toBe('array<string>');
    expect(glue.get('timings.total_ms')).toBe('double');
    expect(tableInput.PartitionKeys.map((k: Json) => k.Name)).toEqual(['dt', 'hr']);
  });

  it.each(QUERY_CASES)('%s reads only columns the table has, each with the type the query expects', (_n, q) => {
    const wrong = Object.entries(q.columns)
      .filter(([path, type]) => glue.get(path) !== type)
      .map(([path, type]) => `${path}: query expects ${type}, table has ${glue.get(path) ?? 'nothing'}`);
    expect(wrong).toEqual([]);
  });

  it('the type check is not vacuous: a column with the wrong type or a missing column is caught', () => {
    expect(glue.get('decision.status')).toBe('bigint');
    expect(glue.get('decision.status')).not.toBe('string');
    expect(glue.get('masking.secrets')).toBeUndefined();
  });

  it.each(QUERY_CASES)('%s is saved as a named query whose SQL is its Athena rendering', (_n, q) => {
    const saved = Object.values(template.findResources('AWS::Athena::NamedQuery'))
      .map((x) => (x as Json).Properties)
      .find((x) => x.Name === q.name)!;
    const sample = Object.fromEntries(q.params.filter((p) => !p.optional).map((p) => [p.name, p.example]));
    const sql = renderAthena(q, { database: archive.databaseName, table: archive.tableName, params: sample });
    expect(saved.QueryString.endsWith(`\n${sql}`)).toBe(true);
    for (const p of q.params.filter((x) => x.optional)) expect(saved.QueryString).toContain(`${p.name} (e.g. ${p.example})`);
  });
});

describe('dialects', () => {
  it('every {{fn:...}} a query uses is spelled by every dialect, differently where the engines differ', () => {
    const used = new Set(AUDIT_QUERIES.flatMap((q) => [...q.sql.matchAll(/\{\{fn:([a-z_]+)\}\}/g)].map((m) => m[1]!)));
    expect([...used].sort()).toEqual(['array_contains', 'array_join', 'regexp_like']);
    for (const d of Object.values(SqlDialect)) for (const fn of used) expect(DIALECTS[d].functions[fn]).toBeDefined();
    const q = AUDIT_QUERIES.find((x) => x.name === 'sessions-of-principal')!;
    const params = { since: '2026-03-01', until: '2026-03-02', principal: 'svc' };
    const athena = renderAthena(q, { database: 'db', table: 't', params });
    const duck = renderDuckDb(q, { database: 'db', table: 't', params });
    expect(athena).toContain("array_join(principal.groups, ' ') AS groups");
    expect(duck).toContain("array_to_string(principal.groups, ' ') AS groups");
    // Otherwise the same statement.
    expect(duck.replace('array_to_string', 'array_join')).toBe(athena);
    // Optional filters left out render as a typed NULL in both.
    expect(athena).toContain('(CAST(NULL AS VARCHAR) IS NULL OR model.name = CAST(NULL AS VARCHAR))');
  });

  it("the DuckDB runner reads the archive with the Glue table's columns and types", () => {
    const sql = sessionsViewSql('/a', true);
    for (const c of SESSION_COLUMNS) expect(sql).toContain(`'${c.name}': '${duckDbType(c.type)}'`);
    for (const k of PARTITION_KEYS) expect(sql).toContain(`'${k.name}': 'VARCHAR'`);
    expect(sql).toContain("read_json('/a/sessions/*/*/*.json', format = 'newline_delimited', hive_partitioning = true");
    expect(
      duckDbType({
        struct: [
          { name: 'groups', type: { array: 'string' } },
          { name: 'n', type: 'bigint' },
        ],
      }),
    ).toBe('STRUCT("groups" VARCHAR[], "n" BIGINT)');
    const columns = (tableInput.StorageDescriptor.Columns as { Name: string }[]).map((c) => c.Name);
    expect(SESSION_COLUMNS.map((c) => c.name)).toEqual(columns);
  });
});
