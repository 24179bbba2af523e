import { closeSync, fdatasyncSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { ArchiveConflictError } from '../../core/errors';
import type { Archive } from '../../core/ports';
import { recordKey, type SessionRecord } from '../../core/record';
import { writeDurably } from './durable-file';

export interface FileArchiveOptions {
  /**
   * Asked before each write: `true` when nothing else is waiting for this process's event loop
   * (`embedgate dev` answers it with "this is the only request in flight"). The record is then
   * written on the calling thread (open, write, fdatasync, close: about 0.3 ms here) instead of
   * through four round trips to libuv's thread pool (about 0.8 ms on the benchmark machine, see
   * BENCHMARKS.md); under concurrency the writes go to the thread pool, where they run in parallel
   * and do not hold up other requests. Either way `put` resolves only once the record is durable.
   * @default () => false (always the thread pool)
   */
  readonly writeInline?: () => boolean;
}

/**
 * Local archive for `embedgate dev`: one JSON-lines file per record, under the same key layout
 * as the S3 archive (`sessions/dt=YYYY-MM-DD/hr=HH/<session id>.json`). Files are created with
 * O_EXCL and fsync'd before `put` resolves; nothing here ever overwrites or deletes a record (a
 * file whose write failed is removed: it never was one).
 */
export class FileArchive implements Archive {
  private readonly root: string;
  /** Partition directories created already (one `mkdir` per hour of records, not per record). */
  private readonly made = new Set<string>();
  private readonly writeInline: () => boolean;

  constructor(root: string, opts: FileArchiveOptions = {}) {
    this.root = resolve(root);
    this.writeInline = opts.writeInline ?? (() => false);
  }

  async put(record: SessionRecord): Promise<{ key: string }> {
    const key = recordKey(record);
    const path = join(this.root, key);
    if (!path.startsWith(this.root + sep)) throw new Error('record key escapes the archive directory');
    const dir = dirname(path);
    const text = `${JSON.stringify(record)}\n`;
    if (this.writeInline()) this.writeNow(key, dir, path, text);
    else await this.writeLater(key, dir, path, text);
    return { key };
  }

  /** On this thread: the whole write without giving up the event loop. */
  private writeNow(key: string, dir: string, path: string, text: string): void {
    if (!this.made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      this.made.add(dir);
    }
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o444);
    } catch (e) {
      // The directory went away since it was made (an archive directory cleaned by hand): make it again.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw createError(key, e);
      mkdirSync(dir, { recursive: true });
      try {
        fd = openSync(path, 'wx', 0o444);
      } catch (again) {
        throw createError(key, again);
      }
    }
    try {
      const bytes = Buffer.from(text, 'utf8');
      for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off);
      fdatasyncSync(fd);
    } catch (e) {
      closeSync(fd);
      // Not written: remove the partial file, or a retry would find it and take it for the record.
      try {
        unlinkSync(path);
      } catch {
        // Left for an operator; the error below still tells the caller the record was not written.
      }
      throw e;
    }
    closeSync(fd);
  }

  /** Through libuv's thread pool. */
  private async writeLater(key: string, dir: string, path: string, text: string): Promise<void> {
    if (!this.made.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.made.add(dir);
    }
    const create = () => open(path, 'wx', 0o444);
    const fh = await create()
      .catch(async (e: NodeJS.ErrnoException) => {
        // The directory went away since it was made (an archive directory cleaned by hand): make it again.
        if (e.code !== 'ENOENT') throw e;
        await mkdir(dir, { recursive: true });
        return create();
      })
      .catch((e: unknown) => {
        throw createError(key, e);
      });
    // Not written whole: the partial file is removed, or a retry would find it and take it for the record.
    await writeDurably(fh, path, text);
  }
}

/** An error creating the record's file: EEXIST there (and only there) means the record exists. */
function createError(key: string, e: unknown): unknown {
  return (e as NodeJS.ErrnoException).code === 'EEXIST' ? new ArchiveConflictError(key, { cause: e }) : e;
}
