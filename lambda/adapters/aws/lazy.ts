/**
 * Loading rarely used AWS clients on demand. The Lambda bundles are split (scripts/bundle.mjs):
 * a module reached only through `import()` is a chunk of its own, read and compiled only by
 * gateways that use it (Bedrock models, Comprehend masking, approvals), so the others start faster.
 */
import { unavailable } from '../../core/errors';
import type { ApprovalStore, ApprovalWorkflow, EmbeddingCall, EmbeddingProvider, EmbeddingResult } from '../../core/ports';
import { limitsUnavailable, type Admission, type LimitsRequest } from '../../core/limits/admission';

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

/**
 * The approval store and workflow, from `load` (a chunk), which starts now (at init). Calls wait
 * for it; if it cannot load, every call fails with 503 `approvals_unavailable`, never as "no
 * approval" (`onLoadError` is told once per failed load).
 */
export function lazyApprovals(
  load: () => Promise<{ store: ApprovalStore; workflow: ApprovalWorkflow }>,
  onLoadError: (e: unknown) => void,
): { store: ApprovalStore; workflow: ApprovalWorkflow } {
  const get = once(load);
  get().catch(onLoadError);
  const loaded = async () => {
    try {
      return await get();
    } catch (cause) {
      throw unavailable('Approvals are unavailable right now; nothing was sent. Try again later.', 'approvals_unavailable', {
        retryAfter: 5,
        cause,
      });
    }
  };
  // Every argument forwarded as it comes, to the store bound (a dropped optional argument, such
  // as create's cap, would not be a type error in a hand-written delegate).
  const store = <K extends keyof ApprovalStore>(k: K): ApprovalStore[K] =>
    (async (...args: unknown[]) => {
      const s = (await loaded()).store;
      return (s[k] as (...a: unknown[]) => Promise<unknown>).apply(s, args);
    }) as ApprovalStore[K];
  return {
    store: {
      create: store('create'),
      get: store('get'),
      update: store('update'),
      list: store('list'),
      findRequested: store('findRequested'),
      putGrant: store('putGrant'),
      findGrant: store('findGrant'),
    },
    workflow: {
      start: async (notice) => (await loaded()).workflow.start(notice),
      settle: async (approval) => (await loaded()).workflow.settle(approval),
    },
  };
}

/**
 * The limits stage, from `load` (a chunk), which starts now (at init). Admissions wait for it; if
 * it cannot load, an admission fails as the counter store failing would: 503
 * `rate_limits_unavailable` when `failOpen` is false, admitted uncounted when it is true
 * (`onLoadError` is told of the failed load at init and of every admission it fails).
 */
export function lazyLimits(
  load: () => Promise<{ admit(req: LimitsRequest): Promise<Admission | null> }>,
  failOpen: boolean,
  onLoadError: (e: unknown) => void,
): { admit(req: LimitsRequest): Promise<Admission | null> } {
  const get = once(load);
  get().catch(onLoadError);
  return {
    admit: async (req) => {
      let limiter;
      try {
        limiter = await get();
      } catch (cause) {
        onLoadError(cause);
        if (failOpen) return null;
        throw limitsUnavailable(cause);
      }
      return limiter.admit(req);
    },
  };
}
