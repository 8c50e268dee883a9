/**
 * Campaign budgets and limits offline (README "Local data", "Campaign budgets offline"): Talon.One's
 * `Campaign.limits` (`LimitConfig{action, limit, period, entities}`) and the store-local share of a campaign-wide
 * budget that head office sets per store and pushes with the rules (`budgets: {readAt, shares}`).
 *
 * - A limit without entities is campaign-wide: the shop may spend its share of what was left of it when head
 *   office read the campaign's counter (`Campaign.budgets[].counter`), never more. No share (head office could
 *   not read the counter, or pushed none) counts as nothing left: the budgeted action is not given offline.
 * - A limit per `Session` is counted within the session itself, exactly.
 * - A limit per `Profile`, `Identifier`, `Coupon`, `Store` or `Referral` counts uses the shop cannot see (the
 *   customer's at other stores and online, a coupon's elsewhere, the store's own online uses): its campaign is not
 *   offline-capable, with that reason.
 * - A limit on an action the shop never performs offline (creating coupons or referrals, giveaways, webhooks,
 *   reservations) cannot be reached here: it is ignored.
 *
 * When a budgeted effect does not fit, its rule fails and is rolled back, as Talon.One fails a rule whose budget is
 * exhausted (`SetDiscountEffectProps`: "The rule still fails when the budget reaches 0"); a coupon whose campaign
 * has no redemption left is rejected with `CampaignLimitReached`. With partial discounts Talon.One would give the
 * part that fits: the shop gives nothing then (less, never more; reconciliation shows the difference).
 *
 * A session's consumption is derived from its answer's effects (each budgeted campaign's, in the action's unit)
 * and journaled with the answer as `budgetOps`, like offline loyalty spending: re-evaluation replaces it, a
 * cancelled session frees it, and it is forgotten only when a rules push whose `budgets.readAt` is after the
 * session's close was delivered counts it (head office's counter then holds it).
 */
import type { EvalCtx } from './context.js';
import { Invalid, Unsupported } from './paths.js';
import type { Currency } from './money.js';
import type { Campaign, Effect } from './types.js';
import { SessionSpending } from './session-spending.js';

/** Unit of a limitable action: money (minor units), loyalty points (hundredths), or a count. */
export type BudgetUnit = 'money' | 'points' | 'count';

/** Limitable actions the shop performs offline, and how each is counted (`LimitConfig.action`). */
export const OFFLINE_ACTIONS: Readonly<Record<string, BudgetUnit>> = {
  setDiscount: 'money',
  setDiscountEffect: 'count',
  redeemCoupon: 'count',
  addFreeItemEffect: 'count',
  customEffect: 'count',
  createLoyaltyPoints: 'points',
  createLoyaltyPointsEffect: 'count',
  redeemLoyaltyPoints: 'points',
  redeemLoyaltyPointsEffect: 'count',
};

/** Limitable actions of blocks the shop never runs offline: a limit on them cannot be reached here. */
const NEVER_OFFLINE = new Set(['redeemReferral', 'createCoupon', 'createReferral', 'awardGiveaway', 'callApi', 'reserveCoupon']);
/** `LimitConfig.period` values the shop counts. */
export const LIMIT_PERIODS: readonly string[] = ['overall', 'daily', 'weekly', 'monthly', 'yearly'];
const PERIODS = new Set(LIMIT_PERIODS);
const UNCOUNTABLE: Readonly<Record<string, string>> = {
  Profile: "the customer's uses at other stores and online are not known here",
  Identifier: "the identifier's uses at other stores and online are not known here",
  Coupon: "the coupon's uses at other stores and online are not known here",
  Store: "this store's own uses answered by Talon.One are not counted here",
  Referral: 'referrals are not evaluated offline',
};

export interface LimitKey {
  /** `<campaignId>|<action>|<period>` (campaign-wide limits: the key of the store-wide count and of the share). */
  readonly key: string;
  readonly action: string;
  readonly unit: BudgetUnit;
  readonly period: string;
  readonly scope: 'campaign' | 'session';
  /** The limit as Talon.One states it (a session-wide limit is enforced from it; a campaign-wide one by the share). */
  readonly limit: number;
}

/** The limits of one campaign that the shop enforces. */
export interface CampaignBudget {
  readonly campaignId: number;
  readonly keys: readonly LimitKey[];
}

