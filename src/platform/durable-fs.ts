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
 * {@link DurableFs} is the port through which the data dir's files are written (the state modules, and the
 * journal through its own port, src/journal/file-ops.ts). Its durable operations (atomic replace, durable
 * append, durable mkdir, durable unlink) are written once, here, over a few POSIX calls ({@link FsPrimitives});
 * node:fs provides those calls in production, and the power-cut model of the tests (test/helpers/powercut-fs.ts)
 * provides them there, so a power-cut test runs these very sequences of writes, fsyncs and renames.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

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
 * The filesystem port of everything that keeps files in the data dir. Names follow POSIX: a created, renamed
 * or removed name is durable only once its directory is fsync'd (`fsyncDir`); the operations documented as
 * durable do that themselves.
 */
export interface DurableFs {
  openSync(path: string, mode: SyncOpenMode): SyncFile;
  /** The whole file (rejects with ENOENT when it does not exist). */
  readFile(path: string): Promise<Buffer>;
  readdir(dir: string): Promise<string[]>;
  /** Durable atomic replace: temp file, fsync, rename, fsync of the directory. */
  writeFileAtomic(path: string, data: string | Uint8Array): Promise<void>;
  /** Appends `data` at the end of `path` and fdatasyncs it; a file it creates has its name made durable too. */
  appendDurable(path: string, data: string | Uint8Array): Promise<void>;
  /** `mkdir -p`, with every created level made durable in its parent. */
  ensureDir(dir: string): Promise<void>;
  /** Renames within one directory (atomic); durable only after `fsyncDir`. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file and makes the removal durable (fsync of the directory). */
  unlinkDurable(path: string): Promise<void>;
  /** Best-effort removal, no fsync (stray temp files). */
  unlink(path: string): Promise<void>;
  /** Makes the directory entries of `dir` (files created, renamed or deleted in it) durable. */
  fsyncDir(dir: string): Promise<void>;
}

/** A file opened by {@link FsPrimitives.open}: written sequentially from its start (`wx`) or at its end (`a`). */
export interface PrimitiveFile {
  /** Writes all of `data` (loops over short writes). */
  write(data: string | Uint8Array): Promise<void>;
  sync(): Promise<void>;
  datasync(): Promise<void>;
  close(): Promise<void>;
}

/** The POSIX calls the durable operations are made of: what a filesystem (real or modelled) provides. */
export interface FsPrimitives {
  /** `wx`: create, failing if it exists; `a`: append, creating if missing. */
  open(path: string, flags: 'wx' | 'a'): Promise<PrimitiveFile>;
  openSync(path: string, mode: SyncOpenMode): SyncFile;
  readFile(path: string): Promise<Buffer>;
  readdir(dir: string): Promise<string[]>;
  /** `mkdir -p`; resolves to the first directory it created, or undefined when `dir` existed. */
  mkdir(dir: string): Promise<string | undefined>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  fsyncDir(dir: string): Promise<void>;
}

/** The port over a set of primitives: the durable operations are these functions, whatever the filesystem. */
export function durableFs(p: FsPrimitives): DurableFs {
  return {
    openSync: (path, mode) => p.openSync(path, mode),
    readFile: (path) => p.readFile(path),
    readdir: (dir) => p.readdir(dir),
    writeFileAtomic: (path, data) => atomicReplace(p, path, data),
    appendDurable: (path, data) => durableAppend(p, path, data),
    ensureDir: (dir) => durableMkdir(p, dir),
    rename: (from, to) => p.rename(from, to),
    async unlinkDurable(path) {
      await p.unlink(path);
      await p.fsyncDir(dirname(path));
    },
    unlink: (path) => p.unlink(path),
    fsyncDir: (dir) => p.fsyncDir(dir),
  };
}

/**
 * Replaces `path` atomically and durably: writes a temp file beside it, fsyncs it, renames it over
 * `path`, then fsyncs the directory. After it resolves, a crash leaves the new content; if it rejects
 * or the process dies midway, `path` still holds the previous content (a stray `.*.tmp` may remain).
 */
async function atomicReplace(p: FsPrimitives, path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path);
  // Same directory as the target: rename is only atomic within one filesystem.
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let h: PrimitiveFile | undefined;
  try {
    h = await p.open(tmp, 'wx');
    await h.write(data);
    await h.sync();
    await h.close();
    h = undefined;
    await p.rename(tmp, path);
  } catch (err) {
    await h?.close().catch(() => undefined);
    await p.unlink(tmp).catch(() => undefined);
    throw err;
  }
  await p.fsyncDir(dir);
}

/**
 * Appends and fdatasyncs. A file this call creates is fsync'd (its inode) and so is its directory: fdatasync
 * alone does not make a new name durable (fsync(2): "an explicit fsync() on a file descriptor for the directory
 * is also needed"), and a log whose name was lost in a power cut loses the line it was created for (a dead
 * letter whose journal record had already been let go).
 */
async function durableAppend(p: FsPrimitives, path: string, data: string | Uint8Array): Promise<void> {
  let created = true;
  let h: PrimitiveFile;
  try {
    h = await p.open(path, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    created = false;
    h = await p.open(path, 'a');
  }
  try {
    await h.write(data);
    if (created) await h.sync();
    else await h.datasync();
  } finally {
    await h.close();
  }
  if (created) await p.fsyncDir(dirname(path));
}

/**
 * `mkdir -p` that also makes the new directories durable: each created level is fsync'd in its
 * parent, so a journal directory created just before the first append cannot vanish on power loss.
 */
async function durableMkdir(p: FsPrimitives, dir: string): Promise<void> {
  const created = await p.mkdir(dir);
  if (created === undefined) return; // already existed
  const first = resolve(created);
  let d = resolve(dir);
  for (;;) {
    await p.fsyncDir(dirname(d));
    if (d === first || dirname(d) === d) break;
    d = dirname(d);
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

/** node:fs. */
export const nodePrimitives: FsPrimitives = {
  async open(path, flags) {
    const h = await open(path, flags);
    return {
      // writeFile/appendFile on a handle write the whole buffer from the handle's position (O_APPEND: the end).
      write: (data) => (flags === 'a' ? h.appendFile(data) : h.writeFile(data)),
      sync: () => h.sync(),
      datasync: () => h.datasync(),
      close: () => h.close(),
    };
  },
  openSync: (path, mode) => new NodeSyncFile(path, mode),
  readFile: readWhole,
  readdir: (dir) => readdir(dir),
  mkdir: (dir) => mkdir(dir, { recursive: true }),
  rename: (from, to) => rename(from, to),
  unlink: (path) => unlink(path),
  async fsyncDir(dir) {
    // A directory can only be opened read-only; fsync on that descriptor flushes the directory blocks.
    const h = await open(dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  },
};

/** The real filesystem (node:fs). */
export const nodeDurableFs: DurableFs = durableFs(nodePrimitives);

/** Makes the directory entries of `dir` (files created, renamed or deleted in it) durable. */
export const fsyncDir = (dir: string): Promise<void> => nodePrimitives.fsyncDir(dir);

/** {@link DurableFs.writeFileAtomic} on the real filesystem. */
export const writeFileAtomic = (path: string, data: string | Uint8Array): Promise<void> => nodeDurableFs.writeFileAtomic(path, data);

/** {@link DurableFs.ensureDir} on the real filesystem. */
export const ensureDirDurable = (dir: string): Promise<void> => nodeDurableFs.ensureDir(dir);
