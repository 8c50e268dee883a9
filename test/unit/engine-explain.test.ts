/**
 * "Why did this promotion not apply?": an explained evaluation names, per campaign, what happened and why (not
 * running, other store, not offline-capable, a condition that failed and which one, a missing attribute by name),
 * in Talon.One's `RuleFailureReason` shape too — and gives exactly the answer a plain evaluation gives.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { campaign, cart, engine, evaluate, rulesPayload, type B } from './engine-helpers.js';
import { LocalData } from '../../src/engine/local-data.js';
import { CouponLedger } from '../../src/engine/coupon-ledger.js';
import { LoyaltyLimits } from '../../src/engine/loyalty.js';
import { FileSnapshotStore } from '../../src/state/snapshot-store.js';
import { ManualClock } from '../../src/platform/clock.js';
import type { EvaluateOutput } from '../../src/engine/evaluate.js';
import { carts, couponList, evalInput, NOW as BENCH_NOW, prices, rules as benchRules } from '../../bench/engine.js';

const award = (name: string, value: unknown = 5): B => ({ type: 'awardDiscount', name, value, target: { type: 'cart' } });
const total = (op: string, value: number): B => ({ type: 'checkAttribute', attribute: '$Session.Total', operator: op, value });

/** The parts of an answer a terminal, the journal and the ledger see. */
const answer = (o: EvaluateOutput) => JSON.stringify({ e: o.effects, l: o.ledgerOps, y: o.loyaltyOps, t: o.totals, v: o.evaluatedCampaignIds, s: o.skippedCampaigns, f: o.fallback });

/** The bench's 500 campaigns, plus loyalty campaigns whose failed rules emit before failing (transaction ids). */
function benchWithLoyalty(tree: boolean): Record<string, unknown> {
  const r = benchRules(true) as { campaigns: B[]; evaluationTree: unknown };
  const earnThenFail = (id: number): B => campaign(id, [[{ type: 'passthrough', expression: ['addLoyaltyPoints', 1, 'Earn', 10] }, total('greaterThan', 1e9)]]);
  const earn = (id: number): B => campaign(id, [[{ type: 'passthrough', expression: ['addLoyaltyPoints', 1, 'Earn', ['floor', ['.', 'Session', 'Total']]] }]]);
  r.campaigns.push(earnThenFail(7001), earn(7002), earnThenFail(7003), earn(7004));
  if (tree) {
    const ids = r.campaigns.map((c) => (c.campaign as { id: number }).id);
    const modes = ['stackable', 'highestDiscount', 'lowestDiscount', 'listOrder'];
    const sets = [];
    for (let g = 0; g * 25 < ids.length; g++) {
      sets.push({ type: 'SET', name: `g${g}`, groupId: g + 1, operator: g % 3 === 0 ? 'FIRST' : 'ALL', evaluationMode: modes[g % 4], elements: ids.slice(g * 25, g * 25 + 25).map((campaignId) => ({ type: 'CAMPAIGN', campaignId })) });
    }
    r.evaluationTree = { id: 1, version: 1, set: { type: 'SET', name: 'root', operator: 'ALL', elements: sets } };
  }
  return r;
}

describe('explained evaluation = plain evaluation', () => {
  for (const tree of [false, true]) {
    it(`the bench's 500 campaigns, 100,000 prices, coupons, loyalty${tree ? ', an evaluation tree (FIRST, highest/lowestDiscount)' : ''}: the same answer byte for byte`, async () => {
      const ld = new LocalData({ store: new FileSnapshotStore(mkdtempSync(path.join(tmpdir(), 'sg-explain-'))), clock: new ManualClock(BENCH_NOW), storeIntegrationId: 'store-042', storeAttributes: { region: 'north' } });
      await ld.ingest('rules', benchWithLoyalty(tree));
      await ld.ingest('prices', prices());
      await ld.ingest('coupons', { version: 1, full: true, coupons: couponList() });
      await ld.ingest('loyalty', { version: 1, programs: [{ id: 1, name: 'points' }], balances: [{ programId: 1, profileId: 'p1', activePoints: 100 }] });
      const e = ld.engine();
      let explained = 0;
      for (const [i, c] of carts(40).entries()) {
        const input = evalInput(c, i, `seg${i % 25}`, new CouponLedger(), new LoyaltyLimits(500));
        const plain = e.evaluate(input);
        const why = e.evaluate({ ...input, explain: true });
        expect(answer(why)).toBe(answer(plain));
        expect(plain.explanation).toBeUndefined();
        explained += why.explanation?.ruleFailureReasons.length ?? 0;
        // And the plain one after an explained one is still the same (no state left behind).
        expect(answer(e.evaluate(input))).toBe(answer(plain));
      }
      expect(explained).toBeGreaterThan(40 * 300);
    }, 60_000);
  }
});

