import { fromMinor, toMinor, type Currency } from './money.js';
import type { StrikethroughChangedItem } from './types.js';
import { SkuIndex, skuHash } from './sku-index.js';

/** Rule metadata shared by many SKUs' effects (interned). */
export interface EffectMeta {
  readonly campaignId: number;
  readonly rulesetId: number;
  readonly ruleIndex: number;
  readonly ruleName: string;
  readonly type: string;
  readonly name: string;
}

/** One per-item strikethrough effect of a SKU. Times are ms (±Infinity when open). */
export class PriceEffect {
  constructor(
    readonly meta: EffectMeta,
    readonly value: number,
    readonly start: number,
    readonly end: number,
    readonly priceType: string | undefined,
    readonly selectedPrice: number | undefined,
    readonly ref: string | undefined,
    /** audience ids, or null for `NONE` (everyone) */
    readonly audiences: readonly number[] | null,
  ) {}
}

export class PriceType {
  constructor(
    readonly name: string,
    readonly price: number,
    readonly from: number,
    readonly until: number,
    readonly ref: string | undefined,
  ) {}
}

export class PriceEntry {
  constructor(
    readonly sku: string,
    readonly version: number,
    readonly price: number,
    readonly types: readonly PriceType[] | null,
    readonly effects: readonly PriceEffect[] | null,
  ) {}
}

/** What applies to a SKU at an instant (`final` in minor units, -1 when there are no effects). */
export interface PriceChoice {
  /** the entry's base price (`PriceEntry.price`) */
  basePrice: number;
  type: string;
  price: number;
  final: number;
  until: number;
  effects: readonly PriceEffect[];
}

/** Answer of a price lookup. Money in currency units. */
export interface PriceAnswer {
  sku: string;
  price: number;
  finalPrice: number;
  label: string | null;
  validUntil: string | null;
  selectedPriceType: string;
  selectedPrice: number;
  /** The effects making up the final price (for cart `setDiscountPerItem`). */
  effects: readonly PriceEffect[];
}

const NO_EFFECTS: readonly PriceEffect[] = Object.freeze([]);
/** `locate` slot of a line whose SKU is not a string (-1 is the index's "not in the book"). */
const UNLOCATED = -2;

const t = (s: unknown, dflt: number) => (typeof s === 'string' ? Date.parse(s) : dflt);

/** `sku` of a cart line, if it is an object. */
const skuOf = (ci: unknown): unknown => (ci !== null && typeof ci === 'object' ? (ci as { sku?: unknown }).sku : undefined);

/** Builds entries from notification items, interning effect metadata. */
export class EntryBuilder {
  #metas = new Map<string, EffectMeta>();

  entry(it: StrikethroughChangedItem): PriceEntry {
    const onlyBase = it.prices && Object.keys(it.prices).length === 1 && it.prices.base?.price === it.price && !it.prices.base.effectiveFrom && !it.prices.base.effectiveUntil && !it.prices.base.adjustmentReferenceId;
    const types = it.prices && !onlyBase
      ? Object.entries(it.prices).map(([k, p]) => new PriceType(k, p.price, t(p.effectiveFrom ?? p.adjustmentEffectiveFrom, -Infinity), t(p.effectiveUntil ?? p.adjustmentEffectiveUntil, Infinity), p.adjustmentReferenceId))
      : null;
    const effects = it.effects && it.effects.length > 0
      ? it.effects.map((e) => {
          const name = typeof e.props.name === 'string' ? e.props.name : '';
          const key = `${e.campaignId}|${e.rulesetId}|${e.ruleIndex}|${e.type}|${e.ruleName}|${name}`;
          let meta = this.#metas.get(key);
          if (!meta) this.#metas.set(key, (meta = { campaignId: e.campaignId, rulesetId: e.rulesetId, ruleIndex: e.ruleIndex, ruleName: e.ruleName, type: e.type, name }));
          const aud = e.targets?.some((x) => x.type === 'NONE') || !e.targets || e.targets.length === 0 ? null : e.targets.filter((x) => x.type === 'AUDIENCE' && x.audience).map((x) => (x.audience as { id: number }).id);
          return new PriceEffect(meta, typeof e.props.value === 'number' ? e.props.value : 0, t(e.startTime, -Infinity), t(e.endTime, Infinity), e.selectedPriceType, e.selectedPrice, e.adjustmentReferenceId, aud);
        })
      : null;
    return new PriceEntry(it.sku, it.version, it.price, types, effects);
  }
}

/** Compact persisted row of an entry (what `prices` snapshots store). */
export type EntryRow = [sku: string, version: number, price: number, types: [string, number, number | null, number | null, string | null][] | null, effects: [number, number, number, string, string, string, number, number | null, number | null, string | null, number | null, string | null, number[] | null][] | null];

const fin = (x: number) => (Number.isFinite(x) ? x : null);

