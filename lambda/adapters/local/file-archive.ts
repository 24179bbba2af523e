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

  constructor(root: string) {
    this.root = resolve(root);
  }

  async put(record: SessionRecord): Promise<{ key: string }> {
    const key = recordKey(record);
    const path = join(this.root, key);
    if (!path.startsWith(this.root + sep)) throw new Error('record key escapes the archive directory');
    await mkdir(dirname(path), { recursive: true });
    const fh = await open(path, 'wx', 0o444).catch((e: NodeJS.ErrnoException) => {
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
