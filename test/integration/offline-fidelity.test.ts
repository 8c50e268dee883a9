/**
 * Issue 15 part A through the real HTTP app, offline: a capped cart discount (SetDiscountEffectProps: `value` the
 * effective discount, `desiredValue` the one asked for) and a pro rata split by Talon.One's rule (tutorial
 * "Creating a pro rata discount", https://docs.talon.one/docs/product/tutorials/coupons/prorata-discount) reach the
 * terminal with Talon.One's props, journaled; so do an additional cost discount and a bundle discount. Every answer
 * is checked against Talon.One's own answer schemas and rules (src/answers/), as the shop checks Talon.One's.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnswerSchemas } from '../../src/answers/schema.js';
import { checkRules } from '../../src/answers/rules.js';
import { ADMIN_TOKEN, STORE_ID, startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';

const award = (name: string, value: number, target: Record<string, unknown>) => ({ id: 'a', type: 'awardDiscount', name, value, partial: false, target });
const entry = (id: number, title: string, blocks: unknown[], ruleset: Record<string, unknown> = {}) => ({
  campaign: { id, name: title, state: 'enabled', startTime: '2026-01-01T00:00:00Z', endTime: '2030-01-01T00:00:00Z' },
  ruleset: { id: id * 10, strikethroughRules: [], promotionRules: [{ id: 'r', title, blocks }], ...ruleset },
});

/** The tutorial's campaign (30 EUR pro rata on shoes, via the cart item filter "shoesfilter"), then 20 EUR off the cart. */
function rules() {
  return {
    version: 1, application: { currency: 'EUR', timezone: 'UTC' }, evaluationTree: null, stores: [{ id: 42, integrationId: STORE_ID }],
    cartItemFilters: [{ name: 'shoesfilter', expression: ['filter', ['.', 'Session', 'CartItems'], [['Item'], ['catch', false, ['=', ['.', 'Item', 'Category'], 'shoes']]]] }],
    campaigns: [
      entry(301, '30 euro pro rata on shoes', [award('30 pro rata', 30, { type: 'globalFilter', name: 'shoesfilter', prorated: true })]),
      entry(302, '20 EUR off', [award('20 off', 20, { type: 'cart' })]),
      entry(303, 'Free shipping', [award('Shipping', 10, { type: 'additionalCost', additionalCost: { id: 1, name: 'shipping', title: 'Shipping' }, target: { type: 'cart' } })]),
      entry(304, 'Socks pair', [award('Pair -1', 1, { type: 'bundle', name: 'pair' })], {
        selectors: [{ name: 'socks', type: 'selector', source: '$Session.CartItems', steps: [{ type: 'filter', predicate: { id: 'p', type: 'checkAttribute', attribute: '$Item.Category', operator: 'equals', value: 'socks' } }] }],
        bundles: [{ name: 'pair', lists: [{ target: { type: 'selector', name: 'socks' }, count: 2 }] }],
      }),
    ],
  };
}

let gw: TestGateway;
const schemas = new AnswerSchemas();

interface Answer { effects: { campaignId: number; effectType: string; props: Record<string, unknown> }[]; customerSession: Record<string, unknown> }

async function put(id: string, customerSession: Record<string, unknown>) {
  const body = { customerSession, responseContent: ['customerSession'] };
  const res = await fetch(`${gw.url}/v2/customer_sessions/${id}`, { method: 'PUT', headers: terminalHeaders(), body: JSON.stringify(body) });
  const json = (await res.json()) as Answer;
  expect(res.status).toBe(200);
  expect(res.headers.get('x-storegate-source')).toBe('local');
  expect(Number(res.headers.get('x-storegate-journal-seq'))).toBeGreaterThan(0);
  // Talon.One's answer schema (every effect's props model) and its money rules (no discount above what it applies to).
  expect(schemas.check('updateSession', json)).toEqual([]);
  expect(checkRules(json as unknown as Record<string, unknown>, body, { knownEffectType: (t) => schemas.knownEffectType(t), knownCampaign: () => true })).toEqual([]);
  return json;
}

