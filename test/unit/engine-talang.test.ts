import { describe, expect, it } from 'vitest';
import { campaign, cart, engine, evaluate, fx, rulesPayload } from './engine-helpers.js';
import { compileTalang } from '../../src/engine/talang.js';
import { Unsupported } from '../../src/engine/paths.js';
import type { EvalCtx } from '../../src/engine/context.js';
import { currency } from '../../src/engine/money.js';

function ctx(bind: Record<string, unknown> = {}, budget = 10_000): EvalCtx {
  return {
    now: 0, cur: currency('EUR'), timezone: 'Europe/Berlin', bind, items: [], item: undefined, locals: undefined, budget, memo: new Map(), coupon: undefined,
    audiences: new Set(), loyaltyBalance: () => undefined,
    fx: { cartDiscount: () => true, itemDiscounts: () => true, couponValid: () => false, emit: () => undefined, loyalty: () => false, mark: () => 0, rollback: () => undefined, onFailure: () => undefined,
      left: () => 0, sessionLeft: () => 0, take: () => undefined, costPool: () => undefined, partialAllowed: false, costsInSession: true },
  };
}
const ev = (expr: unknown, bind?: Record<string, unknown>) => compileTalang(expr, { selectors: new Map() }, '/t')(ctx(bind));
const items = [{ Price: 3, Category: 'Kitchen', Sku: 'a' }, { Price: 10, Category: 'Toys', Sku: 'b' }, { Price: 7, Category: 'Kitchen', Sku: 'c' }];
const S = { Session: { Total: 20, CartItems: items, Attributes: { name: 'Ada Lovelace' } } };

