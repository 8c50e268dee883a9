/**
 * Campaign budgets and limits offline, with the store-local share head office pushes with the rules. Sources:
 * Talon.One's Management API `Campaign.limits` (`LimitConfig{action, limit, period, entities}`), `CampaignBudget
 * {action, limit, counter}`, `CheckBudgetBlock` ("`available` checks if there is budget available for a given
 * limitable action; `enoughFor` checks if the available budget meets or exceeds a specific value limit"),
 * `SetDiscountEffectProps` ("The rule still fails when the budget reaches 0"), `RejectCouponEffectProps`
 * (`CampaignLimitReached`: "The campaign-wide coupon code redemption limit has been reached"), and the docs page
 * "Managing campaign budgets" (campaign, profile, unique identifier, coupon and referral budgets).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BudgetLimits, campaignBudget } from '../../src/engine/budgets.js';
import { LocalData } from '../../src/engine/local-data.js';
import { CouponLedger } from '../../src/engine/coupon-ledger.js';
import { LoyaltyLimits } from '../../src/engine/loyalty.js';
import { FileSnapshotStore } from '../../src/state/snapshot-store.js';
import { ManualClock } from '../../src/platform/clock.js';
import { DataError } from '../../src/core/errors.js';
import type { EvaluateOutput } from '../../src/engine/evaluate.js';
import type { SessionState } from '../../src/engine/types.js';
import { campaign, NOW, rulesPayload, type B } from './engine-helpers.js';

const discount10 = [{ type: 'awardDiscount', name: 'ten off', value: 10, target: { type: 'cart' }, partial: false }];
const limits = (...l: B[]) => ({ campaign: { limits: l } });

async function localData(rules: B): Promise<LocalData> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-budget-'));
  const ld = new LocalData({ store: new FileSnapshotStore(dir), clock: new ManualClock(NOW), storeIntegrationId: 'store-042' });
  await ld.start();
  await ld.ingest('rules', rules);
  return ld;
}

/** Evaluates a session of `total` EUR (one line) and applies its budget ops to `spent`, as the journal would. */
function sell(ld: LocalData, spent: BudgetLimits, id: string, opts: { total?: number; state?: SessionState; coupons?: string[]; explain?: boolean; ledger?: CouponLedger } = {}): EvaluateOutput {
  const out = ld.engine().evaluate({
    customerSessionId: id,
    session: { cartItems: [{ sku: 'A', price: opts.total ?? 50, quantity: 1 }], ...(opts.state ? { state: opts.state } : {}), ...(opts.coupons ? { couponCodes: opts.coupons } : {}) },
    now: NOW, ledger: opts.ledger ?? new CouponLedger(), loyalty: new LoyaltyLimits(0), budgets: spent, ...(opts.explain ? { explain: true } : {}),
  });
  spent.apply(out.budgetOps);
  return out;
}
const given = (out: EvaluateOutput) => out.effects.filter((e) => e.effectType === 'setDiscount').reduce((a, e) => a + (e.props.value as number), 0);

