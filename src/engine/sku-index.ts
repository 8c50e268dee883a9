/**
 * SKU → entry number, in flat typed arrays. A price-book lookup is a cold, random access into 100,000
 * SKUs (the cart's lines are unrelated to each other): a `Map` walk touches its bucket table, its entry
 * table, the stored key string and then the value object, each a cache (and TLB) miss. Here the probe
 * reads one slot pair (hash, number) and the key's characters from one dense pool: about half the lines.
 */
export class SkuIndex {
  /** `[hash, number + 1]` pairs, open addressing with linear probing; 0 = empty. Load ≤ 1/2. */
  readonly #slots: Int32Array;
  readonly #mask: number;
  /** Characters of every key, back to back; key `i` is `#chars[#off[i] .. #off[i + 1])`. */
  readonly #chars: Uint16Array;
  readonly #off: Int32Array;

  constructor(keys: readonly string[]) {
    let cap = 16;
    while (cap < keys.length * 2) cap *= 2;
    this.#mask = cap - 1;
    this.#slots = new Int32Array(cap * 2);
    let total = 0;
    for (const k of keys) total += k.length;
    this.#chars = new Uint16Array(total);
    this.#off = new Int32Array(keys.length + 1);
    let at = 0;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      this.#off[i] = at;
      for (let j = 0; j < k.length; j++) this.#chars[at++] = k.charCodeAt(j);
      const h = hash(k);
      let p = h & this.#mask;
      while (this.#slots[2 * p + 1] !== 0) p = (p + 1) & this.#mask;
      this.#slots[2 * p] = h;
      this.#slots[2 * p + 1] = i + 1;
    }
    this.#off[keys.length] = at;
  }

  /** The number of `key` in the constructor's list, or -1. (Keys are unique: the list comes from a `Map`.) */
  get(key: string): number {
    const h = hash(key);
    const slots = this.#slots, mask = this.#mask, chars = this.#chars, off = this.#off;
    for (let p = h & mask; ; p = (p + 1) & mask) {
      const n = slots[2 * p + 1] as number;
      if (n === 0) return -1;
      if (slots[2 * p] !== h) continue;
      const i = n - 1, from = off[i] as number;
      if ((off[i + 1] as number) - from !== key.length) continue;
      let j = 0;
      while (j < key.length && chars[from + j] === key.charCodeAt(j)) j++;
      if (j === key.length) return i;
    }
  }
}

/** FNV-1a over the UTF-16 code units (SKUs are short). */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
}
