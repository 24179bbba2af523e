/**
 * `embedgate audit export`: every record of an archive as JSON Lines, whatever its layout (one
 * object per record, batch objects), each session once, oldest first: for SIEMs and tests.
 *
 *   embedgate audit export [--archive-dir <dir> | --bucket <b> [--prefix <p>] [--region <r>] [--endpoint <url>]]
 *                          [--since <time>] [--until <time>] --format jsonl
 */
import { decodeRecordObject, objectLayout } from '../lambda/core/audit/batch';
import { floorHour, HOUR_MS, partitionOf, RECORDS_PREFIX } from '../lambda/core/audit/digest';
import { mapLimit } from '../lambda/core/util/concurrency';
import type { ArchiveObjects } from '../lambda/core/audit/ports';
import type { SessionRecord } from '../lambda/core/record';
import { sortRecords } from './archive-reader';

export interface ExportOptions {
  /** Records that started at or after this instant (epoch ms). */
  readonly since?: number;
  /** ... and before this one. */
  readonly until?: number;
  /** Objects read at once. @default 16 */
  readonly concurrency?: number;
}

/**
 * The records of `store` in [since, until), each session once (a record archived twice, by a
 * retried batch, is the same record), sorted by start time. Rejects on an object that is not a
 * record object of a known layout, naming it: an export never silently skips data.
 */
export async function exportRecords(store: ArchiveObjects, opts: ExportOptions = {}): Promise<SessionRecord[]> {
  const fromHour = opts.since === undefined ? undefined : floorHour(opts.since);
  const untilHour = opts.until === undefined ? undefined : Math.ceil(opts.until / HOUR_MS) * HOUR_MS;
  const keys: string[] = [];
  for await (const o of store.list(RECORDS_PREFIX)) {
    const p = partitionOf(o.key);
    if (p !== null && ((fromHour !== undefined && p < fromHour) || (untilHour !== undefined && p >= untilHour))) continue;
    if (objectLayout(o.key) === null) throw new Error(`${o.key}: not a record object (neither <id>.json nor batch-*.jsonl.gz)`);
    keys.push(o.key);
  }
  const bySession = new Map<string, SessionRecord>();
  const decoded = await mapLimit(keys, opts.concurrency ?? 16, async (key) => {
    const bytes = await store.get(key);
    if (!bytes) throw new Error(`${key}: listed, but cannot be read`);
    return decodeRecordObject(key, bytes) as SessionRecord[];
  });
  for (const records of decoded) {
    for (const r of records) {
      const t = Date.parse(r.started_at);
      if ((opts.since !== undefined && t < opts.since) || (opts.until !== undefined && t >= opts.until)) continue;
      if (!bySession.has(r.session_id)) bySession.set(r.session_id, r);
    }
  }
  return sortRecords([...bySession.values()]);
}