describe('Talang subset', () => {
  const table: [string, unknown, unknown][] = [
    ['+ numbers', ['+', 1, 2, 3.5], 6.5],
    ['+ strings', ['+', 'a', 'b'], 'ab'],
    ['- binary / unary', ['-', 10, 2.5], 7.5],
    ['* with float noise snapped', ['*', 0.1, 3], 0.3],
    ['/', ['/', 10, 4], 2.5],
    ['mod', ['mod', 10, 3], 1],
    ['ceil / floor', ['+', ['ceil', 1.2], ['floor', 1.8]], 3],
    ['= and !=', ['and', ['=', 1, 1], ['!=', 'a', 'b']], true],
    ['< <= > >=', ['and', ['<', 1, 2], ['<=', 2, 2], ['>', 3, 2], ['>=', 3, 3]], true],
    ['or / not', ['or', false, ['not', false]], true],
    ['. path', ['.', 'Session', 'Total'], 20],
    ['.| default', ['.|', 5, ['.', 'Session', 'Attributes', 'missing']], 5],
    ['catch fallback on error', ['catch', 'fb', ['+', 1, 'x']], 'fb'],
    ['noop', ['noop'], null],
    ['list / count / item', ['item', ['list', 4, 5, 6], 1], 5],
    ['append / head / tail', ['head', ['tail', ['append', ['list', 1], 2, 3]]], 2],
    ['isEmpty / reverse', ['and', ['isEmpty', ['list']], ['=', ['head', ['reverse', ['list', 1, 2]]], 2]], true],
    ['filter with block', ['count', ['filter', ['.', 'Session', 'CartItems'], [['Item'], ['=', ['.', 'Item', 'Category'], 'Kitchen']]]], 2],
    ['map + sum', ['sum', ['map', ['.', 'Session', 'CartItems'], [['Item'], ['.', 'Item', 'Price']]]], 20],
    ['sum with block', ['sum', ['.', 'Session', 'CartItems'], [['Item'], ['*', ['.', 'Item', 'Price'], 2]]], 40],
    ['every / exists', ['and', ['every', ['.', 'Session', 'CartItems'], [['Item'], ['>', ['.', 'Item', 'Price'], 1]]], ['exists', ['.', 'Session', 'CartItems'], [['Item'], ['=', ['.', 'Item', 'Sku'], 'b']]]], true],
    ['max / min over list', ['list', ['max', ['list', 1, 9, 3]], ['min', 4, 2]], [9, 2]],
    ['sortByNumber', ['map', ['sortByNumber', ['.', 'Session', 'CartItems'], [['Item'], ['.', 'Item', 'Price']]], [['Item'], ['.', 'Item', 'Sku']]], ['a', 'c', 'b']],
    ['sortByString desc', ['map', ['sortByString', ['.', 'Session', 'CartItems'], [['Item'], ['.', 'Item', 'Sku']], true], [['Item'], ['.', 'Item', 'Sku']]], ['c', 'b', 'a']],
    ['concat / split / join', ['join', ['split', ['concat', 'a,b', ',c'], ','], '-'], 'a-b-c'],
    ['contains / notContains', ['and', ['contains', 'Ada Lovelace', 'Love'], ['notContains', 'abc', 'x']], true],
    ['startsWith / endsWith', ['and', ['startsWith', 'abc', 'ab'], ['endsWith', 'abc', 'bc']], true],
    ['~ regex', ['~', 'SKU-123', '^SKU-[0-9]+$'], true],
    ['toString', ['toString', 12.5], '12.5'],
    ['time: parseTime / after / before / between', ['and', ['after', ['parseTime', '2026-02-01T00:00:00Z'], '2026-01-01T00:00:00Z'], ['before', '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z'], ['between', '2026-01-15T00:00:00Z', '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z']], true],
    ['time parts in the application time zone', ['list', ['hour', '2026-07-01T22:30:00Z'], ['weekday', '2026-07-01T22:30:00Z'], ['monthDay', '2026-07-01T22:30:00Z'], ['month', '2026-07-01T22:30:00Z'], ['year', '2026-12-31T23:30:00Z'], ['minute', '2026-07-01T22:30:00Z']], [0, 4, 2, 7, 2027, 30]],
    ['addDuration / daysBetween', ['daysBetween', '2026-01-01T00:00:00Z', ['addDuration', '2026-01-01T00:00:00Z', '3D']], 3],
  ];
  it.each(table)('%s', (_n, expr, expected) => {
    expect(ev(expr, S)).toEqual(expected);
  });

  it.each(['drop', 'kv', 'set', '!', 'do', 'formatTime', 'matchTime', 'firstName', 'rollbackDiscount', 'setDiscountPerItem'])('%s is reported unsupported at compile time', (f) => {
    expect(() => compileTalang([f, 1], { selectors: new Map() }, '/t')).toThrow(Unsupported);
  });

  it('regexes run in linear time: nested quantifiers are answered at once, back-references are refused (RE2 has none)', () => {
    const t0 = performance.now();
    expect(ev(['~', `${'a'.repeat(999)}b`, '^((a+))+$'])).toBe(false);
    expect(ev(['~', 'aaab', '^((a+))+b$'])).toBe(true);
    expect(performance.now() - t0).toBeLessThan(100);
    expect(() => compileTalang(['~', 'aa', '(a)\\1'], { selectors: new Map() }, '/t')).toThrow(/back-references/);
  });

  it('the step budget bounds work (nested maps over a big list)', () => {
    const big = Array.from({ length: 2000 }, (_, i) => i);
    const expr = ['count', ['filter', ['.', 'Session', 'CartItems'], [['x'], ['exists', ['.', 'Session', 'CartItems'], [['y'], ['=', ['.', 'x'], ['.', 'y']]]]]]];
    const g = compileTalang(expr, { selectors: new Map() }, '/t');
    expect(() => g(ctx({ Session: { CartItems: big } }, 100_000))).toThrow(/budget/);
  });

  it('deep nesting is refused at compile time', () => {
    let e: unknown = 1;
    for (let i = 0; i < 100; i++) e = ['+', e, 1];
    expect(() => compileTalang(e, { selectors: new Map() }, '/t')).toThrow(/nested too deeply/);
  });
});

