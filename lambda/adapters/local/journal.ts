import { closeSync, fdatasync, fdatasyncSync, openSync, write, writeSync } from 'node:fs';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { compactRecords } from '../../core/audit/compactor';
import { ArchiveConflictError } from '../../core/errors';
import type { Archive } from '../../core/ports';
import { recordKey, type SessionRecord } from '../../core/record';
import { DirectoryObjects } from './archive-objects';

/** The journal's directory inside the archive directory. */
export const JOURNAL_DIR = 'journal';
const OPEN_SEGMENT = /^(\d{12})\.jsonl$/;
const ARCHIVED_SEGMENT = /^(\d{12})\.archived\.jsonl$/;

export interface FileJournalOptions {
  /**
   * Asked before a write when no group write is under way: `true` when nothing else waits for this
   * process's event loop (`embedgate dev`: "this is the only request in flight"). The record is then
   * appended and fdatasync'd on the calling thread, without round trips to libuv's thread pool.
   * Otherwise records wait for the next group write: every record that arrived while the previous
   * write was syncing shares one write and one fdatasync.
   * @default () => false
   */
  readonly writeInline?: () => boolean;
  /**
   * How often the open segment is closed and its records compacted into the archive.
   * @default 2000 ms
   */
  readonly compactEveryMs?: number;
  /**
   * Compact as soon as the open segment holds this many records.
   * @default 10000
   */
  readonly maxSegmentRecords?: number;
  /** Told about compactions that failed (they are retried on the next tick). */
  readonly onError?: (what: string, error: unknown) => void;
  /**
   * How long an intent (`putIntent`) may wait for its final record before a compaction completes
   * it with itself (decision `no_outcome`): longer than any request can take. Intents a killed
   * process left open are completed at the next start, whatever their age.
   * @default 300000 (5 minutes)
   */
  readonly intentGraceMs?: number;
  /** Milliseconds since the epoch (intent ages). @default Date.now */
  readonly now?: () => number;
}

interface Waiting {
  /** The final record, or undefined for an intent line. */
  readonly record: SessionRecord | undefined;
  readonly line: Buffer;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

interface Segment {
  readonly seq: number;
  readonly path: string;
  readonly fd: number;
  readonly records: SessionRecord[];
}

/** An intent whose final record has not been journaled yet. */
interface OpenIntent {
  readonly record: SessionRecord;
  readonly line: Buffer;
  readonly at: number;
}

/**
 * The write-ahead journal of `embedgate dev` (issue 16), an {@link Archive}: `put` appends the record
 * to an append-only segment file (`<archive dir>/journal/<seq>.jsonl`) and resolves once it is
 * fdatasync'd, so the gateway's fail-closed promise holds as with one file per record, at the cost of
 * one append. Concurrent records share one fdatasync (group commit).
 *
 * A compactor (a timer here, DynamoDB Streams in AWS) closes the open segment every
 * `compactEveryMs`, writes its records as one batch object per hour partition under `sessions/`
 * (`compactRecords`), and renames the segment to `<seq>.archived.jsonl`, which `embedgate audit
 * verify --journal-dir` checks against the archive. `FileJournal.open` first archives the segments a
 * previous process left open (killed mid-load): every record that was acknowledged is in the journal,
 * and reaches the archive after a restart. A torn last line (a write cut by the kill, never
 * acknowledged) is skipped.
 *
 * Intents (`putIntent`, written while the upstream call runs) are lines `{"intent": <record>}` in
 * the same segments, appended without an fdatasync of their own (the next record's group commit
 * syncs them; a killed process's writes are in the kernel's page cache and survive it, a lost
 * machine's may not). An intent whose final record is journaled is dropped at compaction; one
 * still waiting is carried into the next segment; one older than `intentGraceMs`, or left open by
 * a killed process, is journaled as the request's final record: the request's one record says it
 * had no outcome.
 */
export class FileJournal implements Archive {
  readonly dir: string;
  readonly objects: DirectoryObjects;
  private segment: Segment;
  private nextSeq: number;
  /** Session ids of records not archived yet (a second record with one id is refused, as S3's If-None-Match does). */
  private readonly ids = new Set<string>();
  private readonly writeInline: () => boolean;
  private readonly maxSegmentRecords: number;
  private readonly onError: (what: string, error: unknown) => void;
  private queue: Waiting[] = [];
  private writing = false;
  /** A segment swap waiting for the group write under way to end (`rotate`). */
  private onWriteEnd: (() => void) | null = null;
  /** Closed segments whose records are not archived yet, oldest first. */
  private readonly closed: Segment[] = [];
  private compacting: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;
  private closedForGood = false;
  /** Intents journaled whose final record has not come yet, by session id. */
  private readonly openIntents = new Map<string, OpenIntent>();
  /** Sessions whose intent became their record (a final record coming later is refused, even after compaction). */
  private readonly completed = new Set<string>();
  private readonly intentGraceMs: number;
  private readonly now: () => number;