/**
 * The limits of a campaign that apply offline, or undefined when none does. Throws {@link Unsupported} for a limit
 * the shop cannot count (the campaign is then not offline-capable, with the reason).
 */
export function campaignBudget(c: Campaign): CampaignBudget | undefined {
  const limits = c.limits;
  if (limits === undefined || limits === null) return undefined;
  if (!Array.isArray(limits)) throw new Unsupported('its limits are not a list');
  const keys: LimitKey[] = [];
  limits.forEach((raw, i) => {
    const l = raw as { action?: unknown; limit?: unknown; period?: unknown; entities?: unknown } | null;
    if (l === null || typeof l !== 'object' || typeof l.action !== 'string' || typeof l.limit !== 'number' || !Number.isFinite(l.limit) || l.limit < 0) {
      throw new Unsupported(`campaign limit ${i} is not understood (LimitConfig needs action and limit)`);
    }
    const period = l.period === undefined || l.period === null ? 'overall' : String(l.period);
    if (!PERIODS.has(period)) throw new Unsupported(`campaign limit ${i} has period ${period}, not daily, weekly, monthly or yearly`);
    if (NEVER_OFFLINE.has(l.action)) return;
    const unit = OFFLINE_ACTIONS[l.action];
    if (unit === undefined) throw new Unsupported(`campaign limit on ${l.action} is not counted offline`);
    const entities = Array.isArray(l.entities) ? l.entities.map(String) : [];
    const other = entities.filter((e) => e !== 'Session');
    if (other.length > 0) {
      const e = other[0] as string;
      throw new Unsupported(`its ${l.action} limit per ${e} cannot be counted offline: ${UNCOUNTABLE[e] ?? 'an unknown limit entity'}`);
    }
    const scope = entities.includes('Session') ? 'session' : 'campaign';
    keys.push({ key: `${shareKey(c.id, l.action, period)}${scope === 'session' ? '|session' : ''}`, action: l.action, unit, period, scope, limit: l.limit });
  });
  return keys.length > 0 ? { campaignId: c.id, keys } : undefined;
}

/** Head office's shares for one store (the rules payload's `budgets`, storegate's addition). */
export interface BudgetShares {
  /** When head office read the counters the shares come from (ms). */
  readAt: number;
  shares: { campaignId: number; action: string; period?: string; share: number }[];
}

/** Units of one whole amount: minor units of money, hundredths of a point, whole counts. */
export function scaleOf(unit: BudgetUnit, cur: Currency): number {
  return unit === 'money' ? cur.factor : unit === 'points' ? 100 : 1;
}

/** The key of a campaign-wide limit and of its share (head office builds shares with it too). */
export function shareKey(campaignId: number | string, action: string, period: string | undefined | null): string {
  return `${campaignId}|${action}|${period ?? 'overall'}`;
}

/** Units of `action` one effect consumes (0: none). */
function effectUnits(action: string, e: Effect, cur: Currency): number {
  const t = e.effectType;
  const value = () => {
    const v = e.props.value;
    return typeof v === 'number' && Number.isFinite(v) ? v : 0;
  };
  switch (action) {
    case 'setDiscount': return t.startsWith('setDiscount') ? Math.round(value() * cur.factor) : 0;
    case 'setDiscountEffect': return t.startsWith('setDiscount') ? 1 : 0;
    case 'addFreeItemEffect': return t === 'addFreeItem' ? 1 : 0;
    case 'customEffect': return t === 'customEffect' ? 1 : 0;
    case 'createLoyaltyPoints': return t === 'addLoyaltyPoints' ? Math.round(value() * 100) : 0;
    case 'createLoyaltyPointsEffect': return t === 'addLoyaltyPoints' ? 1 : 0;
    case 'redeemLoyaltyPoints': return t === 'deductLoyaltyPoints' ? Math.round(value() * 100) : 0;
    case 'redeemLoyaltyPointsEffect': return t === 'deductLoyaltyPoints' ? 1 : 0;
    default: return 0; // redeemCoupon: counted from the accepted coupons
  }
}

/**
 * The budgets of one rules bundle: each budgeted campaign's keys, the campaigns whose limits the shop cannot count
 * (not offline-capable: their price-book discounts are not given either), and this store's shares in units.
 */
