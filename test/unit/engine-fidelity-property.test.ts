/**
 * Issue 15 part A, property: for random carts against the sample campaigns (config/sample-rules.json, with the
 * sample price book) plus generated prorated, selector, allItems, globalFilter, bundle and additional-cost
 * campaigns, (1) the per-item discounts of a split sum exactly to the split amount in minor units, and (2) no
 * effect's value exceeds what it applies to: what is left of its line, of the session total, of its additional
 * cost, replayed in the order the effects were given (a cascade: each takes from what the earlier ones left).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { campaign, engine, evaluate, type B } from './engine-helpers.js';
import { EntryBuilder, PriceBook } from '../../src/engine/pricebook.js';
import { parsePrices } from '../../src/engine/ingest/prices.js';
import { currency, toMinor } from '../../src/engine/money.js';
import type { Effect, SessionInput } from '../../src/engine/types.js';

const sample = (f: string) => JSON.parse(readFileSync(new URL(`../../config/${f}`, import.meta.url), 'utf8'));
const SAMPLE_RULES = sample('sample-rules.json') as { evaluationTree: { set: { elements: B[] } }; campaigns: B[]; cartItemFilters: B[] } & B;
const EUR = currency('EUR');
const NOW = Date.parse('2026-06-01T10:00:00Z');

function book(): PriceBook {
  const b = new EntryBuilder();
  const batches = parsePrices(sample('sample-prices.json'));
  return new PriceBook(new Map(batches.flatMap((n) => n.changedItems).map((i) => [i.sku, b.entry(i)])));
}
const PRICES = book();

// Cart lines: the sample SKUs (some priced by the book only), random categories, quantities, additional costs.
const costs = fc.option(fc.record({ shipping: fc.record({ price: fc.integer({ min: 0, max: 2_000 }).map((c) => c / 100) }) }, { requiredKeys: [] }), { nil: undefined });
const line = fc.record({
  sku: fc.constantFrom('SKU-1', 'SKU-2', 'PAN-24', 'SHOE-RUN-42', 'MUG-01', 'X-1', 'X-2'),
  quantity: fc.integer({ min: 1, max: 4 }),
  price: fc.option(fc.integer({ min: 0, max: 20_000 }).map((c) => c / 100), { nil: undefined }),
  category: fc.constantFrom('Kitchen', 'Shoes', 'Apparel', 'Toys'),
  attributes: fc.record({ color: fc.constantFrom('red', 'blue') }),
  additionalCosts: costs,
}).map((l) => Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined)));
const sessionArb = fc.record({
  cartItems: fc.array(line, { maxLength: 10 }),
  additionalCosts: costs,
  couponCodes: fc.constantFrom([], ['WELCOME10']),
}).map((s) => Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) as SessionInput);

const value = fc.oneof(fc.integer({ min: 1, max: 30_000 }).map((c) => c / 100), fc.constantFrom('{{$Session.Total * 0.1}}', '{{$Session.Total / 3}}', '{{$Item.Price * 0.35}}', '{{$Item.Price / 7}}'));
const target = fc.constantFrom<B>(
  { type: 'cart' }, { type: 'allItems' }, { type: 'allItems', prorated: true },
  { type: 'selector', name: 'shoes' }, { type: 'selector', name: 'shoes', prorated: true },
  { type: 'globalFilter', name: 'KitchenItems', prorated: true },
  { type: 'bundle', name: 'pair' }, { type: 'bundle', name: 'pair', prorated: true }, { type: 'bundle', name: 'pair', item: { type: 'byIndex', value: 1 } },
  { type: 'additionalCost', additionalCost: { id: 1, name: 'shipping' }, target: { type: 'cart' } },
  { type: 'additionalCost', additionalCost: { id: 1, name: 'shipping' }, target: { type: 'allItems' } },
);
const generated = fc.array(fc.record({ value, target, partial: fc.boolean() }), { minLength: 1, maxLength: 6 });
const selectors = [{ name: 'shoes', type: 'selector', source: '$Session.CartItems', steps: [{ type: 'filter', predicate: { id: 'p', type: 'checkAttribute', attribute: '$Item.Category', operator: 'equals', value: 'Shoes' } }] }];
const bundles = [{ name: 'pair', lists: [{ target: { type: 'allItems' }, count: 2 }], attributes: ['$Item.Attributes.color'] }];

function rulesWith(gen: { value: number | string; target: B; partial: boolean }[], cascading: boolean): B {
  const extra = gen.map((g, i) => campaign(900 + i, [[{ type: 'awardDiscount', name: `g${i}`, value: g.target.type === 'cart' && String(g.value).includes('$Item') ? 1 : g.value, partial: g.partial, target: g.target }]], { campaign: { state: 'enabled' }, selectors, ruleset: { bundles } }));
  const tree = structuredClone(SAMPLE_RULES.evaluationTree);
  tree.set.elements.push(...extra.map((c) => ({ type: 'CAMPAIGN', campaignId: (c.campaign as { id: number }).id })));
  return { ...SAMPLE_RULES, application: { ...(SAMPLE_RULES.application as B), enableCascadingDiscounts: cascading }, evaluationTree: tree, campaigns: [...SAMPLE_RULES.campaigns, ...extra] };
}

const m = (v: unknown) => toMinor(v as number, EUR);

/** Replays the effects in order against what each applies to; returns the first violation, or undefined. */
function violation(out: ReturnType<typeof evaluate>, session: SessionInput): string | undefined {
  const cartItems = session.cartItems ?? [];
  const lineLeft = cartItems.map((ci) => m(ci.price ?? 0) * ci.quantity);
  const costLeft = new Map<string, number>();
  for (const [k, ac] of Object.entries(session.additionalCosts ?? {})) costLeft.set(`-1:${k}`, m(ac.price));
  cartItems.forEach((ci, i) => { for (const [k, ac] of Object.entries(ci.additionalCosts ?? {})) costLeft.set(`${i}:${k}`, m(ac.price) * ci.quantity); });
  let sessionLeft = m(out.totals.total);
  for (const e of out.effects) {
    if (!e.effectType.startsWith('setDiscount')) continue;
    const v = m(e.props.value);
    if (!(v > 0)) return `${e.effectType} ${String(e.props.name)} gives ${v}`;
    if (e.props.desiredValue !== undefined && m(e.props.desiredValue) < v) return `${String(e.props.name)}: value above desiredValue`;
    if (v > sessionLeft) return `${String(e.props.name)}: ${v} above the session's ${sessionLeft} left`;
    sessionLeft -= v;
    const pos = e.props.position as number;
    if (e.effectType === 'setDiscountPerItem') {
      const left = lineLeft[pos] as number;
      if (left === undefined || v > left) return `${String(e.props.name)}: ${v} above line ${pos}'s ${left} left`;
      lineLeft[pos] = left - v;
    } else if (e.effectType === 'setDiscountPerAdditionalCost' || e.effectType === 'setDiscountPerAdditionalCostPerItem') {
      const key = `${e.effectType === 'setDiscountPerAdditionalCost' ? -1 : pos}:${String(e.props.additionalCost)}`;
      const left = costLeft.get(key);
      if (left === undefined || v > left) return `${String(e.props.name)}: ${v} above the additional cost's ${left} left`;
      costLeft.set(key, left - v);
    }
  }
  return undefined;
}