describe('which limits the shop honours offline', () => {
  const c = (l: unknown[]) => ({ id: 7, name: 'c', state: 'enabled', limits: l });
  it('campaign-wide and per-session limits are counted; per profile, identifier, coupon, store are not offline-capable', () => {
    expect(campaignBudget(c([{ action: 'setDiscount', limit: 100, entities: [] }]))?.keys).toEqual([{ key: '7|setDiscount|overall', action: 'setDiscount', unit: 'money', period: 'overall', scope: 'campaign', limit: 100 }]);
    expect(campaignBudget(c([{ action: 'redeemCoupon', limit: 5, period: 'daily', entities: ['Session'] }]))?.keys[0]).toMatchObject({ scope: 'session', period: 'daily' });
    for (const [e, why] of [['Profile', "customer's uses"], ['Identifier', "identifier's uses"], ['Coupon', "coupon's uses"], ['Store', "store's own uses"]]) {
      expect(() => campaignBudget(c([{ action: 'setDiscount', limit: 1, entities: [e] }]))).toThrow(new RegExp(`per ${e} cannot be counted offline: .*${why}`));
    }
    expect(campaignBudget(c([{ action: 'createCoupon', limit: 3, entities: ['Profile'] }]))).toBeUndefined(); // never done offline
    expect(() => campaignBudget(c([{ action: 'somethingNew', limit: 3, entities: [] }]))).toThrow(/not counted offline/);
    expect(() => campaignBudget(c([{ action: 'setDiscount' }]))).toThrow(/not understood/);
    expect(campaignBudget(c([]))).toBeUndefined();
  });

  it('a campaign with a per-profile limit is skipped offline with the reason', async () => {
    const ld = await localData(rulesPayload([campaign(1, [discount10], limits({ action: 'setDiscount', limit: 50, entities: ['Profile'] }))]));
    expect(ld.status().campaigns[0]).toMatchObject({ offlineCapable: false, reason: expect.stringContaining('per Profile cannot be counted offline') });
  });

  it('shares are validated with JSON paths', async () => {
    const bad = { ...rulesPayload([campaign(1, [discount10])]), budgets: { readAt: -1, shares: [{ campaignId: 9, action: 'fly', share: -1 }] } };
    const ld = await localData(rulesPayload([]));
    await expect(ld.ingest('rules', { ...bad, version: 2 })).rejects.toBeInstanceOf(DataError);
    try { await ld.ingest('rules', { ...bad, version: 2 }); } catch (e) {
      expect((e as DataError).details.map((d) => d.path)).toEqual(['/budgets/readAt', '/budgets/shares/0/campaignId', '/budgets/shares/0/action', '/budgets/shares/0/share']);
    }
  });
});

describe('a campaign-wide budget with the store share', () => {
  const payload = (share?: number, extra: B = {}) => ({
    ...rulesPayload([campaign(1, [discount10], limits({ action: 'setDiscount', limit: 1000, entities: [] }))]),
    ...(share === undefined ? {} : { budgets: { readAt: NOW - 60_000, shares: [{ campaignId: 1, action: 'setDiscount', share }] } }),
    ...extra,
  });

  it('without a share the budgeted discount is not given offline (the rule fails, explained)', async () => {
    const ld = await localData(payload());
    const out = sell(ld, new BudgetLimits(), 's1', { explain: true });
    expect(given(out)).toBe(0);
    expect(out.explanation?.campaigns[0]).toMatchObject({ outcome: 'notTriggered' });
    expect(out.explanation?.campaigns[0]?.rules[0]?.failed?.details).toBe('the rule would exceed its setDiscount budget: this store has no share of it offline: 0.00 left, 10.00 needed');
  });

  it('is never exceeded across sessions; a session keeps its own share on re-evaluation; a cancel gives it back', async () => {
    const ld = await localData(payload(25));
    const spent = new BudgetLimits();
    expect(given(sell(ld, spent, 's1'))).toBe(10);
    expect(given(sell(ld, spent, 's2'))).toBe(10);
    expect(given(sell(ld, spent, 's3'))).toBe(0); // 5 left of 25
    expect(spent.total('1|setDiscount|overall')).toBe(2000);
    expect(given(sell(ld, spent, 's1'))).toBe(10); // its own 10 is not counted against it
    sell(ld, spent, 's2', { state: 'cancelled' });
    expect(spent.total('1|setDiscount|overall')).toBe(1000);
    expect(given(sell(ld, spent, 's3'))).toBe(10);
  });

  it('a partially returned session keeps what it spent; a session discounted less gives the rest back', async () => {
    const ld = await localData(payload(20));
    const spent = new BudgetLimits();
    sell(ld, spent, 's1');
    expect(sell(ld, spent, 's1', { state: 'partially_returned' }).budgetOps).toEqual([]);
    expect(spent.spentBy('1|setDiscount|overall', 's1')).toBe(1000);
    const less = sell(ld, spent, 's1', { total: 4 });
    expect(less.budgetOps).toEqual([{ op: 'spend', key: '1|setDiscount|overall', sessionId: 's1', units: Math.round(given(less) * 100), previous: 1000 }]);
    expect(spent.spentBy('1|setDiscount|overall', 's1')).toBeLessThan(1000);
  });

  it('forgets a confirmed session once a push read after it counts it, not before', () => {
    const spent = new BudgetLimits();
    spent.apply([{ op: 'spend', key: 'k', sessionId: 'a', units: 5, previous: 0 }, { op: 'spend', key: 'k', sessionId: 'b', units: 7, previous: 0 }]);
    expect(spent.confirm('a', 1000)).toBe(true);
    expect(spent.countedByPush(999)).toBe(0);
    expect(spent.countedByPush(1000)).toBe(1);
    expect(spent.total('k')).toBe(7);
    const copy = new BudgetLimits();
    copy.import(spent.export());
    expect(copy.export()).toEqual(spent.export());
  });
});

