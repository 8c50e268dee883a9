/**
 * The undelivered records found at start-up, held as parallel typed arrays in seq order instead of an object per
 * record.
 *
 * Why: a restart after an outage finds tens of thousands of undelivered records. Holding each as an entry object
 * (with its id string, a slot and a Map entry) made the garbage collector trace and promote ~100,000 objects
 * while the index was being built — with the daemon's `--heap-growing-percent=15` (scripts/runtime-flags.ts) that
 * was about half a second of a 100,000-record start. Here a record costs ~45 bytes in a few array buffers, its
 * key and kind are interned (one string per session, not per record), and an entry object is made only when a
 * caller asks for one ({@link RecoveredEntry}: id and payload are read back from the segment on access).
 * Records appended after the start are indexed as before (journal.ts): they are few, and their payloads are in
 * memory.
 */
import { BODY_FIXED_BYTES, HEADER_BYTES } from './segment.js';
import { firstAbove, indexOfSeq, RecordColumns } from './seq-arrays.js';
import type { JournalEntry, PayloadSource } from './types.js';

/** A segment as the recovered index refers to it (journal.ts's SegmentState). */
export interface IndexedSegment {
  readonly path: string;
  live: number;
}

export class RecoveredIndex {
  #n = 0;
  #live = 0;
  /** Lowest index that may still be live (everything before it was delivered). */
  #head = 0;
  #c = new RecordColumns();
  readonly #segs: IndexedSegment[] = [];
  readonly #sources: PayloadSource[] = [];
  readonly #keys: string[] = [];
  readonly #keyIds = new Map<string, number>();
  /** Records per key id as found at open (the journal's per-key counts are seeded with one entry per key). */
  readonly #keyLive: number[] = [];
  readonly #kinds: string[] = [];
  readonly #kindIds = new Map<string, number>();