export class BudgetBook {
  readonly byCampaign: ReadonlyMap<number, CampaignBudget>;
  readonly #uncountable = new Set<number>();
  readonly readAt: number | null;
  readonly #shares = new Map<string, number>();
  readonly cur: Currency;

  constructor(campaigns: readonly { id: number; campaign: Campaign; budget?: CampaignBudget | undefined }[], shares: BudgetShares | undefined, cur: Currency) {
    const m = new Map<number, CampaignBudget>();
    for (const c of campaigns) {
      if (c.budget) m.set(c.budget.campaignId, c.budget);
      else if (Array.isArray(c.campaign.limits) && c.campaign.limits.length > 0) {
        // Not compiled (not offline-capable, maybe for another reason): its price-book lines still spend its limits.
        try {
          const b = campaignBudget(c.campaign);
          if (b) m.set(b.campaignId, b);
        } catch (e) {
          if (!(e instanceof Unsupported)) throw e;
          this.#uncountable.add(c.id);
        }
      }
    }
    this.byCampaign = m;
    this.cur = cur;
    this.readAt = shares ? shares.readAt : null;
    for (const s of shares?.shares ?? []) {
      const unit = OFFLINE_ACTIONS[s.action];
      if (unit === undefined) continue;
      // Rounded down: a share never grows by rounding.
      this.#shares.set(shareKey(s.campaignId, s.action, s.period), Math.floor(s.share * scaleOf(unit, cur) + 1e-9));
    }
  }

  /** Budgeted campaigns, and those whose limits cannot be counted offline. */
  get size(): number {
    return this.byCampaign.size + this.#uncountable.size;
  }

  /** The campaign has limits: its price-book discounts go through {@link BudgetRun.priceLine}. */
  limited(campaignId: number): boolean {
    return this.byCampaign.has(campaignId) || this.#uncountable.has(campaignId);
  }

  uncountable(campaignId: number): boolean {
    return this.#uncountable.has(campaignId);
  }

  /** The store's share of a campaign-wide key, in units (0: none pushed — nothing may be spent offline). */
  share(key: string): number {
    return this.#shares.get(key) ?? 0;
  }

  /** Campaign-wide keys of every budgeted campaign (what the store-wide count is kept for). */
  *storeKeys(): Iterable<LimitKey> {
    for (const b of this.byCampaign.values()) for (const k of b.keys) if (k.scope === 'campaign') yield k;
  }
}

export interface BudgetOp {
  op: 'spend';
  key: string;
  sessionId: string;
  /** Units this session now spends (replaces its previous figure). */
  units: number;
  /** The previous figure, for revert. */
  previous: number;
}

/**
 * One evaluation's view of the budgets: what each key has left for this session (its share minus what other
 * sessions of the store spent; a session-wide limit as it stands) and what the effects given so far take. It reads
 * the run's output, so a rule rolled back takes nothing with it.
 */
export class BudgetRun {
  constructor(
    readonly book: BudgetBook,
    readonly spent: BudgetLimits | undefined,
    readonly run: { readonly out: readonly Effect[]; readonly env: { readonly campaignId: number }; mark(): number; rollback(mark: number): void },
    readonly sessionId: string,
  ) {}

  /** Units key `k` may still take in this session, before this evaluation's effects. */
  room(k: LimitKey): number {
    if (k.scope === 'session') return Math.floor(k.limit * scaleOf(k.unit, this.book.cur) + 1e-9);
    return Math.max(0, this.book.share(k.key) - (this.spent?.spentExcluding(k.key, this.sessionId) ?? 0));
  }

  /** Units of `k`'s action the campaign's effects of this evaluation take. */
  used(k: LimitKey, campaignId: number): number {
    let n = 0;
    const out = this.run.out;
    for (let i = 0; i < out.length; i++) {
      const e = out[i] as Effect;
      if (e.campaignId === campaignId) n += effectUnits(k.action, e, this.book.cur);
    }
    return n;
  }

  /** The first key of a campaign its effects overrun, or undefined: they fit. */
  overrun(campaignId: number): { key: LimitKey; room: number; used: number } | undefined {
    const b = this.book.byCampaign.get(campaignId);
    if (!b) return undefined;
    for (const k of b.keys) {
      const used = this.used(k, campaignId);
      if (used === 0) continue;
      const room = this.room(k);
      if (used > room) return { key: k, room, used };
    }
    return undefined;
  }

