import type { CollectionIndex } from './collections.js';
import { EvalError, lookupLocal, NOT_FOUND, type EvalCtx } from './context.js';

/** A rule referenced something the engine does not implement: its campaign is not offline-capable. */
export class Unsupported extends Error {}

/** A rule is malformed (wrong type, missing field): the whole payload is rejected with this path. */
export class Invalid extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

export type Getter = (ctx: EvalCtx) => unknown;

/** Known fields per root (anything under `Attributes` is free). */
const FIELDS: Record<string, ReadonlySet<string>> = {
  Session: new Set(['Total', 'CartItemTotal', 'CartTotal', 'AdditionalCostTotal', 'CartItems', 'Attributes', 'IntegrationId', 'ProfileId', 'State', 'CouponCodes', 'LoyaltyCards', 'Identifiers', 'StoreIntegrationId', 'ItemCount']),
  Profile: new Set(['IntegrationId', 'Attributes', 'AudienceIds']),
  Store: new Set(['Id', 'IntegrationId', 'Name', 'Attributes']),
  Item: new Set(['Sku', 'SKU', 'Name', 'Price', 'Quantity', 'Category', 'Position', 'Attributes', 'Weight', 'Height', 'Width', 'Length', 'ProductName']),
  Coupon: new Set(['Id', 'Code', 'Value', 'CampaignId', 'UsageLimit', 'UsageCounter', 'Attributes', 'StartDate', 'ExpiryDate', 'RecipientIntegrationId']),
  Application: new Set(['Attributes', 'Currency', 'Timezone']),
};

const SEG = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Property read of JSON data; anything not a JSON value is `undefined`. Keys are checked at compile
 * time (`__proto__`, `constructor`, `prototype` refused), so the only inherited values reachable are
 * `Object.prototype` methods (functions), which read as `undefined`.
 */
export function own(obj: unknown, key: string): unknown {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const v = (obj as Record<string, unknown>)[key];
  return typeof v === 'function' ? undefined : v;
}

const isRec = (o: unknown): o is Record<string, unknown> => o !== null && typeof o === 'object' && !Array.isArray(o);
const notFn = (v: unknown): unknown => (typeof v === 'function' ? undefined : v);
type Reader = (o: unknown) => unknown;

/**
 * Readers with the same result as `own(o, key)` for the fixed field names of the bindings. Each is its
 * own function literal, so its property load stays monomorphic (the shapes built by `session-view.ts`)
 * instead of the megamorphic keyed load in {@link own}, which every path of every campaign goes through.
 */
const FIXED: ReadonlyMap<string, Reader> = new Map<string, Reader>([
  ['Session', (o) => (isRec(o) ? notFn(o.Session) : undefined)],
  ['Profile', (o) => (isRec(o) ? notFn(o.Profile) : undefined)],
  ['Store', (o) => (isRec(o) ? notFn(o.Store) : undefined)],
  ['Application', (o) => (isRec(o) ? notFn(o.Application) : undefined)],
  ['Coupon', (o) => (isRec(o) ? notFn(o.Coupon) : undefined)],
  ['Attributes', (o) => (isRec(o) ? notFn(o.Attributes) : undefined)],
  ['Total', (o) => (isRec(o) ? notFn(o.Total) : undefined)],
  ['CartItems', (o) => (isRec(o) ? notFn(o.CartItems) : undefined)],
  ['ItemCount', (o) => (isRec(o) ? notFn(o.ItemCount) : undefined)],
  ['Sku', (o) => (isRec(o) ? notFn(o.Sku) : undefined)],
  ['Price', (o) => (isRec(o) ? notFn(o.Price) : undefined)],
  ['Quantity', (o) => (isRec(o) ? notFn(o.Quantity) : undefined)],
  ['Category', (o) => (isRec(o) ? notFn(o.Category) : undefined)],
  ['Position', (o) => (isRec(o) ? notFn(o.Position) : undefined)],
]);

/** A reader equivalent to `(o) => own(o, key)`. */
export function reader(key: string): Reader {
  return FIXED.get(key) ?? ((o) => own(o, key));
}