  /**
   * Makes room for `n` more records at once (recovery passes an estimate from a segment's size before scanning
   * it), so the arrays are not copied again and again as they fill; {@link trim} gives back what was not used.
   */
  reserve(n: number): void {
    if (this.#n + n > this.#c.seq.length) this.#grow(this.#n + n);
  }

  /** Shrinks the arrays to what they hold when more than half of them went unused (after the scan). */
  trim(): void {
    if (this.#c.seq.length > 1024 && this.#n * 2 < this.#c.seq.length) this.#grow(Math.max(1024, this.#n), true);
  }

  /** Undelivered records still in the index. */
  get live(): number {
    return this.#live;
  }

  /** Registers a segment (in seq order) before its records are added; returns its number for {@link add}. */
  addSegment(seg: IndexedSegment, src: PayloadSource): number {
    this.#segs.push(seg);
    this.#sources.push(src);
    return this.#segs.length - 1;
  }

  /** Adds a record; seqs must come in increasing order (recovery checks that before calling). */
  add(seq: number, at: number, mono: number, seg: number, offset: number, size: number, key: string, kind: string): void {
    if (this.#n === this.#c.seq.length) this.#grow();
    const i = this.#n++;
    let k = this.#keyIds.get(key);
    if (k === undefined) {
      k = this.#keys.length;
      this.#keys.push(key);
      this.#keyIds.set(key, k);
      this.#keyLive.push(0);
    }
    (this.#keyLive[k] as number)++;
    let t = this.#kindIds.get(kind);
    if (t === undefined) {
      t = this.#kinds.length;
      this.#kinds.push(kind);
      this.#kindIds.set(kind, t);
    }
    this.#c.seq[i] = seq;
    this.#c.at[i] = at;
    this.#c.mono[i] = mono;
    this.#c.off[i] = offset;
    this.#c.size[i] = size;
    this.#c.seg[i] = seg;
    this.#c.key[i] = k;
    this.#c.kind[i] = t;
    this.#live++;
  }

  /** Records per key as found at open, once each key (to seed the journal's per-key counts, which then count down). */
  *keyCounts(): IterableIterator<[string, number]> {
    for (let k = 0; k < this.#keys.length; k++) {
      const n = this.#keyLive[k] as number;
      if (n > 0) yield [this.#keys[k] as string, n];
    }
  }

  /** True when `seq` is in the index and not delivered. */
  has(seq: number): boolean {
    const i = this.#find(seq);
    return i >= 0 && this.#c.gone[i] === 0;
  }

  /**
   * Marks `seq` delivered. Returns its key and segment (for the journal's counts), or undefined when it is not
   * in the index or was delivered already.
   */
  remove(seq: number): { key: string; seg: IndexedSegment } | undefined {
    const i = this.#find(seq);
    if (i < 0 || this.#c.gone[i] !== 0) return undefined;
    this.#c.gone[i] = 1;
    this.#live--;
    const found = { key: this.#keys[this.#c.key[i] as number] as string, seg: this.#segs[this.#c.seg[i] as number] as IndexedSegment };
    if (this.#live === 0) this.#release();
    return found;
  }

  /** Seq of the oldest live record, or undefined. */
  firstSeq(): number | undefined {
    const i = this.#first();
    return i < 0 ? undefined : this.#c.seq[i];
  }

  /** Wall time of the oldest live record, or undefined. */
  firstAt(): number | undefined {
    const i = this.#first();
    return i < 0 ? undefined : this.#c.at[i];
  }

  /** The live record with this seq as an entry, or undefined. */
  get(seq: number): JournalEntry | undefined {
    const i = this.#find(seq);
    return i >= 0 && this.#c.gone[i] === 0 ? this.#entry(i) : undefined;
  }

  /** Live records with a seq above `after`, in seq order, as entries (made now: one object each), `limit` at most. */
  entriesAfter(after: number, into: JournalEntry[] = [], limit = Infinity): JournalEntry[] {
    for (let i = this.#after(after); i < this.#n && into.length < limit; i++) if (this.#c.gone[i] === 0) into.push(this.#entry(i));
    return into;
  }

  /** Calls `fn(seq, key)` for each live record with a seq above `after`, in seq order, without making entries. */
  forEachAfter(after: number, fn: (seq: number, key: string) => void): void {
    for (let i = this.#after(after); i < this.#n; i++) if (this.#c.gone[i] === 0) fn(this.#c.seq[i] as number, this.#keys[this.#c.key[i] as number] as string);
  }

  /** Index of the first live record with a seq above `after` (`#n` when there is none). */
  #after(after: number): number {
    const first = this.#first();
    return first < 0 ? this.#n : firstAbove(this.#c.seq, first, this.#n, after);
  }

  #entry(i: number): RecoveredEntry {
    return new RecoveredEntry(
      this.#c.seq[i] as number,
      this.#keys[this.#c.key[i] as number] as string,
      this.#kinds[this.#c.kind[i] as number] as string,
      this.#c.at[i] as number,
      this.#c.mono[i] as number,
      this.#sources[this.#c.seg[i] as number] as PayloadSource,
      this.#c.off[i] as number,
      this.#c.size[i] as number,
    );
  }

  #first(): number {
    while (this.#head < this.#n && this.#c.gone[this.#head] !== 0) this.#head++;
    return this.#head < this.#n ? this.#head : -1;
  }

  #find(seq: number): number {
    return indexOfSeq(this.#c.seq, this.#head, this.#n, seq);
  }

  #grow(min = 0, exact = false): void {
    const cap = exact ? min : Math.max(1024, this.#c.seq.length * 2, min);
    this.#c.resize(cap, this.#n);
  }

  /** Everything recovered was delivered: the arrays go (later records live in the journal's own index). */
  #release(): void {
    this.#n = this.#head = 0;
    this.#c = new RecordColumns();
    this.#keys.length = this.#keyLive.length = this.#kinds.length = this.#segs.length = this.#sources.length = 0;
    this.#keyIds.clear();
    this.#kindIds.clear();
  }
}

/**
 * A recovered record handed out by the journal: the indexed fields, with the id and the payload read back from
 * the segment (whole record, through the segment's read-ahead window) when first asked for. The payload is
 * parsed on every read and never cached, like a {@link StoredEntry}'s.
 */
export class RecoveredEntry<P = unknown> implements JournalEntry<P> {
  readonly seq: number;
  readonly key: string;
  readonly kind: string;
  readonly at: number;
  readonly mono: number;
  readonly #src: PayloadSource;
  readonly #off: number;
  readonly #size: number;
  #id: string | undefined;

  constructor(seq: number, key: string, kind: string, at: number, mono: number, src: PayloadSource, off: number, size: number) {
    this.seq = seq;
    this.key = key;
    this.kind = kind;
    this.at = at;
    this.mono = mono;
    this.#src = src;
    this.#off = off;
    this.#size = size;
  }

  get id(): string {
    if (this.#id === undefined) {
      const b = this.#src.read(this.#off, this.#size);
      const start = HEADER_BYTES + BODY_FIXED_BYTES;
      this.#id = b.toString('utf8', start, start + b.readUInt16LE(HEADER_BYTES + 2));
    }
    return this.#id;
  }

  get payload(): P {
    const b = this.#src.read(this.#off, this.#size);
    const h = HEADER_BYTES;
    const start = h + BODY_FIXED_BYTES + b.readUInt16LE(h + 2) + b.readUInt16LE(h + 4) + b.readUInt16LE(h + 6);
    return JSON.parse(b.toString('utf8', start, this.#size)) as P;
  }

  /** Plain object for logs and JSON responses (getters are not serialised by JSON.stringify). */
  toJSON(): JournalEntry<P> {
    return { seq: this.seq, id: this.id, key: this.key, kind: this.kind, at: this.at, mono: this.mono, payload: this.payload };
  }
}
