import { describe, expect, it } from 'vitest';
import { campaign, cart, engine, evaluate, rulesPayload, NOW, type B } from './engine-helpers.js';

const d = (name: string, value: number, cond?: B): B[][] => [[...(cond ? [cond] : []), { type: 'awardDiscount', name, value, partial: false, target: { type: 'cart' } }]];
const leaf = (id: number) => ({ type: 'CAMPAIGN', campaignId: id });
const set = (operator: string, elements: unknown[], evaluationMode = 'stackable', extra: B = {}) => ({ type: 'SET', name: 's', operator, elements, groupId: 9, locked: false, evaluationMode, evaluationScope: 'session', ...extra });
const tree = (s: unknown) => ({ evaluationTree: { id: 1, version: 1, set: s } });
const big = { cartItems: cart(['A', 100]) };
const names = (e: ReturnType<typeof engine>, session = big) => evaluate(e, session).effects.map((x) => x.props.name ?? x.props.value);

describe('campaign order and exclusivity', () => {
  const three = [campaign(1, d('one', 1)), campaign(2, d('two', 2)), campaign(3, d('three', 3))];
  it('without a tree: list order, all apply', () => {
    expect(names(engine(rulesPayload(three)))).toEqual(['one', 'two', 'three']);
  });
  it('tree order wins; campaigns not in the tree are not evaluated', () => {
    expect(names(engine(rulesPayload(three, tree(set('ALL', [leaf(3), leaf(1)])))))).toEqual(['three', 'one']);
  });
  it('FIRST stops at the first campaign that triggers', () => {
    const cs = [campaign(1, d('one', 1, { type: 'checkAttribute', attribute: '$Session.Total', operator: 'greaterThan', value: 500 })), campaign(2, d('two', 2)), campaign(3, d('three', 3))];
    expect(names(engine(rulesPayload(cs, tree(set('FIRST', [leaf(1), leaf(2), leaf(3)])))))).toEqual(['two']);
  });
  it('nested sets: ALL of [FIRST(2,3), 1]', () => {
    expect(names(engine(rulesPayload(three, tree(set('ALL', [set('FIRST', [leaf(2), leaf(3)]), leaf(1)])))))).toEqual(['two', 'one']);
  });
  it('highestDiscount / lowestDiscount pick one campaign', () => {
    expect(names(engine(rulesPayload(three, tree(set('ALL', [leaf(1), leaf(3), leaf(2)], 'highestDiscount')))))).toEqual(['three']);
    expect(names(engine(rulesPayload(three, tree(set('ALL', [leaf(2), leaf(3), leaf(1)], 'lowestDiscount')))))).toEqual(['one']);
  });
  it('effects carry evaluationGroupID / evaluationGroupMode from the tree', () => {
    const out = evaluate(engine(rulesPayload(three, tree(set('ALL', [leaf(1)], 'listOrder')))), big);
    expect(out.effects[0]).toMatchObject({ evaluationGroupID: 9, evaluationGroupMode: 'listOrder' });
  });
  it('FIRST excludes the coupon of a later campaign with CampaignIsNotFirst', () => {
    const cs = [campaign(1, d('one', 1)), campaign(2, [[{ type: 'checkCoupon', redeem: true }, ...d('two', 2)[0] as B[]]])];
    const e = engine(rulesPayload(cs, tree(set('FIRST', [leaf(1), leaf(2)]))), { coupons: [{ id: 5, value: 'C2', campaignId: 2 }] });
    const out = evaluate(e, { ...big, couponCodes: ['C2'] });
    expect(out.effects.map((x) => [x.effectType, x.props.rejectionReason, x.props.campaignExclusionReason])).toEqual([['setDiscount', undefined, undefined], ['rejectCoupon', 'CouponPartOfNotTriggeredCampaign', 'CampaignIsNotFirst']]);
  });
  it('lowest/highest over nested sets or cartItem scope is not offline-capable', () => {
    const e = engine(rulesPayload(three, tree(set('ALL', [set('ALL', [leaf(1)]), leaf(2)], 'highestDiscount'))));
    expect(evaluate(e, big).skippedCampaigns.map((s) => s.id).sort()).toEqual([1, 2]);
    const f = engine(rulesPayload(three, tree(set('ALL', [leaf(1), leaf(2)], 'lowestDiscount', { evaluationScope: 'cartItem' }))));
    expect(evaluate(f, big).skippedCampaigns[0]?.reason).toMatch(/cartItem scope/);
  });
});

describe('which campaigns run', () => {
  const cases: [string, B, boolean][] = [
    ['enabled, no window', {}, true],
    ['disabled', { state: 'disabled' }, false],
    ['archived', { state: 'archived' }, false],
    ['not started', { startTime: '2026-06-02T00:00:00Z' }, false],
    ['ended', { endTime: '2026-06-01T09:59:59Z' }, false],
    ['inside window', { startTime: '2026-06-01T09:00:00Z', endTime: '2026-06-01T11:00:00Z' }, true],
    ['linked to this store', { linkedStoreIds: [1, 42] }, true],
    ['linked to other stores', { linkedStoreIds: [1, 2] }, false],
    ['linkedStoreIds null', { linkedStoreIds: null }, true],
  ];
  it.each(cases)('%s', (_n, c, runs) => {
    const e = engine(rulesPayload([campaign(1, d('x', 1), { campaign: c })]));
    expect(evaluate(e, big).evaluatedCampaignIds).toEqual(runs ? [1] : []);
  });
  it('uses the clock instant given (now)', () => {
    const e = engine(rulesPayload([campaign(1, d('x', 1), { campaign: { endTime: '2026-06-01T10:00:00Z' } })]));
    expect(evaluate(e, big, { now: NOW - 1 }).evaluatedCampaignIds).toEqual([1]);
    expect(evaluate(e, big, { now: NOW }).evaluatedCampaignIds).toEqual([]);
  });
});

describe('money by currency', () => {
  it('JPY has no minor unit, KWD three', () => {
    const r = (cur: string) => engine(rulesPayload([campaign(1, [[{ type: 'awardDiscount', name: 'p', value: '{{$Session.Total * 0.155}}', partial: false, target: { type: 'cart' } }]])], { application: { currency: cur } }));
    expect(evaluate(r('JPY'), { cartItems: cart(['A', 999]) }).effects[0]?.props.value).toBe(155); // 154.845 → 155
    expect(evaluate(r('KWD'), { cartItems: cart(['A', 9.999]) }).effects[0]?.props.value).toBe(1.55); // 1.549845 → 1.550
    expect(evaluate(r('EUR'), { cartItems: cart(['A', 0.1, 3]) }).totals).toEqual({ total: 0.3, cartItemTotal: 0.3, additionalCostTotal: 0, discounts: 0.05 });
  });
  it('additional costs count in the total and the discount scope', () => {
    const e = engine(rulesPayload([campaign(1, [[{ type: 'awardDiscount', name: 'all', value: 100, partial: true, target: { type: 'cart' } }]])], { application: { currency: 'EUR', defaultDiscountScope: 'cartItems' } }));
    const out = evaluate(e, { cartItems: cart(['A', 10]), additionalCosts: { shipping: { price: 4.99 } } });
    expect(out.totals).toEqual({ total: 14.99, cartItemTotal: 10, additionalCostTotal: 4.99, discounts: 10 });
  });
});
