import { mkdir, open } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { ArchiveConflictError } from '../../core/errors';
import type { Archive } from '../../core/ports';
import { recordKey, type SessionRecord } from '../../core/record';

/**
 * Local archive for `embedgate dev`: one JSON-lines file per record, under the same key layout
 * as the S3 archive (`sessions/dt=YYYY-MM-DD/hr=HH/<session id>.json`). Files are created with
 * O_EXCL and fsync'd before `put` resolves; nothing here ever overwrites or deletes a record.
 */
export class FileArchive implements Archive {
  private readonly root: string;
  /** Partition directories created already (one `mkdir` per hour of records, not per record). */
  private readonly made = new Set<string>();

  constructor(root: string) {
    this.root = resolve(root);
  }

  async put(record: SessionRecord): Promise<{ key: string }> {
    const key = recordKey(record);
    const path = join(this.root, key);
    if (!path.startsWith(this.root + sep)) throw new Error('record key escapes the archive directory');
    const dir = dirname(path);
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
      .catch((e: NodeJS.ErrnoException) => {
        throw e.code === 'EEXIST' ? new ArchiveConflictError(key, { cause: e }) : e;
      });
    try {
      await fh.writeFile(`${JSON.stringify(record)}\n`);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    return { key };
  }
}
