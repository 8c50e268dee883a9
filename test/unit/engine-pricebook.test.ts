import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { EntryBuilder, PriceBook, fromRows, toRow } from '../../src/engine/pricebook.js';
import { parsePrices } from '../../src/engine/ingest/prices.js';
import { currency } from '../../src/engine/money.js';
import { campaign, cart, engine, evaluate, rulesPayload } from './engine-helpers.js';

/** The [NOT] StrikethroughNotification example (NOTES §3.1), ids completed. */
export const notExample = JSON.parse(readFileSync(new URL('../fixtures/engine/strikethrough-example.json', import.meta.url), 'utf8'));

function book(): PriceBook {
  const b = new EntryBuilder();
  return new PriceBook(new Map(parsePrices(notExample)[0]!.changedItems.map((i) => [i.sku, b.entry(i)])));
}
const EUR = currency('EUR');

describe('price book (golden: the public strikethrough example)', () => {
  it('non-member: base 100 − 10 = 90, label "10% off", open-ended', () => {
    expect(book().lookup('SKU1241028', Date.parse('2025-05-27T10:00:00Z'), new Set(), EUR)).toMatchObject({ price: 100, finalPrice: 90, label: '10% off', validUntil: null, selectedPriceType: 'base' });
  });
  it('audience 1 member inside the window: member price 90 − 9 = 81, valid until the window end', () => {
    expect(book().lookup('SKU1241028', Date.parse('2025-05-27T10:00:00Z'), new Set([1]), EUR)).toMatchObject({ finalPrice: 81, selectedPriceType: 'member', selectedPrice: 90, validUntil: '2025-05-30T00:00:00.000Z' });
  });
  it('member after the window: back to 90', () => {
    expect(book().lookup('SKU1241028', Date.parse('2025-06-01T00:00:00Z'), new Set([1]), EUR)).toMatchObject({ finalPrice: 90, selectedPriceType: 'base' });
  });
  it('unknown SKU: undefined; rows round-trip', () => {
    const b = book();
    expect(b.lookup('nope', 0, new Set(), EUR)).toBeUndefined();
    const again = new PriceBook(fromRows(JSON.parse(JSON.stringify([...b.entries.values()].map(toRow)))));
    expect(again.lookup('SKU1241028', Date.parse('2025-05-27T10:00:00Z'), new Set([1]), EUR)).toEqual(b.lookup('SKU1241028', Date.parse('2025-05-27T10:00:00Z'), new Set([1]), EUR));
  });
  it('offline cart: price from the book and setDiscountPerItem from its effects (quantity 2)', () => {
    const e = engine(rulesPayload([]), { prices: book() });
    const out = evaluate(e, { cartItems: [{ sku: 'SKU1241028', quantity: 2 }] }, { now: Date.parse('2025-05-27T10:00:00Z') });
    expect(out.totals.cartItemTotal).toBe(200);
    expect(out.effects).toEqual([{ campaignId: 3, rulesetId: 11, ruleIndex: 2, ruleName: 'Give 10% off', selectedPriceType: 'base', selectedPrice: 100, effectType: 'setDiscountPerItem', props: { name: '10% off#0', value: 20, position: 0 } }]);
  });
  it('a campaign the rules evaluate locally is not applied twice from the book', () => {
    const e = engine(rulesPayload([campaign(3, [[{ type: 'awardDiscount', name: 'rule', value: 1, partial: false, target: { type: 'allItems' } }]])]), { prices: book() });
    const out = evaluate(e, { cartItems: cart(['SKU1241028', 100]) }, { now: Date.parse('2025-05-27T10:00:00Z') });
    expect(out.effects.map((x) => x.props.name)).toEqual(['rule#0']);
  });
});
