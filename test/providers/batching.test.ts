import { countBatches, runBatched, runWithConcurrency, splitBatches } from '../../lambda/providers/batching';

/** A promise with its resolve/reject exposed, so tests decide completion order. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('splitBatches / countBatches', () => {
  it('splits into consecutive slices with offsets', () => {
    const batches = splitBatches(['a', 'b', 'c', 'd', 'e', 'f', 'g'], 3);
    expect(batches).toEqual([
      { index: 0, offset: 0, items: ['a', 'b', 'c'] },
      { index: 1, offset: 3, items: ['d', 'e', 'f'] },
      { index: 2, offset: 6, items: ['g'] },
    ]);
    expect(countBatches(7, 3)).toBe(3);
    expect(countBatches(6, 3)).toBe(2);
    expect(countBatches(0, 3)).toBe(0);
    expect(splitBatches([], 3)).toEqual([]);
  });

  it('fails when the batch size is not a positive integer', () => {
    expect(() => splitBatches([1], 0)).toThrow(/maxBatchSize must be a positive integer/);
    expect(() => splitBatches([1], 1.5)).toThrow(RangeError);
  });
});

describe('runWithConcurrency', () => {
  it('never runs more than `concurrency` workers at once, and uses all of them', async () => {
    let inFlight = 0;
    let max = 0;
    const started: number[] = [];
    const results = await runWithConcurrency(
      Array.from({ length: 10 }, (_, i) => i),
      3,
      async (task) => {
        started.push(task);
        inFlight++;
        max = Math.max(max, inFlight);
        // Uneven durations so lanes finish out of step.
        for (let t = 0; t < ((task * 7) % 5) + 1; t++) await tick();
        inFlight--;
        return task * 10;
      },
    );
    expect(max).toBe(3);
    expect(started.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(results).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  });

  it('returns results in task order when they complete in reverse order', async () => {
    const gates = [deferred(), deferred(), deferred()];
    const run = runWithConcurrency([0, 1, 2], 3, async (task) => {
      await gates[task]!.promise;
      return `r${task}`;
    });
    await tick();
    gates[2]!.resolve();
    await tick();
    gates[1]!.resolve();
    await tick();
    gates[0]!.resolve();
    await expect(run).resolves.toEqual(['r0', 'r1', 'r2']);
  });

  it('on the first failure starts nothing new, aborts running workers and waits for them', async () => {
    const started: number[] = [];
    let slowSettled = false;
    let slowSawAbort = false;
    const boom = new Error('boom');
    const run = runWithConcurrency([0, 1, 2, 3, 4], 2, async (task, _i, signal) => {
      started.push(task);
      if (task === 0) {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        slowSawAbort = signal.aborted;
        await tick();
        slowSettled = true;
        throw new Error('aborted, dropped');
      }
      await tick();
      throw boom;
    });
    await expect(run).rejects.toBe(boom);
    expect(started).toEqual([0, 1]);
    expect(slowSawAbort).toBe(true);
    expect(slowSettled).toBe(true);
  });

  it('passes an external abort on to the workers and starts no new task', async () => {
    const controller = new AbortController();
    const started: number[] = [];
    const run = runWithConcurrency(
      [0, 1, 2, 3],
      1,
      async (task) => {
        started.push(task);
        if (task === 0) controller.abort(new Error('client went away'));
        return task;
      },
      controller.signal,
    );
    await expect(run).rejects.toThrow('client went away');
    expect(started).toEqual([0]);
  });

  it('fails when concurrency is not a positive integer', async () => {
    await expect(runWithConcurrency([1], 0, async (t) => t)).rejects.toThrow(/concurrency must be a positive integer/);
  });
});

describe('runBatched', () => {
  it('reassembles values in input order from shuffled per-batch indexes and out-of-order batches', async () => {
    const items = Array.from({ length: 11 }, (_, i) => `item-${i}`);
    const gates = Array.from({ length: 4 }, () => deferred());
    const seen: string[][] = [];
    const run = runBatched(items, { maxBatchSize: 3, concurrency: 4 }, async (batch) => {
      seen[batch.index] = [...batch.items];
      await gates[batch.index]!.promise;
      // Answer in reverse order, each tagged with its index inside the batch.
      return batch.items.map((value, index) => ({ index, value: value.toUpperCase() })).reverse();
    });
    await tick();
    for (const b of [3, 1, 2, 0]) {
      gates[b]!.resolve();
      await tick();
    }
    const out = await run;
    expect(out).toEqual(items.map((s) => s.toUpperCase()));
    expect(seen.map((s) => s.length)).toEqual([3, 3, 3, 2]);
  });

  it.each([
    ['an index out of range', (n: number) => Array.from({ length: n }, (_, i) => ({ index: i + 1, value: i })), /outside/],
    ['the same index twice', (n: number) => Array.from({ length: n }, () => ({ index: 0, value: 0 })), /twice/],
    ['too few results', (n: number) => Array.from({ length: n - 1 }, (_, i) => ({ index: i, value: i })), /returned 1 results for 2 items/],
  ])('fails with RangeError when a batch reports %s', async (_what, answer, message) => {
    await expect(
      runBatched([1, 2, 3, 4], { maxBatchSize: 2, concurrency: 1 }, async (batch) => answer(batch.items.length)),
    ).rejects.toThrow(message);
  });
});
