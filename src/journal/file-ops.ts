/**
 * The journal's filesystem port: the data dir's shared port (src/platform/durable-fs.ts) for whole files (the
 * cursor, directory listings, removals), plus segment files. Production uses {@link nodeFileOps}; tests wrap it
 * to count `datasync` calls or to inject `ENOSPC`/`EIO` without monkey-patching `node:fs`, and the power-cut
 * model implements it over the same model filesystem as the state files.
 */
import { fdatasyncSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type DurableFs, type SyncFile, fsyncDir, nodeDurableFs } from '../platform/durable-fs.js';

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

/** What the journal needs of the shared port: whole files (cursor), listings, removals, its directory. */
export type JournalWholeFiles = Pick<DurableFs, 'readFile' | 'readdir' | 'unlinkDurable' | 'unlink' | 'ensureDir' | 'writeFileAtomic'>;

export interface JournalFileOps extends JournalWholeFiles {
  /** Opens a segment read-only for payload reads. */
  openReader(path: string): SegmentReader;
  /** Opens an existing segment for positional writes. */
  openSegment(path: string): Promise<SegmentHandle>;
  /** Creates a new, empty segment (fails if it exists) and makes the file and its name durable. */
  createSegment(path: string): Promise<SegmentHandle>;
}

/** A payload reader over a synchronous file of the shared port: reads must be whole (a short one is damage). */
export function segmentReader(file: SyncFile, path: string): SegmentReader {
  const readInto = (target: Buffer, position: number, length: number): void => {
    const n = file.read(target, position, length);
    if (n < length) throw Object.assign(new Error(`journal payload read past the end of the segment ${path} at ${position + n}`), { code: 'EIO' });
  };
  return {
    read(position, length) {
      const buf = Buffer.allocUnsafe(length);
      readInto(buf, position, length);
      return buf;
    },
    readInto,
    size: () => file.size(),
    close: () => file.close(),
  };
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

export const nodeFileOps: JournalFileOps = {
  readFile: nodeDurableFs.readFile,
  readdir: nodeDurableFs.readdir,
  unlinkDurable: nodeDurableFs.unlinkDurable,
  unlink: nodeDurableFs.unlink,
  ensureDir: nodeDurableFs.ensureDir,
  writeFileAtomic: nodeDurableFs.writeFileAtomic,
  openReader: (path) => segmentReader(nodeDurableFs.openSync(path, 'r'), path),
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
};
