/**
 * Discounts of additional costs (`awardDiscount` with target `additionalCost`, Management API
 * `AwardDiscountAdditionalCostTarget`): the session's additional cost (`setDiscountPerAdditionalCost`) or the
 * additional cost of each targeted cart item (`setDiscountPerAdditionalCostPerItem`), with the props of the
 * Integration API's `SetDiscountPerAdditionalCostEffectProps` / `SetDiscountPerAdditionalCostPerItemEffectProps`.
 * Capped like every discount: to what is left of that cost (and of the session, unless the application's default
 * discount scope is `cartItems`), `desiredValue` saying what was asked for.
 */
import type { EvalCtx, ItemView } from './context.js';
import { fromMinor, toMinor } from './money.js';

/** Talon.One's `AdditionalCostReference`: its id and API name (the effects carry both). */
export interface CostRef {
  readonly id: number;
  readonly name: string;
}

/**
 * `setDiscountPerAdditionalCost` on the session's additional cost `cost.name`. A session without that cost has
 * nothing to discount: the block fails (as the per-item effect does, by its spec description).
 */
export function sessionCostDiscount(ctx: EvalCtx, name: string, cost: CostRef, value: number, partial: boolean): boolean {
  const fx = ctx.fx, cur = ctx.cur;
  const desired = toMinor(value, cur);
  if (desired <= 0) return true;
  const pool = fx.costPool(-1, cost.name);
  if (pool === undefined) return false;
  const inSession = fx.costsInSession;
  const cap = inSession ? Math.min(fx.left(pool), fx.sessionLeft()) : fx.left(pool);
  if (cap === 0) return partial || fx.partialAllowed;
  const v = Math.min(desired, cap);
  fx.take(pool, v, inSession);
  // Keys in the order of the spec's example.
  fx.emit('setDiscountPerAdditionalCost', v !== desired
    ? { name, additionalCostId: cost.id, additionalCost: cost.name, value: fromMinor(v, cur), desiredValue: fromMinor(desired, cur) }
    : { name, additionalCostId: cost.id, additionalCost: cost.name, value: fromMinor(v, cur) });
  return true;
}

/**
 * `setDiscountPerAdditionalCostPerItem` on each targeted line's additional cost `cost.name`: the value is per unit,
 * times the line's quantity (a line's additional cost is per unit, as in `$Session.AdditionalCostTotal`). "If one or
 * more items do not have an additional cost, the rule will fail" (`SetDiscountPerAdditionalCostPerItemEffectProps`).
 */
export function itemCostDiscounts(ctx: EvalCtx, name: string, cost: CostRef, lines: readonly ItemView[], perUnit: readonly number[], partial: boolean): boolean {
  const fx = ctx.fx, cur = ctx.cur;
  const n = lines.length;
  const pools: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = fx.costPool((lines[i] as ItemView).Position, cost.name);
    if (p === undefined) return false;
    pools.push(p);
  }
  const inSession = fx.costsInSession;
  let session = inSession ? fx.sessionLeft() : Infinity;
  const desired: number[] = [], want: number[] = [];
  let asked = false, gives = false;
  for (let i = 0; i < n; i++) {
    const d = Math.max(0, toMinor(perUnit[i] as number, cur)) * (lines[i] as ItemView).Quantity;
    const v = Math.min(d, fx.left(pools[i] as number), session);
    session -= v;
    desired.push(d);
    want.push(v);
    if (d > 0) asked = true;
    if (v > 0) gives = true;
  }
  // Nothing left of any targeted cost: fails unless partial, as every discount of nothing.
  if (asked && !gives && !(partial || fx.partialAllowed)) return false;
  for (let i = 0; i < n; i++) {
    const v = want[i] as number, d = desired[i] as number;
    if (v <= 0) continue;
    const pos = (lines[i] as ItemView).Position;
    fx.take(pools[i] as number, v, inSession);
    fx.emit('setDiscountPerAdditionalCostPerItem', v !== d
      ? { name: `${name}#${pos}`, additionalCostId: cost.id, value: fromMinor(v, cur), position: pos, additionalCost: cost.name, desiredValue: fromMinor(d, cur) }
      : { name: `${name}#${pos}`, additionalCostId: cost.id, value: fromMinor(v, cur), position: pos, additionalCost: cost.name });
  }
  return true;
}
