/**
 * Strict validation and decoding of an OpenAI-style embeddings response body:
 * `{ data: [{ index, embedding }], usage: { prompt_tokens, total_tokens } }`, where `embedding`
 * is base64 of little-endian float32 values or a plain number array (some compatible servers
 * ignore `encoding_format`).
 *
 * Optionally keeps each vector as the upstream encoded it (`keep`), so the gateway can pass the
 * upstream's bytes through instead of re-encoding: base64 strings as they are (when canonical),
 * number arrays as their exact JSON text (when compact), located in the raw body text by
 * {@link embeddingArrayTexts}. Kept forms decode to exactly the returned `Float32Array`s.
 */
import type { IndexedResult } from './batching';
import type { EncodedVector, VectorEncoding } from '../core/ports';

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
  /**
   * Per entry of `items` (same positions), the vector as the upstream encoded it, when `keep`
   * asked for that encoding and the upstream used it (undefined entries otherwise). Absent when
   * nothing was kept.
   */
  readonly encoded?: (EncodedVector | undefined)[];
  readonly promptTokens: number;
  readonly totalTokens: number;
}

/** What to keep of the upstream's own encoding (see {@link parseEmbeddingsResponse}). */
export interface KeepEncoding {
  /** The encoding worth keeping (the one the client asked for). */
  readonly format: VectorEncoding;
  /** The raw body text `body` was parsed from; needed to keep number arrays as text. */
  readonly text?: string;
}

// Searching for one character outside a class is several times faster in V8 than matching an
// anchored `^[...]*$` over a long string (base64 of 1536 floats: 8 KB per vector).
const NOT_BASE64 = /[^A-Za-z0-9+/=]/;
const NOT_NUMBER_ARRAY = /[^-+.eE0-9,[\]]/;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Validate `body` as the answer to a batch of `expectedCount` items: an object with a `data`
 * array of exactly `expectedCount` items, each with an integer `index` in range, every index
 * once, every embedding decodable, non-empty, finite and of one length (equal to
 * `expectedDimensions` when given). Throws {@link InvalidUpstreamResponse} otherwise.
 *
 * With `keep`, each vector the upstream encoded as `keep.format` is also returned in that
 * encoding (`encoded`): a base64 string when it is canonical (re-encoding the decoded bytes gives
 * the same string), a number array's exact JSON text when `keep.text` is given and the array is
 * written compactly (no whitespace) in it. Anything else is simply not kept.
 */
export function parseEmbeddingsResponse(
  body: unknown,
  expectedCount: number,
  expectedDimensions?: number,
  keep?: KeepEncoding,
): ParsedEmbeddings {
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
  const encoded = keep ? keptEncodings(data as Record<string, unknown>[], keep) : undefined;
  return { items, ...(encoded ? { encoded } : {}), promptTokens: count(usage.prompt_tokens), totalTokens: count(usage.total_tokens) };
}

/** The kept encodings of validated `data` items (see `parseEmbeddingsResponse`), or undefined when none. */
function keptEncodings(data: readonly Record<string, unknown>[], keep: KeepEncoding): (EncodedVector | undefined)[] | undefined {
  const out = new Array<EncodedVector | undefined>(data.length);
  let kept = 0;
  if (keep.format === 'base64') {
    for (let i = 0; i < data.length; i++) {
      const e = data[i]!.embedding;
      if (typeof e === 'string' && isCanonicalBase64(e)) {
        out[i] = { format: 'base64', text: e };
        kept++;
      }
    }
  } else {
    if (keep.text === undefined || !data.some((d) => Array.isArray(d.embedding))) return undefined;
    const texts = embeddingArrayTexts(keep.text);
    if (!texts || texts.length !== data.length) return undefined;
    for (let i = 0; i < data.length; i++) {
      const e = data[i]!.embedding;
      const t = texts[i];
      if (Array.isArray(e) && t !== undefined && sameEnds(t, e as number[])) {
        out[i] = { format: 'float', text: t };
        kept++;
      }
    }
  }
  return kept > 0 ? out : undefined;
}

/**
 * Base64 that re-encoding its decoded bytes gives back unchanged: no stray bits in the last
 * character before the padding (the only freedom left once `isBase64` accepted it).
 */
function isCanonicalBase64(b64: string): boolean {
  if (!b64.endsWith('=')) return true;
  const last = b64.slice(-4);
  return Buffer.from(last, 'base64').toString('base64') === last;
}

/** Cross-check of a located array text against the parsed array: the same first and last numbers. */
function sameEnds(text: string, parsed: readonly number[]): boolean {
  const firstEnd = text.indexOf(',');
  const first = text.slice(1, firstEnd === -1 ? -1 : firstEnd);
  const last = text.slice(text.lastIndexOf(',') + 1 || 1, -1);
  return Object.is(Number(first), parsed[0]) && Object.is(Number(last), parsed[parsed.length - 1]);
}

/**
 * In the text of a JSON document already accepted by `JSON.parse`, the exact text of each
 * `data[i].embedding` value (the last `data` and the last `embedding` member win, as in
 * `JSON.parse`), where it is a flat number array written without whitespace; undefined entries
 * elsewhere. Undefined when the document is not an object with a `data` array.
 */
