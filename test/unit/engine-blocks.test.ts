import { describe, expect, it } from 'vitest';
import { campaign, cart, engine, evaluate, fx, rulesPayload, triggers, type B } from './engine-helpers.js';

const big = { cartItems: cart(['A', 30], ['B', 20, 2]) }; // 70.00
const small = { cartItems: cart(['A', 5]) };
const gt = (v: number): B => ({ type: 'checkAttribute', attribute: '$Session.Total', operator: 'greaterThan', value: v });
const disc = (name: string, value: number | string, target: B = { type: 'cart' }, partial = false): B => ({ type: 'awardDiscount', name, value, partial, target });

describe('group', () => {
  const cases: [string, string, B[], boolean][] = [
    ['all: every child passes', 'all', [gt(10), gt(20)], true],
    ['all: one fails', 'all', [gt(10), gt(100)], false],
    ['atLeastOne: one passes', 'atLeastOne', [gt(100), gt(10)], true],
    ['atLeastOne: none pass', 'atLeastOne', [gt(100), gt(200)], false],
    ['none: none pass', 'none', [gt(100), gt(200)], true],
    ['none: one passes', 'none', [gt(100), gt(10)], false],
  ];
  it.each(cases)('%s', (_n, operator, blocks, expected) => {
    expect(triggers([{ type: 'group', operator, blocks }], big)).toBe(expected);
  });

  it('emits onFailure effects when the group fails, and no discount', () => {
    const e = engine(rulesPayload([campaign(1, [[
      { type: 'group', operator: 'all', blocks: [gt(100)], onFailure: [{ type: 'showNotification', notificationType: 'Info', title: 'Spend more', body: 'Only {{$Session.Total}} so far' }] },
      disc('d', 5),
    ]])]));
    expect(fx(evaluate(e, big))).toEqual([{ type: 'showNotification', campaignId: 1, props: { notificationType: 'Info', title: 'Spend more', body: 'Only 70 so far' } }]);
  });

  it('rolls back effects of a failing branch inside atLeastOne', () => {
    const e = engine(rulesPayload([campaign(1, [[
      { type: 'group', operator: 'atLeastOne', blocks: [
        { type: 'group', operator: 'all', blocks: [disc('first', 5), gt(1000)] },
        { type: 'group', operator: 'all', blocks: [disc('second', 3)] },
      ] },
    ]])]));
    const out = evaluate(e, big);
    expect(fx(out)).toEqual([{ type: 'setDiscount', campaignId: 1, props: { name: 'second', value: 3 } }]);
    expect(out.totals.discounts).toBe(3);
  });

  it('onFailure with a discount makes the campaign not offline-capable', () => {
    const e = engine(rulesPayload([campaign(1, [[{ ...gt(1), onFailure: [disc('x', 1)] }]])]));
    expect(evaluate(e, big).skippedCampaigns[0]?.reason).toMatch(/onFailure/);
  });
});

