/**
 * Running an external `PiiDetector` (Amazon Comprehend `DetectPiiEntities`) over request items:
 * texts cut into chunks under the service's size limit (the shared chunker, core/util/text-chunks:
 * safe boundaries, never inside a surrogate pair, consecutive chunks overlapping so an entity that
 * straddles a cut is seen whole in one of them); offsets mapped back to the item; calls run with
 * bounded concurrency (core/util/concurrency); the first failure cancels the rest and rejects.
 */
import type { PiiDetector, PiiEntity } from '../ports';
import { runWithConcurrency } from '../util/concurrency';
import { chunkText, type TextChunk } from '../util/text-chunks';

/** DetectPiiEntities accepts at most 100 KB of UTF-8; keep a margin. */
export const DEFAULT_MAX_CHUNK_BYTES = 99_000;
/** Bytes shared by consecutive chunks. */
export const DEFAULT_CHUNK_OVERLAP = 512;

export { chunkText, codePointToUtf16 } from '../util/text-chunks';

export interface ExternalRunOptions {
  readonly maxConcurrency: number;
  readonly maxChunkBytes?: number;
  /** Bytes of overlap between consecutive chunks. */
  readonly overlap?: number;
  readonly signal?: AbortSignal;
}

/**
 * Entities of `detector` in every text, offsets relative to each text, duplicates from chunk
 * overlaps removed. Rejects when any call fails (remaining calls are aborted).
 */
export async function detectExternal(texts: readonly string[], detector: PiiDetector, opts: ExternalRunOptions): Promise<PiiEntity[][]> {
  const jobs: Array<{ item: number; chunk: TextChunk }> = [];
  texts.forEach((t, item) => {
    if (t.length > 0) {
      for (const chunk of chunkText(t, opts.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES, opts.overlap ?? DEFAULT_CHUNK_OVERLAP)) {
        jobs.push({ item, chunk });
      }
    }
  });
  const answers = await runWithConcurrency(
    jobs,
    Math.max(1, opts.maxConcurrency),
    (j, _i, signal) => detector.detect(j.chunk.text, signal),
    opts.signal,
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
}
