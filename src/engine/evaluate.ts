import { BudgetBook, BudgetRun, type BudgetLimits, type BudgetOp } from './budgets.js';
import { EvalError, type EvalCtx } from './context.js';
import type { CompiledCampaign, CompiledRules, PlanNode } from './compile-rules.js';
import { LeafTable, Sweep, SweepState, type Outcome, type RNode } from './sweep.js';
import type { Catalog } from './catalog.js';
import type { CouponIndex } from './coupons.js';
import type { CouponLedger, LedgerOp } from './coupon-ledger.js';
import { screenCoupons, ledgerOps, rejectCoupon } from './coupon-check.js';
import { campaignReport, Explainer, ruleFailureReasons, type CampaignExplanation, type Explanation } from './explain.js';
import { fallbackRunning, runStandIns, type FallbackReason, type FallbackRules } from './fallback.js';
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
  /** The cart item catalog: lines lacking attributes are completed from it (absent: none). */
  catalog?: Catalog;
  /** Fallback promotions (README "Fallback promotions"): the rule set, an engine over it, the rules' ingestion time. */
  fallback?: { set: FallbackRules; whole: Engine; rulesAt: number | null };
  store: { id: number | undefined; integrationId: string; name?: string; attributes: Record<string, unknown> };
  /** Campaign budgets and this store's shares of them (budgets.ts; absent: no shares pushed). */
  budgets?: BudgetBook;
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
  /** What the store's other sessions spent offline of campaign budgets (budgets.ts); absent: nothing. */
  budgets?: BudgetLimits;
  /**
   * Say why campaigns did not apply (`responseContent: ["ruleFailureReasons"]`, `storegate explain`): the output
   * gets `explanation`. Off, the evaluation does none of that work; on, its effects are the same.
   */
  explain?: boolean;
}

export interface EvaluateOutput {
  effects: Effect[];
  /** To apply to the ledger once the answer's journal record is durable (or revert on failure). */
  ledgerOps: LedgerOp[];
  loyaltyOps: LoyaltyOp[];
  /** This session's consumption of campaign budgets, journaled with the answer like `loyaltyOps`. */
  budgetOps: BudgetOp[];
  /** Currency units. `total` = cart items + additional costs, before discounts. */
  totals: { total: number; cartItemTotal: number; additionalCostTotal: number; discounts: number };
  evaluatedCampaignIds: number[];
  skippedCampaigns: { id: number; reason: string }[];
  /** Set when fallback promotions were evaluated, and why. */
  fallback?: FallbackReason;
  /** With `explain: true` only. */
  explanation?: Explanation;
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
  /** A rule here (or a fallback campaign standing in) may read item attributes: the catalog completes lines. */
  readonly #completeItems: boolean;
  /**
   * Campaigns whose price-book effects are not given: offline-capable ones whose pushed ruleset has strikethrough
   * rules. Such a campaign writes its per-item discount twice, as promotion rules (what a session gets, evaluated
   * here) and as strikethrough rules (the shelf price, the price book); giving both would give it twice. Without
   * strikethrough rules in the ruleset the price book is the only offline copy of their outcome, and is given.
   */
  readonly #rulesGivePrices: ReadonlySet<number>;
  /** Fallback campaigns that stand in for campaigns of this store that are not offline-capable. */
  readonly #standIns: { c: CompiledCampaign; replaced: CompiledCampaign[] }[] = [];
  /** The campaigns' budgets (only when one has limits the shop enforces: else evaluations skip them). */
  readonly #book: BudgetBook | undefined;

  constructor(data: EngineData, opts: { budget?: number } = {}) {
    this.data = data;
    this.opts = opts;
    const sid = data.store.id;
    this.#rulesGivePrices = new Set(data.rules.list.filter((c) => c.offlineCapable && (c.ruleset.strikethroughRules?.length ?? 0) > 0).map((c) => c.id));
    this.#linked = new Set(data.rules.list.filter((c) => c.campaign.state === 'enabled' && (c.linkedStoreIds.length === 0 || (sid !== undefined && c.linkedStoreIds.includes(sid)))).map((c) => c.id));
    this.#plan = this.#resolve(data.rules.plan, undefined) ?? { kind: 'set', operator: 'ALL', mode: 'stackable', children: [], idx: new Int32Array(0) };
    this.#table.seal();
    this.#sweep = new SweepState(this.#table);
    this.#completeItems = data.rules.readsItemDetails || (data.fallback?.set.rules.readsItemDetails ?? false);
    const book = data.budgets ?? new BudgetBook(data.rules.list, undefined, data.rules.cur);
    this.#book = book.size > 0 ? book : undefined;
    for (const [fid, ids] of data.fallback?.set.replaces ?? []) {
      const c = data.fallback?.set.rules.campaigns.get(fid);
      const replaced = ids.map((id) => data.rules.campaigns.get(id)).filter((r): r is CompiledCampaign => r !== undefined && !r.offlineCapable && this.#linked.has(r.id));
      if (c && replaced.length > 0) this.#standIns.push({ c, replaced });
    }
  }

  /** Why the fallback promotions are evaluated instead of the rules at `now`, or undefined. */
  #wholeFallback(now: number): FallbackReason | undefined {
    const fb = this.data.fallback;
    if (fb === undefined) return undefined;
    if (this.data.rules.list.length === 0) return 'rulesEmpty';
    const max = fb.set.maxRulesAgeMs;
    return max !== null && (fb.rulesAt === null || now - fb.rulesAt > max) ? 'rulesStale' : undefined;
  }

