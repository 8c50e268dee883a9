/**
 * The journal's resident budget for payload bytes: the newest records keep their JSON bytes in memory (the
 * flusher usually sends them within seconds), older ones are evicted and read back from their segment file
 * when needed (a synchronous positional read, from the page cache in practice).
 *
 * Why: during a long outage a busy store journals tens of thousands of records; keeping every payload in
 * memory made the daemon's RSS grow with the backlog (and, once parsed, several times the bytes). With the
 * budget, memory stays bounded whatever the outage, and a restart reads payloads from the segments instead
 * of holding them all.
 */
import type { JournalFileOps, SegmentReader } from './file-ops.js';
import type { PayloadSource, StoredEntry } from './types.js';

export class ResidentPayloads {
  readonly #budget: number;
  /** Entries in append order whose bytes may still be in memory; `#head` is the oldest not yet dropped. */
  #queue: StoredEntry[] = [];
  #head = 0;
  #bytes = 0;

  constructor(budgetBytes: number) {
    this.#budget = Math.max(0, budgetBytes);
  }

  /** Payload bytes held in memory now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** A record became durable (its bytes are in memory and it is located on disk). */
  add(e: StoredEntry): void {
    const n = e.residentBytes;
    if (n === 0) return;
    this.#queue.push(e);
    this.#bytes += n;
    this.#trim();
  }

  /** A record was delivered: its bytes are no longer needed. */
  release(e: StoredEntry): void {
    this.#bytes -= e.evict();
    this.#trim();
  }

  /** Evicts the oldest until within budget, and drops evicted entries from the front of the queue. */
  #trim(): void {
    const q = this.#queue;
    while (this.#head < q.length) {
      const e = q[this.#head] as StoredEntry;
      if (e.residentBytes > 0 && this.#bytes <= this.#budget) break;
      this.#bytes -= e.evict();
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > q.length) {
      this.#queue = q.slice(this.#head);
      this.#head = 0;
    }
  }
}

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
