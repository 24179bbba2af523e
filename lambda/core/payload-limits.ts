/**
 * Lambda's payload limits, checked by the gateway itself so that a request or response too large
 * for the platform ends with the gateway's own answer and its one record, never with an error
 * API Gateway makes up after the function returned a 200 (and recorded it as such).
 *
 * A synchronous invocation's response (the whole `{"statusCode","headers","body"}` document, the
 * body JSON-escaped inside it) is capped at 6 MB. An embeddings response grows with
 * items x dimensions x encoding, all known before anything is sent upstream, so an answer that
 * cannot fit is refused first ({@link checkResponseFits}, a 422 telling the client what to do:
 * fewer items per request, or `encoding_format: "base64"`, about a third of the size of `float`);
 * the body actually built is checked again ({@link fitResponseBody}) in case the upstream wrote
 * longer numbers than the estimate allows for.
 *
 * Pure: no I/O, no clock.
 */
import type { ModelConfig } from '../../shared/config';
import { GatewayError } from './errors';
import type { EmbeddingsRequest } from './request';

export { LAMBDA_PAYLOAD_LIMIT_BYTES } from '../../shared/limits';

/**
 * Room kept in the response payload for what is not the body: the status code, the headers the
 * gateway sets (session id, Server-Timing, content type, rate-limit headers) and the envelope.
 */
export const RESPONSE_ENVELOPE_BYTES = 8 * 1024;

/**
 * Bytes one vector component of a unit-length embedding takes in a `float` response: a shortest
 * double such as `-0.012345678918063641` and its comma (the gateway writes a float32's exact value
 * as a double; upstreams write float64 text of the same length). Components much smaller than
 * 0.001 print longer (`-1.2345678237882693e-12`): the body built is checked again.
 */
export const FLOAT_BYTES_PER_DIMENSION = 22;

/** Bytes of one `{"object":"embedding","index":N,"embedding":...}` wrapper, escaped in the envelope. */
const ITEM_OVERHEAD_BYTES = 64;
/** Bytes of the list wrapper, model name and usage (the model name is added separately). */
const LIST_OVERHEAD_BYTES = 160;

/**
 * Native output dimensions of well-known upstream models, for a model whose configuration does not
 * say (`dimensions`) when the request does not ask for fewer.
 */
const KNOWN_DIMENSIONS: Readonly<Record<string, number>> = {
  'text-embedding-3-small': 1536,
  'text-embedding-3-large': 3072,
  'text-embedding-ada-002': 1536,
  'amazon.titan-embed-text-v2:0': 1024,
  'amazon.titan-embed-text-v1': 1536,
  'cohere.embed-english-v3': 1024,
  'cohere.embed-multilingual-v3': 1024,
  'embed-english-v3.0': 1024,
  'embed-multilingual-v3.0': 1024,
};

/** The dimensions a response will have: the request's, the model's, a known model's; undefined when unknown. */
export function expectedDimensions(
  req: Pick<EmbeddingsRequest, 'dimensions'>,
  model: Pick<ModelConfig, 'name' | 'upstreamModel' | 'dimensions' | 'provider'>,
): number | undefined {
  if (req.dimensions !== undefined) return req.dimensions;
  if (model.dimensions !== undefined) return model.dimensions;
  if (model.provider === 'local') return 256;
  return KNOWN_DIMENSIONS[model.upstreamModel ?? model.name];
}

/**
 * The largest size, in bytes, the response body of `items` vectors of `dimensions` components in
 * `format` can take (JSON-escaped as it is inside the invocation response).
 */
export function estimateResponseBytes(items: number, dimensions: number, format: 'float' | 'base64', modelName: string): number {
  const perVector = format === 'base64' ? 4 * Math.ceil((dimensions * 4) / 3) + 2 : dimensions * FLOAT_BYTES_PER_DIMENSION;
  return LIST_OVERHEAD_BYTES + 2 * modelName.length + items * (perVector + ITEM_OVERHEAD_BYTES);
}

/** The body limit that leaves room for the envelope. */
export function bodyLimit(limitBytes: number): number {
  return Math.max(0, limitBytes - RESPONSE_ENVELOPE_BYTES);
}

