import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { EntryBuilder, PriceBook, fromRows, toRow } from '../../src/engine/pricebook.js';
import { parsePrices } from '../../src/engine/ingest/prices.js';
import { currency } from '../../src/engine/money.js';
import { campaign, cart, engine, evaluate, rulesPayload } from './engine-helpers.js';

/**
 * The `StrikethroughNotification` example of the `strikethroughLabelingNotification` webhook in Talon.One's outbound
 * notifications spec (https://docs.talon.one/oas/outbound-notifications.yaml), ids completed.
 */
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
  // Issue 15, behaviour 3: price-book effects are the outcome of strikethrough rules that stay upstream.
  const rule = { type: 'awardDiscount', name: 'rule', value: 1, partial: false, target: { type: 'allItems' } };
  const strike = [{ id: 's', title: 'Shelf price', blocks: [{ id: 'x', type: 'awardDiscount', name: '10% off', value: '{{$Item.Price * 0.1}}', partial: false, target: { type: 'allItems' } }] }];
  const at = { now: Date.parse('2025-05-27T10:00:00Z') };
  it('a running campaign whose pushed ruleset has no (or empty) strikethrough rules gets its price-book effects and its rules', () => {
    for (const ruleset of [{ strikethroughRules: [] }, { strikethroughRules: undefined }]) {
      const out = evaluate(engine(rulesPayload([campaign(3, [[rule]], { ruleset })]), { prices: book() }), { cartItems: cart(['SKU1241028', 100]) }, at);
      expect(out.effects.map((x) => [x.campaignId, x.props.name, x.props.value])).toEqual([[3, '10% off#0', 10], [3, 'rule#0', 1]]);
    }
  });
  it('an offline-capable campaign with strikethrough rules gives its per-item discount by its rules only (not twice)', () => {
    const out = evaluate(engine(rulesPayload([campaign(3, [[rule]], { ruleset: { strikethroughRules: strike } })]), { prices: book() }), { cartItems: cart(['SKU1241028', 100]) }, at);
    expect(out.effects.map((x) => x.props.name)).toEqual(['rule#0']);
  });
  it('a campaign of the rules that is not running here gives no price-book effect; one not in the rules data does', () => {
    const ended = campaign(3, [[rule]], { campaign: { endTime: '2025-01-01T00:00:00Z' } });
    const other = campaign(3, [[rule]], { campaign: { linkedStoreIds: [7] } });
    for (const c of [ended, other]) expect(evaluate(engine(rulesPayload([c]), { prices: book() }), { cartItems: cart(['SKU1241028', 100]) }, at).effects).toEqual([]);
    expect(evaluate(engine(rulesPayload([campaign(9, [[rule]])]), { prices: book() }), { cartItems: cart(['SKU1241028', 100]) }, at).effects.map((x) => x.campaignId)).toEqual([3, 9]);
  });
});
