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

/** A UUID in a route (an approval id) shortened to its first 8 characters: the table is for reading. */
const shortIds = (path: string) => path.replace(/\b([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, '$1…');

/**
 * A text table of records, for the demo and the terminal: one line per record when that fits in
 * `width` columns; otherwise two, the request on the first (time, principal, route, model, status,
 * outcome) and the decision under it (reason, rule, vectors), so nothing is cut.
 */
export function formatAuditTable(records: readonly SessionRecord[], width = 100): string {
  const request = (r: SessionRecord) => [
    r.started_at.slice(11, 23),
    r.principal?.subject ?? '-',
    `${r.request.method} ${shortIds(r.request.path)}`,
    r.model?.name ?? '-',
    String(r.decision.status),
    r.decision.outcome,
  ];
  const decision = (r: SessionRecord) => [
    r.decision.reason,
    r.decision.rule_id ?? '-',
    r.output ? `${r.output.vectors}x${r.output.dimensions}` : '-',
  ];
  const head1 = ['time (UTC)', 'principal', 'route', 'model', 'status', 'outcome'];
  const head2 = ['reason', 'rule', 'vectors'];
  const table = (header: string[], rows: string[][]) => {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) =>
      cells
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd();
    return { line, rule: line(widths.map((w) => '-'.repeat(w))), width: widths.reduce((n, w) => n + w, 0) + 2 * (widths.length - 1) };
  };
  const one = table(
    [...head1, ...head2],
    records.map((r) => [...request(r), ...decision(r)]),
  );
  if (one.width <= width)
    return [one.line([...head1, ...head2]), one.rule, ...records.map((r) => one.line([...request(r), ...decision(r)]))].join('\n');
  const first = table(head1, records.map(request));
  const indent = ' '.repeat(14);
  const second = table(head2, records.map(decision));
  return [
    first.line(head1),
    `${indent}${second.line(head2)}`,
    first.rule,
    ...records.flatMap((r) => [first.line(request(r)), `${indent}${second.line(decision(r))}`]),
  ].join('\n');
}
