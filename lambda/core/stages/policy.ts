/**
 * Stage `policy`: which rule decides this principal's use of this model. In: the principal and the
 * requested model. Out: the allowing rule, the model's configuration and the rule's limits, or
 * 403 `model_not_allowed` (the record's reason says why: `rule_deny`, `no_matching_rule`,
 * `model_unknown`).
 */
import type { GatewayConfig, Limits, ModelConfig } from '../../../shared/config';
import { GatewayError } from '../errors';
import { truncate, type Session } from '../exchange';
import { decide } from '../policy';
import type { Principal } from '../principal';

/** A request the policy allows. */
export interface Admitted {
  readonly ruleId: string;
  readonly model: ModelConfig;
  readonly limits: Limits;
  /** The record's reason once the request is answered (`rule_allow`). */
  readonly reason: string;
}

export function admit(config: GatewayConfig, principal: Principal, modelName: string, s: Session): Admitted {
  const decision = decide(config, principal, modelName);
  s.ruleId = decision.ruleId;
  if (decision.model) {
    s.model = {
      name: decision.model.name,
      provider: decision.model.provider,
      upstream_model: decision.model.upstreamModel ?? decision.model.name,
    };
  }
  if (decision.effect === 'deny') {
    throw new GatewayError(`You are not allowed to use model "${truncate(modelName, 128)}".`, {
      status: 403,
      type: 'permission_error',
      code: 'model_not_allowed',
      param: 'model',
      reason: decision.reason,
    });
  }
  return { ruleId: decision.ruleId!, model: decision.model!, limits: decision.limits!, reason: decision.reason };
}
