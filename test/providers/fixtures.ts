/** Shared fixtures for the provider tests: model configs, a fake secret store, instant deps. */
import type { ModelConfig } from '../../shared/config';
import type { SecretRef, SecretStore } from '../../lambda/core/ports';
import type { ProviderDeps } from '../../lambda/providers';

/** The upstream key the fake secret store hands out; tests assert it never leaks. */
export const UPSTREAM_KEY = 'sk-test-SECRET-0123456789abcdef';

/** A model config as `loadConfig` would produce it, with test-friendly defaults. */
export function modelConfig(
  overrides: Omit<Partial<ModelConfig>, 'upstream'> & { upstream?: Partial<ModelConfig['upstream']> } = {},
): ModelConfig {
  const { upstream, ...rest } = overrides;
  return {
    name: 'text-embedding-3-small',
    provider: 'openai',
    baseUrl: 'http://127.0.0.1:9/v1',
    apiKey: { source: 'env', name: 'OPENAI_API_KEY' },
    limits: {},
    ...rest,
    upstream: { maxBatchSize: 2048, concurrency: 4, timeoutMs: 5_000, maxRetries: 2, ...upstream },
  } as ModelConfig;
}

/** A secret store that records the references asked for. */
export function fakeSecrets(value: string | Error = UPSTREAM_KEY): SecretStore & { refs: SecretRef[] } {
  const refs: SecretRef[] = [];
  return {
    refs,
    async get(ref: SecretRef): Promise<string> {
      refs.push(ref);
      if (value instanceof Error) throw value;
      return value;
    },
  };
}

/** Deps whose sleep returns at once and records the delays asked for; random is fixed at 0.5. */
export function instantDeps(extra: Partial<ProviderDeps> = {}): ProviderDeps & { sleeps: number[] } {
  const sleeps: number[] = [];
  return {
    secrets: fakeSecrets(),
    sleep: async (ms: number) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    sleeps,
    ...extra,
  };
}

/** Run `fn` and return what it threw (fails the test when it does not throw). */
export async function caught<E = Error>(fn: () => Promise<unknown>): Promise<E> {
  try {
    await fn();
  } catch (e) {
    return e as E;
  }
  throw new Error('expected the call to throw, it returned');
}
