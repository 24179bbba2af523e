import { lstat, mkdir, open, readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { compareKeys } from '../../core/audit/digest';
import { ObjectExistsError, type ArchiveObject, type ArchiveObjects } from '../../core/audit/ports';

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
      .filter((k) => k.startsWith(prefix) && (opts.startAfter === undefined || compareKeys(k, opts.startAfter) > 0))
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

  async create(key: string, body: Uint8Array, _contentType: string): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    let fh;
    try {
      fh = await open(path, 'wx', 0o444);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectExistsError(key, { cause: e });
      throw e;
    }
    try {
      await fh.writeFile(body);
      await fh.datasync();
    } finally {
      await fh.close();
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
