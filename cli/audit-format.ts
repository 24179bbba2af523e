/** Output formats of `embedgate audit query`: a text table, JSON, CSV (RFC 4180). */
import type { QueryResult } from './audit-duckdb';

export type OutputFormat = 'table' | 'json' | 'csv';

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'json', 'csv'];

type Cell = string | number | boolean | null;

const text = (v: Cell): string => (v === null ? '' : String(v));

/** Columns padded to their widest cell, a rule under the header; NULL shows as `-`. */
export function formatTable(r: QueryResult): string {
  const cells = r.rows.map((row) => r.columns.map((c) => (row[c] === null ? '-' : text(row[c]!))));
  const widths = r.columns.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)));
  const line = (row: readonly string[]) =>
    row
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const footer = `(${r.rows.length} row${r.rows.length === 1 ? '' : 's'})`;
  return [line(r.columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line), footer].join('\n');
}

/** One JSON array of row objects, keys in column order. */
export function formatJson(r: QueryResult): string {
  return JSON.stringify(
    r.rows.map((row) => Object.fromEntries(r.columns.map((c) => [c, row[c] ?? null]))),
    null,
    2,
  );
}

/** A header line and one line per row; fields with a comma, quote or line break are quoted, quotes doubled; NULL is empty. */
export function formatCsv(r: QueryResult): string {
  const field = (v: Cell) => {
    const s = text(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [r.columns.map((c) => field(c)).join(','), ...r.rows.map((row) => r.columns.map((c) => field(row[c] ?? null)).join(','))].join(
    '\r\n',
  );
}

export function formatResult(r: QueryResult, format: OutputFormat): string {
  return format === 'json' ? formatJson(r) : format === 'csv' ? formatCsv(r) : formatTable(r);
}
