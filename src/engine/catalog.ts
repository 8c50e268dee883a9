import { SkuIndex, skuHash } from './sku-index.js';
import { StringIds } from './string-ids.js';
import type { CatalogItem } from './types.js';

/**
 * The cart item catalog (Talon.One `CatalogItem`s): per SKU its price, version, catalog id, product name and
 * attributes. Talon.One completes a cart item that lacks attributes from the catalog before it evaluates
 * ("Cart items missing attributes are completed from the catalog during evaluation", docs: managing cart item
 * catalogs); offline, {@link Catalog.attributesOf} and {@link Catalog.complete} do the same.
 *
 * Held compactly, because a shop's catalog has ~100,000 items: no object per item. The SKUs live in one string
 * pool (offsets in a typed array) and an {@link SkuIndex} (one 32-byte slot per SKU); attribute names and values
 * are interned (a catalog's attributes repeat: brand, colour, department) and each item's attributes are a run of
 * value ids in one `Uint32Array`, their names given by the item's *shape* (the list of names it carries: a
 * catalog has a few). The persisted form is the same arrays, base64-encoded: a restart reads them without an
 * object per item either. Immutable: an ingestion builds a new one.
 */
export class Catalog {
  readonly size: number;
  readonly #index: SkuIndex;
  readonly #p: CatalogParts;
  /** Per item: `[first attribute, shape]` side by side (one cache line for what completion reads first). */
  readonly #head: Uint32Array;
  /** Per shape: its attribute name ids, and a maker of the attributes object (one object literal). */
  readonly #shapes: { names: Uint16Array; make: Maker }[] = [];

  /** `skus`: the SKUs in item order when the caller has them (else they are cut from the pool). */
  constructor(p: CatalogParts = emptyParts(), skus?: readonly string[]) {
    const n = p.versions.length;
    this.size = n;
    this.#p = p;
    const keys: string[] = new Array<string>(n);
    const flags = new Uint8Array(n);
    this.#head = new Uint32Array(2 * n);
    const shapes = new Map<string, number>();
    let prevFrom = 0, prevEnd = 0, prevShape: number | undefined;
    for (let i = 0; i < n; i++) {
      keys[i] = skus?.[i] ?? this.sku(i);
      const from = p.attrFrom[i] as number, end = p.attrFrom[i + 1] as number;
      flags[i] = end > from || (p.products[i] as number) >= 0 ? 1 : 0;
      this.#head[2 * i] = from;
      // Neighbouring items usually carry the same names: compared in place, no key string per item.
      if (prevShape !== undefined && end - from === prevEnd - prevFrom && sameNames(p.nameIds, from, prevFrom, end - from)) {
        this.#head[2 * i + 1] = prevShape;
        prevFrom = from; prevEnd = end;
        continue;
      }
      let key = '';
      for (let k = from; k < end; k++) key += `${p.nameIds[k] as number},`;
      let id = shapes.get(key);
      if (id === undefined && shapes.size < MAX_SHAPES) {
        id = shapes.size;
        shapes.set(key, id);
        const names = p.nameIds.slice(from, end);
        this.#shapes.push({ names, make: maker(Array.from(names, (x) => p.names[x] as string)) });
      }
      this.#head[2 * i + 1] = id ?? NO_SHAPE;
      prevFrom = from; prevEnd = end; prevShape = id ?? NO_SHAPE;
    }
    // Filled up to 0.8 (4 MB for 100,000 SKUs, not 8): a probe longer by ~1.5 µs per 50-line cart.
    this.#index = new SkuIndex(keys, p.prices, flags, true, 0.8);
  }

  /** The SKU of item `i`. */
  sku(i: number): string {
    return this.#p.skuPool.slice(this.#p.skuFrom[i] as number, this.#p.skuFrom[i + 1] as number);
  }

  /** Item number of a SKU, or -1. */
  find(sku: string): number {
    return this.#index.get(sku);
  }

  /** Sink for `locate`'s warming reads (never read itself). */
  #touched = 0;

