/**
 * Blocks run offline through the real HTTP app: `updateAttributeValue` reaching the terminal as Talon.One's `set`
 * effect (Integration API `UpdateAttributeEffectProps`), and a loyalty subledger checked and spent
 * (`CheckLoyaltyBalanceBlock.subledger`, `DeductLoyaltyPointsEffectProps.subLedgerId`): from the subledger's own
 * cached balance, never past `offline.maxOfflineLoyaltyDeduction`, and still so after a restart that has only the
 * journal to go by (the ledger snapshot gone, as a `kill -9` between two snapshots leaves it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startGateway, terminalHeaders, ADMIN_TOKEN, type TestGateway } from '../helpers/gateway.js';

type Effect = { effectType: string; props: Record<string, unknown>; campaignId: number };

const files = mkdtempSync(path.join(tmpdir(), 'sg-cov-'));
const rules = {
  version: 1,
  application: { currency: 'EUR', timezone: 'UTC' },
  stores: [{ id: 42, integrationId: 'store-042' }],
  evaluationTree: null,
  campaigns: [
    {
      campaign: { id: 1, name: 'Gold tier', state: 'enabled' },
      ruleset: { id: 11, created: '2026-01-01T00:00:00Z', userId: 1, strikethroughRules: [], promotionRules: [{ id: 'r0', title: 'Gold over 50', blocks: [
        { id: 'b0', type: 'checkAttribute', attribute: '$Session.CartItemTotal', operator: 'greaterThan', value: 50 },
        { id: 'b1', type: 'updateAttributeValue', operator: 'setTo', attribute: { id: 7, entity: 'CustomerSession', name: 'tier', title: 'Tier', type: 'string' }, value: 'Gold', target: { type: 'session' } },
        { id: 'b2', type: 'updateAttributeValue', operator: 'increaseBy', attribute: { id: 8, entity: 'CartItem', name: 'stamps', title: 'Stamps', type: 'number' }, value: 1, target: { type: 'allItems' } },
      ] }] },
    },
    {
      campaign: { id: 2, name: 'Coffee on points', state: 'enabled' },
      ruleset: { id: 21, created: '2026-01-01T00:00:00Z', userId: 1, strikethroughRules: [], promotionRules: [{ id: 'r0', title: 'Coffee for 40 points', blocks: [
        { id: 'b0', type: 'checkLoyaltyBalance', operator: 'greaterThanOrEqual', program: { id: 1, name: 'pts', title: 'Points' }, subledger: 'coffee', balance: 'current', value: 40 },
        { id: 'b1', type: 'passthrough', expression: ['deductLoyaltyPoints', 1, 'Coffee on points', 40, 'coffee'] },
        { id: 'b2', type: 'awardDiscount', name: 'Coffee on points', value: 2.5, partial: false, target: { type: 'cart' } },
      ] }] },
    },
  ],
};
const loyalty = {
  version: 1,
  programs: [{ id: 1, name: 'pts', title: 'Points', cardBased: false }],
  balances: [
    { programId: 1, profileId: 'cust-1', activePoints: 1000 },
    { programId: 1, profileId: 'cust-1', subledgerId: 'coffee', activePoints: 150, pendingPoints: 3 },
  ],
};
writeFileSync(path.join(files, 'rules.json'), JSON.stringify(rules));
writeFileSync(path.join(files, 'loyalty.json'), JSON.stringify(loyalty));
// 150 coffee points cached, but at most 100 spent offline: two coffees, not three.
const CONFIG = { mode: 'offline', dataFiles: { rules: path.join(files, 'rules.json'), loyalty: path.join(files, 'loyalty.json') }, offline: { maxOfflineLoyaltyDeduction: 100 } };

let gw: TestGateway;

type Session = { attributes: Record<string, unknown>; cartItems: { attributes?: Record<string, unknown> }[] };

async function put(g: TestGateway, id: string, customerSession: Record<string, unknown>) {
  const res = await fetch(`${g.url}/v2/customer_sessions/${id}`, { method: 'PUT', headers: terminalHeaders(), body: JSON.stringify({ customerSession, responseContent: ['customerSession'] }) });
  const json = (await res.json()) as { effects: Effect[]; customerSession: Session };
  return { status: res.status, effects: json.effects, session: json.customerSession };
}

async function balances(g: TestGateway, query = '') {
  const res = await fetch(`${g.url}/v1/loyalty_programs/1/profile/cust-1/balances${query}`, { headers: terminalHeaders() });
  return (await res.json()) as { balance: { activePoints: number }; subledgerBalances: Record<string, { activePoints: number; pendingPoints: number }> };
}

const coffee = (fx: Effect[]) => fx.filter((e) => e.campaignId === 2).map((e) => ({ type: e.effectType, props: e.props }));
const basket = { profileId: 'cust-1', cartItems: [{ sku: 'COF', name: 'Coffee', quantity: 1, price: 3 }] };

beforeAll(async () => {
  gw = await startGateway(CONFIG);
});

afterAll(async () => {
  await gw?.stop();
  rmSync(files, { recursive: true, force: true });
});

describe('updateAttributeValue offline', () => {
  it('reaches the terminal as Talon.One\'s set effects (session and each cart item), journaled with the answer', async () => {
    const r = await put(gw, 'attr-1', { cartItems: [{ sku: 'A', quantity: 2, price: 20, attributes: { stamps: 3 } }, { sku: 'B', quantity: 1, price: 15 }], attributes: {} });
    expect(r.status).toBe(200);
    // Line B has no stamps to increase: the rule fails whole (no half-applied rule), so only when every line has one…
    expect(r.effects.filter((e) => e.campaignId === 1)).toEqual([]);
    const ok = await put(gw, 'attr-2', { cartItems: [{ sku: 'A', quantity: 2, price: 20, attributes: { stamps: 3 } }, { sku: 'B', quantity: 1, price: 15, attributes: { stamps: 0 } }] });
    expect(ok.effects.filter((e) => e.campaignId === 1).map((e) => ({ type: e.effectType, props: e.props }))).toEqual([
      { type: 'set', props: { path: 'Session.Attributes.tier', value: 'Gold' } },
      { type: 'set', props: { path: 'Session.CartItems.0.Attributes.stamps', value: 4 } },
      { type: 'set', props: { path: 'Session.CartItems.1.Attributes.stamps', value: 1 } },
    ]);
    // The session the shop keeps is the one the terminal sent: Talon.One applies the update when the sale is delivered.
    expect(ok.session.attributes).toEqual({});
    expect(ok.session.cartItems[0]?.attributes).toEqual({ stamps: 3 });
    const again = await put(gw, 'attr-2', { couponCodes: [] });
    expect(again.session.attributes).toEqual({});
    expect(again.effects.filter((e) => e.campaignId === 1).map((e) => e.props.value)).toEqual(['Gold', 4, 1]);
    const list = (await (await fetch(`${gw.url}/admin/journal/list`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { key: string; kind: string }[];
    expect(list.filter((e) => e.kind === 'updateSession').length).toBeGreaterThanOrEqual(2);
  });
});

describe('loyalty subledgers offline', () => {
  it('checks and spends the subledger, never more than its offline bound, and the balances say so', async () => {
    const before = await balances(gw);
    expect(before.balance.activePoints).toBe(1000);
    expect(before.subledgerBalances).toEqual({ coffee: { activePoints: 150, pendingPoints: 3, spentPoints: 0, expiredPoints: 0, negativePoints: 0 } });
    const first = await put(gw, 'cof-1', basket);
    expect(coffee(first.effects)).toEqual([
      { type: 'deductLoyaltyPoints', props: expect.objectContaining({ programId: 1, subLedgerId: 'coffee', value: 40, name: 'Coffee on points' }) },
      { type: 'setDiscount', props: { name: 'Coffee on points', value: 2.5 } },
    ]);
    expect(coffee((await put(gw, 'cof-2', basket)).effects)).toHaveLength(2);
    // 80 spent; 40 more would pass 100 though the cache still shows 70: refused, nothing of the rule given.
    expect(coffee((await put(gw, 'cof-3', basket)).effects)).toEqual([]);
    const after = await balances(gw);
    expect(after.balance.activePoints).toBe(1000); // the main ledger is another holder
    expect(after.subledgerBalances.coffee?.activePoints).toBe(70);
    expect((await balances(gw, '?subledgerId=tea')).subledgerBalances).toEqual({});
  });

  it('a restart with only the journal to go by still knows what was spent from the subledger', async () => {
    await gw.stop();
    rmSync(path.join(gw.dir, 'var', 'state', 'ledger.json'), { force: false });
    gw = await startGateway(CONFIG, { dir: gw.dir });
    expect((await balances(gw)).subledgerBalances.coffee?.activePoints).toBe(70);
    expect(coffee((await put(gw, 'cof-4', basket)).effects)).toEqual([]);
    // Cancelling a sale gives its points back to the subledger's offline bound.
    const cancel = await put(gw, 'cof-1', { state: 'cancelled' });
    expect(cancel.status).toBe(200);
    expect(coffee((await put(gw, 'cof-5', basket)).effects)).toHaveLength(2);
  });
});
