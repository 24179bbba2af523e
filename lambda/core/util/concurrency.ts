/**
 * The one bounded-concurrency helper of the code base (provider batching, the external-detector
 * runner, the Comprehend adapter, the audit digest builder and verifier all use it). Pure.
 */

/**
 * Run `worker` over `tasks` with at most `concurrency` calls in flight; results come back in task
 * order whatever the completion order.
 *
 * On the first failure no new task starts, the signal handed to the running workers is aborted,
 * and, once every running worker has settled, the promise rejects with that first error (later
 * errors, typically aborts caused by the first, are dropped). Nothing is left running after it
 * settles. Aborting `signal` aborts the workers' signal and stops new tasks; so does `deadline`
 * (epoch ms), with a {@link DeadlineExceeded} as the reason.
 */
export async function runWithConcurrency<T, R>(
  tasks: readonly T[],
  concurrency: number,
  worker: (task: T, index: number, signal: AbortSignal) => Promise<R>,
  signal?: AbortSignal,
  deadline?: number,
): Promise<R[]> {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  const group = new AbortController();
  const onAbort = (): void => group.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  const atDeadline = (): void => group.abort(new DeadlineExceeded(deadline!));
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (deadline !== undefined && !group.signal.aborted) {
    const left = deadline - Date.now();
    if (left <= 0) atDeadline();
    else timer = setTimeout(atDeadline, left);
  }

  const results = new Array<R>(tasks.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown): void => {
    if (failure) return;
    failure = { error };
    group.abort(error);
  };
  const lane = async (): Promise<void> => {
    while (!failure && next < tasks.length) {
      if (group.signal.aborted) {
        fail(group.signal.reason);
        return;
      }
      const i = next++;
      try {
        results[i] = await worker(tasks[i]!, i, group.signal);
      } catch (error) {
        fail(error);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, lane));
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
  if (failure) throw failure.error;
  return results;
}

/** The reason of an abort at the request's deadline. */
export class DeadlineExceeded extends Error {
  constructor(readonly deadline: number) {
    super('the request deadline passed');
    this.name = 'DeadlineExceeded';
  }
}

/** `fn` over `items` with at most `limit` (at least 1) in flight, results in input order; rejects with the first failure. */
export function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  return runWithConcurrency(items, Math.max(1, Math.floor(limit)), (item) => fn(item));
}
