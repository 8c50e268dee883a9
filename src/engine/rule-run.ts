import { createHash } from 'node:crypto';
import type { EffectSink, EvalCtx, ItemView } from './context.js';
import { fromMinor, prorate, toMinor, type Currency } from './money.js';
import { isCardHolder } from './loyalty.js';
import type { Effect } from './types.js';

/** Envelope fields of the rule being evaluated. */
export interface RuleEnvelope {
  campaignId: number;
  rulesetId: number;
  ruleIndex: number;
  ruleName: string;
  evaluationGroupID?: number;
  evaluationGroupMode?: string;
  selectedPriceType?: string;
  selectedPrice?: number;
  adjustmentReferenceId?: string;
}

/** A pending loyalty deduction of this evaluation. */
export interface LoyaltyDeduction {
  programId: number;
  holderKey: string;
  points: number;
}

export interface RunDeps {
  cur: Currency;
  /** Remaining value per cart line, minor units (mutated, with undo). */
  lines: number[];
  /** Remaining value that cart-level discounts may take, minor units. */
  session: number;
  enablePartial: boolean;
  sessionId: string;
  profileId: string | undefined;
  cardId: string | undefined;
  /** Holder key of a program (or one of its subledgers) for this session's profile/card, or undefined if none applies. */
  holderKey(programId: number, subledgerId?: string): string | undefined;
  /** Points this session may still deduct offline for a holder (cached balance − others' spending, capped). */
  deductible(holderKey: string): number;
  /**
   * `scope` of `setDiscount` effects, returned only when the application has cascading discounts
   * (`SetDiscountEffectProps.scope`: "Cascading discounts must be enabled for this property to be returned").
   */
  cartScope?: string | undefined;
  /** The session evaluated: its additional costs and its lines' become discountable pools on first need. */
  costs?: { additionalCosts?: Record<string, { price: number }>; cartItems?: { quantity: number; additionalCosts?: Record<string, { price: number }> }[] } | undefined;
  /** Additional-cost discounts take from the session room too (not when the default discount scope is `cartItems`). */
  costsInSession?: boolean;
}

/**
 * `${name}#${position}` of per-item effects, cached per discount name: the same names and line positions
 * recur on every evaluation, and building each string (two concatenations and a number conversion) was a
 * visible share of an evaluation. Bounded: at most 1,024 positions per name, and the cache starts over
 * past {@link MAX_POS_NAMES} strings.
 */
const POS_NAMES = new Map<string, string[]>();
const MAX_POS_NAMES = 65_536;
let posNamesHeld = 0;

function posNames(name: string): string[] {
  let a = POS_NAMES.get(name);
  if (a === undefined) {
    if (posNamesHeld > MAX_POS_NAMES) { POS_NAMES.clear(); posNamesHeld = 0; }
    a = [];
    POS_NAMES.set(name, a);
  }
  return a;
}

function posName(a: string[], name: string, pos: number): string {
  if (pos < a.length) return a[pos] as string;
  if (pos >= 1024) return `${name}#${pos}`;
  while (a.length <= pos) { a.push(`${name}#${a.length}`); posNamesHeld++; }
  return a[pos] as string;
}

/**
 * Scratch storage shared by the runs one after the other (`evaluate` is synchronous and uses one run at a
 * time): it stops growing after the first evaluations instead of growing from empty in each one. The undo
 * log holds `[amount, line (-1: none), the line's previous value, the session's previous value]` per take.
 */
let undoPool = new Float64Array(4 * 512);
let marksPool = new Float64Array(5 * 64);
let desiredPool = new Float64Array(64);
let wantPool = new Float64Array(64);

/**
 * The effect sink of one evaluation: applies discounts in integer minor units against the remaining
 * line and session values (never below zero), and keeps an undo log so a failed rule or branch is rolled
 * back completely (rules are never half-applied).
 */
