/**
 * The port of the limits stage: where per-principal counters live (DynamoDB in AWS, memory in
 * `embedgate dev`). The algorithm is fixed windows (docs/policy.md, Rate limits): one record per
 * principal scope and window holds that window's counters, and an admission is one conditional
 * atomic add over them, so concurrent requests on any number of instances can never pass a limit.
 */

/** One fixed window of one principal scope: the counters of that window a request adds to. */
export interface WindowCount {
  /** The window's key: the scope, the window length and the window's index (see `windowKey`). */
  readonly key: string;
  /** Epoch ms when the window ends (its record may be deleted some time after). */
  readonly endsAt: number;
  /** What to add, per counter (`requests`, `items`, `tokens`). */
  readonly add: Readonly<Record<string, number>>;
  /** Per counter, the most it may hold after the add; a counter without a limit is not checked. */
  readonly limits: Readonly<Record<string, number>>;
}

/** A place among a scope's requests in flight, held until released or until it expires. */
export interface Lease {
  /** The scope's lease key (see `leaseKey`). */
  readonly key: string;
  /** Unique per request (the session id). */
  readonly id: string;
  /** Most leases the scope may hold at once (expired ones do not count). */
  readonly max: number;
  /** Epoch ms after which the lease no longer counts (an instance that crashed never releases it). */
  readonly expiresAt: number;
}

/** Which limit refused: a window's counter, or `inFlight` for the lease. */
export interface Refusal {
  readonly key: string;
  readonly counter: string;
}

export type AcquireResult =
  /** Admitted: every counter was added to; `totals` holds each window's counters after the add. */
  | { readonly ok: true; readonly totals: Readonly<Record<string, Readonly<Record<string, number>>>> }
  /** Refused: nothing was added (or what was added is taken back before this resolves). */
  | { readonly ok: false; readonly refused: Refusal };

/** Per-principal counters and in-flight leases. */
export interface LimitStore {
  /**
   * Add `add` to every counter of `windows` and take the lease, only if no counter would exceed
   * its limit and the lease has a free place (expired leases are not counted), all checked
   * against the store's current state atomically: of N concurrent calls against a limit L,
   * exactly min(N, L) (by amount) are admitted. Rejects when the store cannot answer.
   */
  acquire(windows: readonly WindowCount[], lease: Lease | null, now: number): Promise<AcquireResult>;
  /**
   * Add to counters without any check (the difference between a token estimate and the
   * upstream's usage; negative amounts give back). Rejects when the store cannot answer.
   */
  adjust(windows: readonly Pick<WindowCount, 'key' | 'endsAt' | 'add'>[]): Promise<void>;
  /** Give a lease back (idempotent). Rejects when the store cannot answer. */
  release(lease: Pick<Lease, 'key' | 'id'>): Promise<void>;
}
