/**
 * Item bundles and the discounts that target them (`awardDiscount` target `bundle`, Management API
 * `AwardDiscountBundleTarget`). Talon.One's Rule Builder ("Creating and managing item bundles",
 * https://docs.talon.one/docs/product/rules/creating-and-managing-bundles) defines a bundle by one or more lists
 * of cart items, a number of items from each, and optional bundling attributes whose values must match across
 * the bundle's items; every complete set of items found in the cart is one bundle, numbered by `bundleIndex` in
 * "the list of bundles created from the same bundle definition" (`SetDiscountPerItemEffectProps`).
 *
 * `RulesetV2.bundles` is "Variable bindings of type bundle" with no published shape, and a bundle binding's Talang
 * is not public either. The shop reads this form (a storegate decision, the Rule Builder's fields; README of this
 * folder, "Coverage"):
 *
 *     { "name": "shoesAndSocks", "lists": [ { "target": { "type": "globalFilter", "name": "Shoes" }, "count": 1 },
 *                                           { "target": { "type": "selector", "name": "socks" }, "count": 2 } ],
 *       "attributes": ["$Item.Attributes.brand"] }
 *
 * (`target` as an awardDiscount target: `allItems`, `globalFilter`, `selector`). A discount naming a bundle in any
 * other form makes its campaign not offline-capable, with the reason; it is never guessed.
 */
import { spend, type EvalCtx, type ItemView } from './context.js';
import { fromMinor, prorate, toMinor } from './money.js';
import { compilePath, Unsupported, type Getter, type PathEnv } from './paths.js';
import { compileNumber } from './template.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Items of one list of a bundle definition (what `targetItems` of blocks.ts returns for a target). */
export type ItemsOf = (ctx: EvalCtx) => ItemView[];

/** One bundle found in the cart: its lines (cart order of first use), the units each gives, and its slots. */
export interface FormedBundle {
  readonly lines: ItemView[];
  /** units of `lines[k]` in this bundle */
  readonly units: number[];
  /** index (in its line) of the first unit of `lines[k]` this bundle took */
  readonly first: number[];
  /** the bundle's slots in order (list by list): line index in `lines`, first unit, units */
  readonly takes: { k: number; unit: number; n: number }[];
}

export interface CompiledBundle {
  readonly name: string;
  /** items per bundle (the counts' sum) */
  readonly size: number;
  /** The bundles of this evaluation's cart (memoised per evaluation). */
  get(ctx: EvalCtx): FormedBundle[];
}

/** The raw bundle definitions of a ruleset by name (entries that are not objects with a name are ignored). */
export function bundleDefs(raw: unknown): ReadonlyMap<string, unknown> {
  const m = new Map<string, unknown>();
  if (Array.isArray(raw)) for (const b of raw) if (isObj(b) && typeof b.name === 'string') m.set(b.name, b);
  return m;
}

const COMPILED = new WeakMap<object, Map<string, CompiledBundle>>();

/** The bundle named `name` in `defs`, compiled once per ruleset; throws {@link Unsupported} when it cannot be read. */
export function compileBundle(name: string, defs: ReadonlyMap<string, unknown> | undefined, env: PathEnv, itemsOf: (target: Obj, where: string) => ItemsOf): CompiledBundle {
  if (defs === undefined) throw new Unsupported(`bundle ${name} is not defined in the ruleset`);
  let cache = COMPILED.get(defs);
  if (cache === undefined) COMPILED.set(defs, (cache = new Map()));
  const seen = cache.get(name);
  if (seen !== undefined) return seen;
  const raw = defs.get(name);
  if (!isObj(raw)) throw new Unsupported(`bundle ${name} is not defined in the ruleset`);
  const where = `bundle ${name}`;
  if (!Array.isArray(raw.lists)) throw new Unsupported(`${where}: only bundle definitions with "lists" are read offline (a Talang bundle binding is not)`);
  if (raw.lists.length < 1 || raw.lists.length > 10) throw new Unsupported(`${where}: 1 to 10 lists of items are read offline`);
  const lists = raw.lists.map((l, i) => {
    if (!isObj(l) || !isObj(l.target)) throw new Unsupported(`${where}: list ${i} has no target`);
    const count = l.count;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > 1000) throw new Unsupported(`${where}: list ${i} count must be a whole number from 0 to 1,000`);
    return { items: itemsOf(l.target, `${where}/lists/${i}/target`), count };
  });
  const size = lists.reduce((s, l) => s + l.count, 0);
  if (size === 0) throw new Unsupported(`${where}: a bundle of no items`);
  const attrs = raw.attributes === undefined || raw.attributes === null ? [] : raw.attributes;
  if (!Array.isArray(attrs) || attrs.length > 10) throw new Unsupported(`${where}: attributes must be a list of up to 10 $Item paths`);
  const keys: Getter[] = attrs.map((a, i) => {
    if (typeof a !== 'string' || !a.startsWith('$Item.')) throw new Unsupported(`${where}: bundling attribute ${i} must be an $Item path`);
    return compilePath(a, env, `${where}/attributes/${i}`);
  });
  const memo = {};
  const compiled: CompiledBundle = {
    name, size,
    get: (ctx) => {
      const hit = ctx.memo.get(memo);
      if (hit !== undefined) return hit as FormedBundle[];
      const formed = form(ctx, lists, keys);
      ctx.memo.set(memo, formed);
      return formed;
    },
  };
  cache.set(name, compiled);
  return compiled;
}

