/**
 * Stage `upstream`: the masked input goes to the model's provider (batched to its limits, order
 * kept, retried within its policy); the vectors come back as the client's OpenAI-shaped answer.
 * In: the provider, the request's parameters, the masked input. Out: the 200 answer, with the
 * result and the upstream's facts in the session; a failure runs `release` (a used approval is
 * given back: the client got no output) and is the request's error.
 */
import type { Answer, Session } from '../exchange';
import { fitResponseBody } from '../payload-limits';
import type { EmbeddingProvider, EmbeddingResult } from '../ports';
import { toLittleEndianBytes } from '../record';
import { upstreamOf } from '../recorder';
import type { EmbeddingsRequest } from '../request';
import type { Admitted } from './policy';
import type { MaskedInput } from './masking';

/** What the upstream stage sends, and within what. */
export interface UpstreamCall {
  readonly request: EmbeddingsRequest;
  readonly input: MaskedInput;
  readonly admitted: Admitted;
  /** Epoch ms by which every batch and retry ends (504 `deadline_exceeded` past it). */
  readonly deadline: number | undefined;
  /** The largest answer the platform carries, bytes. */
  readonly responseLimit: number;
}

export async function callUpstream(
  provider: EmbeddingProvider,
  call: UpstreamCall,
  s: Session,
  release?: () => Promise<void>,
): Promise<Answer> {
  const { request, input, admitted } = call;
  let result: EmbeddingResult;
  try {
    result = await provider.embed({
      input: input.items,
      ...(request.dimensions !== undefined ? { dimensions: request.dimensions } : {}),
      ...(request.user !== undefined ? { user: request.user } : {}),
      encodingFormat: request.encodingFormat,
      ...(call.deadline !== undefined ? { deadline: call.deadline } : {}),
    });
  } catch (e) {
    if (release) await release();
    throw e;
  }
  s.upstream = upstreamOf(result.upstream);
  // The body actually built is checked against the platform's limit too (the estimate before the call may be short).
  const body = fitResponseBody(embeddingsBody(request, admitted.model.name, result), request, admitted.model, call.responseLimit);
  s.result = result;
  s.reason = admitted.reason;
  return { status: 200, body };
}

/**
 * The OpenAI-shaped body of a successful embeddings answer, in the client's `encoding_format`:
 * `{"object":"list","data":[{"object":"embedding","index":i,"embedding":...}],"model":...,"usage":{...}}`.
 *
 * Pass-through: a vector the provider kept in the upstream's own encoding (`r.encoded`), when that
 * is the client's encoding, goes out as the upstream wrote it (a canonical base64 string, or a
 * compact number array's exact text) instead of being encoded again; others are encoded from the
 * float32 values (`Array.from` for floats, so the numbers are the exact float32 values). Either
 * way the values are the ones the record's `output.fingerprint` covers. Embeddings responses hold
 * no text, so no response masking applies to them.
 */
export function embeddingsBody(req: Pick<EmbeddingsRequest, 'encodingFormat'>, model: string, r: EmbeddingResult): string {
  const format = req.encodingFormat === 'base64' ? 'base64' : 'float';
  let data = '';
  for (let i = 0; i < r.vectors.length; i++) {
    const kept = r.encoded?.[i];
    let embedding: string;
    if (kept !== undefined && kept.format === format) embedding = format === 'base64' ? `"${kept.text}"` : kept.text;
    else if (format === 'float') embedding = JSON.stringify(Array.from(r.vectors[i]!));
    else {
      const bytes = toLittleEndianBytes(r.vectors[i]!);
      embedding = `"${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}"`;
    }
    data += `${i === 0 ? '' : ','}{"object":"embedding","index":${i},"embedding":${embedding}}`;
  }
  const usage = `{"prompt_tokens":${JSON.stringify(r.usage.promptTokens)},"total_tokens":${JSON.stringify(r.usage.totalTokens)}}`;
  return `{"object":"list","data":[${data}],"model":${JSON.stringify(model)},"usage":${usage}}`;
}