export function toRow(e: PriceEntry): EntryRow {
  return [
    e.sku, e.version, e.price,
    e.types ? e.types.map((p) => [p.name, p.price, fin(p.from), fin(p.until), p.ref ?? null]) : null,
    e.effects ? e.effects.map((f) => [f.meta.campaignId, f.meta.rulesetId, f.meta.ruleIndex, f.meta.ruleName, f.meta.type, f.meta.name, f.value, fin(f.start), fin(f.end), f.priceType ?? null, f.selectedPrice ?? null, f.ref ?? null, f.audiences ? [...f.audiences] : null]) : null,
  ];
}

export function fromRows(rows: readonly EntryRow[]): Map<string, PriceEntry> {
  const metas = new Map<string, EffectMeta>();
  const m = new Map<string, PriceEntry>();
  for (const [sku, version, price, types, effects] of rows) {
    m.set(sku, new PriceEntry(sku, version, price,
      types ? types.map(([n, p, f, u, r]) => new PriceType(n, p, f ?? -Infinity, u ?? Infinity, r ?? undefined)) : null,
      effects ? effects.map(([c, rs, ri, rn, ty, nm, v, s, en, pt, sp, ref, aud]) => {
        const key = `${c}|${rs}|${ri}|${ty}|${rn}|${nm}`;
        let meta = metas.get(key);
        if (!meta) metas.set(key, (meta = { campaignId: c, rulesetId: rs, ruleIndex: ri, ruleName: rn, type: ty, name: nm }));
        return new PriceEffect(meta, v, s ?? -Infinity, en ?? Infinity, pt ?? undefined, sp ?? undefined, ref ?? undefined, aud);
      }) : null));
  }
  return m;
}

/**
 * The price book: per SKU the base price, price types and per-item strikethrough effects. Immutable;
 * ingestion builds a new one. Lookups pick, among the price types with active effects for the
 * customer's audiences (`NONE` targets apply to everyone), the one giving the lowest final price.
 */
export class PriceBook {
  /** Entries by their `SkuIndex` number. */
  readonly #list: PriceEntry[] = [];
  /**
   * SKU → number, with the base price as the slot's value and "has effects" as its flag: a SKU without
   * effects (two thirds in a typical book) is answered from its index slot without touching its entry.
   */
  readonly #index: SkuIndex;
  /** Sink for `locate`'s warming reads (never read itself). */
  #touched = 0;

  constructor(readonly entries: ReadonlyMap<string, PriceEntry> = new Map()) {
    const keys: string[] = [];
    const base = new Float64Array(entries.size);
    const flags = new Uint8Array(entries.size);
    for (const [k, e] of entries) {
      base[keys.length] = e.price;
      flags[keys.length] = e.effects ? 1 : 0;
      keys.push(k);
      this.#list.push(e);
    }
    this.#index = new SkuIndex(keys, base, flags);
  }

  get size(): number {
    return this.entries.size;
  }

