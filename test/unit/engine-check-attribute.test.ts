import { describe, expect, it } from 'vitest';
import { triggers, cart, type B } from './engine-helpers.js';

const session = {
  profileId: 'p1',
  cartItems: cart(['A', 10, 2, { category: 'Shoes', attributes: { color: 'red' } }], ['B', 5.5]),
  attributes: { ShippingCity: 'Berlin', tags: ['vip', 'new'], flag: true, off: false, birthday: '2026-05-20T00:00:00Z', localBirthday: '2026-05-20T00:00:00', empty: '', none: [] },
};
const profile = { integrationId: 'p1', attributes: { tier: 'gold', score: 7 } };

const ca = (attribute: string, operator: string, more: B = {}): B => ({ type: 'checkAttribute', attribute, operator, ...more });

// [description, block, expected]
const table: [string, B, boolean][] = [
  ['equals number', ca('$Session.Total', 'equals', { value: 25.5 }), true],
  ['equals number miss', ca('$Session.Total', 'equals', { value: 25 }), false],
  ['not(equals)', ca('$Session.Attributes.ShippingCity', 'not(equals)', { value: 'Paris' }), true],
  ['not(equals) same', ca('$Session.Attributes.ShippingCity', 'not(equals)', { value: 'Berlin' }), false],
  ['not(equals) missing attribute fails', ca('$Session.Attributes.Nope', 'not(equals)', { value: 'x' }), false],
  ['lessThan', ca('$Session.CartItemTotal', 'lessThan', { value: 30 }), true],
  ['lessThan miss', ca('$Session.CartItemTotal', 'lessThan', { value: 25.5 }), false],
  ['lessThanOrEqual', ca('$Session.CartItemTotal', 'lessThanOrEqual', { value: 25.5 }), true],
  ['greaterThan', ca('$Session.Total', 'greaterThan', { value: 25.49 }), true],
  ['greaterThan miss', ca('$Session.Total', 'greaterThan', { value: 25.5 }), false],
  ['greaterThanOrEqual', ca('$Session.Total', 'greaterThanOrEqual', { value: 25.5 }), true],
  ['greaterThan on string fails', ca('$Session.Attributes.ShippingCity', 'greaterThan', { value: 1 }), false],
  ['contains string', ca('$Session.Attributes.ShippingCity', 'contains', { value: 'erl' }), true],
  ['contains list', ca('$Session.Attributes.tags', 'contains', { value: 'vip' }), true],
  ['contains miss', ca('$Session.Attributes.ShippingCity', 'contains', { value: 'xyz' }), false],
  ['not(contains)', ca('$Session.Attributes.ShippingCity', 'not(contains)', { value: 'xyz' }), true],
  ['not(contains) miss', ca('$Session.Attributes.tags', 'not(contains)', { value: 'new' }), false],
  ['matchesRegexp', ca('$Session.Attributes.ShippingCity', 'matchesRegexp', { value: '^B[a-z]+n$' }), true],
  ['matchesRegexp miss', ca('$Session.Attributes.ShippingCity', 'matchesRegexp', { value: '^P' }), false],
  ['startsWith', ca('$Session.Attributes.ShippingCity', 'startsWith', { value: 'Ber' }), true],
  ['startsWith miss', ca('$Session.Attributes.ShippingCity', 'startsWith', { value: 'er' }), false],
  ['endsWith', ca('$Session.Attributes.ShippingCity', 'endsWith', { value: 'lin' }), true],
  ['oneOf', ca('$Profile.Attributes.tier', 'oneOf', { value: ['gold', 'silver'] }), true],
  ['oneOf miss', ca('$Profile.Attributes.tier', 'oneOf', { value: ['bronze'] }), false],
  ['not(oneOf)', ca('$Profile.Attributes.tier', 'not(oneOf)', { value: ['bronze'] }), true],
  ['not(oneOf) miss', ca('$Profile.Attributes.tier', 'not(oneOf)', { value: ['gold'] }), false],
  ['after', ca('$Session.Attributes.birthday', 'after', { value: '2026-05-01T00:00:00Z' }), true],
  ['after miss', ca('$Session.Attributes.birthday', 'after', { value: '2026-05-21T00:00:00Z' }), false],
  ['before', ca('$Session.Attributes.birthday', 'before', { value: '2026-05-21T00:00:00Z' }), true],
  // Without an offset it is no instant (it would be another one in each shop's time zone): neither after nor before.
  ['after: a time without offset is not a time', ca('$Session.Attributes.localBirthday', 'after', { value: '2026-05-01T00:00:00Z' }), false],
  ['before: a time without offset is not a time', ca('$Session.Attributes.localBirthday', 'before', { value: '2026-05-21T00:00:00Z' }), false],
  ['between inclusive', ca('$Profile.Attributes.score', 'between', { min: 7, max: 10 }), true],
  ['between miss', ca('$Profile.Attributes.score', 'between', { min: 8, max: 10 }), false],
  ['within', ca('$Session.Attributes.birthday', 'within', { start: '2026-05-20T00:00:00Z', end: '2026-05-21T00:00:00Z', startInclusive: true, endInclusive: false }), true],
  ['within exclusive start', ca('$Session.Attributes.birthday', 'within', { start: '2026-05-20T00:00:00Z', end: '2026-05-21T00:00:00Z', startInclusive: false }), false],
  ['not(within)', ca('$Session.Attributes.birthday', 'not(within)', { start: '2026-06-01T00:00:00Z', end: '2026-07-01T00:00:00Z' }), true],
  ['containsOneOf', ca('$Session.Attributes.tags', 'containsOneOf', { values: ['x', 'vip'] }), true],
  ['containsOneOf miss', ca('$Session.Attributes.tags', 'containsOneOf', { values: ['x'] }), false],
  ['containsNoneOf', ca('$Session.Attributes.tags', 'containsNoneOf', { values: ['x'] }), true],
  ['containsNoneOf miss', ca('$Session.Attributes.tags', 'containsNoneOf', { values: ['new'] }), false],
  ['containsAllOf', ca('$Session.Attributes.tags', 'containsAllOf', { values: ['new', 'vip'] }), true],
  ['containsAllOf miss', ca('$Session.Attributes.tags', 'containsAllOf', { values: ['new', 'x'] }), false],
  ['containsAtLeast', ca('$Session.Attributes.tags', 'containsAtLeast', { values: ['new', 'vip', 'x'], count: 2 }), true],
  ['containsAtLeast miss', ca('$Session.Attributes.tags', 'containsAtLeast', { values: ['new', 'x'], count: 2 }), false],
  ['containsExactly', ca('$Session.Attributes.tags', 'containsExactly', { values: ['new', 'x'], count: 1 }), true],
  ['containsExactly miss', ca('$Session.Attributes.tags', 'containsExactly', { values: ['new', 'vip'], count: 1 }), false],
  ['empty string', ca('$Session.Attributes.empty', 'empty'), true],
  ['empty list', ca('$Session.Attributes.none', 'empty'), true],
  ['empty miss', ca('$Session.Attributes.tags', 'empty'), false],
  ['not(empty)', ca('$Session.Attributes.tags', 'not(empty)'), true],
  ['exists', ca('$Session.Attributes.flag', 'exists'), true],
  ['exists miss', ca('$Session.Attributes.nope', 'exists'), false],
  ['not(exists)', ca('$Session.Attributes.nope', 'not(exists)'), true],
  ['isTrue', ca('$Session.Attributes.flag', 'isTrue'), true],
  ['isTrue miss', ca('$Session.Attributes.off', 'isTrue'), false],
  ['isFalse', ca('$Session.Attributes.off', 'isFalse'), true],
  ['$Store attribute', ca('$Store.Attributes.region', 'equals', { value: 'north' }), true],
  ['$Store integration id', ca('$Store.IntegrationId', 'equals', { value: 'store-042' }), true],
  ['$Profile integration id', ca('$Profile.IntegrationId', 'equals', { value: 'p1' }), true],
  ['$Application currency', ca('$Application.Currency', 'equals', { value: 'EUR' }), true],
  ['template value', ca('$Session.Total', 'greaterThan', { value: '{{$Session.CartItemTotal - 1}}' }), true],
  ['$Item outside a selector fails', ca('$Item.Price', 'greaterThan', { value: 0 }), false],
];

describe('checkAttribute operators', () => {
  it.each(table)('%s', (_name, block, expected) => {
    expect(triggers([block], session, { profile })).toBe(expected);
  });

  it('inCollection without the store\'s collections data makes the campaign not offline-capable (engine-collections.test.ts has it with them)', async () => {
    const { engine, rulesPayload, campaign, evaluate } = await import('./engine-helpers.js');
    const e = engine(rulesPayload([campaign(7, [[ca('$Session.Attributes.ShippingCity', 'inCollection', { value: 3 })]])]));
    const out = evaluate(e, session);
    expect(out.skippedCampaigns).toEqual([{ id: 7, reason: 'operator inCollection: this store has no collections data' }]);
    expect(out.effects).toEqual([]);
  });
});
