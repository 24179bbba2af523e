/**
 * The counter store of `embedgate dev` and tests: the DynamoDB adapter's semantics (fixed-window
 * counters, all-or-nothing admission, leases that expire) in memory. An admission is checked and
 * applied synchronously, so concurrent requests on this event loop are exact.
 */
import type { AcquireResult, Lease, LimitStore, WindowCount } from '../../core/limits/ports';
import { IN_FLIGHT } from '../../core/limits/stage';

export class InMemoryLimitStore implements LimitStore {
  private readonly windows = new Map<string, { endsAt: number; counts: Record<string, number> }>();
  private readonly leases = new Map<string, Map<string, number>>();

  /** Store calls made (tests and the benchmark count round trips). */
  calls = 0;

  constructor(private readonly opts: { readonly latencyMs?: number } = {}) {}

  async acquire(windows: readonly WindowCount[], lease: Lease | null, now: number): Promise<AcquireResult> {
    this.calls++;
    await this.delay();
    this.prune(now);
    for (const w of windows) {
      const counts = this.windows.get(w.key)?.counts ?? {};
      for (const [name, add] of Object.entries(w.add)) {
        const limit = w.limits[name];
        if (limit !== undefined && (counts[name] ?? 0) + add > limit) return { ok: false, refused: { key: w.key, counter: name } };
      }
    }
    if (lease) {
      const held = this.leases.get(lease.key);
      const live = held ? [...held.values()].filter((until) => until > now).length : 0;
      if (live >= lease.max) return { ok: false, refused: { key: lease.key, counter: IN_FLIGHT } };
    }
    const totals: Record<string, Record<string, number>> = {};
    for (const w of windows) totals[w.key] = this.add(w);
    if (lease) {
      let held = this.leases.get(lease.key);
      if (!held) this.leases.set(lease.key, (held = new Map()));
      for (const [id, until] of held) if (until <= now) held.delete(id);
      held.set(lease.id, lease.expiresAt);
    }
    return { ok: true, totals };
  }

  async adjust(windows: readonly Pick<WindowCount, 'key' | 'endsAt' | 'add'>[]): Promise<void> {
    this.calls++;
    await this.delay();
    for (const w of windows) this.add(w);
  }

  async release(lease: Pick<Lease, 'key' | 'id'>): Promise<void> {
    this.calls++;
    await this.delay();
    this.leases.get(lease.key)?.delete(lease.id);
  }

  /** A window's counters (tests, the demo). */
  counts(key: string): Readonly<Record<string, number>> {
    return { ...this.windows.get(key)?.counts };
  }

  private add(w: Pick<WindowCount, 'key' | 'endsAt' | 'add'>): Record<string, number> {
    let entry = this.windows.get(w.key);
    if (!entry) this.windows.set(w.key, (entry = { endsAt: w.endsAt, counts: {} }));
    for (const [name, n] of Object.entries(w.add)) entry.counts[name] = (entry.counts[name] ?? 0) + n;
    return { ...entry.counts };
  }

  /** Windows that ended are dropped (DynamoDB's TTL does it some time after). */
  private prune(now: number): void {
    for (const [key, w] of this.windows) if (w.endsAt <= now) this.windows.delete(key);
  }

  private delay(): Promise<void> | undefined {
    return this.opts.latencyMs ? new Promise((r) => setTimeout(r, this.opts.latencyMs)) : undefined;
  }
}
