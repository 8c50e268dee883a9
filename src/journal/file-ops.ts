/**
 * The journal's filesystem port. Production uses {@link nodeFileOps}; tests wrap it to count
 * `datasync` calls or to inject `ENOSPC`/`EIO` without monkey-patching `node:fs`.
 */
import { closeSync, fdatasyncSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { open, readdir, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ensureDirDurable, fsyncDir, writeFileAtomic } from '../platform/durable-fs.js';

/** An open segment file, written at explicit positions (never O_APPEND: we must be able to truncate back). */
export interface SegmentHandle {
  /** Writes all of `data` at `position` (loops over short writes). */
  write(data: Uint8Array, position: number): Promise<void>;
  /** fdatasync: data plus the metadata needed to read it back (the file size), not mtime. */
  datasync(): Promise<void>;
  /** `write` as a blocking call on the calling thread (the journal's inline path, see SyncPacer). */
  writeSync(data: Uint8Array, position: number): void;
  /** `datasync` as a blocking call on the calling thread. */
  datasyncSync(): void;
  truncate(length: number): Promise<void>;
  /**
   * Writes zeros over `[from, to)` and makes them durable with the file's new length (the journal's
   * preallocation, see preallocator.ts). Runs in the thread pool.
   */
  zeroFill(from: number, to: number): Promise<void>;
  close(): Promise<void>;
}

/** A segment opened for synchronous positional reads of payloads (see StoredEntry). */
export interface SegmentReader {
  /** Reads exactly `length` bytes at `position` (throws if the file is shorter). */
  read(position: number, length: number): Buffer;
  /** Reads exactly `length` bytes at `position` into the start of `target` (reused buffers: no garbage per read). */
  readInto(target: Buffer, position: number, length: number): void;
  /** The file's length now (data plus any preallocated zeros). */
  size(): number;
  close(): void;
}

export interface JournalFileOps {
  /** Opens a segment read-only for payload reads. */
  openReader(path: string): SegmentReader;
  /** Opens an existing segment for positional writes. */
  openSegment(path: string): Promise<SegmentHandle>;
  /** Creates a new, empty segment (fails if it exists) and makes the file and its name durable. */
  createSegment(path: string): Promise<SegmentHandle>;
  readFile(path: string): Promise<Buffer>;
  readdir(dir: string): Promise<string[]>;
  /** Removes a file and makes the removal durable (fsync of the directory). */
  unlinkDurable(path: string): Promise<void>;
  /** Best-effort removal, no fsync (stray temp files). */
  unlink(path: string): Promise<void>;
  ensureDir(dir: string): Promise<void>;
  writeFileAtomic(path: string, data: string | Uint8Array): Promise<void>;
}

const ZEROS = Buffer.alloc(1024 * 1024);

class NodeSegmentHandle implements SegmentHandle {
  readonly #h: FileHandle;

  constructor(h: FileHandle) {
    this.#h = h;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    let done = 0;
    while (done < data.byteLength) {
      const { bytesWritten } = await this.#h.write(data, done, data.byteLength - done, position + done);
      if (bytesWritten <= 0) throw Object.assign(new Error('write returned 0 bytes'), { code: 'EIO' });
      done += bytesWritten;
    }
  }

  datasync(): Promise<void> {
    return this.#h.datasync();
  }

  writeSync(data: Uint8Array, position: number): void {
    let done = 0;
    while (done < data.byteLength) {
      const n = writeSync(this.#h.fd, data, done, data.byteLength - done, position + done);
      if (n <= 0) throw Object.assign(new Error('write returned 0 bytes'), { code: 'EIO' });
      done += n;
    }
  }

  datasyncSync(): void {
    fdatasyncSync(this.#h.fd);
  }

  truncate(length: number): Promise<void> {
    return this.#h.truncate(length);
  }

  async zeroFill(from: number, to: number): Promise<void> {
    for (let off = from; off < to; off += ZEROS.length) await this.write(ZEROS.subarray(0, Math.min(ZEROS.length, to - off)), off);
    await this.#h.datasync();
  }

  close(): Promise<void> {
    return this.#h.close();
  }
}

class NodeSegmentReader implements SegmentReader {
  readonly #fd: number;

  constructor(path: string) {
    this.#fd = openSync(path, 'r');
  }

  read(position: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    this.readInto(buf, position, length);
    return buf;
  }

  readInto(target: Buffer, position: number, length: number): void {
    let done = 0;
    while (done < length) {
      const n = readSync(this.#fd, target, done, length - done, position + done);
      if (n === 0) throw Object.assign(new Error(`journal payload read past the end of the segment at ${position + done}`), { code: 'EIO' });
      done += n;
    }
  }

  size(): number {
    return fstatSync(this.#fd).size;
  }

  close(): void {
    closeSync(this.#fd);
  }
}

export const nodeFileOps: JournalFileOps = {
  openReader: (path) => new NodeSegmentReader(path),
  async openSegment(path) {
    return new NodeSegmentHandle(await open(path, 'r+'));
  },
  async createSegment(path) {
    const h = await open(path, 'wx');
    try {
      // A full fsync (not datasync) persists the new inode; the directory fsync persists its name.
      // Without both, a power cut could lose the segment that later acknowledged records live in.
      await h.sync();
      await fsyncDir(dirname(path));
    } catch (err) {
      await h.close().catch(() => undefined);
      throw err;
    }
    return new NodeSegmentHandle(h);
  },
  async readFile(path) {
    // One big positional read per 64 MiB instead of readFile's 512 KiB chunks: start-up reads every
    // segment, and each chunk is a thread-pool round trip.
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
  },
  readdir: (dir) => readdir(dir),
  async unlinkDurable(path) {
    await unlink(path);
    await fsyncDir(dirname(path));
  },
  unlink: (path) => unlink(path),
  ensureDir: ensureDirDurable,
  writeFileAtomic,
};