/** Per split (prorated discount of one rule, per bundle): the sum of its per-item values and its totalDiscount. */
function splits(effects: readonly Effect[]): [string, number, number][] {
  const by = new Map<string, [number, number]>();
  for (const e of effects) {
    if (e.props.totalDiscount === undefined) continue;
    const key = `${e.campaignId}|${e.ruleIndex}|${String(e.props.name).replace(/#\d+$/, '')}|${String(e.props.bundleIndex ?? '')}`;
    const s = by.get(key) ?? [0, m(e.props.totalDiscount)];
    s[0] += m(e.props.value);
    by.set(key, s);
  }
  return [...by].map(([k, [sum, total]]) => [k, sum, total]);
}

describe('property: splits are exact and no discount exceeds what it applies to', () => {
  it('random carts × sample campaigns + generated prorated/selector/allItems/bundle/additional-cost campaigns', () => {
    fc.assert(fc.property(generated, sessionArb, fc.boolean(), (gen, session, cascading) => {
      const out = evaluate(engine(rulesWith(gen, cascading), { prices: PRICES }), session, { now: NOW });
      for (const [key, sum, total] of splits(out.effects)) expect(sum, key).toBe(total);
      expect(violation(out, withBookPrices(session))).toBeUndefined();
      const given = out.effects.filter((e) => e.effectType.startsWith('setDiscount')).reduce((s, e) => s + m(e.props.value), 0);
      expect(given).toBe(m(out.totals.discounts));
    }), { numRuns: 400 });
  });
});

/** The session with each line's price as the engine takes it (request price, else the price book's at NOW, else 0). */
function withBookPrices(session: SessionInput): SessionInput {
  return { ...session, cartItems: (session.cartItems ?? []).map((ci) => ({ ...ci, price: typeof ci.price === 'number' ? ci.price : PRICES.lookup(ci.sku, NOW, new Set(), EUR)?.price ?? 0 })) };
}