beforeAll(async () => {
  await schemas.load();
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-fidelity-'));
  writeFileSync(path.join(dir, 'rules.json'), JSON.stringify(rules()));
  gw = await startGateway({ mode: 'offline', dataFiles: { rules: 'rules.json' } }, { dir });
});

afterAll(async () => {
  await gw?.stop();
});

describe('offline answers follow Talon.One\'s documented arithmetic', () => {
  it('20 EUR off a 12.90 EUR basket: setDiscount value 12.90, desiredValue 20', async () => {
    const a = await put('FID-1', { cartItems: [{ sku: 'MUG', name: 'Mug', quantity: 1, price: 12.9, category: 'kitchen' }] });
    expect(a.effects).toEqual([{ campaignId: 302, rulesetId: 3020, ruleIndex: 0, ruleName: '20 EUR off', effectType: 'setDiscount', props: { name: '20 off', value: 12.9, desiredValue: 20 } }]);
  });

  it('30 EUR pro rata over shoes of 55, 60 and 115 EUR: 7.17, 7.82, 15.01 with totalDiscount 30; then 20 EUR off the rest', async () => {
    const shoe = (sku: string, price: number) => ({ sku, name: sku, quantity: 1, price, category: 'shoes' });
    const a = await put('FID-2', { cartItems: [shoe('RUN', 55), shoe('WALK', 60), shoe('HIKE', 115)] });
    expect(a.effects.map((e) => [e.campaignId, e.effectType, e.props])).toEqual([
      [301, 'setDiscountPerItem', { name: '30 pro rata#0', value: 7.17, position: 0, totalDiscount: 30 }],
      [301, 'setDiscountPerItem', { name: '30 pro rata#1', value: 7.82, position: 1, totalDiscount: 30 }],
      [301, 'setDiscountPerItem', { name: '30 pro rata#2', value: 15.01, position: 2, totalDiscount: 30 }],
      [302, 'setDiscount', { name: '20 off', value: 20 }],
    ]);
    expect(a.customerSession).toMatchObject({ cartItemTotal: 230 });
  });

  it('an additional cost discount capped to the cost, and a bundle discount with bundleIndex and bundleName', async () => {
    const sock = (sku: string) => ({ sku, name: sku, quantity: 1, price: 3, category: 'socks' });
    const a = await put('FID-3', { cartItems: [sock('S1'), sock('S2'), sock('S3')], additionalCosts: { shipping: { price: 4.95 } } });
    expect(a.effects.map((e) => [e.campaignId, e.effectType, e.props])).toEqual([
      [302, 'setDiscount', { name: '20 off', value: 13.95, desiredValue: 20 }],
    ]);
    // Without the cart discount taking everything first: a cart of 60 EUR.
    const b = await put('FID-4', { cartItems: [{ ...sock('S1'), price: 20 }, { ...sock('S2'), price: 20 }, { ...sock('S3'), price: 20 }], additionalCosts: { shipping: { price: 4.95 } } });
    expect(b.effects.map((e) => [e.campaignId, e.effectType, e.props])).toEqual([
      [302, 'setDiscount', { name: '20 off', value: 20 }],
      [303, 'setDiscountPerAdditionalCost', { name: 'Shipping', additionalCostId: 1, additionalCost: 'shipping', value: 4.95, desiredValue: 10 }],
      [304, 'setDiscountPerItem', { name: 'Pair -1#0', value: 1, position: 0, subPosition: 0, bundleIndex: 0, bundleName: 'pair' }],
      [304, 'setDiscountPerItem', { name: 'Pair -1#1', value: 1, position: 1, subPosition: 0, bundleIndex: 0, bundleName: 'pair' }],
    ]);
  });

  it('the campaigns are offline-capable in /status', async () => {
    const res = await fetch(`${gw.url}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const st = (await res.json()) as { cache: { campaigns: { id: number; offlineCapable: boolean }[] } };
    expect(st.cache.campaigns.filter((c) => c.id >= 301).map((c) => [c.id, c.offlineCapable])).toEqual([[301, true], [302, true], [303, true], [304, true]]);
  });
});
