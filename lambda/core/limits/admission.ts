/**
 * The part of the limits stage the request path always loads (stage.ts, with the counters and
 * their store, is a chunk the proxy loads only when limits are configured): the stage's input and
 * output types, the token estimate, and running the check alongside masking.
 */
import type { GatewayConfig, RateLimitsConfig } from '../../../shared/config';
import { GatewayError } from '../errors';

/** What the stage needs to know about a request. */
export interface LimitsRequest {
  readonly principal: { readonly issuer: string; readonly subject: string; readonly clientId: string | null };
  readonly ruleId: string;
  /** The configured model's name. */
  readonly model: string;
  /** Input items of the request. */
  readonly items: number;
  /** Tokens the request is expected to use (`estimateTokens`); the upstream's usage replaces it at `settle`. */
  readonly estimatedTokens: number;
  /** Names the request's in-flight lease. */
  readonly sessionId: string;
}

/** An admitted request. */
export interface Admission {
  /**
   * The request ended: count `usedTokens` (the upstream's usage; null when there is none, then the
   * estimate is given back) and release its in-flight place. Never rejects (store errors go to
   * `onEvent`); call it once.
   */
  settle(usedTokens: number | null): Promise<void>;
}

/** The rate limits that apply under a rule: the gateway's defaults, overridden field by field by the rule's. Null when none. */
export function effectiveRateLimits(config: GatewayConfig, ruleId: string): RateLimitsConfig | null {
  const rule = config.policy.rules.find((r) => r.id === ruleId);
  const merged: RateLimitsConfig = { ...config.gateway.rateLimits, ...rule?.rateLimits };
  const any =
    merged.requestsPerSecond ??
    merged.requestsPerMinute ??
    merged.inputItemsPerMinute ??
    merged.tokensPerMinute ??
    merged.tokensPerDay ??
    merged.maxInFlight;
  return any === undefined ? null : merged;
}

/** True when any rule or the gateway's defaults set a rate limit (a counter store is then needed). */
export function hasRateLimits(config: GatewayConfig): boolean {
  return config.policy.rules.some((r) => r.effect === 'allow' && effectiveRateLimits(config, r.id) !== null);
}

/** True for the reason of a refusal by this stage (`rate_limit_*`, `quota_*`). */
export const isLimitReason = (reason: string): boolean => reason.startsWith('rate_limit_') || reason.startsWith('quota_');

/**
 * Tokens a request is expected to use before the upstream says: token-id inputs count their ids;
 * text counts one token per 4 UTF-16 characters (rounded up, per item, at least 1), OpenAI's rule
 * of thumb for English. The upstream's usage replaces it when the answer reports one.
 */
export function estimateTokens(input: {
  readonly kind: 'text' | 'tokens';
  readonly items: readonly (string | readonly number[])[];
}): number {
  let n = 0;
  for (const item of input.items) n += input.kind === 'tokens' ? item.length : Math.max(1, Math.ceil(item.length / 4));
  return n;
}

/**
 * Run `work` (masking) while the limit check runs, so the check costs no time of its own. The
 * limit's refusal wins over `work`'s error (limits come first in the pipeline); when `work` fails
 * after an admission, the admission is settled (nothing was sent) before the error is rethrown.
 */
export async function alongsideLimits<T>(
  work: Promise<T>,
  admitting: Promise<Admission | null> | undefined,
): Promise<[T, Admission | null]> {
  const [a, w] = await Promise.allSettled([admitting ?? null, work]);
  if (a.status === 'rejected') throw a.reason;
  if (w.status === 'rejected') {
    await a.value?.settle(null);
    throw w.reason;
  }
  return [w.value, a.value];
}

/** 503 `rate_limits_unavailable`: the counter store (or the stage itself) cannot answer in fail-closed mode; nothing was sent. */
export function limitsUnavailable(cause: unknown): GatewayError {
  return new GatewayError('Rate limits cannot be checked right now; nothing was sent. Try again later.', {
    status: 503,
    type: 'server_error',
    code: 'rate_limits_unavailable',
    headers: { 'retry-after': '1' },
    cause,
  });
}
