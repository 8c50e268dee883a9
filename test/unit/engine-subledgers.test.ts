/**
 * Loyalty subledgers offline. Sources: Management API spec, `CheckLoyaltyBalanceBlock.subledger` ("The name of the
 * subledger to check the balance of. Can be empty if this block checks the loyalty program's main ledger"), the
 * balance exports' `loyaltySubledger` column; Integration API spec, `AddLoyaltyPointsEffectProps` /
 * `DeductLoyaltyPointsEffectProps` `subLedgerId` ("The ID of the subledger within the loyalty program").
 */
import { describe, expect, it } from 'vitest';
import { campaign, cart, engine, rulesPayload, NOW, type B } from './engine-helpers.js';
import { CouponLedger } from '../../src/engine/coupon-ledger.js';
import { LoyaltyIndex, LoyaltyLimits, holderKey, isCardHolder } from '../../src/engine/loyalty.js';
import { parseLoyalty } from '../../src/engine/ingest/loyalty.js';
import { DataError } from '../../src/core/errors.js';

const programs = [{ id: 1, name: 'pts', cardBased: false }, { id: 2, name: 'card', cardBased: true }];
const balances = [
  { programId: 1, profileId: 'p1', activePoints: 1000, pendingPoints: 5 },
  { programId: 1, profileId: 'p1', subledgerId: 'coffee', activePoints: 120, pendingPoints: 7 },
  { programId: 2, cardId: 'C1', subledgerId: 'fuel', activePoints: 80 },
];
const check = (operator: string, value: number, subledger: string, balance = 'current', program = 1): B =>
  ({ type: 'checkLoyaltyBalance', operator, program: { id: program, name: 'pts', title: 'P' }, subledger, balance, value });
const marker = { type: 'showNotification', notificationType: 'Info', title: 'ok', body: '' };
const deduct = (pts: number, sub?: string, program = 1): B[] => [{ type: 'passthrough', expression: ['deductLoyaltyPoints', program, 'Coffee on points', pts, ...(sub === undefined ? [] : [sub])] }];
const E = (blocks: B[]) => engine(rulesPayload([campaign(1, [blocks])]), { programs, balances });
const ev = (blocks: B[], limits = new LoyaltyLimits(500), sessionId = 's', session: Record<string, unknown> = { profileId: 'p1' }) =>
  E(blocks).evaluate({ customerSessionId: sessionId, session: { cartItems: cart(['A', 10]), ...session }, now: NOW, ledger: new CouponLedger(), loyalty: limits });

