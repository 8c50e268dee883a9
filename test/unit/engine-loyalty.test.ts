import { describe, expect, it } from 'vitest';
import { campaign, cart, engine, rulesPayload, NOW } from './engine-helpers.js';
import { CouponLedger } from '../../src/engine/coupon-ledger.js';
import { LoyaltyLimits, holderKey } from '../../src/engine/loyalty.js';

const programs = [{ id: 1, name: 'pts', cardBased: false }, { id: 2, name: 'card', cardBased: true }];
const balances = [{ programId: 1, profileId: 'p1', activePoints: 300, pendingPoints: 20 }, { programId: 2, cardId: 'C1', activePoints: 1000 }];
const deduct = (pts: number, program = 1) => [[{ type: 'passthrough', expression: ['deductLoyaltyPoints', program, 'Redeem points', pts] }, { type: 'awardDiscount', name: 'points', value: pts / 100, partial: false, target: { type: 'cart' } }]];
const E = (pts: number, program = 1) => engine(rulesPayload([campaign(1, deduct(pts, program))]), { programs, balances });
const ev = (e: ReturnType<typeof E>, limits: LoyaltyLimits, sessionId: string, session: Record<string, unknown> = { profileId: 'p1' }) =>
  e.evaluate({ customerSessionId: sessionId, session: { cartItems: cart(['A', 50]), ...session }, now: NOW, ledger: new CouponLedger(), loyalty: limits });

describe('loyalty', () => {
  it('checkLoyaltyBalance reads the cached balance (current and pending)', () => {
    const chk = (balance: string, operator: string, value: number) => {
      const e = engine(rulesPayload([campaign(1, [[{ type: 'checkLoyaltyBalance', operator, program: { id: 1, name: 'pts', title: 'P' }, subledger: '', balance, value }, { type: 'awardDiscount', name: 'x', value: 1, partial: false, target: { type: 'cart' } }]])]), { programs, balances });
      return ev(e, new LoyaltyLimits(500), 's').effects.length === 1;
    };
    expect(chk('current', 'greaterThanOrEqual', 300)).toBe(true);
    expect(chk('current', 'greaterThan', 300)).toBe(false);
    expect(chk('pending', 'equals', 20)).toBe(true);
    const e = engine(rulesPayload([campaign(1, [[{ type: 'checkLoyaltyBalance', operator: 'equals', program: { id: 1, name: 'p', title: 'p' }, subledger: '', balance: 'negative', value: 0 }]])]));
    expect(ev(e, new LoyaltyLimits(), 's').skippedCampaigns[0]?.reason).toMatch(/negative/);
  });

  it('deductLoyaltyPoints: effect shape and op', () => {
    const out = ev(E(200), new LoyaltyLimits(500), 's');
    expect(out.effects[0]).toMatchObject({ effectType: 'deductLoyaltyPoints', props: { ruleTitle: 'R1.0', programId: 1, subLedgerId: '', value: 200, name: 'Redeem points' } });
    expect(out.effects[0]?.props.transactionUUID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(out.loyaltyOps).toEqual([{ op: 'spend', holderKey: '1|p|p1', sessionId: 's', points: 200, previous: 0 }]);
  });

  it('deductions are capped by cached balance minus other sessions and maxOfflineLoyaltyDeduction', () => {
    const limits = new LoyaltyLimits(500);
    const a = ev(E(200), limits, 's1');
    limits.apply(a.loyaltyOps);
    expect(ev(E(200), limits, 's2').effects).toEqual([]); // 300 − 200 = 100 left
    expect(ev(E(100), limits, 's2').effects.length).toBe(2);
    // same session re-evaluated: its own spending does not count twice
    expect(ev(E(200), limits, 's1').loyaltyOps).toEqual([]);
    // cap from config
    const card = new LoyaltyLimits(500);
    expect(ev(E(600, 2), card, 's', { loyaltyCards: ['C1'] }).effects).toEqual([]);
    const ok = ev(E(500, 2), card, 's', { loyaltyCards: ['C1'] });
    expect(ok.effects[0]?.props).toMatchObject({ value: 500, cardIdentifier: 'C1' });
    limits.revert(a.loyaltyOps);
    expect(limits.export()).toEqual({ version: 1, spent: [] });
  });

  it('cancel releases the spending; addLoyaltyPoints', () => {
    const limits = new LoyaltyLimits(500);
    limits.apply(ev(E(200), limits, 's1').loyaltyOps);
    const c = ev(E(200), limits, 's1', { profileId: 'p1', state: 'cancelled' });
    expect(c.loyaltyOps).toEqual([{ op: 'spend', holderKey: '1|p|p1', sessionId: 's1', points: 0, previous: 200 }]);
    const add = engine(rulesPayload([campaign(1, [[{ type: 'passthrough', expression: ['addLoyaltyPoints', 1, 'Earn', ['floor', ['.', 'Session', 'Total']]] }]])]), { programs, balances });
    expect(ev(add, limits, 's3').effects[0]).toMatchObject({ effectType: 'addLoyaltyPoints', props: { name: 'Earn', programId: 1, subLedgerId: '', value: 50, recipientIntegrationId: 'p1' } });
  });

  it('offline spending is forgotten only once confirmed and counted by a loyalty push read after that', () => {
    const limits = new LoyaltyLimits(500);
    const first = ev(E(200), limits, 'a');
    limits.apply(first.loyaltyOps);
    const h = holderKey(1, 'p', 'p1');
    expect(limits.available(h, 'b', 300)).toBe(100);
    expect(limits.countedByPush(10_000)).toBe(0); // not confirmed: Talon.One does not have it
    expect(limits.confirm('a', 5000)).toBe(true);
    expect(limits.countedByPush(4999)).toBe(0); // balances read before Talon.One had it
    const saved = limits.export();
    const copy = new LoyaltyLimits(500);
    copy.import(saved);
    expect(copy.countedByPush(5000)).toBe(1); // the confirmation survived the export
    expect(copy.available(h, 'b', 100)).toBe(100); // the pushed balance (100) already has the 200 deducted
  });

  it('a session changed after Talon.One had it (reopened) is not forgotten by a push read after the old confirmation', () => {
    const limits = new LoyaltyLimits(500);
    const h = holderKey(1, 'p', 'p1');
    limits.apply([{ op: 'spend', holderKey: h, sessionId: 'a', points: 100, previous: 0 }]);
    expect(limits.confirm('a', 5000)).toBe(true);
    limits.apply([{ op: 'spend', holderKey: h, sessionId: 'a', points: 150, previous: 100 }]); // reopened and closed again
    expect(limits.countedByPush(6000)).toBe(0); // its 150 are not in Talon.One's balances yet
    expect(limits.spentBy(h, 'a')).toBe(150);
  });
});
