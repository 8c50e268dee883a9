import { createHash } from 'node:crypto';
import type { EffectSink, EvalCtx, ItemView } from './context.js';
import { fromMinor, prorate, toMinor, type Currency } from './money.js';
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
  /** Holder key of a program for this session's profile/card, or undefined if none applies. */
  holderKey(programId: number): string | undefined;
  /** Points this session may still deduct offline for a holder (cached balance − others' spending, capped). */
  deductible(holderKey: string): number;
}

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
  #undo: number[] = [];
  #seq = 0;
  /** Scratch for `itemDiscounts` (desired and granted minor units per line). */
  #desired: number[] = [];
  #want: number[] = [];

  constructor(readonly d: RunDeps) {}

  /** Marks are stored flat (5 numbers each) with a top pointer: no allocation, no array resizing. */
  #marks: number[] = [];
  #top = 0;

  mark(): number {
    const m = this.#marks;
    const at = this.#top;
    m[at] = this.out.length;
    m[at + 1] = this.#fail.length;
    m[at + 2] = this.#undo.length;
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
    while (u.length > undoTo) {
      const old = u.pop() as number, idx = u.pop() as number, amt = u.pop() as number;
      if (idx === -1) this.d.session = old; else this.d.lines[idx] = old;
      this.discountTotal -= amt;
    }
    this.#top = at;
  }

  /** Drops `mark` and the marks above it (keeps what they cover). */
  release(mark: number): void {
    this.#top = mark;
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

  #take(idx: number, amt: number): void {
    if (idx >= 0) {
      this.#undo.push(amt, idx, this.d.lines[idx] as number);
      this.d.lines[idx] = (this.d.lines[idx] as number) - amt;
      this.#undo.push(0, -1, this.d.session);
    } else {
      this.#undo.push(amt, -1, this.d.session);
    }
    this.d.session -= amt;
    this.discountTotal += amt;
  }

  cartDiscount(_ctx: EvalCtx, name: string, value: number, partial: boolean): boolean {
    const desired = toMinor(value, this.d.cur);
    if (desired <= 0) return true;
    const cap = Math.max(0, this.d.session);
    let v = desired;
    if (desired > cap) {
      if (!partial && !this.d.enablePartial) return false;
      v = cap;
    }
    if (v === 0) return true;
    this.#take(-1, v);
    const props: Record<string, unknown> = { name, value: fromMinor(v, this.d.cur) };
    if (v !== desired) props.desiredValue = fromMinor(desired, this.d.cur);
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
      const room = Math.min(wsum, Math.max(0, this.d.session));
      if (total > room && !allowPartial) return false;
      const given = Math.min(total, room);
      // prorate is pure: the desired split equals the given one when nothing is capped.
      const want = prorate(given, weights);
      const totalDiscount = fromMinor(given, cur);
      const desiredTotal = total > room ? fromMinor(total, cur) : undefined;
      const pos: number[] = [];
      for (let i = 0; i < n; i++) if ((want[i] as number) > 0) pos.push(i);
      for (let k = 0; k < pos.length; k++) {
        const i = pos[k] as number;
        const l = lines[i] as ItemView;
        const v = want[i] as number;
        this.#take(l.Position, v);
        const props: Record<string, unknown> = { name: `${name}#${l.Position}`, value: fromMinor(v, cur), position: l.Position, totalDiscount };
        if (desiredTotal !== undefined) props.desiredTotalDiscount = desiredTotal;
        this.emit('setDiscountPerItem', props);
      }
      return true;
    }
    // Scratch arrays owned by the run (itemDiscounts never re-enters itself): no two arrays per call.
    const desired = this.#desired, want = this.#want;
    while (desired.length < n) { desired.push(0); want.push(0); } // grow packed (never holey); only [0, n) is read
    for (let i = 0; i < n; i++) desired[i] = Math.max(0, toMinor(perUnit[i] as number, cur)) * (lines[i] as ItemView).Quantity;
    // Check first (all or nothing), then apply.
    let session = Math.max(0, this.d.session);
    let short = false;
    for (let i = 0; i < n; i++) {
      const cap = Math.min(Math.max(0, dl[(lines[i] as ItemView).Position] as number), session);
      const v = Math.min(desired[i] as number, cap);
      session -= v;
      want[i] = v;
      if (v !== desired[i]) short = true;
    }
    if (!allowPartial && short) return false;
    for (let i = 0; i < n; i++) {
      const v = want[i] as number;
      if (v <= 0) continue;
      const l = lines[i] as ItemView;
      const d = desired[i] as number;
      this.#take(l.Position, v);
      // One literal per shape (not a property added later): the effect's props keep one hidden class.
      const props: Record<string, unknown> = v !== d
        ? { name: `${name}#${l.Position}`, value: fromMinor(v, cur), position: l.Position, desiredValue: fromMinor(d, cur) }
        : { name: `${name}#${l.Position}`, value: fromMinor(v, cur), position: l.Position };
      this.emit('setDiscountPerItem', props);
    }
    return true;
  }

  /**
   * `itemDiscounts(ctx, name, [line], [perUnit], true)` without the per-call arrays (price-book
   * strikethrough effects: one line each, partial allowed).
   */
  lineDiscount(name: string, line: ItemView, perUnit: number): void {
    const cur = this.d.cur;
    const desired = Math.max(0, toMinor(perUnit, cur)) * line.Quantity;
    const cap = Math.min(Math.max(0, this.d.lines[line.Position] as number), Math.max(0, this.d.session));
    const v = Math.min(desired, cap);
    if (v <= 0) return;
    this.#take(line.Position, v);
    const props: Record<string, unknown> = v !== desired
      ? { name: `${name}#${line.Position}`, value: fromMinor(v, cur), position: line.Position, desiredValue: fromMinor(desired, cur) }
      : { name: `${name}#${line.Position}`, value: fromMinor(v, cur), position: line.Position };
    this.emit('setDiscountPerItem', props);
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

  loyalty(_ctx: EvalCtx, kind: 'add' | 'deduct', programId: number, name: string, points: number): boolean {
    if (!Number.isFinite(points) || points <= 0) return false;
    const key = this.d.holderKey(programId);
    if (!key || !this.d.profileId && !this.d.cardId) return false;
    const pts = Number(points.toFixed(2));
    const card = key.includes('|c|') ? { cardIdentifier: this.d.cardId } : {};
    if (kind === 'add') {
      this.emit('addLoyaltyPoints', { name, programId, subLedgerId: '', value: pts, recipientIntegrationId: this.d.profileId ?? '', transactionUUID: this.#uuid('add'), ...card });
      return true;
    }
    const pending = this.deductions.filter((x) => x.holderKey === key).reduce((a, b) => a + b.points, 0);
    if (pts + pending > this.d.deductible(key)) return false;
    this.deductions.push({ programId, holderKey: key, points: pts });
    this.emit('deductLoyaltyPoints', { ruleTitle: this.env.ruleName, programId, subLedgerId: '', value: pts, transactionUUID: this.#uuid('deduct'), name, ...card });
    return true;
  }
}