describe('why a campaign did not apply', () => {
  const outcomes = (o: EvaluateOutput) => o.explanation?.campaigns.map((c) => [c.id, c.outcome, c.reason]);

  it('not running, another store, not offline-capable, not in the evaluation tree', () => {
    const e = engine(rulesPayload([
      campaign(1, [[total('greaterThan', 0), award('a')]], { campaign: { state: 'disabled' } }),
      campaign(2, [[award('b')]], { campaign: { startTime: '2027-01-01T00:00:00Z' } }),
      campaign(3, [[award('c')]], { campaign: { endTime: '2026-01-01T00:00:00Z' } }),
      campaign(4, [[award('d')]], { campaign: { linkedStoreIds: [7, 8] } }),
      campaign(5, [[{ type: 'awardGiveaway' }]]),
      campaign(6, [[award('f')]]),
      campaign(7, [[award('g')]]),
      campaign(8, [[{ type: 'awardDiscount', name: 'none', value: 1, target: { type: 'selector', name: 'none' } }]], { selectors: [{ name: 'none', type: 'selector', source: '$Session.CartItems', steps: [{ type: 'filter', predicate: { type: 'checkAttribute', attribute: '$Item.Category', operator: 'equals', value: 'Nothing' } }] }] }),
    ], { evaluationTree: { set: { type: 'SET', operator: 'ALL', elements: [1, 2, 3, 4, 5, 6, 8].map((campaignId) => ({ type: 'CAMPAIGN', campaignId })) } } }));
    const out = evaluate(e, { cartItems: cart(['A', 10]) }, { explain: true });
    expect(outcomes(out)).toEqual([
      [1, 'notRunning', 'its state is disabled'],
      [2, 'notRunning', 'it starts at 2027-01-01T00:00:00.000Z'],
      [3, 'notRunning', 'it ended at 2026-01-01T00:00:00.000Z'],
      [4, 'otherStore', 'it is linked to stores 7, 8; this store is 42 (store-042)'],
      [5, 'notOfflineCapable', 'it cannot be evaluated in the shop: block awardGiveaway is not supported offline'],
      [6, 'triggered', null],
      [7, 'notInEvaluationTree', "it is not in the application's campaign evaluation tree"],
      [8, 'triggered', 'its rules passed but gave no effect (e.g. a discount on cart items none of which matched)'],
    ]);
    // Talon.One's shape: only the running campaign this store could not evaluate; nothing for the others.
    expect(out.explanation?.ruleFailureReasons).toEqual([{ campaignID: 5, campaignName: 'C5', rulesetID: 50, ruleIndex: 0, ruleName: 'R5.0', details: 'not evaluated offline: it cannot be evaluated in the shop: block awardGiveaway is not supported offline' }]);
  });

  it('the condition that failed (its index), a missing attribute by name, an effect that did not fit (effectIndex)', () => {
    const e = engine(rulesPayload([
      campaign(1, [[total('greaterThan', 0), total('greaterThan', 100), award('a')]]),
      campaign(2, [[{ type: 'checkAttribute', attribute: '$Session.Attributes.channel', operator: 'equals', value: 'pos' }, award('b')]]),
      campaign(3, [[{ type: 'checkAttribute', attribute: '$colors', operator: 'containsOneOf', values: ['red'] }, award('c')]], { selectors: [{ name: 'colors', type: 'selector', source: '$Session.CartItems', steps: [{ type: 'map', expression: '$Item.Attributes.color' }] }] }),
      // The first discount takes the whole cart; the second has nothing left to discount (capped discounts are given, SetDiscountEffectProps).
      campaign(4, [[{ type: 'awardDiscount', name: 'all of it', value: 20, partial: false, target: { type: 'cart' } }, { type: 'awardDiscount', name: 'too much', value: 500, partial: false, target: { type: 'cart' } }]]),
      campaign(5, [[{ type: 'passthrough', expression: ['=', ['.', 'Profile', 'Attributes', 'tier'], 'gold'] }, award('e')]]),
    ]));
    const out = evaluate(e, { cartItems: cart(['A', 10, 2]) }, { explain: true });
    const reasons = out.explanation?.ruleFailureReasons ?? [];
    expect(reasons.map((r) => [r.campaignID, r.conditionIndex, r.effectIndex, r.details])).toEqual([
      [1, 1, undefined, '$Session.Total is 20, not greaterThan 100'],
      [2, 0, undefined, '$Session.Attributes.channel is missing ($Session.Attributes.channel equals "pos")'],
      [3, 0, undefined, '$colors is [null], not containsOneOf ["red"] (missing: $Item.Attributes.color)'],
      [4, undefined, 1, 'discount "too much" could not be given: nothing is left of what it applies to (partial discounts are off), or an additional cost it discounts is missing'],
      [5, 0, undefined, 'Talang expression is false (missing: $Profile.Attributes.tier)'],
    ]);
    expect(out.explanation?.missingAttributes).toEqual(['$Item.Attributes.color', '$Profile.Attributes.tier', '$Session.Attributes.channel']);
    // Only spec fields (Talon.One Integration API `RuleFailureReason`).
    const allowed = new Set(['campaignID', 'campaignName', 'rulesetID', 'couponID', 'couponValue', 'referralID', 'referralValue', 'ruleIndex', 'ruleName', 'conditionIndex', 'effectIndex', 'details', 'evaluationGroupID', 'evaluationGroupMode']);
    for (const r of reasons) for (const k of Object.keys(r)) expect(allowed.has(k)).toBe(true);
  });

  it('groups, audiences, loyalty balances and coupons in words; the coupon being evaluated is named', () => {
    const e = engine(rulesPayload([
      campaign(1, [[{ type: 'group', operator: 'all', blocks: [total('greaterThan', 0), { type: 'checkAttribute', attribute: '$Session.Attributes.x', operator: 'equals', value: 1 }] }, award('a')]]),
      campaign(2, [[{ type: 'group', operator: 'atLeastOne', blocks: [total('lessThan', 1), total('greaterThan', 999)] }, award('b')]]),
      campaign(3, [[{ type: 'group', operator: 'none', blocks: [total('greaterThan', 1)] }, award('c')]]),
      campaign(4, [[{ type: 'checkAudience', operator: 'member', audience: { id: 77 } }, award('d')]]),
      campaign(5, [[{ type: 'checkLoyaltyBalance', operator: 'greaterThan', program: { id: 1 }, balance: 'current', value: 1000 }, award('e')]]),
      campaign(6, [[{ type: 'checkCoupon', redeem: true }, total('greaterThan', 500), award('f')]]),
      campaign(8, [[{ type: 'checkCoupon', redeem: true }, award('h')]]),
    ]), { coupons: [{ id: 61, value: 'SIX', campaignId: 6 }], programs: [{ id: 1, name: 'p' }], balances: [{ programId: 1, profileId: 'p1', activePoints: 40 }] });
    const out = evaluate(e, { profileId: 'p1', couponCodes: ['SIX'], cartItems: cart(['A', 10]) }, { explain: true, profile: { integrationId: 'p1' } });
    const by = new Map(out.explanation?.ruleFailureReasons.map((r) => [r.campaignID, r]));
    expect(by.get(1)?.details).toBe('group (all): condition 2 failed: $Session.Attributes.x is missing ($Session.Attributes.x equals 1)');
    expect(by.get(2)?.details).toBe('group (atLeastOne): no condition holds: (1) $Session.Total is 10, not lessThan 1; (2) $Session.Total is 10, not greaterThan 999');
    expect(by.get(3)?.details).toBe('group (none): condition 1 holds: $Session.Total greaterThan 1');
    expect(by.get(4)?.details).toBe('the customer is not a member of audience 77');
    expect(by.get(5)?.details).toBe('current balance of loyalty program 1 is 40, not greaterThan 1000');
    expect(by.get(6)).toMatchObject({ couponID: 61, couponValue: 'SIX', conditionIndex: 1, details: '$Session.Total is 10, not greaterThan 500' });
    expect(by.get(8)?.details).toBe('the session has no valid coupon code of this campaign');
    // The coupon's own rejection is still there, as without explain.
    expect(out.effects.some((x) => x.effectType === 'rejectCoupon' && x.props.rejectionReason === 'CouponRejectedByCondition')).toBe(true);
  });

  it('evaluation groups: excluded by FIRST and by highestDiscount, with the group on the reason', () => {
    const set = { type: 'SET', operator: 'ALL', elements: [
      { type: 'SET', groupId: 5, operator: 'FIRST', evaluationMode: 'stackable', elements: [{ type: 'CAMPAIGN', campaignId: 1 }, { type: 'CAMPAIGN', campaignId: 2 }] },
      { type: 'SET', groupId: 6, operator: 'ALL', evaluationMode: 'highestDiscount', elements: [{ type: 'CAMPAIGN', campaignId: 3 }, { type: 'CAMPAIGN', campaignId: 4 }, { type: 'CAMPAIGN', campaignId: 9 }] },
    ] };
    const e = engine(rulesPayload([
      campaign(1, [[award('a', 1)]]), campaign(2, [[award('b', 1)]]),
      campaign(3, [[award('c', 1)]]), campaign(4, [[award('d', 3)]]), campaign(9, [[total('greaterThan', 100), award('i', 9)]]),
    ], { evaluationTree: { set } }));
    const out = evaluate(e, { cartItems: cart(['A', 50]) }, { explain: true });
    expect(outcomes(out)?.map((o) => o.slice(0, 2))).toEqual([[1, 'triggered'], [2, 'excluded'], [3, 'excluded'], [4, 'triggered'], [9, 'notTriggered']]);
    const r9 = out.explanation?.ruleFailureReasons.find((r) => r.campaignID === 9);
    expect(r9).toMatchObject({ evaluationGroupID: 6, evaluationGroupMode: 'highestDiscount', conditionIndex: 0 });
    expect(out.explanation?.ruleFailureReasons.find((r) => r.campaignID === 2)?.details).toMatch(/not evaluated offline: an earlier campaign of its evaluation group \(operator FIRST\) triggered/);
  });

  it('over the work budget: skipped, with nothing of it given', () => {
    const e = engine(rulesPayload([campaign(1, [[{ type: 'passthrough', expression: ['every', ['.', 'Session', 'CartItems'], [['Item'], ['>', ['.', 'Item', 'Price'], 0]]] }, award('a')]])]), { budget: 3 });
    const out = evaluate(e, { cartItems: cart(['A', 1], ['B', 1], ['C', 1], ['D', 1]) }, { explain: true });
    expect(outcomes(out)).toEqual([[1, 'skipped', 'evaluation budget exceeded']]);
    expect(out.effects).toEqual([]);
  });

  it('a cancelled session: nothing is evaluated, and it says so', () => {
    const e = engine(rulesPayload([campaign(1, [[award('a')]])]));
    expect(evaluate(e, { state: 'cancelled', cartItems: cart(['A', 10]) }, { explain: true }).explanation).toMatchObject({ campaigns: [], note: 'the session is cancelled: no campaign is evaluated' });
  });
});
