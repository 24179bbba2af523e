/**
 * X-Ray subsegments for the proxy's calls to the world (upstream model, archive write, counter
 * store, Secrets Manager, Comprehend), through Powertools Tracer. The tracer (and the X-Ray SDK
 * under it) is a chunk of the bundle loaded from init, so it costs the start nothing; calls made
 * before it has loaded run untraced rather than wait for it.
 */

/** The part of a Powertools `Tracer` this module uses. */
export interface TracerLike {
  getSegment(): { addNewSubsegment(name: string): SubsegmentLike } | undefined;
}
export interface SubsegmentLike {
  addError(error: Error): void;
  close(): void;
}

/** Runs calls inside named subsegments (or plainly, while no tracer is loaded). */
export interface Spans {
  span<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/** Spans from a tracer `load` starts loading now; `onLoadError` is told if it cannot load (calls then stay untraced). */
export function lazySpans(load: () => Promise<TracerLike>, onLoadError: (e: unknown) => void): Spans {
  let tracer: TracerLike | undefined;
  load().then(
    (t) => (tracer = t),
    (e: unknown) => onLoadError(e),
  );
  return {
    span: async (name, fn) => {
      let sub: SubsegmentLike | undefined;
      try {
        sub = tracer?.getSegment()?.addNewSubsegment(name);
      } catch {
        sub = undefined; // no segment in this context: trace nothing, never fail the call
      }
      if (!sub) return fn();
      try {
        return await fn();
      } catch (e) {
        sub.addError(e instanceof Error ? e : new Error(String(e)));
        throw e;
      } finally {
        sub.close();
      }
    },
  };
}