describe('awardDiscount', () => {
  it('cart: fixed and {{expression}} values, exact cents', () => {
    const e = engine(rulesPayload([campaign(1, [[disc('ten', '{{$Session.Total * 0.1}}')], [disc('fix', 2.5)]])]));
    const out = evaluate(e, { cartItems: cart(['A', 33.33, 3]) }); // 99.99
    expect(fx(out)).toEqual([
      { type: 'setDiscount', campaignId: 1, props: { name: 'ten', value: 10 } }, // 9.999 → 10.00 half-up
      { type: 'setDiscount', campaignId: 1, props: { name: 'fix', value: 2.5 } },
    ]);
    expect(out.effects[0]).toMatchObject({ rulesetId: 10, ruleIndex: 0, ruleName: 'R1.0' });
    expect(out.effects[1]).toMatchObject({ ruleIndex: 1, ruleName: 'R1.1' });
  });

  it('cart: a discount above the cart value is capped to it (SetDiscountEffectProps: value effective, desiredValue asked)', () => {
    const no = engine(rulesPayload([campaign(1, [[disc('big', 10)]])]));
    expect(fx(evaluate(no, small))).toEqual([{ type: 'setDiscount', campaignId: 1, props: { name: 'big', value: 5, desiredValue: 10 } }]);
    const yes = engine(rulesPayload([campaign(1, [[disc('big', 10, { type: 'cart' }, true)]])]));
    expect(fx(evaluate(yes, small))).toEqual([{ type: 'setDiscount', campaignId: 1, props: { name: 'big', value: 5, desiredValue: 10 } }]);
  });

  it('cart: with nothing left at all the block fails without partial, gives nothing with it', () => {
    const no = engine(rulesPayload([campaign(1, [[disc('all', 5)]]), campaign(2, [[disc('more', 1)]])]));
    expect(fx(evaluate(no, small)).map((x) => x.campaignId)).toEqual([1]);
    expect(evaluate(no, small, { explain: true }).explanation?.ruleFailureReasons.map((r) => r.campaignID)).toEqual([2]);
    const yes = engine(rulesPayload([campaign(1, [[disc('all', 5)]]), campaign(2, [[disc('more', 1, { type: 'cart' }, true), { type: 'showNotification', notificationType: 'Info', title: 't', body: 'b' }]])]));
    expect(fx(evaluate(yes, small)).map((x) => x.type)).toEqual(['setDiscount', 'showNotification']);
  });

  it('application enablePartialDiscounts caps too', () => {
    const e = engine(rulesPayload([campaign(1, [[disc('big', 10)]])], { application: { currency: 'EUR', enablePartialDiscounts: true } }));
    expect(fx(evaluate(e, small))[0]?.props).toEqual({ name: 'big', value: 5, desiredValue: 10 });
  });

  it('allItems: per unit value times quantity, per line', () => {
    const e = engine(rulesPayload([campaign(1, [[disc('p', '{{$Item.Price * 0.15}}', { type: 'allItems' })]])]));
    const out = evaluate(e, { cartItems: cart(['A', 8.5, 2], ['B', 39.99]) });
    expect(fx(out)).toEqual([
      { type: 'setDiscountPerItem', campaignId: 1, props: { name: 'p#0', value: 2.56, position: 0 } }, // 1.275 → 1.28 × 2
      { type: 'setDiscountPerItem', campaignId: 1, props: { name: 'p#1', value: 6, position: 1 } }, // 5.9985 → 6.00
    ]);
  });

  it('allItems prorated: splits a total exactly over line values', () => {
    const e = engine(rulesPayload([campaign(1, [[disc('p', 10, { type: 'allItems', prorated: true })]])]));
    const out = evaluate(e, { cartItems: cart(['A', 10], ['B', 10], ['C', 10]) });
    expect(out.effects.map((x) => x.props.value)).toEqual([3.34, 3.33, 3.33]);
    expect(out.effects[0]?.props.totalDiscount).toBe(10);
    expect(out.totals.discounts).toBe(10);
  });

  it('per-item discount never exceeds the line value: capped, with desiredValue (SetDiscountPerItemEffectProps)', () => {
    for (const partial of [false, true]) {
      const e = engine(rulesPayload([campaign(1, [[disc('p', 7, { type: 'allItems' }, partial)]])]));
      expect(evaluate(e, { cartItems: cart(['A', 5], ['B', 10]) }).effects.map((x) => x.props)).toEqual([
        { name: 'p#0', value: 5, position: 0, desiredValue: 7 },
        { name: 'p#1', value: 7, position: 1 },
      ]);
    }
  });

  it('cascading: a later discount sees what earlier ones left', () => {
    const e = engine(rulesPayload([campaign(1, [[disc('a', 4, { type: 'allItems' })]]), campaign(2, [[disc('b', 4, { type: 'allItems' }, true)]])]));
    expect(evaluate(e, { cartItems: cart(['A', 5]) }).effects.map((x) => x.props.value)).toEqual([4, 1]);
  });

  it('globalFilter target uses the application cart item filter (Talang)', () => {
    const filter = { name: 'Kitchen', expression: ['filter', ['.', 'Session', 'CartItems'], [['Item'], ['catch', false, ['=', ['.', 'Item', 'Category'], 'Kitchen']]]] };
    const e = engine(rulesPayload([campaign(1, [[disc('k', 1, { type: 'globalFilter', name: 'Kitchen' })]])], { cartItemFilters: [filter] }));
    const out = evaluate(e, { cartItems: cart(['A', 5, 1, { category: 'Kitchen' }], ['B', 5], ['C', 5, 1, { category: 'Kitchen' }]) });
    expect(out.effects.map((x) => x.props.position)).toEqual([0, 2]);
  });

  it('an unknown global filter makes the campaign not offline-capable', () => {
    const e = engine(rulesPayload([campaign(1, [[disc('k', 1, { type: 'globalFilter', name: 'Nope' })]])]));
    expect(evaluate(e, big).skippedCampaigns).toEqual([{ id: 1, reason: 'cart item filter Nope is not in the rules data' }]);
  });

  it('a bundle the ruleset does not define, or defines only as Talang, is not offline-capable', () => {
    const talang = { name: 'x', type: 'bundle', expression: ['list'] };
    const e = engine(rulesPayload([campaign(1, [[disc('b', 1, { type: 'bundle', name: 'x' })]]), campaign(2, [[disc('b', 1, { type: 'bundle', name: 'x' })]], { ruleset: { bundles: [talang] } })]));
    expect(evaluate(e, big).skippedCampaigns.map((s) => s.id)).toEqual([1, 2]);
  });
});

