/**
 * The proxy handler: `POST /v1/embeddings`, `GET /v1/models`, `GET /health`.
 * Thin: event in, core pipeline, response out. The same function runs in Lambda (with the AWS
 * adapters) and in `embedgate dev` (with the local adapters).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Gateway, HandledRequest } from '../core/gateway';
import { toApiGatewayResult, toGatewayRequest } from './http';
import { logger, metrics } from './powertools';
import { RECORD_RESERVE_MS } from '../../shared/limits';

export type ProxyHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

const HEALTH: APIGatewayProxyStructuredResultV2 = {
  statusCode: 200,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: '{"status":"ok"}',
};

/** Options of the proxy handler. */
export interface ProxyOptions {
  /**
   * Time kept at the end of the invocation to answer and write the record, ms: upstream work of a
   * request ends at the Lambda context's remaining time less this (504 `deadline_exceeded`).
   * @default RECORD_RESERVE_MS (2500)
   */
  readonly recordReserveMs?: number;
}

/** The handler's core, without middleware (tested on its own). */
export function proxyCore(gateway: Gateway, opts: ProxyOptions = {}): ProxyHandler {
  const reserve = opts.recordReserveMs ?? RECORD_RESERVE_MS;
  return async (event, context) => {
    if (event.rawPath === '/health' && event.requestContext?.http?.method === 'GET') {
      metrics.addMetric('HealthChecks', MetricUnit.Count, 1);
      return HEALTH;
    }
    const remaining = typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : undefined;
    const deadline = remaining === undefined ? undefined : Date.now() + Math.max(0, remaining - reserve);
    const handled = await gateway.handle({ ...toGatewayRequest(event), ...(deadline !== undefined ? { deadline } : {}) });
    observe(handled);
    return toApiGatewayResult(handled.response);
  };
}

/**
 * The Lambda handler: the core wrapped in Powertools logging and metrics middleware. Events are
 * never logged (`logEvent: false` wins over POWERTOOLS_LOGGER_LOG_EVENT): they carry bearer
 * tokens and raw inputs.
 */
export function createProxyHandler(gateway: Gateway, opts: ProxyOptions = {}): ProxyHandler {
  return middy(proxyCore(gateway, opts))
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(logMetrics(metrics)) as unknown as ProxyHandler;
}

const OUTCOME_METRIC = { allow: 'Allowed', held: 'HeldForApproval', deny: 'Denied', invalid: 'Invalid', error: 'Errors' } as const;

/** One structured log line and the metrics of a handled request; never tokens, keys or inputs. */
function observe({ record, archiveError, internalError, response }: HandledRequest): void {
  const d = record.decision;
  const fields = {
    session_id: record.session_id,
    status: response.status,
    // The answer the record describes; differs from `status` only when the record could not be archived (503).
    record_status: d.status,
    outcome: d.outcome,
    reason: d.reason,
    rule_id: d.rule_id,
    approval_id: record.approval?.id ?? null,
    approval_step: record.approval?.step ?? null,
    issuer_id: record.principal?.issuer_id ?? null,
    subject: record.principal?.subject ?? null,
    model: record.model?.name ?? null,
    items: record.input.items,
    total_ms: record.timings.total_ms,
  };
  if (internalError) logger.error('request failed', { ...fields, error: describe(internalError) });
  if (archiveError) logger.error('archive write failed', { ...fields, error: describe(archiveError) });
  if (!internalError && !archiveError) logger.info('request', fields);

  metrics.addMetric('Requests', MetricUnit.Count, 1);
  metrics.addMetric(OUTCOME_METRIC[d.outcome], MetricUnit.Count, 1);
  if (archiveError) metrics.addMetric('ArchiveErrors', MetricUnit.Count, 1);
  metrics.addMetric('GatewayLatency', MetricUnit.Milliseconds, Math.max(0, record.timings.total_ms - record.timings.upstream_ms));
  if (record.upstream) metrics.addMetric('UpstreamLatency', MetricUnit.Milliseconds, record.upstream.latency_ms);
  if (record.masking)
    metrics.addMetric(
      'MaskedEntities',
      MetricUnit.Count,
      record.masking.counts.reduce((n, c) => n + c.count, 0),
    );
}

/** Name, message and stack of an error (errors never carry tokens, keys or inputs here). */
function describe(e: unknown): { name: string; message: string; stack?: string } {
  return e instanceof Error
    ? { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) }
    : { name: 'Error', message: String(e) };
}