  private constructor(root: string, nextSeq: number, opts: FileJournalOptions) {
    this.objects = new DirectoryObjects(root);
    this.dir = join(resolve(root), JOURNAL_DIR);
    this.writeInline = opts.writeInline ?? (() => false);
    this.maxSegmentRecords = opts.maxSegmentRecords ?? 10_000;
    this.onError = opts.onError ?? (() => undefined);
    this.intentGraceMs = opts.intentGraceMs ?? 300_000;
    this.now = opts.now ?? Date.now;
    this.nextSeq = nextSeq;
    this.segment = this.openSegment();
    this.timer = setInterval(() => void this.compact().catch(() => undefined), opts.compactEveryMs ?? 2000);
    this.timer.unref();
  }

  /**
   * Open the journal of the archive directory `root`: archives what a previous process left in its
   * open segments (recovery), then starts a new segment. Rejects if recovery cannot archive them.
   */
  static async open(root: string, opts: FileJournalOptions = {}): Promise<FileJournal> {
    const dir = join(resolve(root), JOURNAL_DIR);
    await mkdir(dir, { recursive: true });
    const names = await readdir(dir);
    let maxSeq = 0;
    const leftover: string[] = [];
    for (const n of names) {
      const m = OPEN_SEGMENT.exec(n) ?? ARCHIVED_SEGMENT.exec(n);
      if (!m) continue;
      maxSeq = Math.max(maxSeq, Number(m[1]));
      if (OPEN_SEGMENT.test(n)) leftover.push(n);
    }
    const objects = new DirectoryObjects(root);
    const segments = [];
    for (const n of leftover.sort()) segments.push({ name: n, ...parseSegment(await readFile(join(dir, n), 'utf8')) });
    // Intents left open: their process is gone, so no final record can follow; each becomes its
    // request's record (once, even when carried into several segments), unless a final exists.
    const finals = new Set(segments.flatMap((g) => g.records.map((r) => r.session_id)));
    const orphans = new Map<string, SessionRecord>();
    for (const g of segments) for (const i of g.intents) if (!finals.has(i.session_id)) orphans.set(i.session_id, i);
    if (orphans.size > 0) for (const r of (await readJournal(root)).archived) orphans.delete(r.session_id);
    for (const [i, g] of segments.entries()) {
      const records = i === segments.length - 1 ? [...g.records, ...orphans.values()] : g.records;
      if (records.length > 0) await compactRecords(records, objects);
      await rename(join(dir, g.name), join(dir, g.name.replace(/\.jsonl$/, '.archived.jsonl')));
    }
    return new FileJournal(root, maxSeq + 1, opts);
  }

  /**
   * Journal a request's intent (see the class comment): appended at once when no group write is
   * under way (one write call, no fdatasync), else with the next group write.
   */
  async putIntent(intent: SessionRecord): Promise<void> {
    if (this.closedForGood) throw new Error('the journal is closed');
    if (this.ids.has(intent.session_id)) throw new ArchiveConflictError(recordKey(intent));
    const line = Buffer.from(`${JSON.stringify({ intent })}\n`, 'utf8');
    this.openIntents.set(intent.session_id, { record: intent, line, at: this.now() });
    await this.append(line);
  }

  /** Append an intent line: inline when nothing is being written, else with the next group write. */
  private append(line: Buffer): Promise<void> {
    if (!this.writing && this.queue.length === 0) {
      for (let off = 0; off < line.length;) off += writeSync(this.segment.fd, line, off);
      return Promise.resolve();
    }
    return new Promise<void>((res, rej) => {
      this.queue.push({ record: undefined, line, resolve: res, reject: rej });
      if (!this.writing) this.drain();
    });
  }

