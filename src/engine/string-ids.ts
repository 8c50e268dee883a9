import { skuHash } from './sku-index.js';

/**
 * A string → id table in one `Int32Array` (open addressing), for the catalog's ingestion: a `Map` or `Set` of
 * 100,000–200,000 strings (the SKUs checked for duplicates, the attribute values interned) is a few MB of entries
 * on the V8 heap plus the garbage of each doubling, which stayed in the process as RSS; a typed array is one
 * allocation, returned to the system when dropped. The strings themselves are not held: `keyOf(id)` gives them
 * back (an item's SKU, an interned value).
 */
export class StringIds {
  #t: Int32Array;
  #mask: number;
  #n = 0;

  constructor(readonly keyOf: (id: number) => string, expected = 1024) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.#t = new Int32Array(cap);
    this.#mask = cap - 1;
  }

  /** The id recorded for `s`, or -1. */
  get(s: string): number {
    const t = this.#t, mask = this.#mask;
    for (let p = skuHash(s) & mask; ; p = (p + 1) & mask) {
      const slot = t[p] as number;
      if (slot === 0) return -1;
      if (this.keyOf(slot - 1) === s) return slot - 1;
    }
  }

  /** Records `s` (not yet recorded) under `id` (≥ 0). */
  set(s: string, id: number): void {
    if (2 * ++this.#n > this.#t.length) this.#grow();
    this.#put(skuHash(s), id);
  }

  #put(h: number, id: number): void {
    const t = this.#t, mask = this.#mask;
    let p = h & mask;
    while (t[p] !== 0) p = (p + 1) & mask;
    t[p] = id + 1;
  }

  #grow(): void {
    const old = this.#t;
    this.#t = new Int32Array(old.length * 2);
    this.#mask = this.#t.length - 1;
    for (let i = 0; i < old.length; i++) {
      const slot = old[i] as number;
      if (slot !== 0) this.#put(skuHash(this.keyOf(slot - 1)), slot - 1);
    }
  }
}
