import type { BudgetRun } from './budgets.js';
import type { Currency } from './money.js';
import type { Coupon } from './types.js';

/** What `$Item` / Talang `Item` reads: one cart line. PascalCase like Talon.One's Talang paths. */
export interface ItemView {
  readonly Sku: string;
  readonly SKU: string;
  readonly Name: string | undefined;
  readonly Price: number;
  readonly Quantity: number;
  readonly Category: string | undefined;
  readonly Position: number;
  readonly Attributes: Record<string, unknown>;
  readonly Weight: number | undefined;
  readonly Height: number | undefined;
  readonly Width: number | undefined;
  readonly Length: number | undefined;
  readonly ProductName: string | undefined;
  /** unit price, minor units */
  readonly _unit: number;
}

/** One bound lambda parameter; `up` is the enclosing scope. */
export interface Local {
  readonly name: string;
  readonly value: unknown;
  readonly up: Local | undefined;
}

export const NOT_FOUND: unique symbol = Symbol('not found');

/** The value bound to `name`, or {@link NOT_FOUND}. */
export function lookupLocal(l: Local | undefined, name: string): unknown {
  for (let x = l; x; x = x.up) if (x.name === name) return x.value;
  return NOT_FOUND;
}

/** Raised when a rule reads something it cannot (missing attribute, wrong type): the block fails. */
export class EvalError extends Error {}

/** Raised when Talang/selector work exceeds the per-evaluation budget. */
export class BudgetError extends EvalError {}

/** Per-evaluation mutable state shared by the compiled blocks (never escapes `evaluate`). */
export interface EvalCtx {
  readonly now: number;
  readonly cur: Currency;
  readonly timezone: string;
  /** Roots for `$Session`, `$Profile`, `$Store`, `$Application`, `$Coupon` and Talang bindings. */
  readonly bind: Record<string, unknown>;
  readonly items: ItemView[];
  /** Current `$Item` while a selector step or per-item value runs. */
  item: unknown;
  /** Talang lambda parameters (innermost first). */
  locals: Local | undefined;
  /** Remaining work units (Talang steps, selector item visits). */
  budget: number;
  /** Memo of selector / global filter results for this evaluation (key: compiled object). */
  readonly memo: Map<object, unknown>;
  /** Coupon validated for the campaign being evaluated (undefined: none). */
  coupon: Coupon | undefined;
  /** Audience ids of the profile. */
  readonly audiences: ReadonlySet<number>;
  /** Cached loyalty balance of the profile / card for a program (or one of its subledgers) and balance kind, or undefined. */
  readonly loyaltyBalance: (programId: number, kind: string, subledgerId?: string) => number | undefined;
  /** Effect sink of the rule being evaluated (discounts, coupons, loyalty). */
  readonly fx: EffectSink;
  /** Campaign budgets and limits of this evaluation (budgets.ts); undefined when no campaign has one. */
  readonly budgets?: BudgetRun | undefined;
}

/** What blocks and Talang effect functions call to produce effects (implemented in `rule-run.ts`). */
export interface EffectSink {
  /** Cart-level discount; `partial` allows a capped amount. Returns false if it cannot be applied. */
  cartDiscount(ctx: EvalCtx, name: string, value: number, partial: boolean): boolean;
  /** Per-item discounts: `values` in currency units per line (undefined = not targeted). */
  itemDiscounts(ctx: EvalCtx, name: string, lines: readonly ItemView[], perLine: readonly number[], partial: boolean, prorated?: { total: number }): boolean;
  /** Marks the campaign's coupon as validated by this rule; false if there is none. */
  couponValid(ctx: EvalCtx, redeem: boolean): boolean;
  /** Effect-buffer position, for rolling back a failed branch. */
  mark(): number;
  rollback(mark: number): void;
  /** Runs `f` in failure mode: its effects are kept even though the rule fails. */
  onFailure(f: () => void): void;
  /** Any other effect (notification, free item, custom effect). */
  emit(effectType: string, props: Record<string, unknown>): void;
  /** Points added to / deducted from a program's main ledger, or `subledgerId`'s. False: cannot be given. */
  loyalty(ctx: EvalCtx, kind: 'add' | 'deduct', programId: number, name: string, points: number, subledgerId?: string): boolean;
  /** What is left of a cart line (by position) or of an additional cost's pool, minor units. */
  left(idx: number): number;
  /** What cart-level discounts may still take, minor units. */
  sessionLeft(): number;
  /** Takes `amt` minor units from pool `idx` (and from the session room unless `fromSession` is false), undoably. */
  take(idx: number, amt: number, fromSession?: boolean): void;
  /** The pool of an additional cost: the session's (`pos` -1) or cart line `pos`'s; undefined when there is none. */
  costPool(pos: number, cost: string): number | undefined;
  /** The application's `enablePartialDiscounts`. */
  readonly partialAllowed: boolean;
  /** Additional-cost discounts also take from the session room (the default discount scope is not `cartItems`). */
  readonly costsInSession: boolean;
}

export function spend(ctx: EvalCtx, n = 1): void {
  ctx.budget -= n;
  if (ctx.budget < 0) throw new BudgetError('evaluation budget exceeded');
}