  async put(record: SessionRecord): Promise<{ key: string }> {
    if (this.closedForGood) throw new Error('the journal is closed');
    const key = recordKey(record);
    if (this.ids.has(record.session_id) || this.completed.has(record.session_id)) throw new ArchiveConflictError(key);
    const line = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
    this.ids.add(record.session_id);
    this.openIntents.delete(record.session_id);
    try {
      if (!this.writing && this.queue.length === 0 && this.writeInline()) {
        for (let off = 0; off < line.length;) off += writeSync(this.segment.fd, line, off);
        fdatasyncSync(this.segment.fd);
        this.segment.records.push(record);
      } else {
        await new Promise<void>((res, rej) => {
          this.queue.push({ record, line, resolve: res, reject: rej });
          if (!this.writing) this.drain();
        });
      }
    } catch (e) {
      this.ids.delete(record.session_id);
      throw e;
    }
    if (this.segment.records.length >= this.maxSegmentRecords) void this.compact().catch(() => undefined);
    return { key };
  }

  /**
   * Start a new segment between two group writes, never during one; resolves with the segment it
   * replaced. Under sustained load the group writes follow each other without a gap (each one
   * takes what queued during the last), so the swap is made by the writer itself when a write
   * ends: waiting for the writer to be idle would let the open segment, and the records it keeps
   * for compaction, grow for as long as the load lasts.
   */
  private rotate(): Promise<Segment> {
    const swap = (): Segment => {
      const full = this.segment;
      if (!this.closedForGood) this.segment = this.openSegment();
      return full;
    };
    if (!this.writing) return Promise.resolve(swap());
    return new Promise((resolve) => (this.onWriteEnd = () => resolve(swap())));
  }

  /** Group commit: one write and one fdatasync for every record queued meanwhile, until the queue is empty. */
  private drain(): void {
    this.writing = true;
    const batch = this.queue;
    this.queue = [];
    const segment = this.segment;
    const fd = segment.fd;
    const bytes = batch.length === 1 ? batch[0]!.line : Buffer.concat(batch.map((w) => w.line));
    // A batch of intents only needs no fdatasync (see the class comment).
    const sync = batch.some((w) => w.record !== undefined);
    const done = (e: unknown) => {
      if (!e) for (const w of batch) if (w.record) segment.records.push(w.record);
      for (const w of batch) {
        if (e) w.reject(e);
        else w.resolve();
      }
      const swap = this.onWriteEnd;
      this.onWriteEnd = null;
      swap?.();
      if (this.queue.length > 0) this.drain();
      else this.writing = false;
    };
    const writeFrom = (off: number) =>
      write(fd, bytes, off, bytes.length - off, null, (err, n) => {
        if (err) return done(err);
        if (off + n < bytes.length) return writeFrom(off + n);
        if (sync) fdatasync(fd, (syncErr) => done(syncErr));
        else done(null);
      });
    writeFrom(0);
  }

  /**
   * Close the open segment (once no group write is under way) and archive every closed segment.
   * Resolves when they are archived; rejects (and keeps them for the next try) otherwise.
   */
  compact(): Promise<void> {
    if (this.compacting) return this.compacting;
    this.compacting = this.runCompaction().finally(() => (this.compacting = null));
    return this.compacting;
  }

  private async runCompaction(): Promise<void> {
    await this.settleIntents();
    if (this.segment.records.length > 0) {
      const full = await this.rotate();
      if (!this.closedForGood) {
        // Intents still waiting for their final record move with the journal into the new segment
        // (written before the old one is marked archived).
        const carried = [...this.openIntents.values()];
        if (carried.length > 0) await this.append(Buffer.concat(carried.map((i) => i.line)));
      }
      closeSync(full.fd);
      this.closed.push(full);
    }
    while (this.closed.length > 0) {
      const s = this.closed[0]!;
      try {
        await compactRecords(s.records, this.objects);
        await rename(s.path, s.path.replace(/\.jsonl$/, '.archived.jsonl'));
      } catch (e) {
        this.onError(`archiving journal segment ${s.path} failed (retried on the next tick)`, e);
        throw e;
      }
      this.closed.shift();
      for (const r of s.records) this.ids.delete(r.session_id);
    }
  }