/** Checks a root + segment list against the known fields; throws {@link Unsupported}. */
export function checkSegments(root: string, segs: readonly string[]): void {
  for (const s of [root, ...segs]) {
    if (FORBIDDEN.has(s)) throw new Unsupported(`forbidden path segment ${s}`);
  }
  const known = FIELDS[root];
  if (!known) return; // a selector / binding name: checked by the caller
  const first = segs[0];
  if (first === undefined) return;
  if (!known.has(first)) throw new Unsupported(`unknown attribute path $${[root, ...segs].join('.')}`);
  if (first !== 'Attributes' && segs.length > 1 && !(root === 'Session' && first === 'CartItems')) {
    throw new Unsupported(`unknown attribute path $${[root, ...segs].join('.')}`);
  }
}

/** Reads `root.seg1.seg2` from the context (root `Item` is the current item). */
export function readPath(ctx: EvalCtx, root: string, segs: readonly string[]): unknown {
  let v: unknown;
  if (root === 'Item') v = ctx.item;
  else {
    const l = lookupLocal(ctx.locals, root);
    v = l !== NOT_FOUND ? l : own(ctx.bind, root);
  }
  for (const s of segs) {
    if (v === undefined || v === null) return undefined;
    v = own(v, s);
  }
  return v;
}

export interface PathEnv {
  /** Selector names of the ruleset → getter of their result. */
  readonly selectors: ReadonlyMap<string, Getter>;
  /** The store's collections (`inCollection`; src/engine/collections.ts), when the rules are compiled with them. */
  readonly collections?: CollectionIndex;
  /** The campaign being compiled (a campaign-level collection of its own is found first by name). */
  readonly campaignId?: number;
}

/**
 * One getter per distinct path of a root (`$Session.Total`, Talang `.Session.CartItems`…) for all the
 * campaigns using it: such a getter depends on the path only, and one shared closure stays in the CPU's
 * caches where hundreds of identical ones, one per campaign, are each a cache miss per evaluation.
 * (Bounded: starts over past 4,096 paths.)
 */
const SHARED = new Map<string, Getter>();

export function sharedGetter(key: string, make: () => Getter): Getter {
  let g = SHARED.get(key);
  if (g === undefined) {
    if (SHARED.size >= 4096) SHARED.clear();
    SHARED.set(key, (g = make()));
  }
  return g;
}

/**
 * Compiles an attribute path such as `$Session.Total`, `$Item.Attributes.color` or `$MySelector`.
 * Missing values read as `undefined` (operators then fail, `exists` is false).
 */
export function compilePath(path: unknown, env: PathEnv, where: string): Getter {
  if (typeof path !== 'string' || !path.startsWith('$')) throw new Invalid(where, `expected an attribute path like "$Session.Total", got ${JSON.stringify(path)}`);
  const parts = path.slice(1).split('.');
  for (const p of parts) if (!SEG.test(p)) throw new Unsupported(`unsupported attribute path ${path}`);
  const [root, ...segs] = parts as [string, ...string[]];
  checkSegments(root, segs);
  if (!FIELDS[root]) {
    const sel = env.selectors.get(root);
    if (!sel) throw new Unsupported(`unknown attribute or selector ${path}`);
    if (segs.length === 0) return sel;
    return (ctx) => {
      let v = sel(ctx);
      for (const s of segs) v = own(v, s);
      return v;
    };
  }
  return sharedGetter(`$${parts.join('.')}`, () => rootGetter(root, segs));
}

/** The getter of a path of a root (`compilePath` after its checks). */
function rootGetter(root: string, segs: readonly string[]): Getter {
  const r0 = reader(root);
  const rs = segs.map(reader);
  if (segs.length === 1) {
    const g0 = rs[0] as Reader;
    if (root === 'Item') return (ctx) => g0(ctx.item);
    return (ctx) => g0(r0(ctx.bind));
  }
  if (segs.length === 2 && root !== 'Item') {
    // e.g. `$Session.Attributes.segment`. Lambda parameters can shadow a root only while Talang runs a
    // block (a selector read from inside one): then the generic lookup.
    const g0 = rs[0] as Reader, g1 = rs[1] as Reader;
    return (ctx) => {
      if (ctx.locals !== undefined) return readPath(ctx, root, segs);
      const v = g0(r0(ctx.bind));
      return v === undefined || v === null ? undefined : g1(v);
    };
  }
  return (ctx) => readPath(ctx, root, segs);
}

/** Requires a number; throws {@link EvalError} otherwise. */
export function num(v: unknown, what = 'value'): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  throw new EvalError(`${what} is not a number`);
}
