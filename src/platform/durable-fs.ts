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
 *
 * {@link DurableFs} is the port through which the data dir's files are written; the functions below are its
 * node:fs implementation.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
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
  let h: FileHandle | undefined;
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

/**
 * A file opened for synchronous positional reads and writes: the keyed stores' hot path (a put's line is one
 * write per event-loop turn, a get one pread) and the journal's payload reads, one syscall each, no promise.
 */
export interface SyncFile {
  /** Reads up to `length` bytes at `position` into the start of `target`; returns how many (fewer only at the end of the file). */
  read(target: Buffer, position: number, length: number): number;
  /** Writes all of `data` at `position` (loops over short writes). */
  write(data: Uint8Array, position: number): void;
  /** fdatasync: the data plus what is needed to read it back (the length), not mtime. */
  datasync(): void;
  /** fsync: also the inode itself (a file just created). */
  sync(): void;
  truncate(length: number): void;
  /** The file's length now. */
  size(): number;
  close(): void;
}

/** `r` read, `r+` read/write an existing file, `w`/`w+` create or empty it (write only / read-write). */
export type SyncOpenMode = 'r' | 'r+' | 'w' | 'w+';

/**
 * The filesystem port of everything that keeps files in the data dir: the state modules (keyed stores,
 * snapshots, append logs) and, through its whole-file part, the journal (src/journal/file-ops.ts). Production
 * uses {@link nodeDurableFs}; tests put a power-cut model behind it (test/helpers/powercut-fs.ts), so the
 * journal's files and the state files share one durability order, as on a real disk.
 *
 * Names follow POSIX: a created, renamed or removed name is durable only once its directory is fsync'd
 * (`fsyncDir`); the operations documented as durable do that themselves.
 */
export interface DurableFs {
  openSync(path: string, mode: SyncOpenMode): SyncFile;
  /** The whole file (rejects with ENOENT when it does not exist). */
  readFile(path: string): Promise<Buffer>;
  readdir(dir: string): Promise<string[]>;
  /** Durable atomic replace (see {@link writeFileAtomic}). */
  writeFileAtomic(path: string, data: string | Uint8Array): Promise<void>;
  /** Appends `data` and fdatasyncs it (see {@link appendDurable}). */
  appendDurable(path: string, data: string | Uint8Array): Promise<void>;
  /** `mkdir -p`, with every created level made durable (see {@link ensureDirDurable}). */
  ensureDir(dir: string): Promise<void>;
  /** Renames within one directory (atomic); durable only after `fsyncDir`. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file and makes the removal durable (fsync of the directory). */
  unlinkDurable(path: string): Promise<void>;
  /** Best-effort removal, no fsync (stray temp files). */
  unlink(path: string): Promise<void>;
  fsyncDir(dir: string): Promise<void>;
}

/** Appends `data` at the end of `path` (created if missing) and fdatasyncs it. */
export async function appendDurable(path: string, data: string | Uint8Array): Promise<void> {
  const h = await open(path, 'a');
  try {
    await h.appendFile(data);
    await h.datasync();
  } finally {
    await h.close();
  }
}

/** Reads a whole file with one positional read per 64 MiB (readFile's 512 KiB chunks are a thread-pool round trip each). */
async function readWhole(path: string): Promise<Buffer> {
  const h = await open(path, 'r');
  try {
    const { size } = await h.stat();
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const { bytesRead } = await h.read(buf, off, Math.min(size - off, 64 * 1024 * 1024), off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return off < size ? buf.subarray(0, off) : buf;
  } finally {
    await h.close();
  }
}

class NodeSyncFile implements SyncFile {
  readonly #fd: number;

  constructor(path: string, mode: SyncOpenMode) {
    this.#fd = openSync(path, mode);
  }

  read(target: Buffer, position: number, length: number): number {
    let done = 0;
    while (done < length) {
      const n = readSync(this.#fd, target, done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  write(data: Uint8Array, position: number): void {
    let done = 0;
    while (done < data.byteLength) {
      const n = writeSync(this.#fd, data, done, data.byteLength - done, position + done);
      if (n <= 0) throw Object.assign(new Error('write returned 0 bytes'), { code: 'EIO' });
      done += n;
    }
  }

  datasync(): void {
    fdatasyncSync(this.#fd);
  }

  sync(): void {
    fsyncSync(this.#fd);
  }

  truncate(length: number): void {
    ftruncateSync(this.#fd, length);
  }

  size(): number {
    return fstatSync(this.#fd).size;
  }

  close(): void {
    closeSync(this.#fd);
  }
}

/** The real filesystem (node:fs). */
export const nodeDurableFs: DurableFs = {
  openSync: (path, mode) => new NodeSyncFile(path, mode),
  readFile: readWhole,
  readdir: (dir) => readdir(dir),
  writeFileAtomic,
  appendDurable,
  ensureDir: ensureDirDurable,
  rename: (from, to) => rename(from, to),
  async unlinkDurable(path) {
    await unlink(path);
    await fsyncDir(dirname(path));
  },
  unlink: (path) => unlink(path),
  fsyncDir,
};
