import { EvalError, type EvalCtx } from './context.js';
import type { CompiledCampaign, CompiledRules, PlanNode } from './compile-rules.js';
import { LeafTable, Sweep, SweepState, type RNode } from './sweep.js';
import type { CouponIndex } from './coupons.js';
import type { CouponLedger, LedgerOp } from './coupon-ledger.js';
import { screenCoupons, ledgerOps, rejectCoupon } from './coupon-check.js';
import type { LoyaltyIndex, LoyaltyLimits, LoyaltyOp } from './loyalty.js';
import { fromMinor } from './money.js';
import type { PriceBook, PriceEffect } from './pricebook.js';
import { Run } from './rule-run.js';
import { buildSessionView } from './session-view.js';
import type { Effect, ProfileInput, SessionInput } from './types.js';
import { StoregateError } from '../core/errors.js';

/** The immutable data one engine evaluates with (one snapshot bundle). */
export interface EngineData {
  rules: CompiledRules;
  prices: PriceBook;
  coupons: CouponIndex;
  loyalty: LoyaltyIndex;
  store: { id: number | undefined; integrationId: string; name?: string; attributes: Record<string, unknown> };
}

export interface EvaluateInput {
  customerSessionId: string;
  session: SessionInput;
  profile?: ProfileInput;
  terminalId?: string;
  /** ms since epoch, from the clock port */
  now: number;
  ledger: CouponLedger;
  loyalty: LoyaltyLimits;
}

export interface EvaluateOutput {
  effects: Effect[];
  /** To apply to the ledger once the answer's journal record is durable (or revert on failure). */
  ledgerOps: LedgerOp[];
  loyaltyOps: LoyaltyOp[];
  /** Currency units. `total` = cart items + additional costs, before discounts. */
  totals: { total: number; cartItemTotal: number; additionalCostTotal: number; discounts: number };
  evaluatedCampaignIds: number[];
  skippedCampaigns: { id: number; reason: string }[];
}

/** Work units one evaluation may spend (Talang nodes, selector item visits). */
export const DEFAULT_BUDGET = 2_000_000;

/**
 * Evaluates a customer session against the local data: pure and synchronous (reads the ledger and
 * loyalty limits, never changes them; the caller applies the returned ops).
 */
export class Engine {
  readonly data: EngineData;
  readonly opts: { budget?: number };
  /** Campaign ids that are enabled and linked to this store (or to none); the time window is checked per call. */
  readonly #linked: ReadonlySet<number>;
  readonly #plan: RNode;
  /** Per leaf, in plan order: campaign id, time window, quick prechecks (the sweep reads them sequentially). */
  readonly #table = new LeafTable();
  readonly #sweep: SweepState;

  constructor(data: EngineData, opts: { budget?: number } = {}) {
    this.data = data;
    this.opts = opts;
    const sid = data.store.id;
    this.#linked = new Set(data.rules.list.filter((c) => c.campaign.state === 'enabled' && (c.linkedStoreIds.length === 0 || (sid !== undefined && c.linkedStoreIds.includes(sid)))).map((c) => c.id));
    this.#plan = this.#resolve(data.rules.plan, undefined) ?? { kind: 'set', operator: 'ALL', mode: 'stackable', children: [], idx: new Int32Array(0) };
    this.#table.seal();
    this.#sweep = new SweepState(this.#table);
  }

