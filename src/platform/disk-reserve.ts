/**
 * A reserve of disk space (a "ballast" file of written zeros, `<dataDir>/disk-reserve`) that lets a full disk
 * free itself (README "Durability and the journal").
 *
 * Why: the journal frees space only by deleting delivered segments, and a segment may go only after its
 * records are marked delivered: that writes the state they built (state/*.log, the ledger snapshot) and the
 * cursor (a temp file renamed over the old one). On a full disk every one of those writes fails with ENOSPC,
 * so the records Talon.One already has could never be marked and the disk would stay full until someone
 * deleted files by hand. Writing the cursor in place into preallocated space would fix the cursor alone,
 * not the state files written before it; a reserve covers every write of a mark. So the space is set aside
 * while there is plenty: when a mark fails with ENOSPC the reserve is deleted, the marks land in the space it
 * held and the segments they free give back far more; once free space is back to twice the reserve, it is
 * made again. Written zeros, not a sparse file: only allocated blocks are space held back.
 */
import { open, rename, statfs, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fsyncDir } from './durable-fs.js';
import type { Logger } from '../telemetry/logger.js';

export const DISK_RESERVE_FILE = 'disk-reserve';

const CHUNK = Buffer.alloc(1024 * 1024);

/** True for a failure caused by a full filesystem (ENOSPC, or EDQUOT for a quota), or wrapping one. */
export function isDiskFull(err: unknown): boolean {
  for (let e = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SG_ERR_DISK_FULL') return true;
  }
  return false;
}

export class DiskReserve {
  readonly file: string;
  readonly bytes: number;
  readonly #log: Logger;
  readonly #retryMs: number;
  #present = false;
  #timer: NodeJS.Timeout | null = null;
  #busy: Promise<void> | undefined;
  #stopped = false;

  /** @param bytes 0 = no reserve */
  constructor(o: { dataDir: string; bytes: number; log: Logger; retryMs?: number }) {
    this.file = join(o.dataDir, DISK_RESERVE_FILE);
    this.bytes = o.bytes;
    this.#log = o.log;
    this.#retryMs = o.retryMs ?? 10_000;
  }

  /** True while the reserve file holds its space. */
  get present(): boolean {
    return this.#present;
  }

  /** Makes the reserve if it is missing (or short); on a disk too full for it, tries again later. */
  async start(): Promise<void> {
    if (this.bytes <= 0) return;
    this.#stopped = false;
    await this.#restore(true);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /**
   * Deletes the reserve (a write failed on a full disk). Resolves true if that freed space, false if there
   * was no reserve left to give. It is made again once free space is back to twice its size.
   */
  async release(): Promise<boolean> {
    await this.#busy;
    if (!this.#present) return false;
    this.#present = false;
    try {
      await unlink(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.#log.error({ err, file: this.file }, 'disk reserve: could not be deleted');
        return false;
      }
    }
    this.#log.warn({ file: this.file, bytes: this.bytes }, 'disk full: disk reserve released so delivered journal segments can be freed');
    this.#schedule();
    return true;
  }

  #schedule(): void {
    if (this.#stopped || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#restore(false);
    }, this.#retryMs);
    this.#timer.unref();
  }

  async #restore(atStart: boolean): Promise<void> {
    if (this.#present || this.#stopped) return;
    this.#busy ??= (async () => {
      try {
        if (atStart) {
          const h = await open(this.file, 'r').catch(() => undefined);
          if (h) {
            const { size } = await h.stat().finally(() => h.close());
            if (size >= this.bytes) {
              this.#present = true;
              return;
            }
          }
        }
        const s = await statfs(dirname(this.file));
        if (s.bavail * s.bsize < 2 * this.bytes) {
          this.#schedule();
          return;
        }
        await this.#write();
        this.#present = true;
        if (!atStart) this.#log.info({ file: this.file, bytes: this.bytes }, 'disk reserve made again');
      } catch (err) {
        this.#log.warn({ err, file: this.file }, 'disk reserve: could not be made; trying again later');
        this.#schedule();
      }
    })().finally(() => {
      this.#busy = undefined;
    });
    await this.#busy;
  }

  /** Zeros to a temp file, fsync, rename, fsync dir: a crash never leaves a half reserve under the real name. */
  async #write(): Promise<void> {
    const tmp = join(dirname(this.file), `.${basename(this.file)}.tmp`);
    const h = await open(tmp, 'w');
    try {
      for (let off = 0; off < this.bytes; off += CHUNK.length) {
        const n = Math.min(CHUNK.length, this.bytes - off);
        await h.write(CHUNK, 0, n, off);
      }
      await h.sync();
    } catch (err) {
      await h.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    await h.close();
    await rename(tmp, this.file);
    await fsyncDir(dirname(this.file));
  }
}
