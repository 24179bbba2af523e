/**
 * The limits stage: per-principal rate limits, token quotas and requests in flight.
 *
 * Input (`LimitsRequest`): who (issuer, subject, client id), under which rule, which model, how
 * many input items and an estimate of their tokens. Output: an `Admission` whose `settle` must be
 * called once the request has ended, however it ended (it counts the upstream's real token usage
 * and gives the in-flight place back), or null when no limit applies; or a thrown `GatewayError`:
 * 429 `rate_limit_exceeded` / `quota_exceeded` with `Retry-After` and a reason for the record
 * (nothing is sent upstream), or 503 `rate_limits_unavailable` when the counter store cannot answer
 * in fail-closed mode. One store call per request on admission (`LimitStore.acquire`).
 */
import { createHash } from 'node:crypto';
import type { GatewayConfig, RateLimitsConfig } from '../../../shared/config';
import { GatewayError } from '../errors';
import type { Clock } from '../ports';
import type { Lease, LimitStore, WindowCount } from './ports';
import { effectiveRateLimits, limitsUnavailable, type Admission, type LimitsRequest } from './admission';

export type { LimitStore } from './ports';
export * from './admission';

/** Something operators should see (logged and counted as metrics by the handler). */
export type LimitEvent =
  | { readonly kind: 'store_error'; readonly during: 'acquire' | 'settle'; readonly error: unknown; readonly failMode: 'open' | 'closed' }
  | { readonly kind: 'budget_warning'; readonly ruleId: string; readonly used: number; readonly budget: number; readonly percent: number };

export interface RateLimiterDeps {
  readonly config: GatewayConfig;
  readonly store: LimitStore;
  readonly clock: Clock;
  /** Told of store errors and budget warnings. */
  readonly onEvent?: (event: LimitEvent) => void;
  /** How long an in-flight place outlives a crashed instance, ms. @default 60000 */
  readonly leaseMs?: number;
}

/** Counter names inside a window. */
const REQUESTS = 'requests';
const ITEMS = 'items';
const TOKENS = 'tokens';
/** The counter a lease refusal names. */
export const IN_FLIGHT = 'inFlight';

const SECOND = 1000;
const MINUTE = 60_000;
const DAY = 86_400_000;

/**
 * The key of a principal's counters: SHA-256 of issuer and subject, and of client id, rule and
 * model when `per` names them (JSON-encoded, so no separator can collide).
 */
