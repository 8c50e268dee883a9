/**
 * Issue 15 part A: the engine's arithmetic follows Talon.One's documented behaviour. Each case names its source:
 * a model of the Integration API spec (docs.talon.one/oas/integration.yaml) or a page of docs.talon.one.
 */
import { describe, expect, it } from 'vitest';
import { campaign, cart, engine, evaluate, fx, rulesPayload, type B } from './engine-helpers.js';
import { currency, prorate } from '../../src/engine/money.js';

const disc = (name: string, value: number | string, target: B = { type: 'cart' }, partial = false): B => ({ type: 'awardDiscount', name, value, partial, target });
const shoesFilter = { name: 'shoesfilter', expression: ['filter', ['.', 'Session', 'CartItems'], [['Item'], ['catch', false, ['=', ['.', 'Item', 'Category'], 'shoes']]]] };
const shoes = cart(['S55', 55, 1, { category: 'shoes' }], ['S60', 60, 1, { category: 'shoes' }], ['S115', 115, 1, { category: 'shoes' }]);
const values = (out: ReturnType<typeof evaluate>) => out.effects.map((e) => e.props.value);

describe('behaviour 1: a fixed discount larger than what it applies to is given capped, with desiredValue', () => {
  // SetDiscountEffectProps: `value` "The monetary value of the effective discount", `desiredValue` the discount asked for.
  it('20 EUR off a 12.90 EUR basket: value 12.90, desiredValue 20 (SetDiscountEffectProps)', () => {
    const e = engine(rulesPayload([campaign(1, [[disc('20 off', 20)]])]));
    const out = evaluate(e, { cartItems: cart(['A', 12.9]) });
    expect(fx(out)).toEqual([{ type: 'setDiscount', campaignId: 1, props: { name: '20 off', value: 12.9, desiredValue: 20 } }]);
    expect(out.totals.discounts).toBe(12.9);
  });

  it('per item: 20 EUR off each item, one of 12.90 (SetDiscountPerItemEffectProps)', () => {
    const e = engine(rulesPayload([campaign(1, [[disc('20 each', 20, { type: 'allItems' })]])]));
    expect(evaluate(e, { cartItems: cart(['A', 12.9], ['B', 30]) }).effects.map((x) => x.props)).toEqual([
      { name: '20 each#0', value: 12.9, position: 0, desiredValue: 20 },
      { name: '20 each#1', value: 20, position: 1 },
    ]);
  });

  it('pro rata: a total larger than the items is capped, desiredTotalDiscount says what was asked (SetDiscountPerItemEffectProps)', () => {
    const e = engine(rulesPayload([campaign(1, [[disc('p', 50, { type: 'allItems', prorated: true })]])]));
    const out = evaluate(e, { cartItems: cart(['A', 10], ['B', 20]) });
    expect(out.effects.map((x) => x.props)).toEqual([
      { name: 'p#0', value: 10, position: 0, totalDiscount: 30, desiredTotalDiscount: 50 },
      { name: 'p#1', value: 20, position: 1, totalDiscount: 30, desiredTotalDiscount: 50 },
    ]);
  });

  it('additional costs: 10 EUR off a 4.99 shipping cost (SetDiscountPerAdditionalCostEffectProps)', () => {
    const e = engine(rulesPayload([campaign(1, [[disc('ship', 10, { type: 'additionalCost', additionalCost: { id: 7, name: 'shipping', title: 'Shipping' }, target: { type: 'cart' } })]])]));
    const out = evaluate(e, { cartItems: cart(['A', 20]), additionalCosts: { shipping: { price: 4.99 } } });
    expect(fx(out)).toEqual([{ type: 'setDiscountPerAdditionalCost', campaignId: 1, props: { name: 'ship', additionalCostId: 7, additionalCost: 'shipping', value: 4.99, desiredValue: 10 } }]);
    expect(out.totals.discounts).toBe(4.99);
  });

  it('after earlier discounts, when discounts cascade: 10 then 5 EUR on 12.90 gives 10 and 2.90 (SetDiscountEffectProps)', () => {
    const e = engine(rulesPayload([campaign(1, [[disc('ten', 10)]]), campaign(2, [[disc('five', 5)]])], { application: { currency: 'EUR', enableCascadingDiscounts: true } }));
    expect(fx(evaluate(e, { cartItems: cart(['A', 12.9]) })).map((x) => x.props)).toEqual([
      { name: 'ten', value: 10, scope: 'sessionTotal' },
      { name: 'five', value: 2.9, scope: 'sessionTotal', desiredValue: 5 },
    ]);
  });
});

