/** Output formats of `embedgate audit query`: a text table, JSON, CSV (RFC 4180). */
import type { QueryResult } from './audit-duckdb';
import { alignedLines } from './text-table';

export type OutputFormat = 'table' | 'json' | 'csv';

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'json', 'csv'];

type Cell = string | number | boolean | null;

const text = (v: Cell): string => (v === null ? '' : String(v));

/** Columns padded to their widest cell, a rule under the header; NULL shows as `-`. */
export function formatTable(r: QueryResult): string {
  const cells = r.rows.map((row) => r.columns.map((c) => (row[c] === null ? '-' : text(row[c]!))));
  const footer = `(${r.rows.length} row${r.rows.length === 1 ? '' : 's'})`;
  return [...alignedLines(r.columns, cells, { underline: true }), footer].join('\n');
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
