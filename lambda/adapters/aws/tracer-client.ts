/**
 * Powertools Tracer (over the AWS X-Ray SDK): imported by the proxy entry with `import()` only, a
 * chunk of its own, so the start does not pay for it (lambda/handlers/tracing.ts).
 */
import { Tracer } from '@aws-lambda-powertools/tracer';

export function createTracer(): Tracer {
  return new Tracer({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'embedgate', captureHTTPsRequests: false });
}
