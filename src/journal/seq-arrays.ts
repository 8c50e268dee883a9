/**
 * What the journal's two typed-array indexes (recovered-index.ts: records found at start; live-index.ts: records
 * appended since) share: parallel arrays in seq order, grown by copying, searched by seq.
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