export function embeddingArrayTexts(text: string): (string | undefined)[] | undefined {
  try {
    let result: (string | undefined)[] | undefined;
    const s = new JsonScanner(text);
    s.object((key) => {
      if (key !== 'data') return false;
      if (s.peek() !== 0x5b /* [ */) {
        result = undefined;
        return false;
      }
      const texts: (string | undefined)[] = [];
      s.array(() => {
        let found: string | undefined;
        if (s.peek() !== 0x7b /* { */) {
          texts.push(undefined);
          return false;
        }
        s.object((k) => {
          if (k !== 'embedding') return false;
          found = s.peek() === 0x5b ? s.compactNumberArray() : undefined;
          return found !== undefined;
        });
        texts.push(found);
        return true;
      });
      result = texts;
      return true;
    });
    return result;
  } catch {
    return undefined;
  }
}

/** A forward-only walker over JSON text known to be valid (it throws on anything unexpected). */
class JsonScanner {
  i = 0;
  constructor(private readonly t: string) {}

  /** The next non-whitespace character code (the position moves to it). */
  peek(): number {
    const t = this.t;
    let i = this.i;
    for (let c = t.charCodeAt(i); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = t.charCodeAt(++i));
    this.i = i;
    return t.charCodeAt(i);
  }

  private expect(code: number): void {
    if (this.peek() !== code) throw new Error(`expected ${String.fromCharCode(code)} at ${this.i}`);
    this.i++;
  }

  /**
   * Walk an object; `member(key)` is called at each value and either consumes it (returns true)
   * or leaves it to be skipped (returns false).
   */
  object(member: (key: string) => boolean): void {
    this.expect(0x7b);
    if (this.peek() === 0x7d) {
      this.i++;
      return;
    }
    for (;;) {
      if (this.peek() !== 0x22) throw new Error(`expected a key at ${this.i}`);
      const start = this.i;
      this.skipString();
      const raw = this.t.slice(start, this.i);
      const key = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
      this.expect(0x3a);
      this.peek();
      if (!member(key)) this.skipValue();
      const c = this.peek();
      this.i++;
      if (c === 0x7d) return;
      if (c !== 0x2c) throw new Error(`expected , or } at ${this.i - 1}`);
    }
  }

  /** Walk an array; `element()` is called at each element and consumes it (true) or not (false). */
  array(element: () => boolean): void {
    this.expect(0x5b);
    if (this.peek() === 0x5d) {
      this.i++;
      return;
    }
    for (;;) {
      this.peek();
      if (!element()) this.skipValue();
      const c = this.peek();
      this.i++;
      if (c === 0x5d) return;
      if (c !== 0x2c) throw new Error(`expected , or ] at ${this.i - 1}`);
    }
  }

  /**
   * At `[`: the array's text when it is a flat array of numbers written without whitespace, such
   * as `[1,-2.5e-3,0]` (consumed); else undefined (not consumed).
   */
  compactNumberArray(): string | undefined {
    const end = this.t.indexOf(']', this.i);
    if (end === -1) return undefined;
    const text = this.t.slice(this.i, end + 1);
    // Only number characters, commas and this one pair of brackets (the first "]" closes it).
    if (NOT_NUMBER_ARRAY.test(text) || text.indexOf('[', 1) !== -1) return undefined;
    this.i = end + 1;
    return text;
  }

  private skipString(): void {
    const t = this.t;
    let j = this.i + 1;
    for (;;) {
      const q = t.indexOf('"', j);
      if (q === -1) throw new Error('unterminated string');
      let backslashes = 0;
      for (let b = q - 1; t.charCodeAt(b) === 0x5c; b--) backslashes++;
      j = q + 1;
      if (backslashes % 2 === 0) break;
    }
    this.i = j;
  }

  private skipValue(): void {
    const c = this.peek();
    if (c === 0x22) return this.skipString();
    if (c === 0x7b) return this.object(() => false);
    if (c === 0x5b) return this.array(() => false);
    // A number, true, false or null: up to the next delimiter.
    const t = this.t;
    let j = this.i;
    for (
      let d = t.charCodeAt(j);
      j < t.length && d !== 0x2c && d !== 0x7d && d !== 0x5d && d !== 0x20 && d !== 0x0a && d !== 0x0d && d !== 0x09;
      d = t.charCodeAt(++j)
    );
    if (j === this.i) throw new Error(`expected a value at ${j}`);
    this.i = j;
  }
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
  if (!isBase64(b64)) return undefined;
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

/** Standard base64 with padding: length a multiple of 4, only `A-Z a-z 0-9 + /`, then at most two `=`. */
function isBase64(s: string): boolean {
  if (s.length % 4 !== 0 || NOT_BASE64.test(s)) return false;
  const pad = s.indexOf('=');
  return pad === -1 || pad === s.length - 1 || (pad === s.length - 2 && s.charCodeAt(s.length - 1) === 0x3d);
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
