import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { campaign, engine, evaluate, rulesPayload, triggers, type B } from './engine-helpers.js';
import { prorate, toMinor, currency } from '../../src/engine/money.js';

const item = fc.record({
  sku: fc.constantFrom('A', 'B', 'C', 'D'),
  quantity: fc.integer({ min: 1, max: 5 }),
  price: fc.integer({ min: 0, max: 50_000 }).map((c) => c / 100),
  category: fc.constantFrom('Shoes', 'Kitchen', 'Toys'),
});
const cartArb = fc.array(item, { maxLength: 12 });
const valueArb = fc.oneof(fc.integer({ min: 0, max: 30_000 }).map((c) => c / 100), fc.constantFrom('{{$Session.Total * 0.1}}', '{{$Session.Total / 3}}', '{{$Item.Price * 0.35}}'));
const targetArb = fc.constantFrom<B>({ type: 'cart' }, { type: 'allItems' }, { type: 'allItems', prorated: true }, { type: 'selector', name: 'shoes' }, { type: 'selector', name: 'shoes', prorated: true });
const campaignsArb = fc.array(fc.record({ value: valueArb, target: targetArb, partial: fc.boolean() }), { minLength: 1, maxLength: 6 });
const selectors = [{ name: 'shoes', type: 'selector', source: '$Session.CartItems', steps: [{ type: 'filter', predicate: { id: 'p', type: 'checkAttribute', attribute: '$Item.Category', operator: 'equals', value: 'Shoes' } }] }];

function build(cs: { value: number | string; target: B; partial: boolean }[]) {
  return engine(rulesPayload(cs.map((c, i) => campaign(i + 1, [[{ type: 'awardDiscount', name: `d${i}`, value: c.target.type === 'cart' && String(c.value).includes('$Item') ? 1 : c.value, partial: c.partial, target: c.target }]], { selectors }))));
}

describe('properties', () => {
  it('evaluation is deterministic', () => {
    fc.assert(fc.property(campaignsArb, cartArb, (cs, items) => {
      const e = build(cs);
      expect(evaluate(e, { cartItems: items })).toEqual(evaluate(e, { cartItems: structuredClone(items) }));
    }), { numRuns: 150 });
  });

  it('discounts never exceed the cart value, nor any line its line value', () => {
    const EUR = currency('EUR');
    fc.assert(fc.property(campaignsArb, cartArb, (cs, items) => {
      const out = evaluate(build(cs), { cartItems: items });
      const total = items.reduce((s, i) => s + toMinor(i.price, EUR) * i.quantity, 0);
      const given = out.effects.reduce((s, e) => s + toMinor(e.props.value as number, EUR), 0);
      expect(given).toBeLessThanOrEqual(total);
      expect(toMinor(out.totals.discounts, EUR)).toBe(given);
      items.forEach((it, pos) => {
        const onLine = out.effects.filter((e) => e.props.position === pos).reduce((s, e) => s + toMinor(e.props.value as number, EUR), 0);
        expect(onLine).toBeLessThanOrEqual(toMinor(it.price, EUR) * it.quantity);
      });
      for (const e of out.effects) expect(e.props.value as number).toBeGreaterThan(0);
    }), { numRuns: 200 });
  });

  it('`none` of a group is the negation of `atLeastOne`', () => {
    const cond = fc.record({
      attribute: fc.constantFrom('$Session.Total', '$Session.ItemCount', '$Session.Attributes.x'),
      operator: fc.constantFrom('greaterThan', 'lessThan', 'equals', 'exists', 'not(exists)'),
      value: fc.integer({ min: 0, max: 200 }),
    }).map((c) => ({ type: 'checkAttribute', ...c }) as B);
    fc.assert(fc.property(fc.array(cond, { maxLength: 5 }), cartArb, fc.option(fc.integer(), { nil: undefined }), (blocks, items, x) => {
      const session = { cartItems: items, attributes: x === undefined ? {} : { x } };
      expect(triggers([{ type: 'group', operator: 'none', blocks }], session)).toBe(!triggers([{ type: 'group', operator: 'atLeastOne', blocks }], session));
    }), { numRuns: 150 });
  });

  it('prorate splits exactly and never exceeds a weight when the total fits', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 100_000 }), { minLength: 1, maxLength: 50 }), fc.integer({ min: 0, max: 10_000_000 }), (w, t) => {
      const sum = w.reduce((a, b) => a + b, 0);
      const total = Math.min(t, sum);
      const parts = prorate(total, w);
      expect(parts.reduce((a, b) => a + b, 0)).toBe(sum > 0 ? total : 0);
      parts.forEach((p, i) => expect(p).toBeLessThanOrEqual(w[i] as number));
    }));
  });
});

describe('money', () => {
  it('toMinor rounds half-up on the decimal value, per currency', () => {
    const EUR = currency('EUR'), JPY = currency('jpy'), KWD = currency('KWD');
    expect([toMinor(1.005, EUR), toMinor(1.004999, EUR), toMinor(9.999000000000001, EUR), toMinor(0.1 + 0.2, EUR), toMinor(2.675, EUR)]).toEqual([101, 100, 1000, 30, 268]);
    expect([toMinor(-1.005, EUR), toMinor(1e-7, EUR), toMinor(123.5, JPY), toMinor(1.0005, KWD)]).toEqual([-101, 0, 124, 1001]);
    expect([JPY.decimals, KWD.decimals, currency('USD').decimals, currency(undefined).code]).toEqual([0, 3, 2, 'EUR']);
  });
});
