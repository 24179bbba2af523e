/**
 * Strict validation and decoding of an OpenAI-style embeddings response body:
 * `{ data: [{ index, embedding }], usage: { prompt_tokens, total_tokens } }`, where `embedding`
 * is base64 of little-endian float32 values or a plain number array (some compatible servers
 * ignore `encoding_format`).
 */
import type { IndexedResult } from './batching';

/** The upstream body is not a valid embeddings response; `message` says what is wrong (no upstream text). */
export class InvalidUpstreamResponse extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidUpstreamResponse';
  }
}

/** A validated batch answer. */
export interface ParsedEmbeddings {
  /** One vector per input item of the batch, tagged with its index in the batch, in upstream order. */
  readonly items: IndexedResult<Float32Array>[];
  readonly promptTokens: number;
  readonly totalTokens: number;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Validate `body` as the answer to a batch of `expectedCount` items: an object with a `data`
 * array of exactly `expectedCount` items, each with an integer `index` in range, every index
 * once, every embedding decodable, non-empty, finite and of one length (equal to
 * `expectedDimensions` when given). Throws {@link InvalidUpstreamResponse} otherwise.
 */
export function parseEmbeddingsResponse(body: unknown, expectedCount: number, expectedDimensions?: number): ParsedEmbeddings {
  if (!isRecord(body)) throw new InvalidUpstreamResponse('the body is not a JSON object');
  const data = body.data;
  if (!Array.isArray(data)) throw new InvalidUpstreamResponse('"data" is not an array');
  if (data.length !== expectedCount) {
    throw new InvalidUpstreamResponse(`expected ${expectedCount} embeddings, got ${data.length}`);
  }
  const seen = new Uint8Array(expectedCount);
  const items: IndexedResult<Float32Array>[] = [];
  let length = expectedDimensions;
  for (let i = 0; i < data.length; i++) {
    const item: unknown = data[i];
    if (!isRecord(item)) throw new InvalidUpstreamResponse(`data[${i}] is not an object`);
    const index = item.index;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= expectedCount) {
      throw new InvalidUpstreamResponse(`data[${i}].index is not an integer in 0..${expectedCount - 1}`);
    }
    if (seen[index]) throw new InvalidUpstreamResponse(`index ${index} appears more than once`);
    seen[index] = 1;
    const vector = decodeEmbedding(item.embedding, i);
    if (vector.length === 0) throw new InvalidUpstreamResponse(`data[${i}].embedding is empty`);
    length ??= vector.length;
    if (vector.length !== length) {
      throw new InvalidUpstreamResponse(`data[${i}].embedding has ${vector.length} dimensions, expected ${length}`);
    }
    items.push({ index, value: vector });
  }
  const usage = isRecord(body.usage) ? body.usage : {};
  return { items, promptTokens: count(usage.prompt_tokens), totalTokens: count(usage.total_tokens) };
}

function decodeEmbedding(embedding: unknown, i: number): Float32Array {
  if (typeof embedding === 'string') {
    const vector = decodeBase64Float32(embedding);
    if (!vector) throw new InvalidUpstreamResponse(`data[${i}].embedding is not base64 of float32 values`);
    if (!allFinite(vector)) throw new InvalidUpstreamResponse(`data[${i}].embedding has a non-finite value`);
    return vector;
  }
  if (Array.isArray(embedding)) {
    const vector = new Float32Array(embedding.length);
    for (let k = 0; k < embedding.length; k++) {
      const v: unknown = embedding[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new InvalidUpstreamResponse(`data[${i}].embedding[${k}] is not a finite number`);
      }
      vector[k] = v;
    }
    if (!allFinite(vector)) throw new InvalidUpstreamResponse(`data[${i}].embedding has a value out of float32 range`);
    return vector;
  }
  throw new InvalidUpstreamResponse(`data[${i}].embedding is neither a base64 string nor an array of numbers`);
}

/** Decode base64 of little-endian float32 values; undefined when it is not valid base64 of whole float32s. */
export function decodeBase64Float32(b64: string): Float32Array | undefined {
  if (b64.length % 4 !== 0 || !BASE64.test(b64)) return undefined;
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length % 4 !== 0) return undefined;
  const out = new Float32Array(bytes.length / 4);
  if (LITTLE_ENDIAN) {
    // Copy into the fresh, aligned buffer (Buffer slices of the pool need not be 4-byte aligned).
    new Uint8Array(out.buffer).set(bytes);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let k = 0; k < out.length; k++) out[k] = view.getFloat32(k * 4, true);
  }
  return out;
}

/** Encode float32 values as base64 of their little-endian bytes (the inverse of {@link decodeBase64Float32}). */
export function encodeBase64Float32(vector: Float32Array): string {
  if (LITTLE_ENDIAN) return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
  const bytes = Buffer.alloc(vector.length * 4);
  for (let k = 0; k < vector.length; k++) bytes.writeFloatLE(vector[k]!, k * 4);
  return bytes.toString('base64');
}

function allFinite(v: Float32Array): boolean {
  for (let k = 0; k < v.length; k++) if (!Number.isFinite(v[k])) return false;
  return true;
}

function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
