/**
 * Loading rarely used AWS clients on demand. The Lambda bundles are split (scripts/bundle.mjs):
 * a module reached only through `import()` is a chunk of its own, read and compiled only by
 * gateways that use it (Bedrock models, Comprehend masking), so the others start faster.
 */
import type { EmbeddingCall, EmbeddingProvider, EmbeddingResult } from '../../core/ports';

/**
 * `load`, memoised: the first call starts it, later calls share its promise. A failed load is
 * forgotten, so the next call tries again (a transient read error does not stick).
 */
export function once<T>(load: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    if (!p) {
      const started = load();
      p = started;
      started.catch(() => {
        if (p === started) p = undefined;
      });
    }
    return p;
  };
}

/**
 * A provider whose real provider is created on its first `embed` (by `create`, which may load a
 * chunk). Creation failures reject that `embed`, as a failure of `provider(model)` would fail the
 * request, and are retried on the next one.
 */
export function lazyProvider(kind: string, create: () => Promise<EmbeddingProvider>): EmbeddingProvider {
  const get = once(create);
  return {
    kind,
    embed: async (call: EmbeddingCall): Promise<EmbeddingResult> => (await get()).embed(call),
  };
}
