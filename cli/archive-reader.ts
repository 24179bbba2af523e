import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readJournal } from '../lambda/adapters/local/journal';
import { decodeRecordObject, objectLayout } from '../lambda/core/audit/batch';
import type { SessionRecord } from '../lambda/core/record';

/**
 * Every record of a local archive directory, oldest first: the archived objects of both layouts
 * (one record per `.json` object, batches of `.jsonl.gz`) and the records journaled but not yet
 * compacted (`journal/`), each session once.
 */
export async function readLocalArchive(dir: string): Promise<SessionRecord[]> {
  // The journal first: a compaction writes a segment's batch before it marks the segment archived,
  // so a record missed here (its segment already archived) is in the batch objects listed below.
  const pending = (await readJournal(dir)).pending;
  let files: string[];
  try {
    files = (await readdir(join(dir, 'sessions'), { recursive: true }))
      .map((f) => `sessions/${f.split('\\').join('/')}`)
      .filter((k) => objectLayout(k) !== null);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    files = [];
  }
  const bySession = new Map<string, SessionRecord>();
  // Read in bounded batches: an archive may hold more files than the process may open at once.
  for (let i = 0; i < files.length; i += 64) {
    const batch = files.slice(i, i + 64);
    for (const recs of await Promise.all(batch.map(async (k) => decodeRecordObject(k, await readFile(join(dir, k)))))) {
      for (const r of recs as SessionRecord[]) bySession.set(r.session_id, r);
    }
  }
  for (const r of pending) if (!bySession.has(r.session_id)) bySession.set(r.session_id, r);
  return sortRecords([...bySession.values()]);
}

/** Records oldest first (start time, then session id). */
export function sortRecords<T extends Pick<SessionRecord, 'started_at' | 'session_id'>>(records: T[]): T[] {
  return records.sort((a, b) =>
    a.started_at < b.started_at
      ? -1
      : a.started_at > b.started_at
        ? 1
        : a.session_id < b.session_id
          ? -1
          : a.session_id > b.session_id
            ? 1
            : 0,
  );
}

/** A fixed-width text table of records, for the demo and the terminal. */
export function formatAuditTable(records: readonly SessionRecord[]): string {
  const rows = records.map((r) => [
    r.started_at.slice(11, 23),
    r.principal?.subject ?? '-',
    r.request.method + ' ' + r.request.path,
    r.model?.name ?? '-',
    String(r.decision.status),
    r.decision.outcome,
    r.decision.reason,
    r.decision.rule_id ?? '-',
    r.output ? `${r.output.vectors}x${r.output.dimensions}` : '-',
  ]);
  const header = ['time (UTC)', 'principal', 'route', 'model', 'status', 'outcome', 'reason', 'rule', 'vectors'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
