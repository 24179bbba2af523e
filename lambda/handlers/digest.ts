/**
 * The digest function's core, without Lambda: one run of the digest builder per scheduled event,
 * logged as counts and keys (never record contents).
 */
import { runDigest, type DigestRunOptions } from '../core/audit/digest-builder';
import { ObjectExistsError } from '../core/audit/ports';

export interface DigestLog {
  info(message: string, extra?: Record<string, unknown>): void;
}

/** What one invocation returns (and logs). */
export type DigestSummary =
  | {
      readonly written: true;
      readonly key: string;
      readonly period: { readonly start: string; readonly end: string };
      readonly records: number;
      readonly late: number;
    }
  | { readonly written: false; readonly reason: string };

/** A handler for EventBridge scheduled events. Rejects on failure, so Lambda retries and alarms see it. */
export function createDigestHandler(options: DigestRunOptions, log: DigestLog): (event?: unknown) => Promise<DigestSummary> {
  return async () => {
    let summary: DigestSummary;
    try {
      const r = await runDigest(options);
      summary = r.written
        ? { written: true, key: r.key, period: r.doc.period, records: r.doc.counts.records, late: r.doc.counts.late }
        : { written: false, reason: r.reason };
    } catch (e) {
      // A concurrent run wrote the same digest first: the period is covered.
      if (!(e instanceof ObjectExistsError)) throw e;
      summary = { written: false, reason: `${e.key} was written by another run` };
    }
    log.info(summary.written ? 'digest written' : 'no digest written', { ...summary });
    return summary;
  };
}