describe('selectors', () => {
  const items = { cartItems: cart(['S1', 80, 1, { category: 'Shoes' }], ['T', 20, 1, { category: 'Tops' }], ['S2', 60, 1, { category: 'Shoes' }], ['S3', 70, 2, { category: 'Shoes' }]) };
  const shoes = { type: 'filter', predicate: { id: 'p', type: 'checkAttribute', attribute: '$Item.Category', operator: 'equals', value: 'Shoes' } };
  const run = (steps: B[], block: (name: string) => B[]) => {
    const e = engine(rulesPayload([campaign(1, [block('sel')], { selectors: [{ name: 'sel', type: 'selector', source: '$Session.CartItems', steps }] })]));
    return evaluate(e, items);
  };
  it('filter + sort desc + select many from start', () => {
    const out = run([shoes, { type: 'sort', fields: [{ expression: '$Item.Price', direction: 'desc' }] }, { type: 'select', operator: 'many', from: 'start', count: 2 }], (n) => [disc('d', 1, { type: 'selector', name: n })]);
    expect(out.effects.map((x) => x.props.position)).toEqual([0, 3]);
  });
  it('reverse + select one', () => {
    const out = run([shoes, { type: 'reverse' }, { type: 'select', operator: 'one', index: 0 }], (n) => [disc('d', 1, { type: 'selector', name: n })]);
    expect(out.effects.map((x) => x.props.position)).toEqual([3]);
  });
  it('select between (to exclusive) and from end', () => {
    expect(run([{ type: 'select', operator: 'between', from: 1, to: 3 }], (n) => [disc('d', 1, { type: 'selector', name: n })]).effects.map((x) => x.props.position)).toEqual([1, 2]);
    expect(run([{ type: 'select', operator: 'many', from: 'end', count: 1 }], (n) => [disc('d', 1, { type: 'selector', name: n })]).effects.map((x) => x.props.position)).toEqual([3]);
  });
  it('map + reduce sum/max/min/count/empty feed checkAttribute', () => {
    const check = (steps: B[], operator: string, value: unknown) => run(steps, (n) => [{ type: 'checkAttribute', attribute: `$${n}`, operator, value }, disc('ok', 1)]).effects.length === 1;
    expect(check([shoes, { type: 'map', expression: '$Item.Price' }, { type: 'reduce', operator: 'sum' }], 'equals', 210)).toBe(true);
    expect(check([shoes, { type: 'map', expression: '$Item.Price' }, { type: 'reduce', operator: 'max' }], 'equals', 80)).toBe(true);
    expect(check([shoes, { type: 'map', expression: '$Item.Price' }, { type: 'reduce', operator: 'min' }], 'equals', 60)).toBe(true);
    expect(check([shoes, { type: 'reduce', operator: 'count' }], 'equals', 3)).toBe(true);
    expect(check([shoes, { type: 'reduce', operator: 'empty' }], 'equals', false)).toBe(true);
    const all = (values: string[]) => run([{ type: 'map', expression: '$Item.Category' }], (n) => [{ type: 'checkAttribute', attribute: `$${n}`, operator: 'containsAllOf', values }, disc('ok', 1)]).effects.length === 1;
    expect(all(['Shoes', 'Tops'])).toBe(true);
    expect(all(['Shoes', 'Hats'])).toBe(false);
  });
  it('a group predicate and a passthrough predicate', () => {
    const pred = { type: 'filter', predicate: { id: 'g', type: 'group', operator: 'atLeastOne', blocks: [
      { id: 'a', type: 'checkAttribute', attribute: '$Item.Category', operator: 'equals', value: 'Tops' },
      { id: 'b', type: 'passthrough', expression: ['>', ['.', 'Item', 'Price'], 75] },
    ] } };
    expect(run([pred], (n) => [disc('d', 1, { type: 'selector', name: n })]).effects.map((x) => x.props.position)).toEqual([0, 1]);
  });
  it('filterAndMapValues is not offline-capable; a mapped selector cannot be a discount target', () => {
    expect(run([{ type: 'filterAndMapValues', valueMap: { id: 1 } }], (n) => [disc('d', 1, { type: 'selector', name: n })]).skippedCampaigns[0]?.reason).toMatch(/filterAndMapValues/);
    expect(run([{ type: 'map', expression: '$Item.Price' }], (n) => [disc('d', 1, { type: 'selector', name: n })]).skippedCampaigns[0]?.reason).toMatch(/does not yield cart items/);
  });
});

