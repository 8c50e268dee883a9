import { describe, expect, it } from 'vitest';
import { campaign, cart, engine, rulesPayload, NOW } from './engine-helpers.js';
import { CouponLedger } from '../../src/engine/coupon-ledger.js';
import { LoyaltyLimits } from '../../src/engine/loyalty.js';
import type { Coupon, SessionInput } from '../../src/engine/types.js';
import type { Engine } from '../../src/engine/evaluate.js';

const rule = (redeem = true) => [[{ type: 'checkCoupon', redeem }, { type: 'awardDiscount', name: '5 off', value: 5, partial: false, target: { type: 'cart' } }]];
const coupons: Coupon[] = [
  { id: 1, value: 'ONCE', campaignId: 1, usageLimit: 1, usageCounter: 0 },
  { id: 2, value: 'MANY', campaignId: 1, usageLimit: 0, usageCounter: 999 },
  { id: 3, value: 'USEDUP', campaignId: 1, usageLimit: 3, usageCounter: 3 },
  { id: 4, value: 'OLD', campaignId: 1, expiryDate: '2026-01-01T00:00:00Z' },
  { id: 5, value: 'SOON', campaignId: 1, startDate: '2026-07-01T00:00:00Z' },
  { id: 6, value: 'MINE', campaignId: 1, recipientIntegrationId: 'alice' },
  { id: 7, value: 'OFFCAMP', campaignId: 2 },
  { id: 8, value: 'NOCAMP', campaignId: 99 },
  { id: 9, value: 'NORULE', campaignId: 3 },
  { id: 10, value: 'FAILCOND', campaignId: 4 },
  { id: 11, value: 'PEEK', campaignId: 5 },
];
const E = () => engine(rulesPayload([
  campaign(1, rule()),
  campaign(2, rule(), { campaign: { state: 'disabled' } }),
  campaign(3, [[{ type: 'checkAttribute', attribute: '$Session.Attributes.c3', operator: 'exists' }, { type: 'awardDiscount', name: 'no coupon needed', value: 1, partial: false, target: { type: 'cart' } }]]),
  campaign(4, [[{ type: 'checkCoupon', redeem: true }, { type: 'checkAttribute', attribute: '$Session.Total', operator: 'greaterThan', value: 1000 }]]),
  campaign(5, rule(false)),
], { application: { currency: 'EUR', caseSensitivity: 'insensitive-uppercase' } }), { coupons });

function run(e: Engine, ledger: CouponLedger, sessionId: string, session: SessionInput, terminalId = 'T1', now = NOW) {
  return e.evaluate({ customerSessionId: sessionId, session: { cartItems: cart(['A', 50]), ...session }, terminalId, now, ledger, loyalty: new LoyaltyLimits(500) });
}
const reasons = (out: ReturnType<typeof run>) => out.effects.filter((x) => x.effectType === 'rejectCoupon').map((x) => [x.props.value, x.props.rejectionReason, x.campaignId]);