/**
 * Refuse, before anything is sent upstream, a request whose answer cannot fit in `limitBytes`
 * (422 `response_too_large`, param `input`). Unknown dimensions: nothing to estimate, the body
 * built is still checked by {@link fitResponseBody}.
 */
export function checkResponseFits(
  req: Pick<EmbeddingsRequest, 'dimensions' | 'encodingFormat' | 'input'>,
  model: Pick<ModelConfig, 'name' | 'upstreamModel' | 'dimensions' | 'provider'>,
  limitBytes: number,
): void {
  const dimensions = expectedDimensions(req, model);
  if (dimensions === undefined) return;
  const items = req.input.items.length;
  const estimate = estimateResponseBytes(items, dimensions, req.encodingFormat, model.name);
  const limit = bodyLimit(limitBytes);
  if (estimate <= limit) return;
  throw responseTooLarge(items, dimensions, req.encodingFormat, model.name, limit, 'response_too_large');
}

/**
 * The body as is when it fits in `limitBytes` once escaped into the invocation response;
 * otherwise the same 422 as {@link checkResponseFits} (reason `response_too_large_after_upstream`:
 * the estimate let it through, the upstream's numbers were longer).
 */
export function fitResponseBody(
  body: string,
  req: Pick<EmbeddingsRequest, 'dimensions' | 'encodingFormat' | 'input'>,
  model: Pick<ModelConfig, 'name' | 'upstreamModel' | 'dimensions' | 'provider'>,
  limitBytes: number,
): string {
  const limit = bodyLimit(limitBytes);
  // Cheap bounds first. A UTF-16 unit is at most 6 bytes once escaped as a JSON string (`\u001f`),
  // so most bodies pass on their length alone: counting the UTF-8 bytes of a large body built
  // piece by piece costs milliseconds (5.5 ms for 64 vectors of 1536 floats, measured), its
  // length nothing. Then: UTF-8 is at most 3 bytes a unit and escaping at most doubles it.
  if (body.length * 6 <= limit) return body;
  if (Buffer.byteLength(body) * 2 <= limit) return body;
  if (escapedBytes(body) <= limit) return body;
  const dimensions = expectedDimensions(req, model) ?? 0;
  throw responseTooLarge(req.input.items.length, dimensions, req.encodingFormat, model.name, limit, 'response_too_large_after_upstream');
}

/** Bytes of `s` as a JSON string value (without its quotes). */
export function escapedBytes(s: string): number {
  return Buffer.byteLength(JSON.stringify(s)) - 2;
}

/** How many items of this shape fit in `limit` bytes of body (at least 0). */
export function itemsThatFit(dimensions: number, format: 'float' | 'base64', modelName: string, limit: number): number {
  const one = estimateResponseBytes(1, dimensions, format, modelName) - estimateResponseBytes(0, dimensions, format, modelName);
  return Math.max(0, Math.floor((limit - estimateResponseBytes(0, dimensions, format, modelName)) / one));
}

function responseTooLarge(
  items: number,
  dimensions: number,
  format: 'float' | 'base64',
  modelName: string,
  limit: number,
  reason: string,
): GatewayError {
  const advice: string[] = [];
  if (dimensions > 0) {
    const fit = itemsThatFit(dimensions, format, modelName, limit);
    advice.push(`send at most ${fit} items per request`);
    if (format === 'float') {
      const fitB64 = itemsThatFit(dimensions, 'base64', modelName, limit);
      advice.push(`or ask for "encoding_format": "base64" (about a third of the size of "float"; up to ${fitB64} items fit)`);
    }
  } else {
    advice.push('send fewer items per request');
    if (format === 'float') advice.push('or ask for "encoding_format": "base64" (about a third of the size of "float")');
  }
  if (dimensions > 0) advice.push('or fewer "dimensions" if the model supports it');
  const shape = dimensions > 0 ? `${items} embeddings of ${dimensions} dimensions as ${format}` : `${items} embeddings as ${format}`;
  const tail =
    reason === 'response_too_large_after_upstream'
      ? 'The model answered, but its answer cannot be delivered.'
      : 'Nothing was sent to the model.';
  return new GatewayError(
    `The response (${shape}) would be larger than the ${limit} bytes an answer of this gateway can carry: ${advice.join(', ')}. ${tail}`,
    { status: 422, type: 'invalid_request_error', code: 'response_too_large', param: 'input', reason },
  );
}