export class Run implements EffectSink {
  readonly out: Effect[] = [];
  readonly deductions: LoyaltyDeduction[] = [];
  /** Sum of discounts applied, minor units. */
  discountTotal = 0;
  env: RuleEnvelope = { campaignId: -1, rulesetId: -1, ruleIndex: -1, ruleName: '' };
  /** Set when a rule validated the campaign's coupon; `redeem` as the block said. */
  couponUse: boolean | undefined;
  #fail: Effect[] = [];
  #failureMode = false;
  #undo: Float64Array = undoPool;
  #undoTop = 0;
  #seq = 0;

  constructor(readonly d: RunDeps) {}

  /** Marks are stored flat (5 numbers each) with a top pointer: no allocation, no array resizing. */
  #marks: Float64Array = marksPool;
  #top = 0;

  mark(): number {
    let m = this.#marks;
    const at = this.#top;
    if (at + 5 > m.length) {
      const bigger = new Float64Array(m.length * 2);
      bigger.set(m);
      this.#marks = m = marksPool = bigger;
    }
    m[at] = this.out.length;
    m[at + 1] = this.#fail.length;
    m[at + 2] = this.#undoTop;
    m[at + 3] = this.deductions.length;
    m[at + 4] = this.couponUse === undefined ? 0 : this.couponUse ? 2 : 1;
    this.#top = at + 5;
    return at;
  }

