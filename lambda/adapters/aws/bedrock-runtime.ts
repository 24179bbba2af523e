/**
 * The `BedrockInvoke` port over the AWS SDK's Bedrock runtime client: one `InvokeModel` call,
 * its HTTP status observed before the SDK deserialises the answer (errors included), and
 * Bedrock's input token count. Loaded only by gateways with a Bedrock model (a chunk: see
 * lambda/handlers/bedrock-runtime.ts).
 */
import { BedrockRuntimeClient, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import type { BedrockInvoke } from '../../core/ports';

/** The client our retry loop drives: one attempt per call (`maxAttempts: 1`), the loop is ours. */
export function bedrockClient(): BedrockRuntimeClient {
  return new BedrockRuntimeClient({ maxAttempts: 1 });
}

export function bedrockInvoke(client: BedrockRuntimeClient): BedrockInvoke {
  return async ({ modelId, body }, { signal, onResponse }) => {
    const command = new InvokeModelCommand({ modelId, body, contentType: 'application/json', accept: 'application/json' });
    let status: number | undefined;
    let inputTokens: number | undefined;
    // Sees the raw HTTP response (errors included) before the SDK deserialises it.
    command.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        const response = result.response as { statusCode?: number; headers?: Record<string, string | undefined> };
        status = response.statusCode;
        if (status !== undefined) onResponse(status);
        const count = Number(response.headers?.['x-amzn-bedrock-input-token-count']);
        if (Number.isFinite(count) && count >= 0) inputTokens = count;
        return result;
      },
      { step: 'deserialize', priority: 'low', name: 'embedgateObserveResponse' },
    );
    const out = await client.send(command, { abortSignal: signal });
    return { status: status ?? out.$metadata.httpStatusCode ?? 200, body: out.body, ...(inputTokens !== undefined ? { inputTokens } : {}) };
  };
}
