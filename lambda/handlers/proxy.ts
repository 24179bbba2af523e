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
import { METRIC } from '../../shared/contract';
import type { Gateway, HandledRequest } from '../core/gateway';
import { isLimitReason } from '../core/limits/admission';
import type { LimitEvent } from '../core/limits/stage';
import { toApiGatewayResult, toGatewayRequest } from './http';
import { logger, metrics, dimensionMetrics } from './powertools';
import { RECORD_RESERVE_MS } from '../../shared/limits';
import type { ReviewPage } from './review-page';

export type ProxyHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

const HEALTH: APIGatewayProxyStructuredResultV2 = {
  statusCode: 200,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: '{"status":"ok"}',
};

/** What the handler serves and observes besides the gateway's routes. */
export interface ProxyOptions {
  /** Subjects that get a metric dimension of their own (`gateway.metricPrincipals`); no other principal ever does. */
  readonly metricPrincipals?: readonly string[];
  /** The reviewers' page (`GET /review`), when the configuration has `reviewerPage`. */
  readonly reviewPage?: ReviewPage | undefined;
  /**
   * Time kept at the end of the invocation to answer and write the record, ms: upstream work of a
   * request ends at the Lambda context's remaining time less this (504 `deadline_exceeded`).
   * @default RECORD_RESERVE_MS (2500)
   */
  readonly recordReserveMs?: number;
}

/** The handler's core, without middleware (tested on its own). */
export function proxyCore(gateway: Gateway, opts: ProxyOptions = {}): ProxyHandler {
  const named = new Set(opts.metricPrincipals ?? []);
  const reserve = opts.recordReserveMs ?? RECORD_RESERVE_MS;
  return async (event, context) => {
    if (event.rawPath === '/health' && event.requestContext?.http?.method === 'GET') {
      metrics.addMetric(METRIC.healthChecks, MetricUnit.Count, 1);
      return HEALTH;
    }
    // The reviewers' page: static, no token, no record (its API calls are ordinary requests).
    const page = opts.reviewPage?.(event);
    if (page) return page;
    const remaining = typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : undefined;
    const deadline = remaining === undefined ? undefined : Date.now() + Math.max(0, remaining - reserve);
    const handled = await gateway.handle({ ...toGatewayRequest(event), ...(deadline !== undefined ? { deadline } : {}) });
    observe(handled, named);
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

const OUTCOME_METRIC = {
  allow: METRIC.allowed,
  held: METRIC.heldForApproval,
  deny: METRIC.denied,
  invalid: METRIC.invalid,
  error: METRIC.errors,
} as const;

/** One structured log line and the metrics of a handled request; never tokens, keys or inputs. */
function observe({ record, archiveError, internalError, response }: HandledRequest, named: ReadonlySet<string>): void {
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

  metrics.addMetric(METRIC.requests, MetricUnit.Count, 1);
  metrics.addMetric(OUTCOME_METRIC[d.outcome], MetricUnit.Count, 1);
  if (archiveError) metrics.addMetric(METRIC.archiveErrors, MetricUnit.Count, 1);
  metrics.addMetric(METRIC.gatewayLatency, MetricUnit.Milliseconds, Math.max(0, record.timings.total_ms - record.timings.upstream_ms));
  if (record.upstream) metrics.addMetric(METRIC.upstreamLatency, MetricUnit.Milliseconds, record.upstream.latency_ms);
  if (record.masking)
    metrics.addMetric(
      METRIC.maskedEntities,
      MetricUnit.Count,
      record.masking.counts.reduce((n, c) => n + c.count, 0),
    );
  const throttled = d.status === 429 && isLimitReason(d.reason);
  if (throttled) metrics.addMetric(METRIC.throttled, MetricUnit.Count, 1);
  // Bounded dimensions: rule ids and model names come from the configuration (a model name a
  // client made up is "unknown"); a principal only when the configuration names its subject.
  const model = record.model?.provider ? record.model.name : 'unknown';
  const perDimension = (dims: Record<string, string>) => {
    dimensionMetrics.addDimensions(dims);
    dimensionMetrics.addMetric(METRIC.requests, MetricUnit.Count, 1);
    dimensionMetrics.addMetric(METRIC.throttled, MetricUnit.Count, throttled ? 1 : 0);
    if (record.usage) dimensionMetrics.addMetric(METRIC.tokens, MetricUnit.Count, record.usage.total_tokens);
    dimensionMetrics.publishStoredMetrics();
  };
  if (d.rule_id) perDimension({ rule: d.rule_id, model });
  const subject = record.principal?.subject;
  if (subject !== undefined && named.has(subject)) perDimension({ principal: subject });
}

/** Store errors and budget warnings of the limits stage: a log line and a metric (each alarmed). */
export function observeLimitEvent(e: LimitEvent): void {
  if (e.kind === 'store_error') {
    logger.error('rate limit store failed', { during: e.during, fail_mode: e.failMode, error: describe(e.error) });
    metrics.addMetric(METRIC.limitStoreErrors, MetricUnit.Count, 1);
  } else {
    logger.warn('daily token budget', { rule_id: e.ruleId, used: e.used, budget: e.budget, percent: e.percent });
    metrics.addMetric(METRIC.tokenBudgetWarnings, MetricUnit.Count, 1);
  }
}

/** Name, message and stack of an error (errors never carry tokens, keys or inputs here). */
function describe(e: unknown): { name: string; message: string; stack?: string } {
  return e instanceof Error
    ? { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) }
    : { name: 'Error', message: String(e) };
}
