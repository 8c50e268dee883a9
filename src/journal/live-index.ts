/**
 * The undelivered records appended since the journal was opened, held as parallel typed arrays in seq order (as the
 * records found at open are: recovered-index.ts) instead of an entry object, a slot and a Map entry per record.
 *
 * Why: an outage of a few hours leaves ~38,000 records waiting (the soak benchmark's afternoon outage, README
 * "soak"). As objects they cost ~300 bytes of heap each (the entry, its key string, its slot, the journal's Map
 * entry, the flusher's queue entry and its set of seqs), ~11 MiB that V8 grew its heap for and kept committed after
 * the backlog was delivered. Here a record costs ~60 bytes in a few array buffers; its key and kind are interned
 * (one string per session, counted, forgotten with the session's last record), and an entry object is made only
 * when a caller asks for one ({@link RecoveredEntry}: id and payload are read from the record's bytes).
 *
 * The newest records keep their bytes in memory (the write batch's buffer, shared by the batch) while they fit the
 * journal's resident budget (`residentPayloadBytes`, counted in record bytes): the flusher usually sends them
 * within seconds. Older ones are read back from their segment (payloads.ts's read-ahead window).
 */
import { type IndexedSegment, RecoveredEntry } from './recovered-index.js';
import { firstAbove, indexOfSeq, RecordColumns, resized } from './seq-arrays.js';
import type { JournalEntry, PayloadSource } from './types.js';

/** Records below which the arrays are not compacted (a copy of the live tail to the front). */
const MIN_COMPACT = 1024;

export class LiveIndex {
  readonly #budget: number;
  readonly #sourceOf: (seg: IndexedSegment) => PayloadSource;
  #n = 0;
  #live = 0;
  /** Lowest index that may still be live (everything before it was delivered). */
  #head = 0;
  #c = new RecordColumns();
  /** The write batch's buffer while the record's bytes are resident, and the segment offset it starts at. */
  #buf: (Buffer | undefined)[] = [];
  #bufOff = new Uint32Array(0);
  /** Lowest index whose bytes may still be resident. */
  #residentHead = 0;
  #residentBytes = 0;
  readonly #segs: IndexedSegment[] = [];
  readonly #segIds = new Map<IndexedSegment, number>();
  readonly #keys: (string | undefined)[] = [];
  readonly #keyIds = new Map<string, number>();
  /** Live records per key id; a key id whose count falls to 0 is forgotten and reused. */
  readonly #keyLive: number[] = [];
  readonly #freeKeys: number[] = [];
  readonly #kinds: string[] = [];
  readonly #kindIds = new Map<string, number>();

  constructor(residentBudgetBytes: number, sourceOf: (seg: IndexedSegment) => PayloadSource) {
    this.#budget = Math.max(0, residentBudgetBytes);
    this.#sourceOf = sourceOf;
  }

  /** Undelivered records in the index. */
  get live(): number {
    return this.#live;
  }

  /** Record bytes held in memory now (at most the budget). */
  get residentBytes(): number {
    return this.#residentBytes;
  }