describe('other budgets', () => {
  it('a per-session limit on discount effects lets the first rule give and fails the second', async () => {
    const ld = await localData(rulesPayload([campaign(1, [discount10, [{ type: 'awardDiscount', name: 'five', value: 5, target: { type: 'cart' }, partial: false }]], limits({ action: 'setDiscountEffect', limit: 1, entities: ['Session'] }))]));
    const out = sell(ld, new BudgetLimits(), 's1');
    expect(out.effects.map((e) => e.props.name)).toEqual(['ten off']);
    expect(out.budgetOps).toEqual([]); // counted in the session alone
  });

  it('a coupon whose campaign has no redemption left is rejected with CampaignLimitReached', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-budget-'));
    const ld = new LocalData({ store: new FileSnapshotStore(dir), clock: new ManualClock(NOW), storeIntegrationId: 'store-042' });
    await ld.start();
    await ld.ingest('rules', { ...rulesPayload([campaign(1, [[{ type: 'checkCoupon', redeem: true }, ...discount10]], limits({ action: 'redeemCoupon', limit: 100, entities: [] }))]), budgets: { readAt: NOW, shares: [{ campaignId: 1, action: 'redeemCoupon', share: 1 }] } });
    await ld.ingest('coupons', { version: 1, full: true, coupons: [{ id: 1, value: 'A1', campaignId: 1 }, { id: 2, value: 'B2', campaignId: 1 }] });
    const spent = new BudgetLimits();
    const a = sell(ld, spent, 'sa', { coupons: ['A1'] });
    expect(a.effects.map((e) => e.effectType)).toEqual(['acceptCoupon', 'setDiscount']);
    expect(spent.spentBy('1|redeemCoupon|overall', 'sa')).toBe(1);
    const b = sell(ld, spent, 'sb', { coupons: ['B2'] });
    expect(b.effects.map((e) => [e.effectType, e.props.rejectionReason])).toEqual([['rejectCoupon', 'CampaignLimitReached']]);
    expect(sell(ld, spent, 'sa', { coupons: ['A1'] }).effects[0]?.effectType).toBe('acceptCoupon'); // still its own
  });

  it('checkBudget available and enoughFor read what is left for the session; no limit means nothing to exhaust', async () => {
    const rules = (share: number) => ({
      ...rulesPayload([
        campaign(1, [[{ type: 'checkBudget', operator: 'enoughFor', action: 'setDiscount', value: 10 }, { type: 'showNotification', notificationType: 'Info', title: 'enough' }],
          [{ type: 'checkBudget', operator: 'available', action: 'setDiscount' }, { type: 'showNotification', notificationType: 'Info', title: 'available' }]], limits({ action: 'setDiscount', limit: 100, entities: [] })),
        campaign(2, [[{ type: 'checkBudget', operator: 'available', action: 'customEffect' }, { type: 'showNotification', notificationType: 'Info', title: 'unlimited' }]]),
      ]),
      budgets: { readAt: NOW, shares: [{ campaignId: 1, action: 'setDiscount', share }] },
    });
    const titles = (ld: LocalData) => sell(ld, new BudgetLimits(), 's').effects.map((e) => e.props.title);
    expect(titles(await localData(rules(10)))).toEqual(['enough', 'available', 'unlimited']);
    expect(titles(await localData(rules(9.99)))).toEqual(['available', 'unlimited']);
    expect(titles(await localData(rules(0)))).toEqual(['unlimited']);
    const ld = await localData(rulesPayload([campaign(1, [[{ type: 'checkBudget', operator: 'available', action: 'createCoupon' }]])]));
    expect(ld.status().campaigns[0]).toMatchObject({ offlineCapable: false, reason: expect.stringContaining('checkBudget on createCoupon') });
  });

  it('loyalty points and free items are counted in their units', async () => {
    const ld = await localData({
      ...rulesPayload([campaign(1, [[{ type: 'awardItem', sku: 'GIFT', name: 'gift', quantity: 1 }]], limits({ action: 'addFreeItemEffect', limit: 10, entities: [] }))]),
      budgets: { readAt: NOW, shares: [{ campaignId: 1, action: 'addFreeItemEffect', share: 2 }] },
    });
    const spent = new BudgetLimits();
    expect(sell(ld, spent, 'a').effects).toHaveLength(1);
    expect(sell(ld, spent, 'b').effects).toHaveLength(1);
    expect(sell(ld, spent, 'c').effects).toHaveLength(0);
  });
});

