/**
 * Keeps zero-filled, already allocated space ahead of the active segment's write position.
 *
 * Why: an fdatasync after a write that *extends* a file must also commit the new size and block
 * allocation through the filesystem's own journal (ext4: a jbd2 commit); an fdatasync after a write
 * *into* blocks that already hold data flushes the data alone. On the 2-core VM a 1 KB record synced
 * in place takes ~0.13 ms at the median against ~0.21 ms appended (README "Benchmarks"), and that
 * difference is why SQLite's WAL, which overwrites a file it already grew, beat a plain append.
 * `fallocate` is not enough: it leaves "unwritten" extents whose first write is a metadata change
 * too. So real zeros are written, in the background, through the thread pool, a few MiB ahead.
 *
 * Safety: a record batch is never written into a range a zero-fill may still be writing (`clear`), so
 * zeros can never land on records. Fills start at least HEADROOM past the data, so in practice
 * batches never wait for one. A crash at any point leaves records followed by zeros, and the
 * scanner reads an all-zero rest of a file as the clean end of the data (segment.ts). A failed fill (a
 * full disk) only stops preallocation in this segment: writes then extend the file as before.
 */
import type { Logger } from '../telemetry/logger.js';
import type { SegmentHandle } from './file-ops.js';

/**
 * Sizes, for the default 64 MiB segment (smaller segments, as in tests, scale them down by the divisor):
 * - low water: start the next fill when less than this much preallocated space is left ahead of the data;
 * - chunk: bytes zero-filled per fill;
 * - headroom: when the data has caught up with the preallocated end (a new segment, a cut-back tail), the
 *   fill starts this far past the data, so the batches written meanwhile (into the gap) never wait for it.
 */
const LOW_WATER = { bytes: 2 * 1024 * 1024, divisor: 8 };
const CHUNK = { bytes: 4 * 1024 * 1024, divisor: 4 };
const HEADROOM = { bytes: 256 * 1024, divisor: 16 };
const scaled = (s: { bytes: number; divisor: number }, limit: number) => Math.min(s.bytes, Math.floor(limit / s.divisor));

export class Preallocator {
  readonly #handle: SegmentHandle;
  readonly #limit: number;
  readonly #lowWater: number;
  readonly #chunk: number;
  readonly #headroom: number;
  readonly #log: Logger;
  readonly #path: string;
  /** File length: the data plus the zeros written after it. */
  #end: number;
  #inflight: Promise<void> | undefined;
  /** Where the fill in flight starts writing. */
  #fillFrom = Number.POSITIVE_INFINITY;
  #failed = false;

  /**
   * @param fileBytes the file's current length (data plus earlier preallocation)
   * @param limit never preallocate past this length (the segment size)
   */
  constructor(o: { handle: SegmentHandle; path: string; fileBytes: number; limit: number; log: Logger }) {
    this.#handle = o.handle;
    this.#path = o.path;
    this.#end = o.fileBytes;
    this.#limit = o.limit;
    this.#lowWater = scaled(LOW_WATER, o.limit);
    this.#chunk = scaled(CHUNK, o.limit);
    this.#headroom = scaled(HEADROOM, o.limit);
    this.#log = o.log;
  }

  /** True when a batch may be written at `[off, off + len)` now: it cannot overlap a fill in flight. */
  clear(off: number, len: number): boolean {
    return this.#inflight === undefined || off + len <= this.#fillFrom;
  }

  /** The file was cut back to `length` (a failed batch rolled back). Call only when no fill is in flight. */
  cut(length: number): void {
    this.#end = Math.min(this.#end, length);
  }

  /** Resolves once no fill is in flight (it never rejects). */
  async settle(): Promise<void> {
    await this.#inflight;
  }

  /** A batch made the data end at `dataEnd`: start a fill when little preallocated space is left. */
  wrote(dataEnd: number): void {
    if (dataEnd > this.#end) this.#end = dataEnd;
    if (this.#failed || this.#inflight !== undefined) return;
    if (this.#chunk === 0 || this.#end - dataEnd >= this.#lowWater || this.#end >= this.#limit) return;
    const from = Math.max(this.#end, dataEnd + this.#headroom);
    const to = Math.min(this.#limit, from + this.#chunk);
    if (from >= to) return;
    this.#fillFrom = from;
    this.#inflight = this.#fill(from, to).finally(() => {
      this.#inflight = undefined;
      this.#fillFrom = Number.POSITIVE_INFINITY;
    });
  }

  async #fill(from: number, to: number): Promise<void> {
    try {
      // Durable with the new length and blocks, so the in-place syncs that follow carry no metadata.
      await this.#handle.zeroFill(from, to);
      this.#end = to;
    } catch (err) {
      // Whatever part of the fill landed is zeros beyond the data: harmless, and readable as the end.
      this.#failed = true;
      this.#log.warn({ err, file: this.#path, from, to }, 'journal: could not preallocate segment space; appending instead');
    }
  }
}
