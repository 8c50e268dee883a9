/**
 * Filesystem helpers for data that must survive `kill -9` and power loss.
 *
 * Why each step exists (POSIX/Linux semantics):
 * - `fsync` of a file makes its *contents* durable, but the directory entry that names it lives in the
 *   directory's own blocks: after creating or renaming a file, the directory must be fsync'd too, or a
 *   power cut can leave the new name missing (or the old file back) even though the data blocks exist.
 * - `rename` is atomic on one filesystem, so a reader sees either the whole old file or the whole new
 *   one. Without the fsync *before* the rename, ext4/xfs may persist the rename before the data and
 *   leave a zero-length file (the classic "rename without fsync" bug that steno has).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** Makes the directory entries of `dir` (files created, renamed or deleted in it) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  // A directory can only be opened read-only; fsync on that descriptor flushes the directory blocks.
  const h = await open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/**
 * Replaces `path` atomically and durably: writes a temp file beside it, fsyncs it, renames it over
 * `path`, then fsyncs the directory. After it resolves, a crash leaves the new content; if it rejects
 * or the process dies midway, `path` still holds the previous content (a stray `.*.tmp` may remain).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path);
  // Same directory as the target: rename is only atomic within one filesystem.
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let h: Awaited<ReturnType<typeof open>> | undefined;
  try {
    h = await open(tmp, 'wx');
    await h.writeFile(data);
    await h.sync();
    await h.close();
    h = undefined;
    await rename(tmp, path);
  } catch (err) {
    await h?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dir);
}

/**
 * `mkdir -p` that also makes the new directories durable: each created level is fsync'd in its
 * parent, so a journal directory created just before the first append cannot vanish on power loss.
 */
export async function ensureDirDurable(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true });
  if (created === undefined) return; // already existed
  const first = resolve(created);
  let p = resolve(dir);
  for (;;) {
    await fsyncDir(dirname(p));
    if (p === first || dirname(p) === p) break;
    p = dirname(p);
  }
}