describe('price-book discounts of campaigns with limits', () => {
  const prices = (campaignId: number) => ({
    NotificationType: 'StrikethroughPrice', applicationId: 1, currentBatch: 1, totalBatches: 1, sentAt: '2026-05-01T00:00:00Z',
    trigger: { id: campaignId, type: 'CATALOG_SYNC', triggeredAt: '2026-05-01T00:00:00Z', totalAffectedItems: 2 },
    changedItems: ['A', 'B'].map((sku, i) => ({ id: i + 1, catalogId: 1, sku, version: 1, price: 20, evaluatedAt: '2026-05-01T00:00:00Z',
      effects: [{ campaignId, rulesetId: campaignId * 10, ruleIndex: 0, ruleName: 'shelf', type: 'setDiscountPerItem', props: { name: 'shelf', value: 3 }, selectedPriceType: 'base', selectedPrice: 20, targets: [{ type: 'NONE' }] }] })),
  });
  const basket = (ld: LocalData, spent: BudgetLimits, id: string) => {
    const out = ld.engine().evaluate({ customerSessionId: id, session: { cartItems: [{ sku: 'A', quantity: 1 }, { sku: 'B', quantity: 1 }] }, now: NOW, ledger: new CouponLedger(), loyalty: new LoyaltyLimits(0), budgets: spent });
    spent.apply(out.budgetOps);
    return out.effects.filter((e) => e.effectType === 'setDiscountPerItem').map((e) => e.props.value);
  };

  it('a campaign whose limits cannot be counted gives none offline', async () => {
    const other = await localData(rulesPayload([campaign(2, [[]], limits({ action: 'setDiscount', limit: 100, entities: ['Profile'] }))]));
    await other.ingest('prices', prices(2));
    expect(basket(other, new BudgetLimits(), 'a')).toEqual([]);
    const free = await localData(rulesPayload([])); // the same price book, the campaign not in the rules: given
    await free.ingest('prices', prices(2));
    expect(basket(free, new BudgetLimits(), 'a')).toEqual([3, 3]);
  });

  it('a campaign not offline-capable for another reason still has its countable limits honoured on price-book lines', async () => {
    // Campaign-wide setDiscount limit (countable), but a block the shop cannot run: the price book still carries the
    // campaign's per-item discounts, which spend its budget, and without a share nothing of it may be given offline.
    const ld = await localData(rulesPayload([campaign(3, [[{ type: 'checkReferral' }]], limits({ action: 'setDiscount', limit: 100 }))]));
    await ld.ingest('prices', prices(3));
    expect(ld.status().campaigns[0]).toMatchObject({ id: 3, offlineCapable: false, reason: expect.stringContaining('checkReferral') });
    expect(basket(ld, new BudgetLimits(), 'a')).toEqual([]);
  });
});
