import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { compareKeys } from '../../core/audit/digest';
import { ObjectExistsError, type ArchiveObject, type ArchiveObjects } from '../../core/audit/ports';
import { writeDurably } from './durable-file';

/** Name prefix of the temporary files `create` writes before linking them to their key (never listed). */
const TMP_PREFIX = '.tmp-';

/**
 * The objects of a local archive directory (`embedgate dev --archive-dir`): keys are paths
 * relative to the directory, with `/`. Objects are created with O_EXCL, read-only (0444) and
 * fsync'd, like the records `FileArchive` writes; nothing here overwrites or deletes a file.
 */
export class DirectoryObjects implements ArchiveObjects {
  readonly root: string;
  readonly location: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.location = this.root;
  }

  async *list(prefix: string, opts: { readonly startAfter?: string } = {}): AsyncIterable<ArchiveObject> {
    // Walk only the top-level directory the prefix names (`sessions/`, `digests/`).
    const top = prefix.includes('/') ? prefix.slice(0, prefix.indexOf('/')) : '';
    let names: string[];
    try {
      names = await readdir(this.path(top || '.'), { recursive: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    const keys = names
      .map((n) => (top ? `${top}/${n}` : n).split(sep).join('/'))
      .filter(
        (k) =>
          !k.slice(k.lastIndexOf('/') + 1).startsWith(TMP_PREFIX) &&
          k.startsWith(prefix) &&
          (opts.startAfter === undefined || compareKeys(k, opts.startAfter) > 0),
      )
      .sort(compareKeys);
    for (const key of keys) {
      const st = await lstat(this.path(key));
      if (st.isFile()) yield { key, size: st.size, lastModified: st.mtimeMs };
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      return await readFile(this.path(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /**
   * Written whole or not at all: the bytes go to a hidden temporary file in the same directory,
   * are fsync'd, and the file is then linked to its key (`link` fails if the key exists, so nothing
   * is overwritten). A crash leaves at most a hidden temporary file, never a truncated object.
   */
  async create(key: string, body: Uint8Array, _contentType: string): Promise<void> {
    const path = this.path(key);
    const dir = dirname(path);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `${TMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, 'wx', 0o444);
    await writeDurably(fh, tmp, body);
    try {
      await link(tmp, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectExistsError(key, { cause: e });
      throw e;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  private path(key: string): string {
    const path = resolve(this.root, key);
    const rel = relative(this.root, path);
    if (key !== '.' && (rel === '' || rel.startsWith('..') || rel.includes(`..${sep}`)))
      throw new Error(`key ${JSON.stringify(key)} escapes the archive directory`);
    return key === '.' ? this.root : join(this.root, rel);
  }
}