  /**
   * Adds a durable record (seqs in increasing order): `buf` is its write batch, which starts at segment offset
   * `bufOff`; the record is `buf[off - bufOff, off - bufOff + size)`.
   */
  add(seq: number, at: number, mono: number, seg: IndexedSegment, off: number, size: number, key: string, kind: string, buf: Buffer, bufOff: number): void {
    if (this.#n === this.#c.seq.length) this.#grow();
    const i = this.#n++;
    let s = this.#segIds.get(seg);
    if (s === undefined) {
      s = this.#segs.length;
      this.#segs.push(seg);
      this.#segIds.set(seg, s);
    }
    let k = this.#keyIds.get(key);
    if (k === undefined) {
      k = this.#freeKeys.pop();
      if (k === undefined) {
        k = this.#keys.length;
        this.#keys.push(key);
        this.#keyLive.push(0);
      } else this.#keys[k] = key;
      this.#keyIds.set(key, k);
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
    this.#c.off[i] = off;
    this.#c.size[i] = size;
    this.#c.seg[i] = s;
    this.#c.key[i] = k;
    this.#c.kind[i] = t;
    this.#c.gone[i] = 0;
    this.#live++;
    this.#buf[i] = buf;
    this.#bufOff[i] = bufOff;
    this.#residentBytes += size;
    this.#evict();
  }

  /** True while records with this key wait for delivery. */
  hasKey(key: string): boolean {
    return this.#keyIds.has(key);
  }

  has(seq: number): boolean {
    const i = this.#find(seq);
    return i >= 0 && this.#c.gone[i] === 0;
  }

  /**
   * Marks `seq` delivered. Returns its key and segment (for the journal's counts), or undefined when it is not in
   * the index or was delivered already.
   */
  remove(seq: number): { key: string; seg: IndexedSegment } | undefined {
    const i = this.#find(seq);
    if (i < 0 || this.#c.gone[i] !== 0) return undefined;
    this.#c.gone[i] = 1;
    this.#live--;
    if (this.#buf[i] !== undefined) {
      this.#buf[i] = undefined;
      this.#residentBytes -= this.#c.size[i] as number;
    }
    const k = this.#c.key[i] as number;
    const key = this.#keys[k] as string;
    const n = (this.#keyLive[k] as number) - 1;
    this.#keyLive[k] = n;
    if (n === 0) {
      this.#keyIds.delete(key);
      this.#keys[k] = undefined;
      this.#freeKeys.push(k);
    }
    const seg = this.#segs[this.#c.seg[i] as number] as IndexedSegment;
    if (this.#live === 0) this.#clear();
    else if (i === this.#head) this.#first();
    return { key, seg };
  }

  firstSeq(): number | undefined {
    const i = this.#first();
    return i < 0 ? undefined : this.#c.seq[i];
  }

  firstAt(): number | undefined {
    const i = this.#first();
    return i < 0 ? undefined : this.#c.at[i];
  }

  get(seq: number): JournalEntry | undefined {
    const i = this.#find(seq);
    return i >= 0 && this.#c.gone[i] === 0 ? this.#entry(i) : undefined;
  }

  /** Live records with a seq above `after`, in seq order, as entries (made now), until `into` holds `limit`. */
  entriesAfter(after: number, into: JournalEntry[] = [], limit = Infinity): JournalEntry[] {
    for (let i = this.#after(after); i < this.#n && into.length < limit; i++) if (this.#c.gone[i] === 0) into.push(this.#entry(i));
    return into;
  }

  /** Calls `fn(seq, key)` for each live record with a seq above `after`, in seq order, without making entries. */
  forEachAfter(after: number, fn: (seq: number, key: string) => void): void {
    for (let i = this.#after(after); i < this.#n; i++) {
      if (this.#c.gone[i] === 0) fn(this.#c.seq[i] as number, this.#keys[this.#c.key[i] as number] as string);
    }
  }

  /** Index of the first record with a seq above `after`. */
  #after(after: number): number {
    return firstAbove(this.#c.seq, Math.max(0, this.#first()), this.#n, after);
  }


  #entry(i: number): RecoveredEntry {
    const buf = this.#buf[i];
    let src: PayloadSource;
    if (buf !== undefined) {
      const base = this.#bufOff[i] as number;
      src = { read: (position, length) => buf.subarray(position - base, position - base + length) };
    } else src = this.#sourceOf(this.#segs[this.#c.seg[i] as number] as IndexedSegment);
    return new RecoveredEntry(
      this.#c.seq[i] as number,
      this.#keys[this.#c.key[i] as number] as string,
      this.#kinds[this.#c.kind[i] as number] as string,
      this.#c.at[i] as number,
      this.#c.mono[i] as number,
      src,
      this.#c.off[i] as number,
      this.#c.size[i] as number,
    );
  }

  /** Drops the oldest resident bytes until within budget. */
  #evict(): void {
    while (this.#residentBytes > this.#budget && this.#residentHead < this.#n) {
      const i = this.#residentHead++;
      if (this.#buf[i] !== undefined) {
        this.#buf[i] = undefined;
        this.#residentBytes -= this.#c.size[i] as number;
      }
    }
  }

  #first(): number {
    while (this.#head < this.#n && this.#c.gone[this.#head] !== 0) this.#head++;
    if (this.#head >= MIN_COMPACT && this.#head * 2 >= this.#n) this.#compact();
    return this.#head < this.#n ? this.#head : -1;
  }

  #find(seq: number): number {
    return indexOfSeq(this.#c.seq, this.#head, this.#n, seq);
  }


  /** Moves the records from `#head` on to the front (the delivered ones before it are gone for good). */
  #compact(): void {
    const h = this.#head;
    const n = this.#n;
    for (const a of [this.#c.seq, this.#c.at, this.#c.mono]) a.copyWithin(0, h, n);
    for (const a of [this.#c.off, this.#c.size, this.#c.seg, this.#c.key, this.#c.kind, this.#bufOff]) a.copyWithin(0, h, n);
    this.#c.gone.copyWithin(0, h, n);
    this.#buf.copyWithin(0, h, n);
    this.#buf.length = n - h;
    this.#n = n - h;
    this.#head = 0;
    this.#residentHead = Math.max(0, this.#residentHead - h);
    if (this.#c.seq.length > 4 * MIN_COMPACT && this.#n * 4 < this.#c.seq.length) this.#grow(Math.max(MIN_COMPACT, this.#n * 2), true);
  }

  /** Nothing left: start over (the arrays are kept, smaller if they grew large for a backlog). */
  #clear(): void {
    this.#buf.length = 0;
    this.#n = this.#head = this.#residentHead = this.#residentBytes = 0;
    if (this.#c.seq.length > MIN_COMPACT) this.#grow(MIN_COMPACT, true);
    this.#segs.length = 0;
    this.#segIds.clear();
    this.#keys.length = this.#keyLive.length = this.#freeKeys.length = 0;
  }

  #grow(min = 0, exact = false): void {
    const cap = exact ? min : Math.max(MIN_COMPACT, this.#c.seq.length * 2, min);
    this.#c.resize(cap, this.#n);
    this.#bufOff = resized(this.#bufOff, cap, this.#n);
  }
}
