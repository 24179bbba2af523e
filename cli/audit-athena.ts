/**
 * The named audit queries on Athena (`embedgate audit query <name> --athena`).
 *
 * StartQueryExecution with the query's `renderAthena` SQL in the archive's workgroup and Glue
 * database (no ResultConfiguration: the workgroup enforces its encrypted results location), then
 * GetQueryExecution with a bounded backoff until SUCCEEDED, FAILED or CANCELLED (on timeout or
 * abort, StopQueryExecution), then every page of GetQueryResults into the same `QueryResult` the
 * DuckDB runner returns. Athena answers every value as a string (`VarCharValue`, absent for NULL);
 * numeric and boolean columns (by `ResultSetMetadata.ColumnInfo` type) become numbers and booleans.
 */
import {
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
  type AthenaClient,
  type ColumnInfo,
  type Row,
} from '@aws-sdk/client-athena';
import { renderAthena, type AuditQuery } from '../shared/audit-queries';
import type { QueryResult } from './audit-duckdb';

export interface AthenaRunOptions {
  /** Glue database of the archive table (the query execution context). */
  readonly database: string;
  readonly table: string;
  /** The workgroup: it enforces the results location, encryption and scan limit. */
  readonly workGroup: string;
  readonly params: Readonly<Record<string, unknown>>;
  /** First wait between GetQueryExecution calls; doubles up to `maxPollMs`. Default 500 ms. */
  readonly pollMs?: number;
  /** Longest wait between GetQueryExecution calls. Default 5 s. */
  readonly maxPollMs?: number;
  /** How long the query may take before it is stopped. Default 10 minutes. */
  readonly timeoutMs?: number;
  /** Aborting stops the query (StopQueryExecution) and rejects. */
  readonly signal?: AbortSignal;
}

/** A query Athena refused, failed, cancelled, or that was stopped (timeout, abort). */
export class AthenaQueryError extends Error {
  constructor(
    message: string,
    readonly queryExecutionId?: string,
    readonly state?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'AthenaQueryError';
  }
}

const NUMERIC = new Set(['bigint', 'integer', 'int', 'smallint', 'tinyint', 'double', 'real', 'float']);

/** Run one named query in an Athena workgroup; resolves to its rows. */
export async function runAthenaQuery(client: AthenaClient, query: AuditQuery, options: AthenaRunOptions): Promise<QueryResult> {
  const { database, table, workGroup, params, signal } = options;
  const pollMs = Math.max(1, options.pollMs ?? 500);
  const maxPollMs = Math.max(pollMs, options.maxPollMs ?? 5_000);
  const timeoutMs = options.timeoutMs ?? 600_000;
  const sql = renderAthena(query, { database, table, params });
  const where = `in workgroup ${workGroup}`;
  const call = async <T>(what: string, id: string | undefined, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      const err = e as Error;
      throw new AthenaQueryError(
        `Athena ${what} ${id ? `of query ${id} ` : ''}${where} failed: ${err.name}: ${err.message}`,
        id,
        undefined,
        { cause: e },
      );
    }
  };
  const send = { abortSignal: signal };

  const started = await call('StartQueryExecution', undefined, () =>
    client.send(
      new StartQueryExecutionCommand({
        QueryString: sql,
        QueryExecutionContext: { Database: database },
        WorkGroup: workGroup,
      }),
      send,
    ),
  );
  const id = started.QueryExecutionId;
  if (!id) throw new AthenaQueryError(`Athena StartQueryExecution ${where} returned no query execution id`);

  const stop = async (why: string): Promise<never> => {
    try {
      await client.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
    } catch {
      // Best effort: the error below says what happened; the query may have ended on its own.
    }
    throw new AthenaQueryError(`Athena query ${id} ${where} ${why}; sent StopQueryExecution`, id, 'CANCELLED');
  };

  const deadline = Date.now() + timeoutMs;
  let wait = pollMs;
  for (;;) {
    if (signal?.aborted) return stop('was aborted');
    let execution;
    try {
      execution = await call('GetQueryExecution', id, () => client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }), send));
    } catch (e) {
      if (signal?.aborted) return stop('was aborted');
      throw e;
    }
    const status = execution.QueryExecution?.Status;
    const state = status?.State;
    if (state === 'SUCCEEDED') break;
    if (state === 'FAILED' || state === 'CANCELLED') {
      const category = status?.AthenaError?.ErrorType !== undefined ? ` (error type ${status.AthenaError.ErrorType})` : '';
      throw new AthenaQueryError(
        `Athena query ${id} ${where} ${state}: ${status?.StateChangeReason ?? 'no reason given'}${category}`,
        id,
        state,
      );
    }
    const left = deadline - Date.now();
    if (left <= 0) return stop(`did not finish within ${Math.round(timeoutMs / 1000)} s (last state ${state ?? 'unknown'})`);
    await sleep(Math.min(wait, left), signal);
    wait = Math.min(wait * 2, maxPollMs);
  }

  let columns: readonly ColumnInfo[] | undefined;
  const rows: Record<string, string | number | boolean | null>[] = [];
  let nextToken: string | undefined;
  let first = true;
  do {
    const page = await call('GetQueryResults', id, () =>
      client.send(
        new GetQueryResultsCommand({
          QueryExecutionId: id,
          MaxResults: 1000,
          ...(nextToken ? { NextToken: nextToken } : {}),
        }),
        send,
      ),
    );
    columns ??= page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? [];
    const pageRows = page.ResultSet?.Rows ?? [];
    // The first row of the first page repeats the column names.
    for (const row of first ? pageRows.slice(1) : pageRows) rows.push(rowObject(columns, row));
    first = false;
    nextToken = page.NextToken;
  } while (nextToken);

  return { columns: (columns ?? []).map((c) => c.Name ?? ''), rows };
}

function rowObject(columns: readonly ColumnInfo[], row: Row): Record<string, string | number | boolean | null> {
  const data = row.Data ?? [];
  return Object.fromEntries(columns.map((c, i) => [c.Name ?? '', cellValue(c.Type, data[i]?.VarCharValue)]));
}

/** A cell as JSON: NULL (no VarCharValue) is null; numbers and booleans by column type (an integer beyond 2^53, NaN and Infinity stay strings). */
export function cellValue(type: string | undefined, text: string | undefined): string | number | boolean | null {
  if (text === undefined) return null;
  const t = (type ?? '').toLowerCase();
  if (NUMERIC.has(t)) {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n)) return text; // NaN, Infinity: not JSON numbers
    if (t !== 'double' && t !== 'real' && t !== 'float' && !Number.isSafeInteger(n)) return text;
    return n;
  }
  if (t === 'boolean') return text === 'true' ? true : text === 'false' ? false : text;
  return text;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
