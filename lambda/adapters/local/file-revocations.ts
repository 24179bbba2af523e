import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { GatewayError } from '../../core/errors';
import { unavailable } from '../../core/errors';
import type { Revocation, RevocationList } from '../../core/ports';
import type { RevocationKind, RevocationSubject } from '../../core/revocation';
import { InMemoryRevocationList } from './revocations';

/**
 * The deny list of `embedgate dev`, kept in a JSON file so `embedgate revoke` (another process)
 * can change it while the gateway runs: `find` reloads the file when its modification time
 * changed, checking at most every `checkEveryMs`, so a revocation takes effect within that time,
 * without a restart. Writes replace the file atomically (write, then rename).
 *
 * A file that cannot be read or parsed fails closed: `find` rejects (the gateway answers 503)
 * until the file is fixed.
 */
export class FileRevocationList implements RevocationList {
  private inner = new InMemoryRevocationList();
  private mtimeMs = -1;
  private checkedAt = -Infinity;
  private broken: GatewayError | undefined;

  constructor(
    readonly path: string,
    private readonly opts: { checkEveryMs?: number; now?: () => number } = {},
  ) {}

  async find(p: RevocationSubject): Promise<Revocation | null> {
    this.reloadIfChanged();
    if (this.broken) throw this.broken;
    return this.inner.find(p);
  }

  async put(revocation: Revocation): Promise<void> {
    const list = this.load();
    await list.put(revocation);
    await this.save(list);
  }

  async delete(kind: RevocationKind, value: string, issuer: string | null): Promise<boolean> {
    const list = this.load();
    const deleted = await list.delete(kind, value, issuer);
    if (deleted) await this.save(list);
    return deleted;
  }

  async list(): Promise<Revocation[]> {
    return this.load().list();
  }

  private reloadIfChanged(): void {
    const now = this.opts.now?.() ?? Date.now();
    if (now - this.checkedAt < (this.opts.checkEveryMs ?? 1000)) return;
    this.checkedAt = now;
    let mtime: number;
    try {
      mtime = statSync(this.path).mtimeMs;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return this.fail(e);
      mtime = 0; // no file: no revocations
    }
    if (mtime === this.mtimeMs && !this.broken) return;
    try {
      this.inner = this.load();
      this.mtimeMs = mtime;
      this.broken = undefined;
    } catch (e) {
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    this.broken = unavailable('The revocation list is unavailable; retry later.', 'revocation_list_unavailable', {
      retryAfter: 1,
      cause: e,
    });
  }

  private load(): InMemoryRevocationList {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new InMemoryRevocationList(this.opts.now ? { now: this.opts.now } : {});
      throw e;
    }
    const doc = JSON.parse(text) as { revocations?: Revocation[] };
    return new InMemoryRevocationList({ revocations: doc.revocations ?? [], ...(this.opts.now ? { now: this.opts.now } : {}) });
  }

  private async save(list: InMemoryRevocationList): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ revocations: await list.list() }, null, 2)}\n`);
    renameSync(tmp, this.path);
  }
}
