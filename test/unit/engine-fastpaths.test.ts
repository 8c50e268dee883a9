import { describe, expect, it } from 'vitest';
import { campaign, cart, engine, evaluate, fx, rulesPayload, triggers } from './engine-helpers.js';
import { currency, prorate, toMinor } from '../../src/engine/money.js';
import { PriceBook, PriceEffect, PriceEntry, PriceType } from '../../src/engine/pricebook.js';

/** The speed-ups (prechecks, cart index, numeric fast paths) must give what the general code gives. */
describe('engine fast paths', () => {
  it('toMinor: percentage values off the half boundary, half-up on it, sign of the string rule', () => {
    const eur = currency('EUR'), kwd = currency('KWD');
    expect(toMinor(0.4321, eur)).toBe(43);
    expect(toMinor(0.4371, eur)).toBe(44);
    expect(toMinor(1.005, eur)).toBe(101);
    expect(toMinor(2.675, eur)).toBe(268);
    expect(toMinor(-0.125, eur)).toBe(-13);
    expect(toMinor(0.0004, kwd)).toBe(0);
    expect(Object.is(toMinor(-0.001, eur), -0)).toBe(true);
    expect(Object.is(toMinor(-5e-10, eur), 0)).toBe(true);
  });

  it('prorate: floor shares, the deficit to the highest share (the earlier on ties), never past a weight', () => {
    expect(prorate(2, [1, 1, 1])).toEqual([1, 1, 0]);
    expect(prorate(1, [5, 5])).toEqual([1, 0]);
    expect(prorate(10, [3, 3, 4])).toEqual([3, 3, 4]);
    expect(prorate(7, [1, 2, 3, 0])).toEqual([1, 2, 4, 0]);
    expect(prorate(5, [0, 0])).toEqual([0, 0]);
  });

  it('prechecked rules: failing leading checks fail the rule, onFailure effects are still given', () => {
    const s = { cartItems: cart(['A', 10]), attributes: { seg: 'x' } };
    expect(triggers([{ type: 'checkAttribute', attribute: '$Session.Attributes.seg', operator: 'equals', value: 'x' }], s)).toBe(true);
    expect(triggers([{ type: 'checkAttribute', attribute: '$Session.Attributes.seg', operator: 'equals', value: 'y' }], s)).toBe(false);
    expect(triggers([{ type: 'checkAttribute', attribute: '$Session.Total', operator: 'greaterThan', value: 9.99 }], s)).toBe(true);
    expect(triggers([{ type: 'checkAttribute', attribute: '$Session.Total', operator: 'lessThan', value: 10 }], s)).toBe(false);
    expect(triggers([{ type: 'group', operator: 'atLeastOne', blocks: [
      { type: 'checkAttribute', attribute: '$Session.Attributes.seg', operator: 'oneOf', value: ['q', 'x'] },
      { type: 'checkAttribute', attribute: '$Session.Total', operator: 'lessThan', value: 1 }] }], s)).toBe(true);
    expect(triggers([{ type: 'group', operator: 'atLeastOne', blocks: [
      { type: 'checkAttribute', attribute: '$Session.Attributes.seg', operator: 'oneOf', value: ['q'] },
      { type: 'checkAttribute', attribute: '$Profile.Attributes.tier', operator: 'equals', value: 'gold' }] }], s)).toBe(false);
    const withFailure = engine(rulesPayload([campaign(1, [[
      { type: 'checkAttribute', attribute: '$Session.Attributes.seg', operator: 'equals', value: 'y', onFailure: [{ type: 'showNotification', notificationType: 'Info', title: 'failed' }] },
      { type: 'showNotification', notificationType: 'Info', title: 'marker' }]])]));
    expect(fx(evaluate(withFailure, s)).map((e) => e.props.title)).toEqual(['failed']);
  });

  it('cart index for exists/filter: same result and same first error as scanning every line', () => {
    const s = { cartItems: cart(['A', 10, 1, { category: 'Toys' }], ['B', 5, 2, { category: 'Shoes' }], ['C', 7, 1, { category: 'Toys' }]) };
    const pass = (expr: unknown) => triggers([{ type: 'passthrough', expression: expr }], s);
    const lines = ['.', 'Session', 'CartItems'];
    expect(pass(['exists', lines, [['Item'], ['and', ['=', ['.', 'Item', 'Category'], 'Toys'], ['=', ['.', 'Item', 'Sku'], 'C']]]])).toBe(true);
    expect(pass(['exists', lines, [['Item'], ['and', ['=', ['.', 'Item', 'Category'], 'Shoes'], ['=', ['.', 'Item', 'Sku'], 'C']]]])).toBe(false);
    expect(pass(['=', ['count', ['filter', lines, [['Item'], ['=', ['.', 'Item', 'Category'], 'Toys']]]], 2])).toBe(true);
    // The second conjunct is not a boolean: an error (rule fails) only when some line passes the first one.
    expect(pass(['not', ['exists', lines, [['Item'], ['and', ['=', ['.', 'Item', 'Category'], 'Garden'], ['.', 'Item', 'Quantity']]]]])).toBe(true);
    expect(pass(['catch', true, ['exists', lines, [['Item'], ['and', ['=', ['.', 'Item', 'Category'], 'Shoes'], ['.', 'Item', 'Quantity']]]]])).toBe(true);
    expect(pass(['exists', lines, [['Item'], ['and', ['=', ['.', 'Item', 'Category'], 'Shoes'], ['.', 'Item', 'Quantity']]]])).toBe(false);
  });

  it('containsOneOf over a long list (set per evaluation) equals the scan', () => {
    const many = Array.from({ length: 30 }, (_, i) => cart([`S${i}`, 1])[0] as { sku: string; price: number; quantity: number });
    const sel = [{ name: 'skus', type: 'selector', source: '$Session.CartItems', steps: [{ type: 'map', expression: '$Item.Sku' }] }];
    const check = (values: string[]) => triggers([{ type: 'checkAttribute', attribute: '$skus', operator: 'containsOneOf', values }], { cartItems: many }, {}, { selectors: sel });
    expect(check(['X', 'S29'])).toBe(true);
    expect(check(['X', 'Y'])).toBe(false);
  });

  it('price book: the one-effect lookup equals the general loop (same entry with an empty type list)', () => {
    const meta = { campaignId: 7, rulesetId: 1, ruleIndex: 0, ruleName: 'r', type: 'setDiscountPerItem', name: 'deal' };
    const eur = currency('EUR');
    const cases: [number, number, number, string | undefined, number | undefined, number[] | null, string?][] = [
      // value, start, end, priceType, selectedPrice, audiences, meta type
      [1, -Infinity, Infinity, undefined, undefined, null], [1, 0, 500, 'base', 10, null], [1, 200, 500, undefined, 10, null],
      [1, 0, 50, 'base', 10, null], [20, 0, 500, 'base', 10, null], [0, 0, 500, undefined, 10, null], [1, 0, 500, 'base', 12, null],
      [3, 0, 500, 'base', 12, null], [2, 0, 500, 'base', 12, null], [1, 0, 500, 'member', 9, null], [1, 0, 500, 'member', undefined, null],
      [1, 0, 500, 'base', undefined, [1]], [1, 0, 500, 'base', undefined, [2, 3]], [1, 0, NaN, 'base', undefined, null],
      [1, 0, 500, 'base', undefined, null, 'setDiscount'], [0.333, 0, 500, undefined, 9.99, null],
    ];
    for (const [value, start, end, type, sel, aud, mt] of cases) {
      const f = new PriceEffect(mt ? { ...meta, type: mt } : meta, value, start, end, type, sel, undefined, aud);
      const fast = new PriceBook(new Map([['A', new PriceEntry('A', 1, 11, null, [f])]]));
      const general = new PriceBook(new Map([['A', new PriceEntry('A', 1, 11, [] as PriceType[], [f])]]));
      for (const at of [100, 600]) {
        const a = fast.select('A', at, new Set([1]), eur), b = general.select('A', at, new Set([1]), eur);
        expect(a).toEqual(b);
        expect(a?.effects).toEqual(b?.effects);
      }
    }
  });
});