describe('effect blocks', () => {
  it('awardItem → addFreeItem; showNotification; triggerCustomEffect (cart and per item)', () => {
    const e = engine(rulesPayload([campaign(1, [[
      { type: 'awardItem', sku: 'TOTE', name: 'Tote', quantity: '{{$Session.ItemCount}}', partial: false },
      { type: 'showNotification', notificationType: 'Offer', title: 'Hi', body: 'Total {{$Session.Total}}' },
      { type: 'triggerCustomEffect', customEffect: { id: 3, name: 'printVoucher', title: 'Print' }, params: { code: 'V-{{$Session.ItemCount}}', copies: 2 }, target: { type: 'cart' } },
      { type: 'triggerCustomEffect', customEffect: { id: 4, name: 'tag', title: 'Tag' }, params: { sku: '{{$Item.Sku}}' }, target: { type: 'allItems' } },
    ]])]));
    expect(fx(evaluate(e, big))).toEqual([
      { type: 'addFreeItem', campaignId: 1, props: { sku: 'TOTE', name: 'Tote', desiredQuantity: 3 } },
      { type: 'showNotification', campaignId: 1, props: { notificationType: 'Offer', title: 'Hi', body: 'Total 70' } },
      { type: 'customEffect', campaignId: 1, props: { effectId: 3, name: 'printVoucher', payload: { code: 'V-3', copies: 2 } } },
      { type: 'customEffect', campaignId: 1, props: { effectId: 4, name: 'tag', payload: { sku: 'A' }, cartItemPosition: 0 } },
      { type: 'customEffect', campaignId: 1, props: { effectId: 4, name: 'tag', payload: { sku: 'B' }, cartItemPosition: 1 } },
    ]);
  });

  it.each(['awardGiveaway', 'triggerWebhook', 'checkReferral', 'updateAchievementProgress', 'checkEvent', 'checkAchievement', 'createCoupon', 'createReferral', 'reserveCoupon', 'someFutureBlock'])('%s is not offline-capable and nothing of its campaign applies', (type) => {
    const e = engine(rulesPayload([campaign(1, [[disc('first', 1), { type }]]), campaign(2, [[disc('other', 1)]])]));
    const out = evaluate(e, big);
    expect(out.skippedCampaigns).toEqual([{ id: 1, reason: `block ${type} is not supported offline` }]);
    expect(fx(out)).toEqual([{ type: 'setDiscount', campaignId: 2, props: { name: 'other', value: 1 } }]);
  });

  it('checkAudience member / not(member)', () => {
    const profile = { integrationId: 'p1', audienceMemberships: [{ id: 7 }] };
    expect(triggers([{ type: 'checkAudience', operator: 'member', profile: 'Current', audience: { id: 7 } }], big, { profile })).toBe(true);
    expect(triggers([{ type: 'checkAudience', operator: 'not(member)', audience: { id: 7 } }], big, { profile })).toBe(false);
    expect(triggers([{ type: 'checkAudience', operator: 'member', audience: { id: 8 } }], big, { profile })).toBe(false);
  });
});

describe('selector sharing', () => {
  it('identical cart-only selectors of different campaigns give the same items; template references stay per campaign', () => {
    const shoes = (name: string, extra: B = {}) => ({ name, type: 'selector', source: '$Session.CartItems', steps: [{ type: 'filter', predicate: { id: 'p', type: 'checkAttribute', attribute: '$Item.Category', operator: 'equals', value: 'Shoes', ...extra } }] });
    const e = engine(rulesPayload([
      campaign(1, [[disc('a', 1, { type: 'selector', name: 's' })]], { selectors: [shoes('s')] }),
      campaign(2, [[disc('b', 1, { type: 'selector', name: 'other' })]], { selectors: [shoes('other')] }),
      campaign(3, [[disc('c', 1, { type: 'selector', name: 'x' })]], { selectors: [{ name: 'cat', type: 'selector', source: '$Session.CartItems', steps: [{ type: 'map', expression: '$Item.Category' }] }, shoes('x', { value: '{{$cat}}' })] }),
    ]));
    const out = evaluate(e, { cartItems: cart(['A', 10, 1, { category: 'Shoes' }], ['B', 10, 1, { category: 'Tops' }]) });
    expect(out.effects.map((x) => x.props.name)).toEqual(['a#0', 'b#0']);
  });
});