describe('loyalty subledgers', () => {
  it('the loyalty data takes a subledgerId per balance; an empty or non-string one is refused with its path', () => {
    expect(parseLoyalty({ version: 1, programs, balances }).balances[1]?.subledgerId).toBe('coffee');
    for (const bad of ['', 7, null]) {
      let err: unknown;
      try { parseLoyalty({ version: 1, programs, balances: [{ programId: 1, profileId: 'p1', subledgerId: bad, activePoints: 1 }] }); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(DataError);
      expect((err as DataError).details).toEqual([{ path: '/balances/0/subledgerId', message: 'must be a non-empty string' }]);
    }
  });

  it('checkLoyaltyBalance reads the named subledger\'s cached balance, the main ledger when it is empty', () => {
    const ok = (b: B) => ev([b, marker]).effects.length === 1;
    expect(ok(check('equals', 120, 'coffee'))).toBe(true);
    expect(ok(check('equals', 7, 'coffee', 'pending'))).toBe(true);
    expect(ok(check('equals', 1000, ''))).toBe(true);
    expect(ok(check('greaterThan', 500, 'coffee'))).toBe(false); // not the main ledger's 1000
    expect(ok(check('greaterThanOrEqual', 0, 'tea'))).toBe(false); // no cached balance: the condition fails
    expect(ev([check('equals', 80, 'fuel', 'current', 2), marker], undefined, 's', { loyaltyCards: ['C1'] }).effects.length).toBe(1);
    expect(ev([check('equals', 1, 'coffee'), marker]).skippedCampaigns).toEqual([]);
  });

  it('deductLoyaltyPoints(program, name, points, subledger) deducts from the subledger: its effect, its own holder, its own bound', () => {
    const out = ev(deduct(100, 'coffee'));
    expect(out.effects[0]).toMatchObject({ effectType: 'deductLoyaltyPoints', props: { programId: 1, subLedgerId: 'coffee', value: 100, name: 'Coffee on points' } });
    expect(out.loyaltyOps).toEqual([{ op: 'spend', holderKey: holderKey(1, 'p', 'p1', 'coffee'), sessionId: 's', points: 100, previous: 0 }]);
    // The subledger has 120: 150 does not fit, though the main ledger has 1000.
    expect(ev(deduct(150, 'coffee')).effects).toEqual([]);
    expect(ev(deduct(150)).effects[0]?.props).toMatchObject({ subLedgerId: '', value: 150 });
    // A subledger without a cached balance has nothing to spend offline.
    expect(ev(deduct(1, 'tea')).effects).toEqual([]);
  });

  it('other sessions\' offline spending counts against the same subledger only, and never past maxOfflineLoyaltyDeduction', () => {
    const limits = new LoyaltyLimits(100);
    const a = ev(deduct(90, 'coffee'), limits, 'a');
    limits.apply(a.loyaltyOps);
    expect(ev(deduct(20, 'coffee'), limits, 'b').effects).toEqual([]); // 120 cached, capped at 100, 90 spent: 10 left
    expect(ev(deduct(10, 'coffee'), limits, 'b').effects.length).toBe(1);
    expect(ev(deduct(100), limits, 'b').effects.length).toBe(1); // the main ledger is a holder of its own
    expect(ev([check('equals', 30, 'coffee'), marker], limits, 'b').effects.length).toBe(1); // 120 − 90 spent elsewhere
    // One session deducting twice from the subledger: both count.
    expect(ev([...deduct(60, 'coffee'), ...deduct(70, 'coffee')], new LoyaltyLimits(500), 'c').effects).toEqual([]); // 130 > 120
  });

  it('addLoyaltyPoints to a subledger; card-based programs name the card', () => {
    const add = ev([{ type: 'passthrough', expression: ['addLoyaltyPoints', 1, 'Coffee stamp', 1, 'coffee'] }]);
    expect(add.effects[0]).toMatchObject({ effectType: 'addLoyaltyPoints', props: { programId: 1, subLedgerId: 'coffee', value: 1, recipientIntegrationId: 'p1' } });
    const card = ev(deduct(50, 'fuel', 2), undefined, 's', { loyaltyCards: ['C1'] });
    expect(card.effects[0]?.props).toMatchObject({ subLedgerId: 'fuel', value: 50, cardIdentifier: 'C1' });
    expect(card.loyaltyOps[0]?.holderKey).toBe(holderKey(2, 'c', 'C1', 'fuel'));
  });

  it('holder keys stay unambiguous whatever the ids hold, and main-ledger keys are unchanged', () => {
    expect(holderKey(1, 'p', 'p1')).toBe('1|p|p1');
    expect(holderKey(1, 'p', 'p1', '')).toBe('1|p|p1');
    const keys = [holderKey(1, 'p', 'a|c|x'), holderKey(1, 'p', 'a', 'x'), holderKey(1, 'p', 'a~x'), holderKey(1, 'c', 'a', 'x'), holderKey(1, 'p', 'a', 'x|c|y'), holderKey(1, 'p', 'x|c|y', 'a'), holderKey(11, 'p', 'a'), holderKey(1, 'p', '1|p|a'), holderKey(1, 'p', 'a|s|x'), holderKey(1, 'p', 'a|x')];
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.map(isCardHolder)).toEqual([false, false, false, true, false, false, false, false, false, false]);
    const idx = new LoyaltyIndex(programs, balances);
    expect(idx.subledgers.get('1|p|p1')?.map((b) => b.subledgerId)).toEqual(['coffee']);
    expect(idx.balances.get(holderKey(1, 'p', 'p1'))?.activePoints).toBe(1000);
  });
});