describe('coupon validation', () => {
  it('rejects with Talon.One reasons', () => {
    const out = run(E(), new CouponLedger(), 's', { profileId: 'bob', couponCodes: ['ghost', 'USEDUP', 'OLD', 'SOON', 'MINE', 'OFFCAMP', 'NOCAMP', 'FAILCOND'] });
    expect(reasons(out)).toEqual([
      ['ghost', 'CouponNotFound', -1],
      ['USEDUP', 'CouponLimitReached', 1],
      ['OLD', 'CouponExpired', 1],
      ['SOON', 'CouponStartDateInFuture', 1],
      ['MINE', 'CouponRecipientDoesNotMatch', 1],
      ['OFFCAMP', 'CouponPartOfNotRunningCampaign', 2],
      ['NOCAMP', 'CouponPartOfNotRunningCampaign', -1],
      ['FAILCOND', 'CouponRejectedByCondition', 4],
    ]);
    expect(out.effects[0]).toEqual({ campaignId: -1, rulesetId: -1, ruleIndex: -1, ruleName: '', effectType: 'rejectCoupon', props: { value: 'ghost', rejectionReason: 'CouponNotFound' } });
  });

  it('accepts a valid code (case-insensitive), effects carry triggeredByCoupon, and holds it', () => {
    const out = run(E(), new CouponLedger(), 's', { couponCodes: ['once'] });
    expect(out.effects.map((x) => [x.effectType, x.props, x.triggeredByCoupon])).toEqual([
      ['acceptCoupon', { value: 'ONCE' }, 1],
      ['setDiscount', { name: '5 off', value: 5 }, 1],
    ]);
    expect(out.ledgerOps).toEqual([{ op: 'hold', code: 'ONCE', sessionId: 's', terminalId: 'T1', at: NOW }]);
  });

  it('an unlimited code is accepted without a ledger entry (its uses limit nothing, so they are not kept)', () => {
    const ledger = new CouponLedger();
    const open = run(E(), ledger, 's', { couponCodes: ['MANY'] });
    expect(open.effects.map((x) => x.effectType)).toEqual(['acceptCoupon', 'setDiscount']);
    expect(open.ledgerOps).toEqual([]);
    const closed = run(E(), ledger, 's', { couponCodes: ['MANY'], state: 'closed' });
    expect(closed.effects.map((x) => x.effectType)).toEqual(['acceptCoupon', 'setDiscount']);
    expect(closed.ledgerOps).toEqual([]);
  });

  it('a second code of the same campaign is not applied twice', () => {
    const out = run(E(), new CouponLedger(), 's', { couponCodes: ['ONCE', 'MANY'] });
    expect(reasons(out)).toEqual([['MANY', 'CouponPartOfNotTriggeredCampaign', 1]]);
    expect(out.totals.discounts).toBe(5);
  });

  it('checkCoupon without redeem accepts but does not hold', () => {
    const out = run(E(), new CouponLedger(), 's', { couponCodes: ['PEEK'] });
    expect(out.effects.map((x) => x.effectType)).toEqual(['acceptCoupon', 'setDiscount']);
    expect(out.ledgerOps).toEqual([]);
  });

  it('a code of a campaign without checkCoupon is rejected by condition', () => {
    expect(reasons(run(E(), new CouponLedger(), 's', { couponCodes: ['NORULE'] }))).toEqual([['NORULE', 'CouponRejectedByCondition', 3]]);
  });
});

