/**
 * Batching: split a request's items into upstream-sized batches, run a bounded number of them at
 * once, and put the results back in input order. Generic (knows nothing about HTTP or vectors)
 * so it can be tested on its own.
 */
import { runWithConcurrency } from '../core/util/concurrency';

export { DeadlineExceeded, runWithConcurrency } from '../core/util/concurrency';

/** One slice of the input, as handed to the batch worker. */
export interface Batch<T> {
  /** Position of this batch among all batches (0-based). */
  readonly index: number;
  /** Position of this batch's first item in the whole input. */
  readonly offset: number;
  readonly items: readonly T[];
}

/** One result of a batch, tagged with its position inside that batch (the upstream `index`). */
export interface IndexedResult<V> {
  readonly index: number;
  readonly value: V;
}

/** Options of {@link runBatched}. */
export interface BatchOptions {
  /** Most items per batch (a positive integer). */
  readonly maxBatchSize: number;
  /** Most batches in flight at once (a positive integer). */
  readonly concurrency: number;
  /** Aborting it aborts the signal handed to every running worker and stops new batches. */
  readonly signal?: AbortSignal;
  /**
   * Epoch ms (the request's deadline, shared by every batch and retry): then the signal handed
   * to the running workers is aborted with a {@link DeadlineExceeded} and no new batch starts.
   */
  readonly deadline?: number;
}

/** How many batches `count` items make at `maxBatchSize` items per batch. */
export function countBatches(count: number, maxBatchSize: number): number {
  assertPositiveInteger(maxBatchSize, 'maxBatchSize');
  return Math.ceil(count / maxBatchSize);
}

/** Split `items` into consecutive batches of at most `maxBatchSize` items. */
export function splitBatches<T>(items: readonly T[], maxBatchSize: number): Batch<T>[] {
  const batches: Batch<T>[] = [];
  const total = countBatches(items.length, maxBatchSize);
  for (let b = 0; b < total; b++) {
    const offset = b * maxBatchSize;
    batches.push({ index: b, offset, items: items.slice(offset, offset + maxBatchSize) });
  }
  return batches;
}

/**
 * Split `items` into batches, embed them with `embedBatch` (at most `concurrency` at once) and
 * reassemble the values in input order: the value a batch reports at `index` lands at
 * `batch.offset + index`.
 *
 * Throws `RangeError` when a batch reports an index out of range, the same index twice or not
 * every index (callers validate upstream responses first; this is the last line of defence).
 */
export async function runBatched<T, V>(
  items: readonly T[],
  opts: BatchOptions,
  embedBatch: (batch: Batch<T>, signal: AbortSignal) => Promise<readonly IndexedResult<V>[]>,
): Promise<V[]> {
  const batches = splitBatches(items, opts.maxBatchSize);
  const out = new Array<V>(items.length);
  const filled = new Uint8Array(items.length);
  await runWithConcurrency(
    batches,
    opts.concurrency,
    async (batch, _i, signal) => {
      const results = await embedBatch(batch, signal);
      if (results.length !== batch.items.length) {
        throw new RangeError(`batch ${batch.index} returned ${results.length} results for ${batch.items.length} items`);
      }
      for (const r of results) {
        if (!Number.isInteger(r.index) || r.index < 0 || r.index >= batch.items.length) {
          throw new RangeError(`batch ${batch.index} returned index ${r.index}, outside 0..${batch.items.length - 1}`);
        }
        const at = batch.offset + r.index;
        if (filled[at]) throw new RangeError(`batch ${batch.index} returned index ${r.index} twice`);
        filled[at] = 1;
        out[at] = r.value;
      }
    },
    opts.signal,
    opts.deadline,
  );
  return out;
}

function assertPositiveInteger(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${what} must be a positive integer, got ${n}`);
}
