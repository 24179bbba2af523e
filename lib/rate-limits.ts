/** What per-principal counters are kept apart by, besides the principal (issuer + subject). */
export enum RateLimitScope {
  /** A principal's OAuth clients each get their own counters. */
  CLIENT_ID = 'clientId',
  /** Each rule gets its own counters. */
  RULE = 'rule',
  /** Each model gets its own counters. */
  MODEL = 'model',
}

/**
 * Per-principal rate limits and quotas (fixed windows, exact across Lambda instances; see
 * docs/policy.md, Rate limits). Amounts are plain numbers per second, minute or UTC day, as their
 * names say. Over a limit the client gets 429 `rate_limit_exceeded` (or `quota_exceeded` for the
 * daily token quota) with `Retry-After`, and nothing is sent upstream.
 */
export interface RateLimits {
  /**
   * Requests per second.
   * @default - no limit
   */
  readonly requestsPerSecond?: number;
  /**
   * Requests per minute.
   * @default - no limit
   */
  readonly requestsPerMinute?: number;
  /**
   * Input items (strings or token-id arrays) per minute.
   * @default - no limit
   */
  readonly inputItemsPerMinute?: number;
  /**
   * Tokens per minute (the upstream's usage; before it answers, an estimate of one token per 4 characters).
   * @default - no limit
   */
  readonly tokensPerMinute?: number;
  /**
   * Tokens per UTC day: the daily budget. A warning (log and alarm) past `budgetWarningPercent`, 429 `quota_exceeded` at 100 %.
   * @default - no limit
   */
  readonly tokensPerDay?: number;
  /**
   * Requests of one principal in flight at once.
   * @default - no limit
   */
  readonly maxInFlight?: number;
  /**
   * Keep counters apart also per client id, rule and/or model.
   * @default - one set of counters per principal (issuer + subject)
   */
  readonly per?: RateLimitScope[];
  /**
   * Percentage of `tokensPerDay` past which the daily budget warning is raised.
   * @default 80
   */
  readonly budgetWarningPercent?: number;
}
