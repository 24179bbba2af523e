/**
 * Running an external `PiiDetector` (Amazon Comprehend `DetectPiiEntities`) over request items:
 * texts cut into chunks under the service's size limit at safe boundaries (paragraph, sentence,
 * whitespace; never inside a surrogate pair), consecutive chunks overlapping so an entity that
 * straddles a cut is seen whole in one of them; offsets mapped back to the item; calls run with
 * bounded concurrency; the first failure cancels the rest and rejects.
 */
import type { PiiDetector, PiiEntity } from '../ports';

/** DetectPiiEntities accepts at most 100 KB of UTF-8; keep a margin. */
export const DEFAULT_MAX_CHUNK_BYTES = 99_000;
/** Characters shared by consecutive chunks. */
export const DEFAULT_CHUNK_OVERLAP = 256;

export interface Chunk {
  /** Offset of the chunk in the text. */
  readonly start: number;
  readonly text: string;
}

function utf8Bytes(c: number, next: number): number {
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) return 4;
  return 3;
}

/** Best cut in (from, to]: after a blank line, a sentence end, or whitespace, in the last fifth; else `to`. */
function cutPoint(text: string, from: number, to: number): number {
  const floor = from + Math.floor((to - from) * 0.8);
  const window = text.slice(floor, to);
  for (const sep of ['\n\n', '. ', '\n', ' ']) {
    const k = window.lastIndexOf(sep);
    if (k !== -1 && floor + k + sep.length > from) return floor + k + sep.length;
  }
  return to;
}

/** Cut `text` into chunks of at most `maxBytes` UTF-8 bytes. */
export function chunkText(text: string, maxBytes = DEFAULT_MAX_CHUNK_BYTES, overlap = DEFAULT_CHUNK_OVERLAP): Chunk[] {
  if (maxBytes < 16) throw new Error('maxBytes must be at least 16');
  const chunks: Chunk[] = [];
  let start = 0;
  while (start < text.length) {
    let end = start;
    let bytes = 0;
    while (end < text.length) {
      const c = text.charCodeAt(end);
      const b = utf8Bytes(c, end + 1 < text.length ? text.charCodeAt(end + 1) : -1);
      if (bytes + b > maxBytes) break;
      bytes += b;
      end += b === 4 ? 2 : 1;
    }
    if (end < text.length) end = cutPoint(text, start, end);
    chunks.push({ start, text: text.slice(start, end) });
    if (end >= text.length) break;
    // Overlap, starting after whitespace when there is one (not inside a word or a surrogate pair).
    let next = Math.max(start + 1, end - Math.min(overlap, Math.floor((end - start) / 2)));
    const ws = text.slice(next, end).search(WHITESPACE);
    next = ws === -1 ? end : next + ws + 1;
    const c = text.charCodeAt(next);
    if (c >= 0xdc00 && c <= 0xdfff) next++;
    start = next;
  }
  return chunks;
}

const WHITESPACE = /\s/;
/** Patterns of this module, for the recheck test. */
export const EXTERNAL_PATTERNS: readonly RegExp[] = [WHITESPACE];

/** Run `tasks` with at most `limit` in flight; rejects with the first failure. */
async function pool<T>(tasks: ReadonlyArray<() => Promise<T>>, limit: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < tasks.length) {
      const i = next++;
      try {
        results[i] = await tasks[i]!();
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

export interface ExternalRunOptions {
  readonly maxConcurrency: number;
  readonly maxChunkBytes?: number;
  readonly overlap?: number;
  readonly signal?: AbortSignal;
}

/**
 * Entities of `detector` in every text, offsets relative to each text, duplicates from chunk
 * overlaps removed. Rejects when any call fails (remaining calls are aborted).
 */
export async function detectExternal(texts: readonly string[], detector: PiiDetector, opts: ExternalRunOptions): Promise<PiiEntity[][]> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  const jobs: Array<{ item: number; chunk: Chunk }> = [];
  texts.forEach((t, item) => {
    if (t.length > 0) for (const chunk of chunkText(t, opts.maxChunkBytes, opts.overlap)) jobs.push({ item, chunk });
  });
  try {
    const answers = await pool(
      jobs.map((j) => () => detector.detect(j.chunk.text, controller.signal)),
      Math.max(1, opts.maxConcurrency),
    );
    const out: PiiEntity[][] = texts.map(() => []);
    const seen = texts.map(() => new Set<string>());
    answers.forEach((entities, k) => {
      const { item, chunk } = jobs[k]!;
      for (const e of entities) {
        const mapped = { type: e.type, start: e.start + chunk.start, end: e.end + chunk.start, score: e.score };
        const id = `${mapped.type}:${mapped.start}:${mapped.end}`;
        if (seen[item]!.has(id)) continue;
        seen[item]!.add(id);
        out[item]!.push(mapped);
      }
    });
    return out;
  } catch (e) {
    controller.abort(e);
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Map offsets counted in Unicode code points (Comprehend's BeginOffset / EndOffset) to UTF-16
 * code units (what `PiiEntity` uses). For the Comprehend adapter.
 */
export function codePointToUtf16(text: string): (codePointOffset: number) => number {
  const table: number[] = [];
  let cp = 0;
  for (let i = 0; i < text.length; i++) {
    table[cp++] = i;
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
  }
  table[cp] = text.length;
  return (offset) => table[Math.max(0, Math.min(offset, cp))]!;
}