describe('Talang in passthrough blocks (public examples)', () => {
  it('management.yaml Rule.effects example: ["catch", ["noop"], ["setDiscount", "10% off", Session.Total * 10/100]]', () => {
    const e = engine(rulesPayload([campaign(1, [[{ type: 'passthrough', expression: ['catch', ['noop'], ['setDiscount', '10% off', ['*', ['.', 'Session', 'Total'], ['/', 10, 100]]]] }]])]));
    expect(fx(evaluate(e, { cartItems: cart(['A', 33.33, 3]) }))).toEqual([{ type: 'setDiscount', campaignId: 1, props: { name: '10% off', value: 10 } }]);
  });

  it('management.yaml Rule.condition example: ["and", ["couponValid"]] + legacy ["setDiscount", "Free money", 45.55]', () => {
    const e = engine(rulesPayload([campaign(1, [[{ type: 'passthrough', expression: ['and', ['couponValid']] }, { type: 'passthrough', expression: ['setDiscount', 'Free money', 45.55] }]])]), {
      coupons: [{ id: 5, value: 'TEST-1', campaignId: 1 }],
    });
    const out = evaluate(e, { couponCodes: ['TEST-1'], cartItems: cart(['A', 100]) });
    expect(out.effects.map((x) => [x.effectType, x.props, x.triggeredByCoupon])).toEqual([
      ['acceptCoupon', { value: 'TEST-1' }, 5],
      ['setDiscount', { name: 'Free money', value: 45.55 }, 5],
    ]);
    expect(fx(evaluate(e, { cartItems: cart(['A', 100]) }))).toEqual([]);
  });

  // Filters: the examples of ApplicationCIFExpression (=), management.yaml NewApplicationCIFExpression (contains) and
  // GenerateItemFilterDescription (!=); the first and last are in the spec of Talon.One's Go SDK
  // (github.com/talon-one/talon-one-go-sdk, api/openapi.yaml, v26.13.0).
  it('public cart item filter examples (catch/=/contains/!=) as global filters', () => {
    const filters = [
      { name: 'eq', expression: ['filter', ['.', 'Session', 'CartItems'], [['Item'], ['catch', false, ['=', ['.', 'Item', 'Category'], 'Kitchen']]]] },
      { name: 'contains', expression: ['filter', ['.', 'Session', 'CartItems'], [['Item'], ['catch', false, ['contains', ['.', 'Item', 'Category'], 'Kitchen']]]] },
      { name: 'notGift', expression: ['filter', ['.', 'Session', 'CartItems'], [['Item'], ['catch', false, ['and', ['!=', ['.', 'Item', 'Attributes', 'c_productType'], 'egiftcard']]]]] },
    ];
    const e = engine(rulesPayload(filters.map((f, i) => campaign(i + 1, [[{ type: 'awardDiscount', name: f.name, value: 1, partial: false, target: { type: 'globalFilter', name: f.name } }]])), { cartItemFilters: filters }));
    const out = evaluate(e, { cartItems: cart(['A', 10, 1, { category: 'Kitchen', attributes: { c_productType: 'pan' } }], ['B', 10, 1, { category: 'Kitchenware', attributes: { c_productType: 'egiftcard' } }], ['C', 10, 1, { category: 'Toys' }]) });
    const by = (n: string) => out.effects.filter((x) => (x.props.name as string).startsWith(`${n}#`)).map((x) => x.props.position);
    expect(by('eq')).toEqual([0]);
    expect(by('contains')).toEqual([0, 1]);
    expect(by('notGift')).toEqual([0, 2]); // C has no attribute: != on missing → true (catch only on errors)
  });

  it('a passthrough that loops forever is bounded by the budget and the campaign is skipped', () => {
    const items = ['.', 'Session', 'CartItems'];
    const inner = ['exists', items, [['K'], false]];
    const middle = ['exists', items, [['J'], inner]];
    const loop = ['count', ['filter', items, [['Item'], middle]]];
    const award = (name: string) => ({ type: 'awardDiscount', name, value: 1, partial: false, target: { type: 'cart' } });
    const e = engine(rulesPayload([campaign(1, [[{ type: 'passthrough', expression: loop }, award('x')]]), campaign(2, [[award('y')]])]), { budget: 50_000 });
    const many = cart(...Array.from({ length: 100 }, (_, i) => [`S${i}`, 1] as [string, number]));
    const out = evaluate(e, { cartItems: many });
    expect(out.skippedCampaigns).toEqual([{ id: 1, reason: 'evaluation budget exceeded' }]);
    expect(fx(out).map((x) => x.props.name)).toEqual(['y']);
  });
});
