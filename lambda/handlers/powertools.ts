/**
 * One configured Logger and one Metrics instance per process (Powertools' recommended shape).
 * Service name and namespace come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE.
 * Never log tokens, keys, raw inputs or PII: log session ids and reason codes.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { HANDLER_ENV, METRICS_NAMESPACE } from '../../shared/contract';

export const logger = new Logger({ serviceName: process.env[HANDLER_ENV.powertoolsServiceName] ?? 'embedgate' });
export const metrics = new Metrics({
  namespace: process.env[HANDLER_ENV.powertoolsMetricsNamespace] ?? METRICS_NAMESPACE,
  serviceName: process.env[HANDLER_ENV.powertoolsServiceName] ?? 'embedgate',
});

/**
 * Metrics with more dimensions than the service (rule and model; a principal named in the
 * configuration): published per request by the proxy, each set on its own.
 */
export const dimensionMetrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'embedgate',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'embedgate',
});
