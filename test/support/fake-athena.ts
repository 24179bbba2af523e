/**
 * A local stand-in for Amazon Athena's query API, speaking the service's JSON 1.1 protocol on
 * `node:http`, for the real `AthenaClient` pointed at its `endpoint`.
 *
 * `POST /` with `x-amz-target: AmazonAthena.<op>`:
 * - `StartQueryExecution` takes the next scripted outcome (`enqueue`; by default an empty
 *   success) and answers `{QueryExecutionId}`;
 * - `GetQueryExecution` answers the outcome's next state (`states`, the last one repeating), with
 *   `StateChangeReason` once FAILED; a stopped query is CANCELLED;
 * - `GetQueryResults` pages the outcome's rows (`pageSize` a page), the first page starting with
 *   the header row, `ResultSetMetadata.ColumnInfo` from `columns`, NULL cells without
 *   `VarCharValue`; before SUCCEEDED it answers 400 `InvalidRequestException`;
 * - `StopQueryExecution` marks the query CANCELLED.
 * Every request is recorded.
 */
import { createAwsJsonServer, closeServer, sendAwsJson } from './aws-json';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { listenLocal } from './listen';

export interface FakeAthenaRequest {
  /** The `x-amz-target` header, e.g. `AmazonAthena.StartQueryExecution`. */
  readonly target: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown> | undefined;
}

/** What one query execution does. */
export interface FakeAthenaOutcome {
  /** States answered by successive GetQueryExecution calls; the last repeats. Default `['RUNNING', 'SUCCEEDED']`. */
  readonly states?: readonly ('QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED')[];
  /** The StateChangeReason of a FAILED or CANCELLED query. */
  readonly reason?: string;
  readonly columns?: readonly { name: string; type: string }[];
  /** One array per row; `null` is NULL. */
  readonly rows?: readonly (readonly (string | null)[])[];
  /** Rows per GetQueryResults page (the header row included on the first). Default 1000. */
  readonly pageSize?: number;
}

export interface FakeAthena {
  /** `http://127.0.0.1:<port>`: the client's `endpoint`. */
  readonly endpoint: string;
  readonly requests: FakeAthenaRequest[];
  /** The requests of one operation (`StartQueryExecution`, ...). */
  requestsOf(op: string): FakeAthenaRequest[];
  /** Script the next StartQueryExecution. */
  enqueue(outcome: FakeAthenaOutcome): void;
  close(): Promise<void>;
}

interface Execution {
  readonly outcome: FakeAthenaOutcome;
  readonly start: Record<string, unknown>;
  polls: number;
  stopped: boolean;
}

export async function startFakeAthena(): Promise<FakeAthena> {
  const requests: FakeAthenaRequest[] = [];
  const queue: FakeAthenaOutcome[] = [];
  const executions = new Map<string, Execution>();
  let counter = 0;

  const stateOf = (x: Execution) => {
    if (x.stopped) return 'CANCELLED';
    const states = x.outcome.states ?? ['RUNNING', 'SUCCEEDED'];
    return states[Math.min(x.polls, states.length - 1)]!;
  };

  const server = createAwsJsonServer((r, res) => {
    const body = r.body as Record<string, unknown> | undefined;
    const target = r.target;
    requests.push({ target, headers: r.headers, body });
    if (!r.isProtocolRoute) return sendError(res, 404, 'UnknownOperationException', `no route for ${r.method} ${r.url}`);
    const op = target?.startsWith('AmazonAthena.') ? target.slice('AmazonAthena.'.length) : undefined;
    if (op === 'StartQueryExecution') {
      if (typeof body?.QueryString !== 'string') return sendError(res, 400, 'InvalidRequestException', 'QueryString is required');
      const id = `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`;
      executions.set(id, { outcome: queue.shift() ?? {}, start: body, polls: 0, stopped: false });
      return send(res, { QueryExecutionId: id });
    }
    const id = body?.QueryExecutionId;
    const x = typeof id === 'string' ? executions.get(id) : undefined;
    if (!x) return sendError(res, 400, 'InvalidRequestException', `QueryExecution ${String(id)} was not found`);
    switch (op) {
      case 'GetQueryExecution': {
        const state = stateOf(x);
        x.polls++;
        const ended = state === 'SUCCEEDED' || state === 'FAILED' || state === 'CANCELLED';
        return send(res, {
          QueryExecution: {
            QueryExecutionId: id,
            Query: x.start.QueryString,
            StatementType: 'DML',
            QueryExecutionContext: x.start.QueryExecutionContext,
            WorkGroup: x.start.WorkGroup,
            Status: {
              State: state,
              SubmissionDateTime: 1_700_000_000,
              ...(ended ? { CompletionDateTime: 1_700_000_001 } : {}),
              ...(state === 'FAILED' || state === 'CANCELLED'
                ? { StateChangeReason: x.outcome.reason ?? (x.stopped ? 'Query cancelled by user' : 'failed') }
                : {}),
              ...(state === 'FAILED'
                ? { AthenaError: { ErrorCategory: 2, ErrorType: 1100, Retryable: false, ErrorMessage: x.outcome.reason } }
                : {}),
            },
          },
        });
      }
      case 'GetQueryResults': {
        if (stateOf(x) !== 'SUCCEEDED')
          return sendError(res, 400, 'InvalidRequestException', `Query has not yet finished. Current state: ${stateOf(x)}`);
        const columns = x.outcome.columns ?? [];
        const all = [columns.map((c) => c.name), ...(x.outcome.rows ?? [])];
        const size = Math.min(x.outcome.pageSize ?? 1000, typeof body?.MaxResults === 'number' ? body.MaxResults : 1000);
        const offset = typeof body?.NextToken === 'string' ? Number(body.NextToken) : 0;
        const page = all.slice(offset, offset + size);
        const next = offset + size < all.length ? String(offset + size) : undefined;
        return send(res, {
          UpdateCount: 0,
          ResultSet: {
            Rows: page.map((r) => ({ Data: r.map((v) => (v === null ? {} : { VarCharValue: v })) })),
            ResultSetMetadata: {
              ColumnInfo: columns.map((c) => ({
                CatalogName: 'hive',
                SchemaName: '',
                TableName: '',
                Name: c.name,
                Label: c.name,
                Type: c.type,
                Precision: 0,
                Scale: 0,
                Nullable: 'UNKNOWN',
                CaseSensitive: c.type === 'varchar',
              })),
            },
          },
          ...(next ? { NextToken: next } : {}),
        });
      }
      case 'StopQueryExecution':
        x.stopped = true;
        return send(res, {});
      default:
        return sendError(res, 400, 'UnknownOperationException', `unsupported operation ${target}`);
    }
  });

  const endpoint = await listenLocal(server);
  return {
    endpoint,
    requests,
    requestsOf: (op) => requests.filter((r) => r.target === `AmazonAthena.${op}`),
    enqueue: (o) => void queue.push(o),
    close: () => closeServer(server),
  };
}

function send(res: ServerResponse, body: unknown, status = 200): void {
  sendAwsJson(res, '1.1', status, body);
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  send(res, { __type: type, message }, status);
}