  /** The plan with campaigns resolved and per-rule envelopes (with evaluation group fields) precomputed. */
  #resolve(n: PlanNode, group: { groupId: number; mode: string } | undefined): RNode | undefined {
    if (n.kind === 'campaign') {
      const c = this.data.rules.campaigns.get(n.id);
      // Campaigns that can never run here (disabled, other stores, absent) are left out of the plan.
      if (!c || !this.#linked.has(n.id)) return undefined;
      const envs = c.rules.map((r) => (group ? { ...r.env, evaluationGroupID: group.groupId, evaluationGroupMode: group.mode } : r.env));
      const j = this.#table.add(n.id, c.startMs, c.endMs, c.offlineCapable && c.rules.length === 1 ? c.rules[0]?.pre : undefined);
      return { kind: 'campaign', id: n.id, j, offline: c.offlineCapable, c, execs: c.rules.map((r) => r.exec), envs, pres: c.rules.map((r) => r.pre),
        n: c.rules.length, exec0: c.rules[0]?.exec, env0: envs[0], pre0: c.rules[0]?.pre };
    }
    const g = n.groupId !== undefined ? { groupId: n.groupId, mode: n.mode } : undefined;
    const children: RNode[] = [];
    for (const ch of n.children) { const r = this.#resolve(ch, g); if (r) children.push(r); }
    return { kind: 'set', operator: n.operator, mode: n.mode, children, idx: Int32Array.from(children, (r) => (r.kind === 'campaign' ? r.j : -1)) };
  }

  /** Running (state `enabled`, within its window) and linked to this store (or to none). */
  eligible(c: CompiledCampaign, now: number): boolean {
    return now >= c.startMs && now < c.endMs && this.#linked.has(c.id);
  }

  evaluate(input: EvaluateInput): EvaluateOutput {
    const { rules, loyalty } = this.data;
    const { session, now } = input;
    const cur = rules.cur;
    const state = session.state ?? 'open';
    const audiences = new Set((input.profile?.audienceMemberships ?? []).map((a) => a.id));
    let view: ReturnType<typeof buildSessionView>;
    try {
      view = buildSessionView({ customerSessionId: input.customerSessionId, session, profile: input.profile, store: this.data.store, app: rules.app, prices: this.data.prices, audiences, now, cur });
    } catch (e) {
      if (e instanceof EvalError || e instanceof RangeError) throw new StoregateError('SG_ERR_BAD_REQUEST', `cannot evaluate this session: ${e.message}`, { statusCode: 400 });
      throw e;
    }
    const profileId = session.profileId || input.profile?.integrationId || undefined;
    const cardId = session.loyaltyCards?.[0];
    const scope = rules.app.defaultDiscountScope ?? 'sessionTotal';
    const sessionRoom = scope === 'cartItems' ? view.cartItemTotal : scope === 'additionalCosts' ? view.additionalCostTotal : view.cartItemTotal + view.additionalCostTotal;
    const run = new Run({
      cur, lines: [...view.lineTotals], session: sessionRoom, enablePartial: rules.app.enablePartialDiscounts === true,
      sessionId: input.customerSessionId, profileId, cardId,
      holderKey: (pid) => loyalty.holderFor(pid, profileId, cardId),
      deductible: (key) => {
        const b = loyalty.balances.get(key);
        return b ? input.loyalty.available(key, input.customerSessionId, b.activePoints) : 0;
      },
    });
    const ctx: EvalCtx = {
      now, cur, timezone: rules.timezone, bind: view.bind, items: view.items, item: undefined, locals: undefined,
      budget: this.opts.budget ?? DEFAULT_BUDGET, memo: new Map(), coupon: undefined, audiences, fx: run,
      loyaltyBalance: (pid, kind) => {
        const key = loyalty.holderFor(pid, profileId, cardId);
        const b = key ? loyalty.balances.get(key) : undefined;
        if (!b || !key) return undefined;
        return kind === 'pending' ? (b.pendingPoints ?? 0) : b.activePoints - input.loyalty.spentExcluding(key, input.customerSessionId);
      },
    };
    const skipped = new Map<number, string>();

    if (state === 'cancelled') {
      return this.#finish(input, run, view, [], [], [], new Set());
    }

    const screened = screenCoupons({
      codes: session.couponCodes ?? [], index: this.data.coupons, caseSensitivity: rules.app.caseSensitivity, campaigns: rules.campaigns,
      eligible: (c) => this.eligible(c, now), now, profileId, sessionId: input.customerSessionId, ledger: input.ledger,
    });
    for (const id of screened.skipped) skipped.set(id, rules.campaigns.get(id)?.reason ?? 'not offline-capable');
    for (const e of screened.rejected) run.out.push(e);

    // Price-book per-item discounts for campaigns the rules do not evaluate here.
    // (A plain loop and one-line discounts: this runs for ~a third of the lines of every cart.)
    const answers = view.answers;
    for (let pos = 0; pos < answers.length; pos++) {
      const ans = answers[pos];
      if (!ans || ans.effects.length === 0) continue;
      const it = view.items[pos];
      if (!it) continue;
      const fx = ans.effects;
      for (let k = 0; k < fx.length; k++) {
        const f = fx[k] as PriceEffect, meta = f.meta;
        const c = rules.campaigns.get(meta.campaignId);
        if (c !== undefined && (!c.offlineCapable ? !this.eligible(c, now) : true)) continue;
        run.priceLineDiscount(meta, ans.type, ans.price, f.ref, it, f.value);
      }
    }

    const sweep = new Sweep(this.#sweep, run, ctx, view.bind, now, screened.candidates, skipped, rules.slots.getters);
    sweep.node(this.#plan);
    const outcome = sweep.outcome, accepted = sweep.accepted;

    // Coupons whose campaign was excluded by the evaluation tree.
    for (const [id, cand] of screened.candidates) {
      const o = outcome.get(id);
      const c = rules.campaigns.get(id);
      if (o === 'notFirst') run.out.push(rejectCoupon(cand.code, 'CouponPartOfNotTriggeredCampaign', c, { campaignExclusionReason: 'CampaignIsNotFirst' }, cand.coupon.id));
      else if (o === 'lowerDiscount') run.out.push(rejectCoupon(cand.code, 'CouponPartOfNotTriggeredCampaign', c, { campaignExclusionReason: 'CampaignGaveLowerDiscount' }, cand.coupon.id));
      else if (o === undefined) run.out.push(rejectCoupon(cand.code, 'CouponPartOfNotTriggeredCampaign', c, { campaignExclusionReason: 'CampaignNotInEvaluationSet' }, cand.coupon.id));
    }
    // Only codes with a usage limit go to the ledger: an unlimited code can be used by anyone any number of
    // times, so counting its uses would only grow the ledger (and its snapshot) with every basket.
    const limited = new Set<string>();
    for (const cand of screened.candidates.values()) if ((cand.coupon.usageLimit ?? 0) > 0) limited.add(cand.code);
    const redeemed = new Set(accepted.filter((a) => a.redeem && limited.has(a.code)).map((a) => a.code));
    return this.#finish(input, run, view, sweep.evaluated(), [...skipped].map(([id, reason]) => ({ id, reason })), accepted, redeemed);
  }

  #finish(input: EvaluateInput, run: Run, view: { cartItemTotal: number; additionalCostTotal: number }, evaluated: number[], skipped: { id: number; reason: string }[], _accepted: unknown[], redeemed: Set<string>): EvaluateOutput {
    const cur = this.data.rules.cur;
    const state = input.session.state ?? 'open';
    const lops = ledgerOps({ ledger: input.ledger, sessionId: input.customerSessionId, terminalId: input.terminalId, now: input.now, state, redeemed });
    const loyaltyOps: LoyaltyOp[] = [];
    if (state !== 'partially_returned') {
      const per = new Map<string, number>();
      if (state !== 'cancelled') for (const d of run.deductions) per.set(d.holderKey, (per.get(d.holderKey) ?? 0) + d.points);
      for (const h of input.loyalty.holdersOf(input.customerSessionId)) if (!per.has(h)) per.set(h, 0);
      for (const [h, points] of per) {
        const previous = input.loyalty.spentBy(h, input.customerSessionId);
        if (previous !== points) loyaltyOps.push({ op: 'spend', holderKey: h, sessionId: input.customerSessionId, points, previous });
      }
    }
    return {
      effects: state === 'cancelled' ? [] : run.out,
      ledgerOps: lops,
      loyaltyOps,
      totals: {
        total: fromMinor(view.cartItemTotal + view.additionalCostTotal, cur),
        cartItemTotal: fromMinor(view.cartItemTotal, cur),
        additionalCostTotal: fromMinor(view.additionalCostTotal, cur),
        discounts: fromMinor(run.discountTotal, cur),
      },
      evaluatedCampaignIds: evaluated,
      skippedCampaigns: skipped,
    };
  }
}