  /** The evaluation by the fallback promotions alone, explained as such. */
  #viaFallback(why: FallbackReason, input: EvaluateInput): EvaluateOutput {
    const fb = this.data.fallback as NonNullable<EngineData['fallback']>;
    const out = fb.whole.evaluate(input);
    out.fallback = why;
    if (out.explanation) {
      const reason = why === 'rulesEmpty' ? 'the shop has no rules data: its fallback promotions were evaluated instead' : `the rules data is older than offline.fallback.maxRulesAgeSec (${Math.round((fb.set.maxRulesAgeMs ?? 0) / 1000)} s): the fallback promotions were evaluated instead`;
      const main: CampaignExplanation[] = this.data.rules.list.map((c) => ({ id: c.id, name: c.name, rulesetId: c.rulesetId, outcome: 'replacedByFallback', reason, rules: [] }));
      out.explanation.campaigns = [...main, ...out.explanation.campaigns.map((c) => ({ ...c, fallback: true as const }))];
      out.explanation.fallback = reason;
    }
    return out;
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
    if (this.data.fallback !== undefined) {
      const why = this.#wholeFallback(now);
      if (why !== undefined) return this.#viaFallback(why, input);
    }
    const cur = rules.cur;
    const state = session.state ?? 'open';
    const audiences = new Set((input.profile?.audienceMemberships ?? []).map((a) => a.id));
    let view: ReturnType<typeof buildSessionView>;
    try {
      view = buildSessionView({ customerSessionId: input.customerSessionId, session, profile: input.profile, store: this.data.store, app: rules.app, prices: this.data.prices, catalog: this.data.catalog, completeItems: this.#completeItems, audiences, now, cur });
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
      holderKey: (pid, sub) => loyalty.holderFor(pid, profileId, cardId, sub),
      deductible: (key) => {
        const b = loyalty.balances.get(key);
        return b ? input.loyalty.available(key, input.customerSessionId, b.activePoints) : 0;
      },
      cartScope: rules.app.enableCascadingDiscounts === true ? scope : undefined, costs: session, costsInSession: scope !== 'cartItems',
    });
    const budgets = this.#book !== undefined ? new BudgetRun(this.#book, input.budgets, run, input.customerSessionId) : undefined;
    const ctx: EvalCtx = {
      now, cur, timezone: rules.timezone, bind: view.bind, items: view.items, item: undefined, locals: undefined,
      budget: this.opts.budget ?? DEFAULT_BUDGET, memo: new Map(), coupon: undefined, audiences, fx: run, budgets,
      loyaltyBalance: (pid, kind, sub) => {
        const key = loyalty.holderFor(pid, profileId, cardId, sub);
        const b = key ? loyalty.balances.get(key) : undefined;
        if (!b || !key) return undefined;
        return kind === 'pending' ? (b.pendingPoints ?? 0) : b.activePoints - input.loyalty.spentExcluding(key, input.customerSessionId);
      },
    };
    const skipped = new Map<number, string>();

    if (state === 'cancelled') {
      const out = this.#finish(input, run, view, [], [], [], new Set(), budgets, new Set());
      if (input.explain === true) out.explanation = { campaigns: [], fallback: null, missingAttributes: [], ruleFailureReasons: [], note: 'the session is cancelled: no campaign is evaluated' };
      return out;
    }
    const x = input.explain === true ? new Explainer() : undefined;

    const screened = screenCoupons({
      codes: session.couponCodes ?? [], index: this.data.coupons, caseSensitivity: rules.app.caseSensitivity, campaigns: rules.campaigns,
      eligible: (c) => this.eligible(c, now), now, profileId, sessionId: input.customerSessionId, ledger: input.ledger,
      ...(budgets !== undefined ? { canRedeem: (id: number) => budgets.canRedeem(id) } : {}),
    });
    for (const id of screened.skipped) skipped.set(id, rules.campaigns.get(id)?.reason ?? 'not offline-capable');
    for (const e of screened.rejected) run.out.push(e);

    // Price-book per-item discounts (README of this folder, "Price book"): of campaigns the rules data does not hold,
    // and of campaigns running for this store, unless the rules give that campaign's per-item discounts here
    // (offline-capable with strikethrough rules in its pushed ruleset). (A plain loop and one-line discounts: this
    // runs for ~a third of the lines of every cart.)
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
        if (c !== undefined && (!this.eligible(c, now) || this.#rulesGivePrices.has(c.id))) continue;
        if (budgets !== undefined && c !== undefined && this.#book?.limited(c.id) === true) { budgets.priceLine(c.id, () => run.priceLineDiscount(meta, ans.type, ans.price, f.ref, it, f.value)); continue; }
        run.priceLineDiscount(meta, ans.type, ans.price, f.ref, it, f.value);
      }
    }

    const sweep = new Sweep(this.#sweep, run, ctx, view.bind, now, screened.candidates, skipped, rules.slots.getters, x);
    sweep.node(this.#plan);
    const outcome = sweep.outcome, accepted = sweep.accepted;
    const evaluated = sweep.evaluated();
    // Fallback promotions standing in for campaigns of this store the shop cannot evaluate (none configured: skipped).
    let standIns: CompiledCampaign[] | undefined;
    if (this.#standIns.length > 0) {
      standIns = this.#standIns.filter((s) => fallbackRunning(s.c, now) && s.replaced.some((c) => this.eligible(c, now))).map((s) => s.c);
      if (standIns.length > 0) evaluated.push(...runStandIns(standIns, run, ctx, skipped, x ? (c, k, ok) => x.rule(c, k, ok, ctx, run, undefined) : undefined).evaluated);
    }

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
    const redeems = new Set(accepted.filter((a) => a.redeem).map((a) => a.code));
    const redeemedCampaigns = new Set([...screened.candidates].filter(([, cand]) => redeems.has(cand.code)).map(([id]) => id));
    const out = this.#finish(input, run, view, evaluated, [...skipped].map(([id, reason]) => ({ id, reason })), accepted, redeemed, budgets, redeemedCampaigns);
    if (standIns !== undefined && standIns.length > 0) out.fallback = 'notOfflineCapable';
    if (x !== undefined) out.explanation = this.#explanation(x, now, outcome, skipped, evaluated, standIns ?? [], new Set(out.effects.map((e) => e.campaignId)));
    return out;
  }

  /** The explanation of an evaluation (`explain: true`): every campaign of the rules and of the fallback set. */
  #explanation(x: Explainer, now: number, outcome: ReadonlyMap<number, Outcome>, skipped: ReadonlyMap<number, string>, evaluated: readonly number[], standIns: readonly CompiledCampaign[], gave: ReadonlySet<number>): Explanation {
    const rules = this.data.rules;
    const done = new Set(evaluated);
    const campaigns = campaignReport({ rules, now, storeId: this.data.store.id, storeIntegrationId: this.data.store.integrationId, inPlan: (id) => this.#table.byCampaign.has(id), outcome, skipped, evaluated: done, recorder: x, gave });
    const reasons = ruleFailureReasons(campaigns, rules);
    const fb = this.data.fallback;
    for (const c of fb?.set.rules.list ?? []) {
      const ran = standIns.includes(c);
      const rs = x.rulesOf(c.id);
      const stands = fb?.set.replaces.get(c.id);
      const e: CampaignExplanation = ran
        ? { id: c.id, name: c.name, rulesetId: c.rulesetId, outcome: rs.some((r) => r.triggered) ? 'triggered' : 'notTriggered', reason: rs.some((r) => r.triggered) ? `stands in for campaign(s) ${(stands ?? []).join(', ')}, not offline-capable here` : `stands in for campaign(s) ${(stands ?? []).join(', ')}, but no rule triggered`, fallback: true, rules: rs }
        : { id: c.id, name: c.name, rulesetId: c.rulesetId, outcome: 'fallbackIdle', reason: stands ? `stands in for campaign(s) ${stands.join(', ')} only while one of them runs here and is not offline-capable` : 'used only when the rules data is empty or older than offline.fallback.maxRulesAgeSec', fallback: true, rules: [] };
      campaigns.push(e);
      if (ran) reasons.push(...ruleFailureReasons([e], fb?.set.rules ?? rules));
    }
    return { campaigns, fallback: standIns.length > 0 ? 'fallback promotions stood in for campaigns that are not offline-capable' : null, missingAttributes: [...x.missing].sort(), ruleFailureReasons: reasons };
  }

  #finish(input: EvaluateInput, run: Run, view: { cartItemTotal: number; additionalCostTotal: number }, evaluated: number[], skipped: { id: number; reason: string }[], _accepted: unknown[], redeemed: Set<string>, budgets: BudgetRun | undefined, redeemedCampaigns: ReadonlySet<number>): EvaluateOutput {
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
      budgetOps: budgets ? budgets.ops(state, redeemedCampaigns) : [],
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