  /**
   * Item numbers of a cart's SKUs (-1: not in the catalog, or with nothing to give; -2: not a string SKU). All
   * hashes first, then the slots, then the items' heads (their cache misses overlap), as `PriceBook.locate` does.
   */
  locate(cart: readonly unknown[]): Int32Array {
    const ix = this.#index, n = cart.length, out = new Int32Array(n), hashes = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const sku = skuOf(cart[i]);
      if (typeof sku === 'string') hashes[i] = skuHash(sku); else out[i] = -2;
    }
    let touched = 0;
    for (let i = 0; i < n; i++) if (out[i] !== -2) touched += ix.touch(hashes[i] as number);
    const head = this.#head;
    for (let i = 0; i < n; i++) {
      if (out[i] === -2) continue;
      const p = ix.findHashed(skuOf(cart[i]) as string, hashes[i] as number);
      const k = p < 0 || (ix.flag(p) === 0 && Number.isNaN(ix.value(p))) ? -1 : ix.number(p);
      out[i] = k;
      if (k >= 0) touched += head[2 * k] as number;
    }
    this.#touched = touched;
    return out;
  }

  /** Catalog price of item `i` (NaN: none). */
  price(i: number): number {
    return this.#p.prices[i] as number;
  }

  version(i: number): number {
    return this.#p.versions[i] as number;
  }

  catalogId(i: number): number {
    return this.#p.catalogIds[i] as number;
  }

  /** Product name of item `i`, or undefined. */
  productName(i: number): string | undefined {
    const v = this.#p.products[i] as number;
    return v < 0 ? undefined : (this.#p.values[v] as string);
  }

  /** Attributes of item `i` as name/value pairs (snapshots, merges, tests: not the cart path). */
  attributes(i: number): { name: string; value: unknown }[] {
    const p = this.#p, out: { name: string; value: unknown }[] = [];
    for (let k = p.attrFrom[i] as number, end = p.attrFrom[i + 1] as number; k < end; k++) out.push({ name: p.names[p.nameIds[k] as number] as string, value: p.values[p.valueIds[k] as number] });
    return out;
  }

  /**
   * Item `i`'s attributes as a new object, for a cart line that sends none (the usual case): one object literal
   * of the item's shape (adding them one by one cost ~1 µs per line: a keyed store per name).
   */
  attributesOf(i: number): Record<string, unknown> {
    const head = this.#head, s = head[2 * i + 1] as number;
    if (s === NO_SHAPE) return this.complete(i, {});
    return (this.#shapes[s] as { make: Maker }).make(this.#p.values, this.#p.valueIds, head[2 * i] as number);
  }

  /** How many attributes item `i` has. */
  attributeCount(i: number): number {
    return (this.#p.attrFrom[i + 1] as number) - (this.#p.attrFrom[i] as number);
  }

  /**
   * The cart item's attributes completed from item `i`: the line's own values win, the catalog fills the names
   * the line lacks (Talon.One's rule). Returns `own` itself when nothing is missing (no allocation).
   */
  complete(i: number, own: Record<string, unknown>): Record<string, unknown> {
    const p = this.#p;
    let out: Record<string, unknown> | undefined;
    for (let k = p.attrFrom[i] as number, end = p.attrFrom[i + 1] as number; k < end; k++) {
      const name = p.names[p.nameIds[k] as number] as string;
      if (own[name] !== undefined) continue;
      out ??= { ...own };
      out[name] = p.values[p.valueIds[k] as number];
    }
    return out ?? own;
  }

  /** The persisted form (base64 typed arrays beside the pools: no object per item). */
  toSnapshot(): CatalogSnapshot {
    const p = this.#p;
    const b64 = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
    return {
      format: 1, skuPool: p.skuPool, names: p.names, values: p.values,
      skuFrom: b64(p.skuFrom), versions: b64(p.versions), catalogIds: b64(p.catalogIds), prices: b64(p.prices),
      products: b64(p.products), attrFrom: b64(p.attrFrom), nameIds: b64(p.nameIds), valueIds: b64(p.valueIds),
    };
  }

  /** A catalog from its persisted form. */
  static fromSnapshot(s: CatalogSnapshot): Catalog {
    const buf = (b: string) => { const x = Buffer.from(b, 'base64'); return x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength); };
    return new Catalog({
      skuPool: s.skuPool, names: s.names, values: s.values.map(freeze),
      skuFrom: new Uint32Array(buf(s.skuFrom)), versions: new Uint32Array(buf(s.versions)), catalogIds: new Uint32Array(buf(s.catalogIds)),
      prices: new Float64Array(buf(s.prices)), products: new Int32Array(buf(s.products)), attrFrom: new Uint32Array(buf(s.attrFrom)),
      nameIds: new Uint16Array(buf(s.nameIds)), valueIds: new Uint32Array(buf(s.valueIds)),
    });
  }
}

/** The arrays of a catalog (item `i`'s attributes are `[attrFrom[i], attrFrom[i + 1])` of nameIds/valueIds). */
export interface CatalogParts {
  skuPool: string;
  skuFrom: Uint32Array;
  versions: Uint32Array;
  catalogIds: Uint32Array;
  /** NaN: no price. */
  prices: Float64Array;
  /** Product name as a value id, or -1. */
  products: Int32Array;
  attrFrom: Uint32Array;
  nameIds: Uint16Array;
  valueIds: Uint32Array;
  names: string[];
  values: unknown[];
}

/** The snapshot of a catalog: the typed arrays as base64 (little-endian, as this machine writes them). */
export interface CatalogSnapshot {
  format: 1;
  skuPool: string;
  names: string[];
  values: unknown[];
  skuFrom: string;
  versions: string;
  catalogIds: string;
  prices: string;
  products: string;
  attrFrom: string;
  nameIds: string;
  valueIds: string;
}

function emptyParts(): CatalogParts {
  return {
    skuPool: '', skuFrom: new Uint32Array(1), versions: new Uint32Array(0), catalogIds: new Uint32Array(0), prices: new Float64Array(0),
    products: new Int32Array(0), attrFrom: new Uint32Array(1), nameIds: new Uint16Array(0), valueIds: new Uint32Array(0), names: [], values: [],
  };
}

/** Distinct attribute name lists given a maker each; items of rarer lists are completed name by name. */
const MAX_SHAPES = 1024;
const NO_SHAPE = 0xffffffff;

type Maker = (values: readonly unknown[], ids: Uint32Array, from: number) => Record<string, unknown>;

/**
 * `(values, ids, from) => ({"brand": values[ids[from]], …})` for one list of attribute names. Generated code,
 * because only an object literal with the names written out gets its final shape in one allocation; the names are
 * attribute names checked at ingestion (`[A-Za-z_][A-Za-z0-9_]*`) and are written as JSON strings.
 */
function maker(names: readonly string[]): Maker {
  const fields = names.map((n, j) => `${JSON.stringify(n)}: values[ids[from + ${j}]]`).join(', ');
  return new Function('values', 'ids', 'from', `return { ${fields} };`) as Maker;
}

function sameNames(ids: Uint16Array, a: number, b: number, len: number): boolean {
  for (let j = 0; j < len; j++) if (ids[a + j] !== ids[b + j]) return false;
  return true;
}

const skuOf = (ci: unknown): unknown => (ci !== null && typeof ci === 'object' ? (ci as { sku?: unknown }).sku : undefined);

function freeze<T>(v: T): T {
  if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v as object)) freeze(x);
    Object.freeze(v);
  }
  return v;
}

