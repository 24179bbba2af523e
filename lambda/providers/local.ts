/**
 * The built-in `local` provider: a deterministic feature-hashing embedder, so demos and tests
 * need no network and no model.
 *
 * Text is NFKC-normalised and lower-cased, split into words of Unicode letters, digits and marks;
 * each word (weight 1) and each character trigram of the word padded with spaces (weight 0.5) is
 * hashed (FNV-1a, then a murmur3 finaliser) into one of `dimensions` buckets with a sign taken
 * from a second hash, and the vector is L2-normalised. Token-id items hash each id. The same
 * input always gives the same vector, and texts sharing words and spellings score a higher
 * cosine similarity than unrelated ones. Usage counts words (or ids).
 */
import type { ModelConfig } from '../../shared/config';
import { invalidRequest } from '../core/errors';
import type { EmbeddingCall, EmbeddingProvider, EmbeddingResult } from '../core/ports';
import type { ProviderDeps } from './deps';
import { upstreamFailure } from './retry';

/** Dimensions of the local embedder when neither the call nor the model says. */
export const LOCAL_DEFAULT_DIMENSIONS = 256;
const MAX_DIMENSIONS = 16_384;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const SPACE = 0x20;
const WORD_TAG = 0x77; // 'w'
const TRIGRAM_TAG = 0x74; // 't'
const ID_TAG = 0x69; // 'i'
const SIGN_SEED = 0x9e3779b9;
const TRIGRAM_WEIGHT = 0.5;
const WORD = /[\p{L}\p{N}\p{M}]+/gu;
// A module-level binding: global lookups are slow inside vm contexts (jest), and this is the hot loop.
const imul = Math.imul;

/** Create the `local` provider for `model` (only `deps.now` is used, for latency). */
export function createLocalProvider(model: ModelConfig, deps: Pick<ProviderDeps, 'now'> = {}): EmbeddingProvider {
  const now = deps.now ?? Date.now;
  async function embed(call: EmbeddingCall): Promise<EmbeddingResult> {
    const start = now();
    const dimensions = call.dimensions ?? model.dimensions ?? LOCAL_DEFAULT_DIMENSIONS;
    if (call.signal?.aborted) {
      throw upstreamFailure('aborted', { latencyMs: 0, attempts: 0, batches: 0 }, { cause: call.signal.reason });
    }
    const { vectors, tokens } = embedLocal(call.input, dimensions);
    return {
      vectors,
      usage: { promptTokens: tokens, totalTokens: tokens },
      upstream: { status: 200, latencyMs: Math.max(0, now() - start), attempts: 1, batches: 1 },
    };
  }
  return { kind: 'local', embed };
}

/**
 * Embed every item (texts or token-id arrays) into L2-normalised vectors of `dimensions`;
 * `tokens` is the number of words (or ids) seen. Throws a 400 `GatewayError` for bad dimensions.
 */
export function embedLocal(
  input: readonly string[] | readonly (readonly number[])[],
  dimensions: number,
): { vectors: Float32Array[]; tokens: number } {
  if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > MAX_DIMENSIONS) {
    throw invalidRequest(`dimensions must be an integer from 1 to ${MAX_DIMENSIONS}`, 'invalid_dimensions', 'dimensions');
  }
  const vectors: Float32Array[] = [];
  let tokens = 0;
  for (const item of input) {
    const vector = new Float32Array(dimensions);
    tokens += typeof item === 'string' ? hashText(item, vector) : hashIds(item, vector);
    normalise(vector);
    vectors.push(vector);
  }
  return { vectors, tokens };
}

/** Add the text's features to `vector`; returns the number of words. */
function hashText(raw: string, vector: Float32Array): number {
  const text = raw.normalize('NFKC').toLowerCase();
  let words = 0;
  WORD.lastIndex = 0;
  for (let m = WORD.exec(text); m !== null; m = WORD.exec(text)) {
    words++;
    const start = m.index;
    const end = start + m[0].length;
    let h = step(FNV_OFFSET, WORD_TAG);
    for (let i = start; i < end; i++) h = step(h, text.charCodeAt(i));
    add(vector, h, 1);
    // Trigrams of " word ": positions start-1 .. end, outside the word reads as a space.
    for (let p = start - 1; p + 2 <= end; p++) {
      let t = step(FNV_OFFSET, TRIGRAM_TAG);
      for (let k = p; k < p + 3; k++) t = step(t, k < start || k >= end ? SPACE : text.charCodeAt(k));
      add(vector, t, TRIGRAM_WEIGHT);
    }
  }
  return words;
}

/** Add one feature per token id to `vector`; returns the number of ids. */
function hashIds(ids: readonly number[], vector: Float32Array): number {
  for (const id of ids) {
    const h = stepBytes(stepBytes(step(FNV_OFFSET, ID_TAG), id >>> 0), Math.floor(id / 0x1_0000_0000) >>> 0);
    add(vector, h, 1);
  }
  return ids.length;
}

/** One FNV-1a step over a 16-bit unit. */
function step(h: number, unit: number): number {
  return imul(h ^ unit, FNV_PRIME) >>> 0;
}

/** FNV-1a steps over the four bytes of a 32-bit word, low byte first. */
function stepBytes(h: number, word: number): number {
  h = step(h, word & 0xff);
  h = step(h, (word >>> 8) & 0xff);
  h = step(h, (word >>> 16) & 0xff);
  return step(h, word >>> 24);
}

/** murmur3's 32-bit finaliser: spreads FNV's weak low bits before bucketing. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function add(vector: Float32Array, h: number, weight: number): void {
  const bucket = fmix32(h) % vector.length;
  const sign = fmix32(h ^ SIGN_SEED) & 1 ? 1 : -1;
  vector[bucket] = vector[bucket]! + sign * weight;
}

function normalise(vector: Float32Array): void {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i]! * vector[i]!;
  if (sum === 0) return;
  const inv = 1 / Math.sqrt(sum);
  for (let i = 0; i < vector.length; i++) vector[i] = vector[i]! * inv;
}