/** The value of the bundling attributes of an item, as one key; undefined when one is missing (not bundled). */
function keyOf(ctx: EvalCtx, it: ItemView, keys: readonly Getter[]): string | undefined {
  const saved = ctx.item;
  ctx.item = it;
  try {
    const vs: unknown[] = [];
    for (const k of keys) {
      const v = k(ctx);
      if (v === undefined || v === null) return undefined;
      vs.push(v);
    }
    return JSON.stringify(vs);
  } finally { ctx.item = saved; }
}

/**
 * Finds the bundles of a cart: per group of equal bundling attributes (in order of first appearance), units are
 * taken list by list in cart order, `count` from each list, each unit of a line used by one bundle at most; a
 * group gives bundles while every list can fill its count.
 */
function form(ctx: EvalCtx, lists: readonly { items: ItemsOf; count: number }[], keys: readonly Getter[]): FormedBundle[] {
  const all = lists.map((l) => l.items(ctx));
  const groups = new Map<string, ItemView[][]>();
  if (keys.length === 0) groups.set('', all);
  else {
    all.forEach((xs, j) => {
      for (const it of xs) {
        spend(ctx);
        const key = keyOf(ctx, it, keys);
        if (key === undefined) continue;
        let g = groups.get(key);
        if (g === undefined) groups.set(key, (g = lists.map(() => [])));
        (g[j] as ItemView[]).push(it);
      }
    });
  }
  const used = new Map<number, number>();
  const out: FormedBundle[] = [];
  for (const per of groups.values()) {
    const cursor = lists.map(() => 0);
    for (;;) {
      const takes: { it: ItemView; unit: number; n: number }[] = [];
      let complete = true;
      for (let j = 0; j < lists.length && complete; j++) {
        const xs = per[j] as ItemView[];
        let need = (lists[j] as { count: number }).count;
        let c = cursor[j] as number;
        while (need > 0 && c < xs.length) {
          spend(ctx);
          const it = xs[c] as ItemView;
          const u = used.get(it.Position) ?? 0;
          const avail = it.Quantity - u;
          if (avail <= 0) { c++; continue; }
          const n = Math.min(avail, need);
          used.set(it.Position, u + n);
          takes.push({ it, unit: u, n });
          need -= n;
          if (n === avail) c++;
        }
        cursor[j] = c;
        if (need > 0) complete = false;
      }
      if (!complete) {
        for (const t of takes) used.set(t.it.Position, (used.get(t.it.Position) as number) - t.n);
        break;
      }
      out.push(assemble(takes));
    }
  }
  return out;
}

function assemble(takes: readonly { it: ItemView; unit: number; n: number }[]): FormedBundle {
  const lines: ItemView[] = [], units: number[] = [], first: number[] = [];
  const at = new Map<number, number>();
  const slots: { k: number; unit: number; n: number }[] = [];
  for (const t of takes) {
    let k = at.get(t.it.Position);
    if (k === undefined) {
      k = lines.length;
      at.set(t.it.Position, k);
      lines.push(t.it); units.push(0); first.push(t.unit);
    }
    units[k] = (units[k] as number) + t.n;
    first[k] = Math.min(first[k] as number, t.unit);
    slots.push({ k, unit: t.unit, n: t.n });
  }
  return { lines, units, first, takes: slots };
}

/** Which item of each bundle a discount goes to (`AwardDiscountBundleItem`), or all of them. */
export type BundlePick = { type: 'all' } | { type: 'byIndex'; index: number } | { type: 'byAttribute'; rank: (ctx: EvalCtx) => number; highest: boolean };

/** Compiles a target's `item` (absent: every item of the bundle). */
export function compilePick(item: unknown, size: number, env: PathEnv, where: string): BundlePick {
  if (item === undefined || item === null) return { type: 'all' };
  if (!isObj(item)) throw new Unsupported(`${where}: item must be an object`);
  if (item.type === 'byIndex') {
    const v = item.value;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= size) throw new Unsupported(`${where}: item index ${String(v)} is not a slot of a bundle of ${size} item(s)`);
    return { type: 'byIndex', index: v };
  }
  if (item.type === 'byAttribute') {
    if (item.direction !== 'highest' && item.direction !== 'lowest') throw new Unsupported(`${where}: item direction must be highest or lowest`);
    return { type: 'byAttribute', rank: compileNumber(item.attribute, env, `${where}/attribute`), highest: item.direction === 'highest' };
  }
  throw new Unsupported(`${where}: bundle item selection ${String(item.type)} is not supported offline`);
}

