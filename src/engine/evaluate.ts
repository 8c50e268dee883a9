import { BudgetError, EvalError, type EvalCtx } from './context.js';
import type { CompiledCampaign, CompiledRules, PlanNode } from './compile-rules.js';
import type { Exec } from './blocks.js';
import { failsPrecheck, UNREAD } from './precheck.js';
import type { CouponIndex } from './coupons.js';
import type { CouponLedger, LedgerOp } from './coupon-ledger.js';
import { screenCoupons, ledgerOps, rejectCoupon, type CouponCandidate } from './coupon-check.js';
import type { LoyaltyIndex, LoyaltyLimits, LoyaltyOp } from './loyalty.js';
import { fromMinor } from './money.js';
import type { PriceBook, PriceEffect } from './pricebook.js';
import { Run, type RuleEnvelope } from './rule-run.js';
import { buildSessionView } from './session-view.js';
import type { Coupon, Effect, ProfileInput, SessionInput } from './types.js';
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

/** A plan leaf with what the hot loop needs inline (fewer objects touched per campaign). */
interface RLeaf {
  kind: 'campaign'; id: number; startMs: number; endMs: number; offline: boolean; c: CompiledCampaign;
  /** Index of the time window in `Engine.#windows` (doubles inline in one array: no boxed number per leaf). */
  wi: number;
  /** The rules' compiled blocks and envelopes, side by side (one object less to reach per rule). */
  execs: Exec[]; envs: RuleEnvelope[]; pres: (readonly unknown[] | undefined)[];
  /** Rule count and rule 0 inline: most campaigns have one rule, and each array is one more cache line. */
  n: number; exec0: Exec | undefined; env0: RuleEnvelope | undefined; pre0: readonly unknown[] | undefined;
}
type RNode = RLeaf | { kind: 'set'; operator: 'ALL' | 'FIRST'; mode: string; children: RNode[] };

/** `$Coupon` of the campaign being evaluated. */
function couponView(c: Coupon): Record<string, unknown> {
  return {
    Id: c.id, Code: c.value, Value: c.value, CampaignId: c.campaignId, UsageLimit: c.usageLimit ?? 0, UsageCounter: c.usageCounter ?? 0,
    Attributes: c.attributes ?? {}, StartDate: c.startDate ?? undefined, ExpiryDate: c.expiryDate ?? undefined, RecipientIntegrationId: c.recipientIntegrationId ?? undefined,
  };
}