describe('store-wide ledger', () => {
  it('a single-use code held at T1 is rejected at T2; re-sending from the same session is not a second use', () => {
    const e = E();
    const ledger = new CouponLedger();
    const a = run(e, ledger, 's1', { couponCodes: ['ONCE'] }, 'T1');
    ledger.apply(a.ledgerOps);
    const again = run(e, ledger, 's1', { couponCodes: ['ONCE'] }, 'T1');
    expect(again.effects[0]?.effectType).toBe('acceptCoupon');
    expect(again.ledgerOps).toEqual([]);
    const b = run(e, ledger, 's2', { couponCodes: ['ONCE'] }, 'T2');
    expect(reasons(b)).toEqual([['ONCE', 'CouponLimitReached', 1]]);
    expect(b.ledgerOps).toEqual([]);
  });

  it('dropping the code (or couponCodes: []) releases the hold of an open session', () => {
    const e = E();
    const ledger = new CouponLedger();
    ledger.apply(run(e, ledger, 's1', { couponCodes: ['ONCE'] }).ledgerOps);
    const drop = run(e, ledger, 's1', { couponCodes: [] });
    expect(drop.ledgerOps).toEqual([{ op: 'release', code: 'ONCE', sessionId: 's1', terminalId: 'T1', at: NOW }]);
    ledger.apply(drop.ledgerOps);
    expect(run(e, ledger, 's2', { couponCodes: ['ONCE'] }, 'T2').effects[0]?.effectType).toBe('acceptCoupon');
  });

  it('closing turns the hold into a use; cancelling releases it; apply/revert and export/import', () => {
    const e = E();
    const ledger = new CouponLedger();
    ledger.apply(run(e, ledger, 's1', { couponCodes: ['ONCE'] }).ledgerOps);
    const close = run(e, ledger, 's1', { couponCodes: ['ONCE'], state: 'closed' }, 'T1', NOW + 1000);
    expect(close.ledgerOps).toEqual([{ op: 'redeem', code: 'ONCE', sessionId: 's1', terminalId: 'T1', at: NOW + 1000, fromHold: { sessionId: 's1', terminalId: 'T1', at: NOW } }]);
    ledger.apply(close.ledgerOps);
    expect(ledger.usedBy('s1')).toEqual(['ONCE']);
    expect(ledger.heldBy('s1')).toEqual([]);
    // the journal write failed: undo
    ledger.revert(close.ledgerOps);
    expect(ledger.heldBy('s1')).toEqual(['ONCE']);
    ledger.apply(close.ledgerOps);
    const copy = new CouponLedger();
    copy.import(JSON.parse(JSON.stringify(ledger.export())));
    expect(copy.export()).toEqual(ledger.export());
    expect(reasons(run(e, copy, 's2', { couponCodes: ['ONCE'] }, 'T2'))).toEqual([['ONCE', 'CouponLimitReached', 1]]);
    const cancel = run(e, copy, 's1', { couponCodes: ['ONCE'], state: 'cancelled' });
    expect(cancel.ledgerOps).toEqual([{ op: 'unredeem', code: 'ONCE', sessionId: 's1', terminalId: 'T1', at: NOW }]);
    expect(cancel.effects).toEqual([]);
    copy.apply(cancel.ledgerOps);
    expect(run(e, copy, 's2', { couponCodes: ['ONCE'] }, 'T2').effects[0]?.effectType).toBe('acceptCoupon');
  });

  it('usage limits add local uses to usageCounter; a use stops counting only once confirmed and counted by a push', () => {
    const e = engine(rulesPayload([campaign(1, rule())]), { coupons: [{ id: 1, value: 'THREE', campaignId: 1, usageLimit: 3, usageCounter: 1 }] });
    const ledger = new CouponLedger();
    for (const s of ['a', 'b']) ledger.apply(run(e, ledger, s, { couponCodes: ['THREE'], state: 'closed' }).ledgerOps);
    expect(reasons(run(e, ledger, 'c', { couponCodes: ['THREE'] }))).toEqual([['THREE', 'CouponLimitReached', 1]]);
    // A push frees nothing while no use is confirmed (Talon.One does not have it): the window stays shut.
    expect(ledger.countedByPush('THREE', 10_000)).toBe(0);
    expect(ledger.confirm('a', 'THREE', 5000)).toBe(true);
    expect(ledger.confirmedCodes()).toEqual(['THREE']);
    expect(ledger.countedByPush('THREE', 4999)).toBe(0); // data read before Talon.One had the use
    expect(ledger.countedByPush('THREE', 5000)).toBe(1); // only the confirmed one
    expect(ledger.usedBy('b')).toEqual(['THREE']);
    expect(run(e, ledger, 'c', { couponCodes: ['THREE'] }).effects[0]?.effectType).toBe('acceptCoupon');
  });

  it('abandoned sessions release their holds', () => {
    const e = engine(rulesPayload([campaign(1, rule())]), { coupons: [{ id: 1, value: 'ONCE', campaignId: 1, usageLimit: 1 }] });
    const ledger = new CouponLedger();
    ledger.apply(run(e, ledger, 'open', { couponCodes: ['ONCE'] }).ledgerOps);
    expect(reasons(run(e, ledger, 'other', { couponCodes: ['ONCE'] }))).toEqual([['ONCE', 'CouponLimitReached', 1]]);
    expect(ledger.releaseHolds('open', 0)).toBe(1);
    expect(run(e, ledger, 'other', { couponCodes: ['ONCE'] }).effects[0]?.effectType).toBe('acceptCoupon');
  });
});

describe('$Coupon paths', () => {
  it('read the validated coupon of the campaign', () => {
    const e = engine(rulesPayload([campaign(1, [[{ type: 'checkCoupon', redeem: true }, { type: 'checkAttribute', attribute: '$Coupon.Attributes.channel', operator: 'equals', value: 'staff' }, { type: 'showNotification', notificationType: 'Info', title: 'Hi {{$Coupon.Code}}' }]])]), {
      coupons: [{ id: 1, value: 'STAFF', campaignId: 1, attributes: { channel: 'staff' } }, { id: 2, value: 'PUBLIC', campaignId: 1, attributes: { channel: 'web' } }],
    });
    const ok = run(e, new CouponLedger(), 's', { couponCodes: ['STAFF'] });
    expect(ok.effects.map((x) => [x.effectType, x.props.title ?? x.props.value])).toEqual([['acceptCoupon', 'STAFF'], ['showNotification', 'Hi STAFF']]);
    expect(reasons(run(e, new CouponLedger(), 's', { couponCodes: ['PUBLIC'] }))).toEqual([['PUBLIC', 'CouponRejectedByCondition', 1]]);
  });

  it('a malformed cart is a 400, not a crash', () => {
    expect(() => run(E(), new CouponLedger(), 's', { cartItems: [{ sku: 'A', quantity: 0, price: 1 }] })).toThrow(expect.objectContaining({ code: 'SG_ERR_BAD_REQUEST', statusCode: 400 }));
  });
});
