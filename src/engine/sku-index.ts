/**
 * SKU → entry number (plus the entry's base price and one flag), in one flat typed array. A price-book
 * lookup is a cold, random access into 100,000 SKUs (the cart's lines are unrelated to each other): a
 * `Map` walk touches its bucket table, its entry table, the stored key string and then the value object,
 * each a cache (and TLB) miss. Here one 32-byte slot holds the hash, the number, the value, the flag and
 * (for short Latin-1 keys, i.e. nearly every SKU) the key's characters: a hit usually reads one cache line.
 */

/** Slot layout, bytes: 0 hash (i32), 4 number + 1 (i32, 0 = empty), 8 value (f64), 16 inline key length
 * (`LONG` = not inline: compare the key string), 17 flag, 18..31 key characters (one byte each). */
const SLOT = 32;
const INLINE = 14;
const LONG = 255;

export class SkuIndex {
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;
  readonly #u8: Uint8Array;
  readonly #mask: number;
  /** The keys themselves, compared only for keys that are not inline (long or beyond Latin-1). */
  readonly #keys: readonly string[];

  /**
   * `values[i]` / `flags[i]` (0–255) ride along with key `i` (default 0): read them by `value`/`flag`.
   * `compactKeys`: keep only the keys that are not inline (the catalog's 100,000 SKUs are then not held twice;
   * its caller keeps them in one string pool). `maxLoad`: the table is the smallest power of two filled at most
   * this much (default 1/2; the catalog takes 0.8: half the memory for a slightly longer probe).
   */
  constructor(keys: readonly string[], values?: ArrayLike<number>, flags?: ArrayLike<number>, compactKeys = false, maxLoad = 0.5) {
    let cap = 16;
    while (cap * maxLoad < keys.length) cap *= 2;
    this.#mask = cap - 1;
    const buf = new ArrayBuffer(cap * SLOT);
    this.#i32 = new Int32Array(buf);
    this.#f64 = new Float64Array(buf);
    this.#u8 = new Uint8Array(buf);
    // Compact: only the long keys, at their numbers (a sparse array: none at all when every SKU is inline).
    const kept: string[] | undefined = compactKeys ? [] : undefined;
    this.#keys = kept ?? keys;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      const h = hash(k);
      let p = h & this.#mask;
      while (this.#i32[p * 8 + 1] !== 0) p = (p + 1) & this.#mask;
      this.#i32[p * 8] = h;
      this.#i32[p * 8 + 1] = i + 1;
      this.#f64[p * 4 + 1] = values ? (values[i] as number) : 0;
      const b = p * SLOT;
      this.#u8[b + 17] = flags ? (flags[i] as number) : 0;
      let inline = k.length <= INLINE;
      for (let j = 0; inline && j < k.length; j++) inline = k.charCodeAt(j) <= 0xff;
      this.#u8[b + 16] = inline ? k.length : LONG;
      if (!inline && kept) kept[i] = k;
      if (inline) for (let j = 0; j < k.length; j++) this.#u8[b + 18 + j] = k.charCodeAt(j);
    }
  }

  /** The slot of `key` (for `number`/`value`/`flag`), or -1. (Keys are unique: the list comes from a `Map`.) */
  find(key: string): number {
    return this.findHashed(key, hash(key));
  }

  /**
   * Reads the slot where the probe for hash `h` starts and returns a meaningless number: a caller with many
   * keys reads their slots back to back first, so that the cache misses overlap (see `PriceBook.locate`).
   */
  touch(h: number): number {
    return this.#i32[(h & this.#mask) * 8 + 1] as number;
  }

  /** `find(key)` with `h` = `skuHash(key)` computed by the caller. */
  findHashed(key: string, h: number): number {
    const i32 = this.#i32, u8 = this.#u8, mask = this.#mask, len = key.length;
    for (let p = h & mask; ; p = (p + 1) & mask) {
      const n = i32[p * 8 + 1] as number;
      if (n === 0) return -1;
      if (i32[p * 8] !== h) continue;
      const b = p * SLOT, l = u8[b + 16] as number;
      if (l === LONG) { if (this.#keys[n - 1] === key) return p; continue; }
      if (l !== len) continue;
      let j = 0;
      while (j < len && u8[b + 18 + j] === key.charCodeAt(j)) j++;
      if (j === len) return p;
    }
  }

  number(slot: number): number {
    return (this.#i32[slot * 8 + 1] as number) - 1;
  }

  value(slot: number): number {
    return this.#f64[slot * 4 + 1] as number;
  }

  flag(slot: number): number {
    return this.#u8[slot * SLOT + 17] as number;
  }

  /** The number of `key` in the constructor's list, or -1. */
  get(key: string): number {
    const p = this.find(key);
    return p < 0 ? -1 : this.number(p);
  }
}

/** FNV-1a over the UTF-16 code units (SKUs are short): the hash `find` uses. */
export function skuHash(s: string): number {
  return hash(s);
}

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
}