  rollback(mark: number, keepFailures = false): void {
    const m = this.#marks;
    const at = mark;
    if (at >= this.#top) return;
    if (this.out.length !== m[at]) this.out.length = m[at] as number;
    if (!keepFailures && this.#fail.length !== m[at + 1]) this.#fail.length = m[at + 1] as number;
    const undoTo = m[at + 2] as number;
    if (this.deductions.length !== m[at + 3]) this.deductions.length = m[at + 3] as number;
    const c = m[at + 4] as number;
    this.couponUse = c === 0 ? undefined : c === 2;
    const u = this.#undo;
    let top = this.#undoTop;
    while (top > undoTo) {
      top -= 4;
      const idx = u[top + 1] as number;
      this.d.session = u[top + 3] as number;
      if (idx !== -1) this.d.lines[idx] = u[top + 2] as number;
      this.discountTotal -= u[top] as number;
    }
    this.#undoTop = top;
    this.#top = at;
  }

  /** Drops `mark` and the marks above it (keeps what they cover). */
  release(mark: number): void {
    this.#top = mark;
  }

  /**
   * Runs `f` and undoes all it did to the run: effects, discounts taken, failure effects, deductions, the coupon
   * flag and the sequence of transaction ids. `explain.ts` re-runs a failed rule's blocks in here to say which
   * one failed, so asking why costs the answer nothing. (`f` must not call `flushFailures`.)
   */
  sandbox<T>(f: () => T): T {
    const m = this.mark();
    const seq = this.#seq, fail = this.#fail, failLen = fail.length, mode = this.#failureMode, env = this.env;
    try {
      return f();
    } finally {
      this.rollback(m);
      this.#fail = fail;
      fail.length = failLen;
      this.#seq = seq;
      this.#failureMode = mode;
      this.env = env;
    }
  }

  /** Moves failure effects of the finished rule to the output. */
  flushFailures(): void {
    if (this.#fail.length === 0) return;
    for (const e of this.#fail) this.out.push(e);
    this.#fail = [];
  }

  onFailure(f: () => void): void {
    const prev = this.#failureMode;
    this.#failureMode = true;
    try { f(); } finally { this.#failureMode = prev; }
  }

  emit(effectType: string, props: Record<string, unknown>): void {
    const v = this.env;
    const e: Effect = { campaignId: v.campaignId, rulesetId: v.rulesetId, ruleIndex: v.ruleIndex, ruleName: v.ruleName, effectType, props };
    if (v.evaluationGroupID !== undefined) { e.evaluationGroupID = v.evaluationGroupID; e.evaluationGroupMode = v.evaluationGroupMode as string; }
    if (v.selectedPriceType !== undefined) e.selectedPriceType = v.selectedPriceType;
    if (v.selectedPrice !== undefined) e.selectedPrice = v.selectedPrice;
    if (v.adjustmentReferenceId !== undefined) e.adjustmentReferenceId = v.adjustmentReferenceId;
    (this.#failureMode ? this.#fail : this.out).push(e);
  }

  /** What is left of pool `idx` (a cart line by position, or an additional cost's pool), minor units. */
  left(idx: number): number {
    return Math.max(0, this.d.lines[idx] as number);
  }

  /** What cart-level discounts may still take, minor units. */
  sessionLeft(): number {
    return Math.max(0, this.d.session);
  }

  get partialAllowed(): boolean {
    return this.d.enablePartial;
  }

  get costsInSession(): boolean {
    return this.d.costsInSession !== false;
  }

  /** Takes `amt` minor units from pool `idx` (and from the session room unless `fromSession` is false), undoably. */
  take(idx: number, amt: number, fromSession = true): void {
    const s = this.d.session;
    this.#take(idx, amt);
    if (!fromSession) this.d.session = s;
  }

  #pools: Map<string, number> | undefined;

  /**
   * The pool of an additional cost (`pos` -1: the session's, else cart line `pos`'s), or undefined when the
   * session (line) has no such cost. The pools are added after the cart lines the first time one is asked for:
   * most sessions never discount an additional cost.
   */
  costPool(pos: number, cost: string): number | undefined {
    let m = this.#pools;
    if (m === undefined) {
      m = this.#pools = new Map();
      const { cur, lines, costs } = this.d;
      for (const [k, ac] of Object.entries(costs?.additionalCosts ?? {})) { m.set(`-1:${k}`, lines.length); lines.push(Math.max(0, toMinor(ac.price, cur))); }
      (costs?.cartItems ?? []).forEach((ci, i) => {
        for (const [k, ac] of Object.entries(ci.additionalCosts ?? {})) { m?.set(`${i}:${k}`, lines.length); lines.push(Math.max(0, toMinor(ac.price, cur)) * ci.quantity); }
      });
    }
    return m.get(`${pos}:${cost}`);
  }

  /** Takes `amt` from line `idx` (-1: from the session only) and the session, with an undo entry. */
  #take(idx: number, amt: number): void {
    let u = this.#undo;
    const top = this.#undoTop;
    if (top + 4 > u.length) {
      const bigger = new Float64Array(u.length * 2);
      bigger.set(u);
      this.#undo = u = undoPool = bigger;
    }
    const d = this.d;
    u[top] = amt;
    u[top + 1] = idx;
    u[top + 3] = d.session;
    if (idx >= 0) {
      const line = d.lines[idx] as number;
      u[top + 2] = line;
      d.lines[idx] = line - amt;
    } else u[top + 2] = 0;
    this.#undoTop = top + 4;
    d.session -= amt;
    this.discountTotal += amt;
  }

  /**
   * A cart discount, capped to what is left of the session: `SetDiscountEffectProps` (Integration API) has `value`
   * "the effective discount" and `desiredValue` the one asked for, so 20 EUR on a 12.90 EUR basket is value 12.90,
   * desiredValue 20. With nothing left at all the block fails unless `partial` / `enablePartialDiscounts` (as before
   * the cap: the docs are silent on a discount of nothing).
   */
  cartDiscount(_ctx: EvalCtx, name: string, value: number, partial: boolean): boolean {
    const desired = toMinor(value, this.d.cur);
    if (desired <= 0) return true;
    const cap = Math.max(0, this.d.session);
    if (cap === 0) return partial || this.d.enablePartial;
    const v = Math.min(desired, cap);
    this.#take(-1, v);
    const cur = this.d.cur, scope = this.d.cartScope;
    // One literal per shape, keys in the order of the spec's example (name, value, scope, desiredValue).
    const props: Record<string, unknown> = v !== desired
      ? (scope !== undefined ? { name, value: fromMinor(v, cur), scope, desiredValue: fromMinor(desired, cur) } : { name, value: fromMinor(v, cur), desiredValue: fromMinor(desired, cur) })
      : (scope !== undefined ? { name, value: fromMinor(v, cur), scope } : { name, value: fromMinor(v, cur) });
    this.emit('setDiscount', props);
    return true;
  }

  itemDiscounts(_ctx: EvalCtx, name: string, lines: readonly ItemView[], perUnit: readonly number[], partial: boolean, prorated?: { total: number }): boolean {
    // Plain loops over preallocated arrays: this runs per line for every per-item discount (hot path).
    const cur = this.d.cur;
    const dl = this.d.lines;
    const allowPartial = partial || this.d.enablePartial;
    const n = lines.length;
    if (prorated) {
      const total = toMinor(prorated.total, cur);
      if (total <= 0 || n === 0) return true;
      const weights: number[] = [];
      let wsum = 0;
      for (let i = 0; i < n; i++) { const w = Math.max(0, dl[(lines[i] as ItemView).Position] as number); weights.push(w); wsum += w; }
      // Capped to what the lines (and the session) have left, `desiredTotalDiscount` saying what was asked for
      // (SetDiscountPerItemEffectProps); nothing left at all: fails unless partial, as a cart discount.
      const room = Math.min(wsum, Math.max(0, this.d.session));
      if (room === 0) return allowPartial;
      const given = Math.min(total, room);
      // Shares cut to the minor unit, the deficit to the highest discounted line (`prorate`, Talon.One's pro rata rule).
      const want = prorate(given, weights);
      const totalDiscount = fromMinor(given, cur);
      const desiredTotal = total > room ? fromMinor(total, cur) : undefined;
      const names = posNames(name);
      for (let i = 0; i < n; i++) {
        const v = want[i] as number;
        if (!(v > 0)) continue;
        const l = lines[i] as ItemView;
        this.#take(l.Position, v);
        const props: Record<string, unknown> = { name: posName(names, name, l.Position), value: fromMinor(v, cur), position: l.Position, totalDiscount };
        if (desiredTotal !== undefined) props.desiredTotalDiscount = desiredTotal;
        this.emit('setDiscountPerItem', props);
      }
      return true;
    }
    // Scratch arrays (itemDiscounts never re-enters itself; one run at a time): no arrays per call.
    if (desiredPool.length < n) { desiredPool = new Float64Array(2 * n); wantPool = new Float64Array(2 * n); }
    const desired = desiredPool, want = wantPool;
    // Each line's discount is capped to what is left of it (and of the session): `value` the effective discount,
    // `desiredValue` the one asked for (SetDiscountPerItemEffectProps). Computed first, then applied: a throw of
    // `toMinor` leaves nothing changed, and a block that can give nothing at all (every targeted line used up)
    // fails unless partial, as a cart discount does.
    let session = Math.max(0, this.d.session);
    let asked = false, gives = false;
    for (let i = 0; i < n; i++) {
      const l = lines[i] as ItemView;
      const d = Math.max(0, toMinor(perUnit[i] as number, cur)) * l.Quantity;
      desired[i] = d;
      const cap = Math.min(Math.max(0, dl[l.Position] as number), session);
      const v = Math.min(d, cap);
      session -= v;
      want[i] = v;
      if (d > 0) asked = true;
      if (v > 0) gives = true;
    }
    if (asked && !gives && !allowPartial) return false;
    const names = posNames(name);
    for (let i = 0; i < n; i++) {
      const v = want[i] as number;
      if (v <= 0) continue;
      const l = lines[i] as ItemView;
      const d = desired[i] as number;
      this.#take(l.Position, v);
      // One literal per shape (not a property added later): the effect's props keep one hidden class.
      const props: Record<string, unknown> = v !== d
        ? { name: posName(names, name, l.Position), value: fromMinor(v, cur), position: l.Position, desiredValue: fromMinor(d, cur) }
        : { name: posName(names, name, l.Position), value: fromMinor(v, cur), position: l.Position };
      this.emit('setDiscountPerItem', props);
    }
    return true;
  }

  /**
   * A price-book strikethrough effect on its line: `itemDiscounts(ctx, name, [line], [perUnit], true)` under
   * the envelope of the effect's rule plus `selectedPriceType`/`selectedPrice` (and `adjustmentReferenceId`
   * when set), without the per-call arrays and envelope object; the effect is built in one literal with
   * the keys in `emit`'s order.
   */
  priceLineDiscount(rule: { campaignId: number; rulesetId: number; ruleIndex: number; ruleName: string; name: string }, priceType: string, price: number, ref: string | undefined, line: ItemView, perUnit: number): void {
    const name = rule.name;
    const cur = this.d.cur;
    const desired = Math.max(0, toMinor(perUnit, cur)) * line.Quantity;
    const cap = Math.min(Math.max(0, this.d.lines[line.Position] as number), Math.max(0, this.d.session));
    const v = Math.min(desired, cap);
    if (v <= 0) return;
    this.#take(line.Position, v);
    const props: Record<string, unknown> = v !== desired
      ? { name: posName(posNames(name), name, line.Position), value: fromMinor(v, cur), position: line.Position, desiredValue: fromMinor(desired, cur) }
      : { name: posName(posNames(name), name, line.Position), value: fromMinor(v, cur), position: line.Position };
    const { campaignId, rulesetId, ruleIndex, ruleName } = rule;
    const effectType = 'setDiscountPerItem';
    const e: Effect = ref
      ? { campaignId, rulesetId, ruleIndex, ruleName, effectType, props, selectedPriceType: priceType, selectedPrice: price, adjustmentReferenceId: ref }
      : { campaignId, rulesetId, ruleIndex, ruleName, effectType, props, selectedPriceType: priceType, selectedPrice: price };
    (this.#failureMode ? this.#fail : this.out).push(e);
  }

  couponValid(ctx: EvalCtx, redeem: boolean): boolean {
    if (!ctx.coupon) return false;
    this.couponUse = (this.couponUse ?? false) || redeem;
    return true;
  }

  #uuid(kind: string): string {
    const h = createHash('sha256').update(`${this.d.sessionId}|${this.env.campaignId}|${this.env.ruleIndex}|${kind}|${this.#seq++}`).digest('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  loyalty(_ctx: EvalCtx, kind: 'add' | 'deduct', programId: number, name: string, points: number, subledgerId = ''): boolean {
    if (!Number.isFinite(points) || points <= 0) return false;
    const key = this.d.holderKey(programId, subledgerId);
    if (!key || !this.d.profileId && !this.d.cardId) return false;
    const pts = Number(points.toFixed(2));
    const card = isCardHolder(key) ? { cardIdentifier: this.d.cardId } : {};
    if (kind === 'add') {
      this.emit('addLoyaltyPoints', { name, programId, subLedgerId: subledgerId, value: pts, recipientIntegrationId: this.d.profileId ?? '', transactionUUID: this.#uuid('add'), ...card });
      return true;
    }
    // A subledger is a holder of its own: its deductions are bounded by its own cached balance and offline cap.
    const pending = this.deductions.filter((x) => x.holderKey === key).reduce((a, b) => a + b.points, 0);
    if (pts + pending > this.d.deductible(key)) return false;
    this.deductions.push({ programId, holderKey: key, points: pts });
    this.emit('deductLoyaltyPoints', { ruleTitle: this.env.ruleName, programId, subLedgerId: subledgerId, value: pts, transactionUUID: this.#uuid('deduct'), name, ...card });
    return true;
  }
}