type Outcome = 'triggered' | 'notTriggered' | 'notFirst' | 'lowerDiscount' | 'skipped';

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
  /** `[start, end)` ms of each leaf, side by side in plan order (the sweep reads them sequentially). */
  #windows: Float64Array = new Float64Array(0);
  #win: number[] = [];

  constructor(data: EngineData, opts: { budget?: number } = {}) {
    this.data = data;
    this.opts = opts;
    const sid = data.store.id;
    this.#linked = new Set(data.rules.list.filter((c) => c.campaign.state === 'enabled' && (c.linkedStoreIds.length === 0 || (sid !== undefined && c.linkedStoreIds.includes(sid)))).map((c) => c.id));
    this.#plan = this.#resolve(data.rules.plan, undefined) ?? { kind: 'set', operator: 'ALL', mode: 'stackable', children: [] };
    this.#windows = Float64Array.from(this.#win);
    this.#win = [];
  }

  /** The plan with campaigns resolved and per-rule envelopes (with evaluation group fields) precomputed. */
  #resolve(n: PlanNode, group: { groupId: number; mode: string } | undefined): RNode | undefined {
    if (n.kind === 'campaign') {
      const c = this.data.rules.campaigns.get(n.id);
      // Campaigns that can never run here (disabled, other stores, absent) are left out of the plan.
      if (!c || !this.#linked.has(n.id)) return undefined;
      const envs = c.rules.map((r) => (group ? { ...r.env, evaluationGroupID: group.groupId, evaluationGroupMode: group.mode } : r.env));
      const wi = this.#win.length;
      this.#win.push(c.startMs, c.endMs);
      return { kind: 'campaign', id: n.id, wi, startMs: c.startMs, endMs: c.endMs, offline: c.offlineCapable, c, execs: c.rules.map((r) => r.exec), envs, pres: c.rules.map((r) => r.pre),
        n: c.rules.length, exec0: c.rules[0]?.exec, env0: envs[0], pre0: c.rules[0]?.pre };
    }
    const g = n.groupId !== undefined ? { groupId: n.groupId, mode: n.mode } : undefined;
    const children: RNode[] = [];
    for (const ch of n.children) { const r = this.#resolve(ch, g); if (r) children.push(r); }
    return { kind: 'set', operator: n.operator, mode: n.mode, children };
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
    const evaluated: number[] = [];
    const outcome = new Map<number, Outcome>();
    const accepted: { code: string; redeem: boolean }[] = [];

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
        run.env = f.ref
          ? { campaignId: meta.campaignId, rulesetId: meta.rulesetId, ruleIndex: meta.ruleIndex, ruleName: meta.ruleName, selectedPriceType: ans.type, selectedPrice: ans.price, adjustmentReferenceId: f.ref }
          : { campaignId: meta.campaignId, rulesetId: meta.rulesetId, ruleIndex: meta.ruleIndex, ruleName: meta.ruleName, selectedPriceType: ans.type, selectedPrice: ans.price };
        run.lineDiscount(meta.name, it, f.value);
      }
    }

    const hasCands = screened.candidates.size > 0;
    const note = (id: number, o: Outcome) => { if (hasCands && screened.candidates.has(id)) outcome.set(id, o); };

    const pathGetters = rules.slots.getters;
    const pathValues: unknown[] = [];
    for (let i = 0; i < pathGetters.length; i++) pathValues.push(UNREAD);

    const windows = this.#windows;
    const evalCampaign = (leaf: RLeaf): boolean => {
      const wi = leaf.wi;
      if (now < (windows[wi] as number) || now >= (windows[wi + 1] as number)) return false;
      const id = leaf.id;
      if (!leaf.offline) { skipped.set(id, leaf.c.reason ?? 'not offline-capable'); note(id, 'skipped'); return false; }
      const cand: CouponCandidate | undefined = hasCands ? screened.candidates.get(id) : undefined;
      // (`cand !== undefined` is `note`'s `candidates.has(id)`: one map lookup per campaign, not two.)
      // Most leaves: one rule, no coupon, a failing precheck. Same state as the general path below
      // (marks, rollback and release change nothing then; pure prechecks never throw), minus its work.
      let pre0Ok = false;
      if (cand === undefined && leaf.n === 1 && leaf.pre0 !== undefined) {
        run.env = leaf.env0 as RuleEnvelope;
        run.couponUse = undefined;
        ctx.coupon = undefined;
        if (failsPrecheck(leaf.pre0, pathValues, pathGetters, ctx)) { evaluated.push(id); return false; }
        pre0Ok = true;
      }
      ctx.coupon = cand?.coupon;
      if (cand) view.bind.Coupon = couponView(cand.coupon);
      const start = run.out.length;
      const campaignMark = run.mark();
      let triggered = false;
      let couponUsed: boolean | undefined;
      const n = leaf.n;
      try {
        for (let k = 0; k < n; k++) {
          run.env = (k === 0 ? leaf.env0 : leaf.envs[k]) as RuleEnvelope;
          run.couponUse = undefined;
          const ruleStart = run.out.length;
          const m = run.mark();
          let ok: boolean;
          const pre = k === 0 ? leaf.pre0 : leaf.pres[k];
          if (pre !== undefined && !(k === 0 && pre0Ok) && failsPrecheck(pre, pathValues, pathGetters, ctx)) ok = false; // as running it would
          else try { ok = ((k === 0 ? leaf.exec0 : leaf.execs[k]) as Exec)(ctx); } catch (e) { if (e instanceof EvalError && !(e instanceof BudgetError)) ok = false; else throw e; }
          if (!ok) { run.rollback(m, true); run.flushFailures(); continue; }
          run.release(m);
          triggered = true;
          if (run.couponUse !== undefined && cand) {
            for (let i = ruleStart; i < run.out.length; i++) (run.out[i] as Effect).triggeredByCoupon = cand.coupon.id;
            if (couponUsed === undefined) {
              run.emit('acceptCoupon', { value: cand.code });
              const acc = run.out.pop() as Effect;
              acc.triggeredByCoupon = cand.coupon.id;
              run.out.splice(ruleStart, 0, acc);
            }
            couponUsed = (couponUsed ?? false) || run.couponUse;
          }
          run.flushFailures();
        }
      } catch (e) {
        if (!(e instanceof BudgetError)) throw e;
        run.rollback(campaignMark);
        run.out.length = start;
        skipped.set(id, 'evaluation budget exceeded');
        note(id, 'skipped');
        ctx.coupon = undefined;
        view.bind.Coupon = undefined;
        return false;
      }
      run.release(campaignMark);
      ctx.coupon = undefined;
      if (cand) view.bind.Coupon = undefined;
      evaluated.push(id);
      if (cand) {
        if (couponUsed !== undefined) accepted.push({ code: cand.code, redeem: couponUsed });
        else run.out.push(rejectCoupon(cand.code, 'CouponRejectedByCondition', leaf.c, {}, cand.coupon.id));
      }
      if (cand) outcome.set(id, triggered ? 'triggered' : 'notTriggered');
      return triggered;
    };

    const markAll = (nodes: readonly RNode[], why: Outcome) => {
      for (const p of nodes) {
        if (p.kind === 'campaign') { if (!outcome.has(p.id)) note(p.id, why); } else markAll(p.children, why);
      }
    };

    const evalNode = (n: RNode): boolean => {
      if (n.kind === 'campaign') return evalCampaign(n);
      const ch = n.children;
      if (n.mode === 'lowestDiscount' || n.mode === 'highestDiscount') {
        let best = -1, bestValue = 0;
        for (let i = 0; i < ch.length; i++) {
          const node = ch[i] as RNode;
          const m = run.mark();
          const before = run.discountTotal;
          const evalLen = evaluated.length, accLen = accepted.length;
          const t = evalNode(node);
          const v = run.discountTotal - before;
          run.rollback(m);
          evaluated.length = evalLen;
          accepted.length = accLen;
          if (node.kind === 'campaign') outcome.delete(node.id);
          if (t && (best < 0 || (n.mode === 'highestDiscount' ? v > bestValue : v < bestValue))) { best = i; bestValue = v; }
        }
        if (best >= 0) evalNode(ch[best] as RNode);
        ch.forEach((node, i) => { if (i !== best && node.kind === 'campaign' && !outcome.has(node.id)) note(node.id, best < 0 ? 'notTriggered' : 'lowerDiscount'); });
        return best >= 0;
      }
      let any = false;
      for (let i = 0; i < ch.length; i++) {
        const node = ch[i] as RNode;
        const t = node.kind === 'campaign' ? evalCampaign(node) : evalNode(node);
        any = any || t;
        if (t && n.operator === 'FIRST') { if (hasCands) markAll(ch.slice(i + 1), 'notFirst'); break; }
      }
      return any;
    };

    evalNode(this.#plan);

    // Coupons whose campaign was excluded by the evaluation tree.
    for (const [id, cand] of screened.candidates) {
      const o = outcome.get(id);
      const c = rules.campaigns.get(id);
      if (o === 'notFirst') run.out.push(rejectCoupon(cand.code, 'CouponPartOfNotTriggeredCampaign', c, { campaignExclusionReason: 'CampaignIsNotFirst' }, cand.coupon.id));
      else if (o === 'lowerDiscount') run.out.push(rejectCoupon(cand.code, 'CouponPartOfNotTriggeredCampaign', c, { campaignExclusionReason: 'CampaignGaveLowerDiscount' }, cand.coupon.id));
      else if (o === undefined) run.out.push(rejectCoupon(cand.code, 'CouponPartOfNotTriggeredCampaign', c, { campaignExclusionReason: 'CampaignNotInEvaluationSet' }, cand.coupon.id));
    }
    const redeemed = new Set(accepted.filter((a) => a.redeem).map((a) => a.code));
    return this.#finish(input, run, view, evaluated, [...skipped].map(([id, reason]) => ({ id, reason })), accepted, redeemed);
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