  /**
   * Journal as final records the intents older than the grace period (all of them with `all`):
   * their requests will never write one. A final record that comes after all is refused as a
   * conflict, as any second record of a session (its request is answered 503, fail-closed).
   */
  private async settleIntents(all = false): Promise<void> {
    const cutoff = this.now() - this.intentGraceMs;
    for (const [id, i] of [...this.openIntents]) {
      if (!all && i.at > cutoff) continue;
      this.openIntents.delete(id);
      await this.put(i.record).then(
        () => this.completed.add(id),
        (e: unknown) => {
          if (!(e instanceof ArchiveConflictError)) {
            this.openIntents.set(id, i);
            throw e;
          }
        },
      );
    }
  }

  /** Intents waiting for their final record (tests). */
  openIntentCount(): number {
    return this.openIntents.size;
  }

  /**
   * Stop the timer and archive everything journaled so far. Intents still open become their
   * requests' records (nothing in this process will write a final record after this).
   */
  async close(): Promise<void> {
    clearInterval(this.timer);
    while (this.writing || this.queue.length > 0) await new Promise((r) => setImmediate(r));
    await this.settleIntents(true);
    while (this.writing || this.queue.length > 0) await new Promise((r) => setImmediate(r));
    this.closedForGood = true;
    const last = this.segment;
    await this.compact();
    if (last === this.segment && last.records.length === 0) {
      closeSync(last.fd);
      // An empty segment carries nothing: mark it archived so the next start does not replay it.
      await rename(last.path, last.path.replace(/\.jsonl$/, '.archived.jsonl'));
    }
  }

  /** Records journaled and not archived yet (tests, `readLocalArchive`). */
  pendingRecords(): SessionRecord[] {
    return [...this.closed.flatMap((s) => s.records), ...this.segment.records];
  }

  private openSegment(): Segment {
    const seq = this.nextSeq++;
    const path = join(this.dir, `${String(seq).padStart(12, '0')}.jsonl`);
    return { seq, path, fd: openSync(path, 'wx', 0o644), records: [] };
  }
}

/**
 * The final records and the intents (lines `{"intent": ...}`) of a journal segment's text. A last
 * line without its newline is a write cut short (never acknowledged) and is skipped, as are lines
 * that are not JSON objects (counted in `torn`).
 */
export function parseSegment(text: string): { records: SessionRecord[]; intents: SessionRecord[]; torn: number } {
  const lines = text.split('\n');
  let torn = lines.pop() === '' ? 0 : 1;
  const records: SessionRecord[] = [];
  const intents: SessionRecord[] = [];
  for (const line of lines) {
    try {
      const v = JSON.parse(line) as unknown;
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
      const intent = (v as { intent?: unknown }).intent;
      if (intent === undefined) records.push(v as SessionRecord);
      else if (intent !== null && typeof intent === 'object' && !Array.isArray(intent)) intents.push(intent as SessionRecord);
      else throw new Error('not an intent');
    } catch {
      torn++;
    }
  }
  return { records, intents, torn };
}

/**
 * Every record of a local journal directory, archived segments included (verify, readLocalArchive),
 * and the intents (each session once).
 */
export async function readJournal(
  root: string,
): Promise<{ archived: SessionRecord[]; pending: SessionRecord[]; intents: SessionRecord[] }> {
  const dir = join(resolve(root), JOURNAL_DIR);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { archived: [], pending: [], intents: [] };
    throw e;
  }
  const archived: SessionRecord[] = [];
  const pending: SessionRecord[] = [];
  const intents = new Map<string, SessionRecord>();
  for (const n of names.sort()) {
    let into = ARCHIVED_SEGMENT.test(n) ? archived : OPEN_SEGMENT.test(n) ? pending : null;
    if (!into) continue;
    let text: string;
    try {
      text = await readFile(join(dir, n), 'utf8');
    } catch (e) {
      // A live journal archived this open segment since the listing: read it under its new name.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || into !== pending) throw e;
      text = await readFile(join(dir, n.replace(/\.jsonl$/, '.archived.jsonl')), 'utf8');
      into = archived;
    }
    const segment = parseSegment(text);
    into.push(...segment.records);
    for (const i of segment.intents) intents.set(i.session_id, i);
  }
  return { archived, pending, intents: [...intents.values()] };
}
