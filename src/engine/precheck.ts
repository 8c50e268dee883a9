import { compilePath, type Getter, type PathEnv } from './paths.js';

/**
 * Early rejection of rules without running their compiled blocks. A rule's leading `checkAttribute`
 * blocks with operator `equals` (or `lessThan`… with a number), a literal value, no `onFailure` and a
 * cart-level path (`$Session`, `$Profile`, `$Store`, `$Application`: one value per evaluation, no budget,
 * no error) are pure: if one is false the rule fails with nothing to undo, exactly as running it would.
 * `evaluate` checks them against a per-evaluation table of path values, so most of the 500 campaigns of a
 * store (segment, store, threshold checks) cost one small array instead of a walk through their closures
 * (cache misses, not instructions, dominate that walk once the price book has gone through the caches).
 */
const CART_PATH = /^\$(Session|Profile|Store|Application)(\.[A-Za-z_][A-Za-z0-9_]{0,127}){1,2}$/;
const TEMPLATE = /^\s*\{\{([\s\S]*)\}\}\s*$/;

const EQ = 0, LT = 1, LE = 2, GT = 3, ONE_OF = 5, ANY = 6;
/** A leading `checkCoupon` (no `onFailure`): fails exactly when the campaign has no coupon candidate. */
const COUPON = 7;
/** Operators with a literal operand whose compiled check is exactly the comparison below (`check-attribute.ts`). */
const OPS: Readonly<Record<string, number>> = Object.assign(Object.create(null) as Record<string, number>, { equals: EQ, lessThan: LT, lessThanOrEqual: LE, greaterThan: GT, greaterThanOrEqual: 4, oneOf: ONE_OF });
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Distinct cart-level paths of a rules bundle, numbered; the getters are shared by all campaigns. */
export class PathSlots {
  readonly getters: Getter[] = [];
  readonly #ids = new Map<string, number>();

  readonly #strings = new Map<string, string>();

  /** One string object per distinct literal (fewer cache lines for the 500 campaigns' comparisons). */
  canon(v: unknown): unknown {
    if (typeof v !== 'string') return v;
    const c = this.#strings.get(v);
    if (c !== undefined) return c;
    this.#strings.set(v, v);
    return v;
  }

  slot(path: string, env: PathEnv): number {
    let id = this.#ids.get(path);
    if (id === undefined) {
      id = this.getters.length;
      this.getters.push(compilePath(path, env, ''));
      this.#ids.set(path, id);
    }
    return id;
  }
}

/** `[slot, operator, operand, …]` of the rule's leading pure checks, or undefined. Call after the blocks compiled. */
export function precheck(blocks: unknown, env: PathEnv, slots: PathSlots): readonly unknown[] | undefined {
  if (!Array.isArray(blocks)) return undefined;
  const out: unknown[] = [];
  for (const b of blocks) {
    const t = pure(b, env, slots, 0);
    if (!t) break;
    out.push(...t);
  }
  return out.length > 0 ? out : undefined;
}

/**
 * One block as a `[slot, operator, operand]` triple when it is a pure check: `checkAttribute` as above,
 * `oneOf` with its list, or a `group` `atLeastOne` of such blocks (operand: the kids' triples; the group
 * fails only when every kid does, and its kids' errors count as failures, which pure checks never raise).
 * A top-level `checkCoupon` is one too as far as failing goes: without the campaign's coupon it fails
 * with nothing to undo; with it the precheck passes and the rule runs (and validates the coupon).
 */
function pure(b: unknown, env: PathEnv, slots: PathSlots, depth: number): unknown[] | undefined {
  if (!b || typeof b !== 'object' || Array.isArray(b) || depth > 8) return undefined;
  const o = b as Record<string, unknown>;
  if (Array.isArray(o.onFailure) && o.onFailure.length > 0) return undefined;
  // `couponValid` without a coupon returns false and changes nothing (with one, the rule runs in full).
  if (o.type === 'checkCoupon') return depth === 0 ? [-1, COUPON, null] : undefined;
  if (o.type === 'group') {
    if (o.operator !== 'atLeastOne' || !Array.isArray(o.blocks) || o.blocks.length === 0) return undefined;
    const kids: unknown[] = [];
    for (const k of o.blocks) {
      const t = pure(k, env, slots, depth + 1);
      if (!t) return undefined;
      kids.push(...t);
    }
    return [-1, ANY, kids];
  }
  const op = typeof o.operator === 'string' ? OPS[o.operator] : undefined;
  if (o.type !== 'checkAttribute' || op === undefined || !('value' in o)) return undefined;
  if (typeof o.attribute !== 'string' || !CART_PATH.test(o.attribute)) return undefined;
  if (op === ONE_OF) return Array.isArray(o.value) ? [slots.slot(o.attribute, env), op, new Set(o.value as unknown[])] : undefined;
  if (typeof o.value === 'string' && TEMPLATE.test(o.value)) return undefined;
  if (op !== EQ && !isNum(o.value)) return undefined;
  return [slots.slot(o.attribute, env), op, slots.canon(o.value)];
}

/**
 * A key shared by triples that always give the same answer within one evaluation (same path, operator and
 * primitive operand), or undefined (lists, groups: no sharing). `checkCoupon`'s triple shares one key: its
 * answer depends on the campaign's coupon, so a caller caching by key must only ask it without one.
 */
export function tripleKey(pre: readonly unknown[], i: number): string | undefined {
  const op = pre[i + 1] as number, c = pre[i + 2];
  if (op === COUPON) return 'coupon';
  if (op === ONE_OF || op === ANY || (c !== null && typeof c === 'object')) return undefined;
  return `${String(pre[i])}:${op}:${typeof c}:${String(c)}`;
}

/** Marker of a path value not read yet in this evaluation. */
export const UNREAD: unique symbol = Symbol('unread');

/** True when one of the prechecks is false (the rule fails). `values` is the evaluation's table. */
export function failsPrecheck(pre: readonly unknown[], values: unknown[], getters: readonly Getter[], ctx: Parameters<Getter>[0]): boolean {
  for (let i = 0; i < pre.length; i += 3) if (failsAt(pre, i, values, getters, ctx)) return true;
  return false;
}

/** True when the triple at `i` of `pre` is false (one condition of {@link failsPrecheck}). */
export function failsAt(pre: readonly unknown[], i: number, values: unknown[], getters: readonly Getter[], ctx: Parameters<Getter>[0]): boolean {
  const op = pre[i + 1] as number;
  const c = pre[i + 2];
  if (op === COUPON) return ctx.coupon === undefined;
  if (op === ANY) {
    const kids = c as readonly unknown[];
    for (let k = 0; k < kids.length; k += 3) if (!failsAt(kids, k, values, getters, ctx)) return false;
    return true;
  }
  const slot = pre[i] as number;
  let v = values[slot];
  if (v === UNREAD) v = values[slot] = (getters[slot] as Getter)(ctx);
  if (op === EQ) return v === undefined || v === null || v !== c;
  if (op === ONE_OF) return v === undefined || v === null || !(c as ReadonlySet<unknown>).has(v);
  if (!isNum(v)) return true;
  const n = c as number;
  return op === LT ? !(v < n) : op === LE ? !(v <= n) : op === GT ? !(v > n) : !(v >= n);
}