/** The slot a pick selects in a bundle: line index in `b.lines` and unit index in that line. */
function picked(ctx: EvalCtx, b: FormedBundle, pick: BundlePick): { k: number; unit: number } {
  if (pick.type === 'byIndex') {
    let i = pick.index;
    for (const t of b.takes) {
      if (i < t.n) return { k: t.k, unit: t.unit + i };
      i -= t.n;
    }
    return { k: 0, unit: b.first[0] as number }; // unreachable: the index is below the bundle's size
  }
  // byAttribute: the first of the best-ranked items (all units of a line rank alike).
  let best = 0, bestV = Number.NaN;
  const saved = ctx.item;
  try {
    b.lines.forEach((l, k) => {
      ctx.item = l;
      const v = (pick as { rank: (c: EvalCtx) => number }).rank(ctx);
      if (bestV !== bestV || ((pick as { highest: boolean }).highest ? v > bestV : v < bestV)) { best = k; bestV = v; }
    });
  } finally { ctx.item = saved; }
  return { k: best, unit: b.first[best] as number };
}

function valueFor(ctx: EvalCtx, value: (ctx: EvalCtx) => number, item: ItemView | undefined): number {
  const saved = ctx.item;
  ctx.item = item;
  try { return value(ctx); } finally { ctx.item = saved; }
}

/**
 * Gives a discount on the bundles of a cart, one `setDiscountPerItem` per line of each bundle (with `bundleIndex`,
 * `bundleName`, and `subPosition`: the first unit of the line the bundle took, so two bundles sharing a line give
 * two distinguishable effects). `all`: the value is per unit, with `$Item` the line; `prorated`: the value is a total
 * per bundle, split over its lines pro rata (`prorate`), with `totalDiscount`; a pick: the value is for the picked
 * item only, with `targetedItemPosition`/`targetedItemSubPosition`. Every discount is capped to what is left of its
 * line and of the session (`desiredValue`/`desiredTotalDiscount` then say what was asked for); a block that can give
 * nothing at all fails unless partial, as every discount of nothing.
 */
export function awardBundle(ctx: EvalCtx, name: string, bundle: CompiledBundle, pick: BundlePick, prorated: boolean, value: (ctx: EvalCtx) => number, partial: boolean): boolean {
  const fx = ctx.fx, cur = ctx.cur;
  const bundles = bundle.get(ctx);
  let asked = false, gives = false;
  // Units of each line not yet weighed by a prorated bundle (a line's value is shared by the bundles that use it).
  const unweighed = new Map<number, number>();
  bundles.forEach((b, bundleIndex) => {
    if (prorated) {
      const total = toMinor(valueFor(ctx, value, undefined), cur);
      if (total <= 0) return;
      asked = true;
      const weights = b.lines.map((l, k) => {
        const left = unweighed.get(l.Position) ?? l.Quantity;
        unweighed.set(l.Position, left - (b.units[k] as number));
        return Math.floor((fx.left(l.Position) * (b.units[k] as number)) / Math.max(1, left));
      });
      const wsum = weights.reduce((a, w) => a + w, 0);
      const given = Math.min(total, wsum, fx.sessionLeft());
      if (given <= 0) return;
      gives = true;
      const parts = prorate(given, weights);
      const totalDiscount = fromMinor(given, cur);
      b.lines.forEach((l, k) => {
        const v = parts[k] as number;
        if (!(v > 0)) return;
        fx.take(l.Position, v);
        fx.emit('setDiscountPerItem', given !== total
          ? { name: `${name}#${l.Position}`, value: fromMinor(v, cur), position: l.Position, subPosition: b.first[k], totalDiscount, desiredTotalDiscount: fromMinor(total, cur), bundleIndex, bundleName: bundle.name }
          : { name: `${name}#${l.Position}`, value: fromMinor(v, cur), position: l.Position, subPosition: b.first[k], totalDiscount, bundleIndex, bundleName: bundle.name });
      });
      return;
    }
    const give = (k: number, unit: number, units: number, targeted: boolean) => {
      const l = b.lines[k] as ItemView;
      const d = Math.max(0, toMinor(valueFor(ctx, value, l), cur)) * units;
      if (d <= 0) return;
      asked = true;
      const v = Math.min(d, fx.left(l.Position), fx.sessionLeft());
      if (v <= 0) return;
      gives = true;
      fx.take(l.Position, v);
      const props: Record<string, unknown> = { name: `${name}#${l.Position}`, value: fromMinor(v, cur), position: l.Position, subPosition: unit };
      if (v !== d) props.desiredValue = fromMinor(d, cur);
      props.bundleIndex = bundleIndex;
      props.bundleName = bundle.name;
      if (targeted) { props.targetedItemPosition = l.Position; props.targetedItemSubPosition = unit; }
      fx.emit('setDiscountPerItem', props);
    };
    if (pick.type === 'all') b.lines.forEach((_l, k) => give(k, b.first[k] as number, b.units[k] as number, false));
    else { const p = picked(ctx, b, pick); give(p.k, p.unit, 1, true); }
  });
  return !(asked && !gives && !(partial || fx.partialAllowed));
}