/** At most this many distinct attribute names in one catalog (name ids are 16-bit). */
export const MAX_ATTRIBUTE_NAMES = 65_535;

/**
 * Builds a catalog into typed arrays sized up front (no array of numbers per item on the way), interning names
 * and values: strings and numbers by themselves, anything else by its JSON text; lists and objects are frozen,
 * since one value is shared by every item and every evaluation that reads it.
 */
export class CatalogBuilder {
  #n = 0;
  #a = 0;
  readonly #sku: string[] = [];
  #skuLen = 0;
  readonly #p: CatalogParts;
  readonly #nameIds = new Map<string, number>();
  readonly #strings: StringIds;
  readonly #numbers = new Map<number, number>();
  readonly #others = new Map<string, number>();

  /** `items`/`attributes`: how many will be added (exactly, or more). */
  constructor(items: number, attributes: number) {
    this.#strings = new StringIds((id) => this.#p.values[id] as string, Math.min(1 << 16, items));
    this.#p = {
      skuPool: '', skuFrom: new Uint32Array(items + 1), versions: new Uint32Array(items), catalogIds: new Uint32Array(items), prices: new Float64Array(items),
      products: new Int32Array(items), attrFrom: new Uint32Array(items + 1), nameIds: new Uint16Array(attributes), valueIds: new Uint32Array(attributes), names: [], values: [],
    };
  }

  #name(n: string): number {
    let id = this.#nameIds.get(n);
    if (id === undefined) {
      if (this.#p.names.length >= MAX_ATTRIBUTE_NAMES) throw new RangeError(`a catalog has at most ${MAX_ATTRIBUTE_NAMES} attribute names`);
      id = this.#p.names.length;
      this.#p.names.push(n);
      this.#nameIds.set(n, id);
    }
    return id;
  }

  #value(v: unknown): number {
    if (typeof v === 'string') {
      let id = this.#strings.get(v);
      if (id < 0) {
        id = this.#p.values.length;
        this.#p.values.push(v);
        this.#strings.set(v, id);
      }
      return id;
    }
    const map = typeof v === 'number' ? this.#numbers : this.#others;
    const key = typeof v === 'number' ? v : JSON.stringify(v);
    let id = (map as Map<unknown, number>).get(key);
    if (id === undefined) {
      id = this.#p.values.length;
      this.#p.values.push(freeze(v));
      (map as Map<unknown, number>).set(key, id);
    }
    return id;
  }

  add(sku: string, version: number, catalogId: number, price: number | null, productName: string | undefined, attributes: readonly { name: string; value: unknown }[]): void {
    const p = this.#p, i = this.#n++;
    this.#sku.push(sku);
    this.#skuLen += sku.length;
    p.skuFrom[i + 1] = this.#skuLen;
    p.versions[i] = version;
    p.catalogIds[i] = catalogId;
    p.prices[i] = price ?? Number.NaN;
    p.products[i] = productName === undefined ? -1 : this.#value(productName);
    for (const a of attributes) {
      p.nameIds[this.#a] = this.#name(a.name);
      p.valueIds[this.#a] = this.#value(a.value);
      this.#a++;
    }
    p.attrFrom[i + 1] = this.#a;
  }

  addItem(it: CatalogItem): void {
    this.add(it.sku, it.version, it.catalogid, typeof it.price === 'number' ? it.price : null, typeof it.product?.name === 'string' ? it.product.name : undefined, it.attributes ?? []);
  }

  /** Item `i` of an existing catalog, as it is. */
  copy(from: Catalog, i: number): void {
    const price = from.price(i);
    this.add(from.sku(i), from.version(i), from.catalogId(i), Number.isNaN(price) ? null : price, from.productName(i), from.attributes(i));
  }

  build(): Catalog {
    const p = this.#p, n = this.#n, a = this.#a;
    return new Catalog({
      ...p, skuPool: this.#sku.join(''), skuFrom: p.skuFrom.subarray(0, n + 1), versions: p.versions.subarray(0, n), catalogIds: p.catalogIds.subarray(0, n),
      prices: p.prices.subarray(0, n), products: p.products.subarray(0, n), attrFrom: p.attrFrom.subarray(0, n + 1), nameIds: p.nameIds.subarray(0, a), valueIds: p.valueIds.subarray(0, a),
    }, this.#sku);
  }
}

const attrCount = (items: readonly CatalogItem[]) => items.reduce((s, it) => s + (it.attributes?.length ?? 0), 0);

/**
 * The catalog after a push: a full one replaces the set; a delta replaces an item only with a higher item
 * `version` (as Talon.One versions catalog items) and removes one marked `deleted`. Returns the new catalog and
 * the number of items changed.
 */
export function mergeCatalog(cur: Catalog, full: boolean, items: readonly CatalogItem[]): { catalog: Catalog; changed: number } {
  if (full) {
    const b = new CatalogBuilder(items.length, attrCount(items));
    for (const it of items) b.addItem(it);
    return { catalog: b.build(), changed: items.length };
  }
  let attrs = attrCount(items);
  for (let i = 0; i < cur.size; i++) attrs += cur.attributeCount(i);
  const b = new CatalogBuilder(cur.size + items.length, attrs);
  const bySku = new Map<string, CatalogItem>();
  for (const it of items) bySku.set(it.sku, it);
  let changed = 0;
  for (let i = 0; i < cur.size; i++) {
    const sku = cur.sku(i);
    const it = bySku.get(sku);
    if (it === undefined) { b.copy(cur, i); continue; }
    bySku.delete(sku);
    if (it.deleted === true) { changed++; continue; }
    if (it.version > cur.version(i)) { b.addItem(it); changed++; } else b.copy(cur, i);
  }
  for (const it of bySku.values()) {
    if (it.deleted === true) continue;
    b.addItem(it);
    changed++;
  }
  return { catalog: b.build(), changed };
}