  /**
   * A price-book discount of a campaign with limits (`give` adds it): kept only within the campaign's budgets — the
   * price book is that campaign's outcome, so it spends its budget like its rules would — and not given at all for a
   * campaign whose limits cannot be counted offline.
   */
  priceLine(campaignId: number, give: () => void): void {
    if (this.book.uncountable(campaignId)) return;
    const m = this.run.mark();
    give();
    if (!this.fits(campaignId)) this.run.rollback(m);
  }

  /** Whether the campaign's effects given so far fit its budgets. */
  fits(campaignId: number): boolean {
    return this.overrun(campaignId) === undefined;
  }

  /** Why the campaign's last rule did not fit, in words (README "Why not?"), or undefined. */
  why(campaignId: number): string | undefined {
    const o = this.overrun(campaignId);
    if (!o) return undefined;
    const scale = scaleOf(o.key.unit, this.book.cur);
    const fmt = (u: number) => (o.key.unit === 'count' ? String(u) : (u / scale).toFixed(o.key.unit === 'money' ? this.book.cur.decimals : 2));
    const what = o.key.scope === 'session' ? `its ${o.key.action} limit per session (${o.key.limit})` : this.book.share(o.key.key) === 0 && this.spent?.spentExcluding(o.key.key, this.sessionId) === 0 ? `its ${o.key.action} budget: this store has no share of it offline` : `this store's share of its ${o.key.action} budget`;
    return `the rule would exceed ${what}: ${fmt(o.room)} left, ${fmt(o.used)} needed`;
  }

  /**
   * `checkBudget` of the campaign being evaluated: what is left of `action` (the least over its keys), in the
   * action's unit, or undefined when the campaign has no limit on it (nothing to exhaust).
   */
  left(action: string): { units: number; scale: number } | undefined {
    const id = this.run.env.campaignId;
    const b = this.book.byCampaign.get(id);
    let least: number | undefined;
    let scale = 1;
    for (const k of b?.keys ?? []) {
      if (k.action !== action) continue;
      const l = this.room(k) - this.used(k, id);
      if (least === undefined || l < least) { least = l; scale = scaleOf(k.unit, this.book.cur); }
    }
    return least === undefined ? undefined : { units: Math.max(0, least), scale };
  }

  /** Whether campaign `c`'s coupon may be redeemed in this session (its redemption budgets have one left). */
  canRedeem(campaignId: number): boolean {
    for (const k of this.book.byCampaign.get(campaignId)?.keys ?? []) if (k.action === 'redeemCoupon' && this.room(k) < 1) return false;
    return true;
  }

  /**
   * The ops that set this session's store-wide consumption to what its effects take now (`redeemed`: campaigns
   * whose coupon it redeems). A cancelled session spends nothing; a partially returned one keeps what it spent
   * (the returned items' rollback is Talon.One's: less is never assumed here).
   */
  ops(state: string, redeemed: ReadonlySet<number>): BudgetOp[] {
    if (state === 'partially_returned') return [];
    const spent = this.spent;
    const ops: BudgetOp[] = [];
    const seen = new Set<string>();
    for (const b of this.book.byCampaign.values()) {
      for (const k of b.keys) {
        if (k.scope !== 'campaign') continue;
        seen.add(k.key);
        const units = state === 'cancelled' ? 0 : k.action === 'redeemCoupon' ? (redeemed.has(b.campaignId) ? 1 : 0) : this.used(k, b.campaignId);
        const previous = spent?.spentBy(k.key, this.sessionId) ?? 0;
        if (units !== previous) ops.push({ op: 'spend', key: k.key, sessionId: this.sessionId, units, previous });
      }
    }
    // Keys of campaigns no longer in the rules: what this session spent on them is given back.
    for (const key of spent?.keysOf(this.sessionId) ?? []) {
      if (seen.has(key)) continue;
      ops.push({ op: 'spend', key, sessionId: this.sessionId, units: 0, previous: spent?.spentBy(key, this.sessionId) ?? 0 });
    }
    return ops;
  }
}

export interface BudgetExport {
  version: 1;
  spent: { key: string; sessionId: string; units: number }[];
  /** Sessions Talon.One has (their close was delivered), and since when (ms). */
  confirmed?: { sessionId: string; at: number }[];
}

