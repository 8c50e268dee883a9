/**
 * What the journal's two typed-array indexes (recovered-index.ts: records found at start; live-index.ts: records
 * appended since) share: a record's columns as parallel arrays in seq order, grown by copying, searched by seq.
 */

type Column = Float64Array | Uint32Array | Uint8Array;

/** A copy of `a`'s first `n` values in a new array of `cap` slots (same type). */
export function resized<T extends Column>(a: T, cap: number, n: number): T {
  const b = new (a.constructor as new (length: number) => T)(cap);
  b.set(a.subarray(0, n));
  return b;
}

/** Index of `seq` in `seqs[lo, hi)` (ascending), or -1. */
export function indexOfSeq(seqs: Float64Array, lo: number, hi: number, seq: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const s = seqs[mid] as number;
    if (s === seq) return mid;
    if (s < seq) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

/** Index of the first seq above `after` in `seqs[lo, hi)` (ascending); `hi` when there is none. */
export function firstAbove(seqs: Float64Array, lo: number, hi: number, after: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((seqs[mid] as number) <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One record per index `i` across the columns; `seq` ascending. Key, kind and segment are ids the index interns. */
export class RecordColumns {
  seq = new Float64Array(0);
  at = new Float64Array(0);
  mono = new Float64Array(0);
  /** The record's offset in its segment and its size on disk, header included. */
  off = new Uint32Array(0);
  size = new Uint32Array(0);
  seg = new Uint32Array(0);
  key = new Uint32Array(0);
  kind = new Uint32Array(0);
  /** 1 once delivered (or dead-lettered). */
  gone = new Uint8Array(0);

  get capacity(): number {
    return this.seq.length;
  }

  /** Every column with `cap` slots, the first `n` records kept. */
  resize(cap: number, n: number): void {
    this.seq = resized(this.seq, cap, n);
    this.at = resized(this.at, cap, n);
    this.mono = resized(this.mono, cap, n);
    this.off = resized(this.off, cap, n);
    this.size = resized(this.size, cap, n);
    this.seg = resized(this.seg, cap, n);
    this.key = resized(this.key, cap, n);
    this.kind = resized(this.kind, cap, n);
    this.gone = resized(this.gone, cap, n);
  }
}
