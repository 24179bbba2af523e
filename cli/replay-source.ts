/**
 * Where `embedgate audit replay` reads session records from. One function, `readRecords`, is the
 * only way in: a new layout (batched JSON Lines objects, S3, Athena) is a new `RecordSource`
 * kind handled here, and nothing else changes.
 */
import type { SessionRecord } from '../lambda/core/record';
import { readLocalArchive } from './archive-reader';

export type RecordSource = { readonly kind: 'local'; readonly dir: string };

/** A period `[since, until)` in epoch ms; either end open. */
export interface Period {
  readonly since?: number;
  readonly until?: number;
}

/** Every session record of the source that started within the period, oldest first. */
export async function readRecords(source: RecordSource, period: Period = {}): Promise<SessionRecord[]> {
  const records = await readLocalArchive(source.dir);
  return records.filter((r) => {
    const t = Date.parse(r.started_at);
    return (period.since === undefined || t >= period.since) && (period.until === undefined || t < period.until);
  });
}