  #active(f: PriceEffect, at: number, audiences: ReadonlySet<number>): boolean {
    if (f.meta.type !== 'setDiscountPerItem' || at < f.start || at >= f.end) return false;
    if (!f.audiences) return true;
    for (const a of f.audiences) if (audiences.has(a)) return true;
    return false;
  }

  #typePrice(e: PriceEntry, name: string, at: number): { price: number; until: number } | undefined {
    const p = e.types?.find((x) => x.name === name);
    if (!p) return name === 'base' ? { price: e.price, until: Infinity } : undefined;
    if (at < p.from || at >= p.until) return undefined;
    return { price: p.price, until: p.until };
  }

  /**
   * The index slots of a cart's SKUs (-1 when not in the book, `UNLOCATED` for a line without a string SKU), for
   * `selectAt`. Why a separate pass: each lookup is a cache miss, and inside the per-line loop each one
   * waits alone; in this tight loop the lines are independent, so the CPU overlaps their misses. A second
   * pass does the same for the entry objects of SKUs with effects (the next miss `selectAt` would take).
   * Pure and never throws (malformed lines are left to `select`, in the caller's order of checks).
   */
  locate(cart: readonly unknown[]): Int32Array {
    const ix = this.#index, n = cart.length, slots = new Int32Array(n), hashes = new Int32Array(n);
    // Hashing a SKU is a few hundred instructions, more than the CPU looks ahead: with the hash and the
    // probe in one loop, the slots' cache misses come one after the other. So: all hashes, then one read
    // of each line's first slot (independent loads: their misses overlap), then the probes, cache-warm.
    for (let i = 0; i < n; i++) {
      const sku = skuOf(cart[i]);
      if (typeof sku === 'string') hashes[i] = skuHash(sku); else slots[i] = UNLOCATED;
    }
    let touched = 0;
    for (let i = 0; i < n; i++) if (slots[i] !== UNLOCATED) touched += ix.touch(hashes[i] as number);
    for (let i = 0; i < n; i++) if (slots[i] !== UNLOCATED) slots[i] = ix.findHashed(skuOf(cart[i]) as string, hashes[i] as number);
    for (let i = 0; i < n; i++) {
      const p = slots[i] as number;
      if (p >= 0 && ix.flag(p) !== 0) touched += (this.#list[ix.number(p)] as PriceEntry).version;
    }
    this.#touched = touched; // (kept so the reads above are not dropped as unused)
    return slots;
  }

  /**
   * The base price of a located slot whose SKU has no effects (`selectAt` would answer it with that price,
   * type `base` and no effects), else NaN: the cart path then needs no answer object for it.
   */
  plainPriceAt(slot: number): number {
    return slot >= 0 && this.#index.flag(slot) === 0 ? this.#index.value(slot) : Number.NaN;
  }

  /** `select(sku, …)` for a slot from `locate` (`sku` is the line's SKU, used when it was not located). */
  selectAt(slot: number, sku: string, at: number, audiences: ReadonlySet<number>, cur: Currency): PriceChoice | undefined {
    return slot === UNLOCATED ? this.select(sku, at, audiences, cur) : this.#choose(slot, at, audiences, cur);
  }

  /** The price type, price and effects that apply (no formatting: the cart path uses this). */
  select(sku: string, at: number, audiences: ReadonlySet<number>, cur: Currency): PriceChoice | undefined {
    return this.#choose(this.#index.find(sku), at, audiences, cur);
  }

  #choose(p: number, at: number, audiences: ReadonlySet<number>, cur: Currency): PriceChoice | undefined {
    const ix = this.#index;
    if (p < 0) return undefined;
    if (ix.flag(p) === 0) { const price = ix.value(p); return { basePrice: price, type: 'base', price, final: -1, until: Infinity, effects: NO_EFFECTS }; }
    const e = this.#list[ix.number(p)] as PriceEntry;
    if (!e.effects) return { basePrice: e.price, type: 'base', price: e.price, final: -1, until: Infinity, effects: NO_EFFECTS };
    // Most SKUs have one effect and no price types: the general loop below reduced to that case, with
    // no grouping arrays or interim objects (this runs for every cart line).
    if (e.effects.length === 1 && e.types === null) return this.#selectSingle(e, e.effects, at, audiences, cur);
    let best = { type: 'base', price: e.price, final: toMinor(e.price, cur), until: Infinity, effects: NO_EFFECTS as readonly PriceEffect[] };
    // Group the active effects by price type (usually one or two), pick the lowest final price.
    let done: string[] | undefined;
    const fx = e.effects;
    for (let i = 0; i < fx.length; i++) {
      const f0 = fx[i] as PriceEffect;
      const name = f0.priceType ?? 'base';
      if (done?.includes(name) || !this.#active(f0, at, audiences)) continue;
      (done ??= []).push(name);
      const tp = this.#typePrice(e, name, at);
      const price = f0.selectedPrice ?? tp?.price;
      if (price === undefined || (f0.priceType !== undefined && f0.priceType !== 'base' && !tp)) continue;
      const group: PriceEffect[] = [];
      let off = 0;
      let until = tp?.until ?? Infinity;
      for (let j = i; j < fx.length; j++) {
        const f = fx[j] as PriceEffect;
        if ((f.priceType ?? 'base') !== name || !this.#active(f, at, audiences)) continue;
        group.push(f);
        off += toMinor(f.value, cur);
        if (f.end < until) until = f.end;
      }
      const final = Math.max(0, toMinor(price, cur) - off);
      if (final < best.final || (final === best.final && best.effects.length === 0)) best = { type: name, price, final, until, effects: group };
    }
    return { basePrice: e.price, type: best.type, price: best.price, final: best.final, until: best.until, effects: best.effects };
  }

  /**
   * `select` for one effect and no price types. Same result as the general loop: only a `base` effect
   * can apply (another type has no price without `types`), its group is the entry's own effect list,
   * and it wins when its final price is not above the base price (ties go to the group with effects).
   */
  #selectSingle(e: PriceEntry, fx: readonly PriceEffect[], at: number, audiences: ReadonlySet<number>, cur: Currency): PriceChoice {
    const f = fx[0] as PriceEffect;
    const baseFinal = toMinor(e.price, cur);
    if ((f.priceType === undefined || f.priceType === 'base') && this.#active(f, at, audiences)) {
      const price = f.selectedPrice ?? e.price;
      const final = Math.max(0, toMinor(price, cur) - toMinor(f.value, cur));
      // (`f.end < Infinity` as in the loop: a NaN end leaves `until` open.)
      if (final <= baseFinal) return { basePrice: e.price, type: 'base', price, final, until: f.end < Infinity ? f.end : Infinity, effects: fx };
    }
    return { basePrice: e.price, type: 'base', price: e.price, final: baseFinal, until: Infinity, effects: NO_EFFECTS };
  }

  lookup(sku: string, at: number, audiences: ReadonlySet<number>, cur: Currency): PriceAnswer | undefined {
    const best = this.select(sku, at, audiences, cur);
    if (!best) return undefined;
    return {
      sku,
      price: best.basePrice,
      finalPrice: best.final < 0 ? best.basePrice : fromMinor(best.final, cur),
      label: best.effects.length ? best.effects.map((f) => f.meta.name || f.meta.ruleName).join(', ') : null,
      validUntil: Number.isFinite(best.until) ? new Date(best.until).toISOString() : null,
      selectedPriceType: best.type,
      selectedPrice: best.price,
      effects: best.effects,
    };
  }
}
