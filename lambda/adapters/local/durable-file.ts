import { unlink, type FileHandle } from 'node:fs/promises';

/**
 * Write `data` into `fh`, a file just created at `path`, and make it durable (fdatasync), then close
 * it. When the write or the sync fails, the partial file is closed and removed (best effort: a file
 * left behind is for an operator) and the error is thrown: nobody may take it for a whole file.
 */
export async function writeDurably(fh: FileHandle, path: string, data: string | Uint8Array): Promise<void> {
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } catch (e) {
    await fh.close();
    await unlink(path).catch(() => undefined);
    throw e;
  }
  await fh.close();
}
