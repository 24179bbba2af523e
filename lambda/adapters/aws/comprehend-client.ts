/**
 * The Comprehend client and the PII detector bound to it. The proxy entry imports this module
 * with `import()` only (a chunk of the bundle of its own): gateways without Comprehend masking
 * never load the client.
 */
import { ComprehendClient } from '@aws-sdk/client-comprehend';
import type { ComprehendConfig } from '../../../shared/config';
import type { PiiDetector } from '../../core/ports';
import { ComprehendPiiDetector } from './comprehend';

export function comprehendDetector(c: ComprehendConfig): PiiDetector {
  return new ComprehendPiiDetector(new ComprehendClient({ maxAttempts: 2 }), {
    languageCode: c.languageCode,
    minScore: c.minScore,
    concurrency: c.maxConcurrency,
  });
}
