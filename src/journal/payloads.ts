/**
 * Reading back the bytes of undelivered records that are no longer in memory. The journal keeps the newest records'
 * bytes in memory within its resident budget (live-index.ts); older ones, and every record a restart finds, are
 * read back from their segment file when needed (a synchronous positional read, from the page cache in practice),
 * so memory does not grow with an outage's backlog.
 */
import type { JournalFileOps, SegmentReader } from './file-ops.js';
import type { PayloadSource } from './types.js';

/** Bytes read ahead when a payload is read back from a segment (see {@link SegmentSources}). */
export const READ_AHEAD_BYTES = 1024 * 1024;

/**
 * One read-only handle per segment, opened on the first read of a payload that left memory, and one
 * read-ahead window shared by all segments.
 *
 * Payloads are read back mostly in seq order (a restart replaying its backlog into local state, the flusher
 * sending it), so one read of up to {@link READ_AHEAD_BYTES} serves the next records too: a restart with
 * 100,000 records makes ~120 reads instead of 100,000. The window never reaches past a segment's committed
 * data (`size`): bytes below it never change (records are immutable, only a failed batch above it is cut
 * back), so a cached window cannot go stale while its segment exists. A returned buffer may be a view of the
 * window: it is valid until the next read (callers decode it at once).
 */
export class SegmentSources {
  readonly #ops: JournalFileOps;
  readonly #readers = new Map<string, SegmentReader>();
  readonly #sources = new Map<string, PayloadSource>();
  /** What the window holds (`bytes` is a view of `#buf`, reused for every window: no garbage per read). */
  #window: { path: string; start: number; bytes: Buffer } | null = null;
  #buf: Buffer | null = null;

  constructor(ops: JournalFileOps) {
    this.#ops = ops;
  }

  /** The payload source of a segment (no file is opened until it is read). */
  for(seg: { readonly path: string; readonly size: number }): PayloadSource {
    const path = seg.path;
    let src = this.#sources.get(path);
    if (!src) {
      src = { read: (position, length) => this.#read(seg, position, length) };
      this.#sources.set(path, src);
    }
    return src;
  }

  #read(seg: { readonly path: string; readonly size: number }, position: number, length: number): Buffer {
    const w = this.#window;
    if (w && w.path === seg.path && position >= w.start && position + length <= w.start + w.bytes.length) {
      return w.bytes.subarray(position - w.start, position - w.start + length);
    }
    let r = this.#readers.get(seg.path);
    if (!r) {
      r = this.#ops.openReader(seg.path);
      this.#readers.set(seg.path, r);
    }
    const ahead = Math.min(READ_AHEAD_BYTES, seg.size - position);
    if (ahead <= length) return r.read(position, length);
    this.#buf ??= Buffer.allocUnsafe(READ_AHEAD_BYTES);
    this.#window = null; // the buffer is being overwritten
    r.readInto(this.#buf, position, ahead);
    const bytes = this.#buf.subarray(0, ahead);
    this.#window = { path: seg.path, start: position, bytes };
    return bytes.subarray(0, length);
  }

  /** Gives the read-ahead window's memory back (nothing is left to read back: the journal's backlog is delivered). */
  releaseWindow(): void {
    this.#window = null;
    this.#buf = null;
  }

  /** The segment was deleted (everything in it delivered). */
  forget(path: string): void {
    this.#readers.get(path)?.close();
    this.#readers.delete(path);
    this.#sources.delete(path);
    if (this.#window?.path === path) this.#window = null;
  }

  closeAll(): void {
    for (const r of this.#readers.values()) r.close();
    this.#readers.clear();
    this.#sources.clear();
    this.#window = null;
  }
}
