/**
 * The Bedrock runtime client and the providers bound to it. The proxy entry imports this module
 * with `import()` only (a chunk of the bundle of its own): gateways without a Bedrock model never
 * load the client.
 */
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import type { ModelConfig } from '../../../shared/config';
import type { EmbeddingProvider } from '../../core/ports';
import { createBedrockProvider } from '../../providers/bedrock';

/** One client per execution environment; our retry loop is the only one (`maxAttempts: 1`). */
export function bedrockProviders(): (model: ModelConfig) => EmbeddingProvider {
  const client = new BedrockRuntimeClient({ maxAttempts: 1 });
  return (model) => createBedrockProvider(model, { client });
}
