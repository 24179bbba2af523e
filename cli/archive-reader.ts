import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SessionRecord } from '../lambda/core/record';
import { alignedLines } from './text-table';

/** Every record of a local archive directory, oldest first. */
export async function readLocalArchive(dir: string): Promise<SessionRecord[]> {
  let files: string[];
  try {
    files = (await readdir(join(dir, 'sessions'), { recursive: true })).filter((f) => f.endsWith('.json'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  // Read in bounded batches: an archive may hold more files than the process may open at once.
  const records: SessionRecord[] = [];
  for (let i = 0; i < files.length; i += 64) {
    const batch = files.slice(i, i + 64);
    records.push(
      ...(await Promise.all(batch.map(async (f) => JSON.parse(await readFile(join(dir, 'sessions', f), 'utf8')) as SessionRecord))),
    );
  }
  return records.sort((a, b) =>
    a.started_at < b.started_at ? -1 : a.started_at > b.started_at ? 1 : a.session_id < b.session_id ? -1 : 1,
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
  return alignedLines(header, rows, { underline: true }).join('\n');
}