describe('behaviour 2: pro rata shares are cut to the minor unit, the deficit goes to the highest discounted item', () => {
  // https://docs.talon.one/docs/product/tutorials/coupons/prorata-discount: "30 EUR on pairs worth 55, 60 and 115 …
  // 7.17, 7.82, and 15 … total 29.99. The error is fixed by adding the deficit amount to the highest discounted item."
  it('the tutorial: 30 EUR over 55, 60, 115 through the cart item filter "shoesfilter" gives 7.17, 7.82, 15.01', () => {
    const e = engine(rulesPayload([campaign(1, [[disc('30 pro rata', 30, { type: 'globalFilter', name: 'shoesfilter', prorated: true })]])], { cartItemFilters: [shoesFilter] }));
    const out = evaluate(e, { cartItems: [...shoes, { sku: 'SOCK', price: 5, quantity: 1, category: 'socks' }] });
    expect(out.effects.map((x) => x.props)).toEqual([
      { name: '30 pro rata#0', value: 7.17, position: 0, totalDiscount: 30 },
      { name: '30 pro rata#1', value: 7.82, position: 1, totalDiscount: 30 },
      { name: '30 pro rata#2', value: 15.01, position: 2, totalDiscount: 30 },
    ]);
  });

  it('the same split for allItems and selector targets (every place the engine splits an amount)', () => {
    const sel = [{ name: 'sh', type: 'selector', source: '$Session.CartItems', steps: [{ type: 'filter', predicate: { id: 'p', type: 'checkAttribute', attribute: '$Item.Category', operator: 'equals', value: 'shoes' } }] }];
    for (const target of [{ type: 'allItems', prorated: true }, { type: 'selector', name: 'sh', prorated: true }]) {
      const e = engine(rulesPayload([campaign(1, [[disc('p', 30, target)]], { selectors: sel })]));
      expect(values(evaluate(e, { cartItems: shoes }))).toEqual([7.17, 7.82, 15.01]);
    }
  });

  it('a bundle split pro rata too (bundle targets)', () => {
    const e = engine(rulesPayload([campaign(1, [[disc('set', 30, { type: 'bundle', name: 'three', prorated: true })]], { ruleset: { bundles: [{ name: 'three', lists: [{ target: { type: 'allItems' }, count: 3 }] }] } })]));
    expect(values(evaluate(e, { cartItems: shoes }))).toEqual([7.17, 7.82, 15.01]);
  });

  it('prorate: floor shares; the deficit to the highest share (the first of equal ones), never above a weight', () => {
    expect(prorate(3000, [5500, 6000, 11500])).toEqual([717, 782, 1501]);
    expect(prorate(10, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    expect(prorate(2, [1, 1, 1])).toEqual([1, 1, 0]);
    expect(prorate(5, [1, 100, 2])).toEqual([0, 5, 0]);
    // The highest discounted item has no room for the whole deficit: the next highest takes the rest.
    expect(prorate(4, [1, 2, 2])).toEqual([0, 2, 2]);
    expect(prorate(0, [1, 2])).toEqual([0, 0]);
    expect(prorate(7, [0, 0])).toEqual([0, 0]);
    // Beyond 2^53 in the product: exact (BigInt) shares.
    expect(prorate(9_007_199_254_740, [999_999_999, 1_000_000_001])).toEqual([4_503_599_622_866, 4_503_599_631_874]);
  });

  it('in a currency without minor units (JPY): 500 over 300, 300, 301 yen gives 166, 166, 168', () => {
    const e = engine(rulesPayload([campaign(1, [[disc('p', 500, { type: 'allItems', prorated: true })]])], { application: { currency: 'JPY' } }));
    expect(values(evaluate(e, { cartItems: cart(['A', 300], ['B', 300], ['C', 301]) }))).toEqual([166, 166, 168]);
    expect(currency('JPY').decimals).toBe(0);
  });
});

describe('behaviour 4: further documented rules', () => {
  it('setDiscount carries `scope` only with cascading discounts ("Cascading discounts must be enabled for this property to be returned", SetDiscountEffectProps)', () => {
    const on = engine(rulesPayload([campaign(1, [[disc('d', 1)]])], { application: { currency: 'EUR', enableCascadingDiscounts: true, defaultDiscountScope: 'cartItems' } }));
    const off = engine(rulesPayload([campaign(1, [[disc('d', 1)]])]));
    expect(fx(evaluate(on, { cartItems: cart(['A', 5]) }))[0]?.props).toEqual({ name: 'd', value: 1, scope: 'cartItems' });
    expect(fx(evaluate(off, { cartItems: cart(['A', 5]) }))[0]?.props).toEqual({ name: 'd', value: 1 });
  });

  it('per item additional cost: value per unit times quantity, name#position (SetDiscountPerAdditionalCostPerItemEffectProps)', () => {
    const e = engine(rulesPayload([campaign(1, [[disc('wrap', 2, { type: 'additionalCost', additionalCost: { id: 3, name: 'giftwrap' }, target: { type: 'allItems' } })]])]));
    const out = evaluate(e, { cartItems: cart(['A', 10, 2, { additionalCosts: { giftwrap: { price: 1.5 } } }], ['B', 10, 1, { additionalCosts: { giftwrap: { price: 3 } } }]) });
    expect(out.effects.map((x) => [x.effectType, x.props])).toEqual([
      ['setDiscountPerAdditionalCostPerItem', { name: 'wrap#0', additionalCostId: 3, value: 3, position: 0, additionalCost: 'giftwrap', desiredValue: 4 }],
      ['setDiscountPerAdditionalCostPerItem', { name: 'wrap#1', additionalCostId: 3, value: 2, position: 1, additionalCost: 'giftwrap' }],
    ]);
  });

  it('"If one or more items do not have an additional cost, the rule will fail" (SetDiscountPerAdditionalCostPerItemEffectProps)', () => {
    const e = engine(rulesPayload([campaign(1, [[{ type: 'showNotification', notificationType: 'Info', title: 'n', body: 'b' }, disc('wrap', 1, { type: 'additionalCost', additionalCost: { id: 3, name: 'giftwrap' }, target: { type: 'allItems' } })]])]));
    expect(evaluate(e, { cartItems: cart(['A', 10, 1, { additionalCosts: { giftwrap: { price: 1 } } }], ['B', 10]) }).effects).toEqual([]);
    expect(evaluate(e, { cartItems: cart(['A', 10, 1, { additionalCosts: { giftwrap: { price: 1 } } }]) }).effects.map((x) => x.effectType)).toEqual(['showNotification', 'setDiscountPerAdditionalCostPerItem']);
  });

  it('an additional cost discount does not take from the items when the default scope is cartItems; it does from the session total', () => {
    const rules = (scope: string) => rulesPayload([campaign(1, [[disc('ship', 5, { type: 'additionalCost', additionalCost: { id: 7, name: 'shipping' }, target: { type: 'cart' } })]]), campaign(2, [[disc('cart', 100)]])], { application: { currency: 'EUR', defaultDiscountScope: scope } });
    const session = { cartItems: cart(['A', 20]), additionalCosts: { shipping: { price: 5 } } };
    expect(values(evaluate(engine(rules('cartItems')), session))).toEqual([5, 20]);
    expect(values(evaluate(engine(rules('sessionTotal')), session))).toEqual([5, 20]);
    expect(evaluate(engine(rules('sessionTotal')), session).effects[1]?.props.desiredValue).toBe(100);
  });

  it('campaigns with additionalCost and bundle targets are offline-capable', () => {
    const e = engine(rulesPayload([
      campaign(1, [[disc('ship', 1, { type: 'additionalCost', additionalCost: { id: 7, name: 'shipping' }, target: { type: 'cart' } })]]),
      campaign(2, [[disc('b', 1, { type: 'bundle', name: 'pair' })]], { ruleset: { bundles: [{ name: 'pair', lists: [{ target: { type: 'allItems' }, count: 2 }] }] } }),
    ]));
    expect(evaluate(e, { cartItems: cart(['A', 10]) }).skippedCampaigns).toEqual([]);
  });
});

describe('bundles (https://docs.talon.one/docs/product/rules/creating-and-managing-bundles)', () => {
  const def = { name: 'shoesAndSocks', lists: [{ target: { type: 'globalFilter', name: 'shoesfilter' }, count: 1 }, { target: { type: 'selector', name: 'socks' }, count: 2 }] };
  const socks = [{ name: 'socks', type: 'selector', source: '$Session.CartItems', steps: [{ type: 'filter', predicate: { id: 'p', type: 'checkAttribute', attribute: '$Item.Category', operator: 'equals', value: 'socks' } }] }];
  const run = (target: B, items: B[], bundle: B = def, value: number | string = 2) =>
    evaluate(engine(rulesPayload([campaign(1, [[disc('b', value, target)]], { selectors: socks, ruleset: { bundles: [bundle] } })], { cartItemFilters: [shoesFilter] })), { cartItems: items as never });
  const shop = cart(['SH1', 50, 2, { category: 'shoes' }], ['SO1', 4, 3, { category: 'socks' }], ['SO2', 6, 2, { category: 'socks' }]);

  it('1 shoe + 2 socks per bundle: two bundles from 2 shoes and 5 socks, each item discounted, bundleIndex/bundleName/subPosition (SetDiscountPerItemEffectProps)', () => {
    expect(run({ type: 'bundle', name: 'shoesAndSocks' }, shop).effects.map((x) => x.props)).toEqual([
      { name: 'b#0', value: 2, position: 0, subPosition: 0, bundleIndex: 0, bundleName: 'shoesAndSocks' },
      { name: 'b#1', value: 4, position: 1, subPosition: 0, bundleIndex: 0, bundleName: 'shoesAndSocks' },
      { name: 'b#0', value: 2, position: 0, subPosition: 1, bundleIndex: 1, bundleName: 'shoesAndSocks' },
      { name: 'b#1', value: 2, position: 1, subPosition: 2, bundleIndex: 1, bundleName: 'shoesAndSocks' },
      { name: 'b#2', value: 2, position: 2, subPosition: 0, bundleIndex: 1, bundleName: 'shoesAndSocks' },
    ]);
  });

  it('no complete bundle: no discount, the rule still passes', () => {
    expect(run({ type: 'bundle', name: 'shoesAndSocks' }, cart(['SH1', 50, 1, { category: 'shoes' }], ['SO1', 4, 1, { category: 'socks' }])).effects).toEqual([]);
  });

  it('one item per bundle: byIndex and byAttribute (lowest price), with targetedItemPosition (AwardDiscountBundleItem)', () => {
    const byIndex = run({ type: 'bundle', name: 'shoesAndSocks', item: { type: 'byIndex', value: 0 } }, shop, def, '{{$Item.Price * 0.5}}');
    expect(byIndex.effects.map((x) => [x.props.position, x.props.value, x.props.bundleIndex, x.props.targetedItemPosition, x.props.targetedItemSubPosition])).toEqual([[0, 25, 0, 0, 0], [0, 25, 1, 0, 1]]);
    const cheapest = run({ type: 'bundle', name: 'shoesAndSocks', item: { type: 'byAttribute', attribute: '{{$Item.Price}}', direction: 'lowest' } }, shop, def, '{{$Item.Price}}');
    expect(cheapest.effects.map((x) => [x.props.position, x.props.value, x.props.bundleIndex])).toEqual([[1, 4, 0], [1, 4, 1]]);
  });

  it('bundling attributes: items bundle only with items of equal values', () => {
    const pairs = { name: 'pair', lists: [{ target: { type: 'allItems' }, count: 2 }], attributes: ['$Item.Attributes.color'] };
    const items = cart(['A', 10, 1, { attributes: { color: 'red' } }], ['B', 10, 1, { attributes: { color: 'blue' } }], ['C', 10, 1, { attributes: { color: 'red' } }], ['D', 10, 1]);
    expect(run({ type: 'bundle', name: 'pair' }, items, pairs, 1).effects.map((x) => [x.props.position, x.props.bundleIndex])).toEqual([[0, 0], [2, 0]]);
  });

  it('capped to what is left of the line, with desiredValue', () => {
    expect(run({ type: 'bundle', name: 'shoesAndSocks' }, shop, def, 5).effects.map((x) => [x.props.position, x.props.value, x.props.desiredValue])).toEqual([
      [0, 5, undefined], [1, 10, undefined], [0, 5, undefined], [1, 2, 5], [2, 5, undefined],
    ]);
  });

  it('an index past the bundle size, or an unreadable definition, makes the campaign not offline-capable', () => {
    expect(run({ type: 'bundle', name: 'shoesAndSocks', item: { type: 'byIndex', value: 3 } }, shop).skippedCampaigns[0]?.reason).toMatch(/not a slot of a bundle of 3/);
    expect(run({ type: 'bundle', name: 'x' }, shop, { name: 'x', lists: [{ target: { type: 'allItems' }, count: 0 }] }).skippedCampaigns[0]?.reason).toMatch(/no items/);
  });
});
