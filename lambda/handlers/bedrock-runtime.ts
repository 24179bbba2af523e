/**
 * Bedrock providers bound to the AWS SDK client (the `BedrockInvoke` adapter). The proxy entry
 * imports this module with `import()` only (a chunk of the bundle of its own): gateways without a
 * Bedrock model never load the client.
 */
import type { ModelConfig } from '../../shared/config';
import { bedrockClient, bedrockInvoke } from '../adapters/aws/bedrock-runtime';
import type { EmbeddingProvider } from '../core/ports';
import { createBedrockProvider } from '../providers/bedrock';

/** One client per execution environment, shared by every Bedrock model. */
export function bedrockProviders(): (model: ModelConfig) => EmbeddingProvider {
  const invoke = bedrockInvoke(bedrockClient());
  return (model) => createBedrockProvider(model, { invoke });
}
