/**
 * The masker of a running gateway: built on first use (the pseudonym key comes from the secret
 * store, asynchronously; an external detector may be loaded on demand), then shared by every
 * request. A failed build (the key's secret is unavailable, the detector cannot be loaded) is
 * retried on the next request; meanwhile requests fail closed.
 */
import type { GatewayConfig } from '../../../shared/config';
import type { PiiDetector, SecretStore } from '../ports';
import { createMasker, type Masker } from './masker';

/** What {@link lazyMasker} needs: the secret store, and at most one external detector. */
export interface LazyMaskerDeps {
  readonly secrets: SecretStore;
  readonly detector?: PiiDetector;
  /**
   * Loads the external detector when the masker is built (e.g. from a lazily loaded chunk of the
   * Lambda bundle); ignored when `detector` is given. A failed load fails the build (closed).
   */
  readonly loadDetector?: () => Promise<PiiDetector>;
}

/** A memoised masker factory, or undefined when masking is off. */
export function lazyMasker(config: GatewayConfig, deps: LazyMaskerDeps): (() => Promise<Masker>) | undefined {
  const m = config.masking;
  if (!m?.enabled) return undefined;
  let built: Promise<Masker> | undefined;
  return () => {
    built ??= (async () => {
      const [key, detector] = await Promise.all([
        m.pseudonymKey ? deps.secrets.get(m.pseudonymKey) : undefined,
        deps.detector ?? deps.loadDetector?.(),
      ]);
      return createMasker(m, { ...(key !== undefined ? { key } : {}), ...(detector ? { detector } : {}) });
    })();
    built.catch(() => {
      built = undefined;
    });
    return built;
  };
}
