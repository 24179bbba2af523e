/**
 * Stage `limits`: what one request of this rule may ask for (input items, characters per item,
 * dimensions, the answer's size within the platform's payload limit), and the per-principal rate limits and quotas (requests, items and tokens per
 * window, requests in flight: lambda/core/limits/). In: the parsed request, the admitted rule, the
 * principal. Out: nothing, or 400/413 naming the limit; an `Admission` to settle when the request
 * ends, or 429 `rate_limit_exceeded` / `quota_exceeded` with `Retry-After`. The rate check runs
 * alongside masking (`alongsideLimits`), so it costs no time of its own.
 */
import type { GatewayConfig } from '../../../shared/config';
import type { Session } from '../exchange';
import { checkResponseFits, LAMBDA_PAYLOAD_LIMIT_BYTES } from '../payload-limits';
import { estimateTokens, type Admission, type LimitsRequest } from '../limits/admission';
import type { Principal } from '../principal';
import { enforceLimits, type EmbeddingsRequest } from '../request';
import type { Admitted } from './policy';

/** The rate limiter as the pipeline sees it (`RateLimiter` in lambda/core/limits/stage.ts). */
export interface RateLimiterPort {
  admit(req: LimitsRequest): Promise<Admission | null>;
}

export function applyLimits(request: EmbeddingsRequest, admitted: Admitted, config: GatewayConfig): void {
  enforceLimits(request, admitted.limits);
  // The answer must fit the platform's payload limit: refused (422) before anything is sent upstream.
  checkResponseFits(request, admitted.model, responseLimit(config));
}

/** The largest answer the platform carries, bytes (`gateway.maxResponseBytes`, else Lambda's 6 MB). */
export const responseLimit = (config: GatewayConfig): number => config.gateway.maxResponseBytes ?? LAMBDA_PAYLOAD_LIMIT_BYTES;

/** Start the rate-limit check of an admitted request (undefined when no limiter is configured). */
export function checkRateLimits(
  limiter: RateLimiterPort | undefined,
  principal: Principal,
  admitted: Admitted,
  request: EmbeddingsRequest,
  s: Session,
): Promise<Admission | null> | undefined {
  return limiter?.admit({
    principal,
    ruleId: admitted.ruleId,
    model: admitted.model.name,
    items: s.input.items,
    estimatedTokens: estimateTokens(request.input),
    sessionId: s.id,
  });
}
