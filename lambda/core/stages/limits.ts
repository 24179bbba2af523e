/**
 * Stage `limits`: what one request of this rule may ask for (input items, characters per item,
 * dimensions). In: the parsed request and the admitted rule's limits. Out: nothing, or 400/413
 * naming the limit.
 */
import { enforceLimits, type EmbeddingsRequest } from '../request';
import type { Admitted } from './policy';

export function applyLimits(request: EmbeddingsRequest, admitted: Admitted): void {
  enforceLimits(request, admitted.limits);
}