/**
 * What this store's sessions spent offline of each campaign-wide budget, per session (store-wide, like the coupon
 * ledger): kept in the ledger snapshot and rebuilt from the journaled `budgetOps` at a restart. A session's figure
 * is forgotten once a rules push read after its close reached Talon.One counts it ({@link countedByPush}).
 */
export class BudgetLimits {
  readonly #s = new SessionSpending();

  spentBy(key: string, sessionId: string): number {
    return this.#s.spentBy(key, sessionId);
  }

  /** Units spent on `key` by sessions other than `sessionId`. */
  spentExcluding(key: string, sessionId: string): number {
    return this.#s.spentExcluding(key, sessionId);
  }

  /** Keys `sessionId` spends on. */
  keysOf(sessionId: string): string[] {
    return this.#s.holdersOf(sessionId);
  }

  /** Units spent on `key` by every session. */
  total(key: string): number {
    return this.spentExcluding(key, '');
  }

  apply(ops: readonly BudgetOp[]): void {
    for (const o of ops) this.#s.spend(o.key, o.sessionId, o.units);
  }

  revert(ops: readonly BudgetOp[]): void {
    for (let i = ops.length - 1; i >= 0; i--) {
      const o = ops[i] as BudgetOp;
      this.#s.set(o.key, o.sessionId, o.previous);
    }
  }

  /** Talon.One has this session since `at` (its close was delivered). Returns whether anything changed. */
  confirm(sessionId: string, at: number): boolean {
    return this.#s.confirm(sessionId, at);
  }

  /**
   * Shares read from Talon.One at `readAt` come from counters that hold every session confirmed before then: those
   * sessions' spending is forgotten (else it would count twice). Returns how many sessions.
   */
  countedByPush(readAt: number): number {
    return this.#s.countedByPush(readAt);
  }

  sizes(): { keys: number; spending: number; confirmed: number } {
    const { holders, spending, confirmed } = this.#s.sizes();
    return { keys: holders, spending, confirmed };
  }

  export(): BudgetExport {
    const spent: BudgetExport['spent'] = [];
    for (const [k, s, u] of this.#s.entries()) spent.push({ key: k, sessionId: s, units: u });
    const confirmed = this.#s.confirmedList();
    return { version: 1, spent, ...(confirmed.length > 0 ? { confirmed } : {}) };
  }

  import(data: BudgetExport | undefined): void {
    this.#s.clear();
    if (data === undefined) return;
    if (data.version !== 1 || !Array.isArray(data.spent)) throw new Error('not a budget limits export (version 1)');
    for (const s of data.spent) this.#s.set(s.key, s.sessionId, s.units);
    this.#s.restoreConfirmed(data.confirmed ?? []);
  }
}

/**
 * The `checkBudget` block (`CheckBudgetBlock{operator: available|enoughFor, action, value}`): "`available` checks if
 * there is budget available for a given limitable action; `enoughFor` checks if the available budget meets or
 * exceeds a specific value limit". Offline, the budget is what the campaign's limits on that action leave this
 * session (the least of them; see {@link BudgetRun.left}); a campaign with no limit on the action has nothing to
 * exhaust, so both hold. An action the shop does not count offline makes the campaign not offline-capable.
 */
export function compileCheckBudget(b: Record<string, unknown>, where: string): (ctx: EvalCtx) => boolean {
  const op = b.operator;
  if (op !== 'available' && op !== 'enoughFor') throw new Invalid(`${where}/operator`, 'checkBudget operator must be available or enoughFor');
  const action = b.action;
  if (typeof action !== 'string') throw new Invalid(`${where}/action`, 'checkBudget needs an action');
  if (OFFLINE_ACTIONS[action] === undefined) throw new Unsupported(`checkBudget on ${action} is not supported offline (the shop does not count that action)`);
  if (op === 'available') return (ctx) => { const l = ctx.budgets?.left(action); return l === undefined || l.units > 0; };
  const value = b.value;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Invalid(`${where}/value`, 'checkBudget enoughFor needs a number value ≥ 0');
  return (ctx) => { const l = ctx.budgets?.left(action); return l === undefined || l.units >= Math.round(value * l.scale); };
}