export function scopeKey(req: LimitsRequest, per: RateLimitsConfig['per']): string {
  const p = new Set(per ?? []);
  const parts = [
    req.principal.issuer,
    req.principal.subject,
    p.has('clientId') ? req.principal.clientId : null,
    p.has('rule') ? req.ruleId : null,
    p.has('model') ? req.model : null,
  ];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/** A fixed window's key: scope, length in seconds and index (epoch ms / length). */
export const windowKey = (scope: string, lengthMs: number, index: number): string => `${scope}:${lengthMs / 1000}:${index}`;
/** The key of a scope's in-flight leases. */
export const leaseKey = (scope: string): string => `${scope}:inflight`;

/** The windows a request adds to and their limits (only counters with a limit are counted). */
export function planWindows(limits: RateLimitsConfig, scope: string, req: LimitsRequest, now: number): WindowCount[] {
  const windows: WindowCount[] = [];
  const window = (lengthMs: number, counters: [string, number, number | undefined][]) => {
    const add: Record<string, number> = {};
    const max: Record<string, number> = {};
    for (const [name, amount, limit] of counters) {
      if (limit === undefined) continue;
      add[name] = amount;
      max[name] = limit;
    }
    if (Object.keys(add).length === 0) return;
    const index = Math.floor(now / lengthMs);
    windows.push({ key: windowKey(scope, lengthMs, index), endsAt: (index + 1) * lengthMs, add, limits: max });
  };
  window(SECOND, [[REQUESTS, 1, limits.requestsPerSecond]]);
  window(MINUTE, [
    [REQUESTS, 1, limits.requestsPerMinute],
    [ITEMS, req.items, limits.inputItemsPerMinute],
    [TOKENS, req.estimatedTokens, limits.tokensPerMinute],
  ]);
  window(DAY, [[TOKENS, req.estimatedTokens, limits.tokensPerDay]]);
  return windows;
}

/** The reason a refusal records, per limit: `quota_exceeded` for the daily budget, `rate_limit_exceeded` for the others. */
type Refusal = { readonly what: string; readonly limit: number | undefined } & (
  | { readonly quota: true; readonly reason: 'quota_tokens_per_day' }
  | {
      readonly quota: false;
      readonly reason:
        | 'rate_limit_in_flight'
        | 'rate_limit_requests_per_second'
        | 'rate_limit_requests_per_minute'
        | 'rate_limit_input_items_per_minute'
        | 'rate_limit_tokens_per_minute';
    }
);

/** Which limit a refusal names, for the message, the reason and the error code. */
function refusalOf(limits: RateLimitsConfig, lengthMs: number | null, counter: string): Refusal {
  if (lengthMs === null) return { what: 'requests in flight', limit: limits.maxInFlight, reason: 'rate_limit_in_flight', quota: false };
  if (lengthMs === DAY) return { what: 'tokens per day', limit: limits.tokensPerDay, reason: 'quota_tokens_per_day', quota: true };
  if (lengthMs === SECOND)
    return { what: 'requests per second', limit: limits.requestsPerSecond, reason: 'rate_limit_requests_per_second', quota: false };
  if (counter === REQUESTS)
    return { what: 'requests per minute', limit: limits.requestsPerMinute, reason: 'rate_limit_requests_per_minute', quota: false };
  if (counter === ITEMS)
    return { what: 'input items per minute', limit: limits.inputItemsPerMinute, reason: 'rate_limit_input_items_per_minute', quota: false };
  return { what: 'tokens per minute', limit: limits.tokensPerMinute, reason: 'rate_limit_tokens_per_minute', quota: false };
}

/** The 429 of a refusal: `Retry-After` is the seconds until the refusing window ends (1 for in flight). */
export function limitExceeded(limits: RateLimitsConfig, window: WindowCount | null, counter: string, now: number): GatewayError {
  const lengthMs = window ? Number(window.key.split(':')[1]) * 1000 : null;
  const r = refusalOf(limits, lengthMs, counter);
  const retryAfter = window ? Math.max(1, Math.ceil((window.endsAt - now) / 1000)) : 1;
  const tooBig = window !== null && (window.add[counter] ?? 0) > (window.limits[counter] ?? Infinity);
  const message = tooBig
    ? `This request alone exceeds your limit of ${r.limit} ${r.what}; send less per request.`
    : r.quota
      ? `You have used your daily quota of ${r.limit} tokens; it renews at 00:00 UTC (in ${retryAfter} s).`
      : `Rate limit of ${r.limit} ${r.what} reached; retry after ${retryAfter} s.`;
  const headers = { 'retry-after': String(retryAfter) };
  return r.quota
    ? new GatewayError(message, { status: 429, type: 'rate_limit_error', code: 'quota_exceeded', reason: r.reason, headers })
    : new GatewayError(message, { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded', reason: r.reason, headers });
}

/** The limits stage (see the module comment). */
export class RateLimiter {
  private readonly leaseMs: number;
  private readonly failMode: 'open' | 'closed';

  constructor(private readonly deps: RateLimiterDeps) {
    this.leaseMs = deps.leaseMs ?? 60_000;
    this.failMode = deps.config.gateway.rateLimitStoreFailMode ?? 'closed';
  }

  /** Admit a request or refuse it (throws); null when no limit applies to its rule. */
  async admit(req: LimitsRequest): Promise<Admission | null> {
    const limits = effectiveRateLimits(this.deps.config, req.ruleId);
    if (!limits) return null;
    const now = this.deps.clock.now();
    const scope = scopeKey(req, limits.per);
    const windows = planWindows(limits, scope, req, now);
    const lease: Lease | null =
      limits.maxInFlight === undefined
        ? null
        : { key: leaseKey(scope), id: req.sessionId, max: limits.maxInFlight, expiresAt: now + this.leaseMs };
    let result;
    try {
      result = await this.deps.store.acquire(windows, lease, now);
    } catch (error) {
      this.deps.onEvent?.({ kind: 'store_error', during: 'acquire', error, failMode: this.failMode });
      if (this.failMode === 'open') return null;
      throw limitsUnavailable(error);
    }
    if (!result.ok) {
      const w = windows.find((x) => x.key === result.refused.key) ?? null;
      throw limitExceeded(limits, w, result.refused.counter, now);
    }
    const day = windows.find((w) => w.key.split(':')[1] === String(DAY / 1000));
    if (day && limits.tokensPerDay !== undefined) {
      const used = result.totals[day.key]?.[TOKENS] ?? 0;
      const percent = limits.budgetWarningPercent ?? 80;
      if (used * 100 >= limits.tokensPerDay * percent)
        this.deps.onEvent?.({ kind: 'budget_warning', ruleId: req.ruleId, used, budget: limits.tokensPerDay, percent });
    }
    let settled = false;
    return {
      settle: async (usedTokens) => {
        if (settled) return;
        settled = true;
        const delta = (usedTokens ?? 0) - req.estimatedTokens;
        const corrections =
          delta === 0 ? [] : windows.filter((w) => w.add[TOKENS] !== undefined).map((w) => ({ ...w, add: { [TOKENS]: delta } }));
        const work: Promise<void>[] = [];
        if (corrections.length > 0) work.push(this.deps.store.adjust(corrections));
        if (lease) work.push(this.deps.store.release(lease));
        for (const r of await Promise.allSettled(work))
          if (r.status === 'rejected')
            this.deps.onEvent?.({ kind: 'store_error', during: 'settle', error: r.reason, failMode: this.failMode });
      },
    };
  }
}
