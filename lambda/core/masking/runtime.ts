/**
 * The masker of a running gateway: built on first use (the pseudonym key comes from the secret
 * store, asynchronously), then shared by every request. A failed build (the key's secret is
 * unavailable) is retried on the next request; meanwhile requests fail closed.
 */
import type { GatewayConfig } from '../../../shared/config';
import type { PiiDetector, SecretStore } from '../ports';
import { createMasker, type Masker } from './masker';

/** A memoised masker factory, or undefined when masking is off. */
export function lazyMasker(config: GatewayConfig, deps: { readonly secrets: SecretStore; readonly detector?: PiiDetector }): (() => Promise<Masker>) | undefined {
  const m = config.masking;
  if (!m?.enabled) return undefined;
  let built: Promise<Masker> | undefined;
  return () => {
    built ??= (async () => createMasker(m, { ...(m.pseudonymKey ? { key: await deps.secrets.get(m.pseudonymKey) } : {}), ...(deps.detector ? { detector: deps.detector } : {}) }))();
    built.catch(() => {
      built = undefined;
    });
    return built;
  };
}
