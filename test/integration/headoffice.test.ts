/**
 * Head office end to end, with real parts only: the Talon.One emulator (Integration and Management API, its
 * 3 requests/s limit enforced), a real mosquitto, the head-office service, and three shop gateways (store-b has
 * a store-specific campaign; store-c is stopped while campaigns and prices are pushed). What a chain relies on:
 * a campaign created in Talon.One reaches the shops' offline answers within 10 s (store-c's once it is back), a
 * store-specific campaign reaches only its store, a strikethrough notification becomes price-book answers, and
 * Talon.One never sees more than 3 requests per second on any endpoint.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../scripts/talon-emulator/server.js';
import { simpleRuleset } from '../../scripts/talon-emulator/management-gen.js';
import type { HeadOffice } from '../../src/headoffice/service.js';
import type { FleetDoc } from '../../src/headoffice/service.js';
import { startGateway, terminalHeaders, ADMIN_TOKEN, type TestGateway } from '../helpers/gateway.js';
import { HO_ADMIN_TOKEN, MANAGEMENT_KEY, NOTIFY_SECRET, startHeadOffice, writeHeadOfficeConfig } from '../helpers/headoffice.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { keyPair } from '../helpers/signing.js';
import { until } from '../helpers/until.js';

const keys = keyPair();
const STORES = [
  { id: 1, integrationId: 'store-a', name: 'Store A' },
  { id: 2, integrationId: 'store-b', name: 'Store B' },
  { id: 3, integrationId: 'store-c', name: 'Store C' },
  // Joins later (after a broker restart that lost every retained message).
  { id: 4, integrationId: 'store-d', name: 'Store D' },
];
const TREE = { id: 1, version: 1, set: { type: 'SET', name: 'Application', operator: 'ALL', evaluationMode: 'stackable', evaluationScope: 'session', groupId: 1, locked: false, elements: [{ type: 'CAMPAIGN', campaignId: 100 }, { type: 'CAMPAIGN', campaignId: 101 }] } };
const PRICES = {
  NotificationType: 'StrikethroughPrice', applicationId: 1, currentBatch: 1, totalBatches: 1, sentAt: '2026-06-01T06:00:01Z',
  trigger: { id: 77, type: 'CATALOG_SYNC', triggeredAt: '2026-06-01T06:00:00Z', totalAffectedItems: 1, payload: { catalogId: 2, catalogVersion: 10 } },
  changedItems: [{ id: 1, catalogId: 2, sku: 'PAN-24', version: 1, price: 39.99, prices: { base: { price: 39.99 } }, evaluatedAt: '2026-06-01T06:00:00Z',
    effects: [{ campaignId: 201, rulesetId: 2201, ruleIndex: 0, ruleName: 'Cookware week', type: 'setDiscountPerItem', props: { name: 'Cookware week -20%', value: 8 }, startTime: '2026-01-01T00:00:00Z', endTime: '2030-01-01T00:00:00Z', selectedPriceType: 'base', selectedPrice: 39.99, targets: [{ type: 'NONE' }] }] }],
};

let broker: Mosquitto;
let emu: Emulator;
let office: HeadOffice;
let hoUrl: string;
let hoLogs: string[];
const shops = new Map<string, TestGateway>();
let nextSession = 0;

function shopConfig(store: string) {
  return { store: { integrationId: store }, mode: 'offline', mqtt: { url: broker.url, reconnect: { minMs: 20, spreadMs: 200, maxMs: 500 } }, trust: { publicKeys: [keys.publicPem] } };
}

type Effect = { campaignId: number; effectType: string; props: Record<string, unknown> };
async function effects(store: string, items: { sku: string; price: number }[] = [{ sku: 'A-1', price: 30 }, { sku: 'A-2', price: 30 }]): Promise<Effect[]> {
  const gw = shops.get(store) as TestGateway;
  const res = await fetch(`${gw.url}/v2/customer_sessions/ho-${store}-${nextSession++}`, {
    method: 'PUT',
    headers: terminalHeaders(),
    body: JSON.stringify({ customerSession: { cartItems: items.map((i) => ({ ...i, name: i.sku, quantity: 1 })) } }),
  });
  expect(res.headers.get('x-storegate-source')).toBe('local');
  return ((await res.json()) as { effects: Effect[] }).effects;
}

async function shopStatus(store: string): Promise<{ cache: { rulesVersion: number; campaigns: { id: number }[] } }> {
  const gw = shops.get(store) as TestGateway;
  return (await (await fetch(`${gw.url}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as never;
}

async function fleet(): Promise<FleetDoc> {
  return (await (await fetch(`${hoUrl}/fleet`, { headers: { authorization: `Bearer ${HO_ADMIN_TOKEN}` } })).json()) as FleetDoc;
}

const has = (fx: Effect[], campaignId: number) => fx.some((e) => e.campaignId === campaignId);

beforeAll(async () => {
  broker = await new Mosquitto().start();
  emu = await startEmulator({
    apiKey: 'integration-key',
    managementKey: MANAGEMENT_KEY,
    management: {
      application: { currency: 'EUR', timezone: 'Europe/Berlin' },
      stores: STORES,
      campaigns: [
        { campaign: { id: 100, name: 'Welcome coupon', features: ['coupons'] }, ruleset: simpleRuleset(100, 10, 20, true), coupons: [{ id: 1, value: 'HELLO10', usageLimit: 1 }] },
        { campaign: { id: 101, name: '1 off over 50' }, ruleset: simpleRuleset(101, 1, 50) },
      ],
      loyaltyPrograms: [{ id: 1, name: 'points', cardBased: false }],
      balances: [{ programId: 1, profileId: 'cust-1', currentBalance: 120 }, { programId: 1, profileId: 'cust-1', subledger: 'coffee', currentBalance: 40, pendingBalance: 2 }],
      evaluationTree: TREE,
    },
  });
  for (const s of STORES.slice(0, 3)) shops.set(s.integrationId, await startGateway(shopConfig(s.integrationId)));
  const files = writeHeadOfficeConfig({ talonUrl: emu.url, mqttUrl: broker.url, signingPem: keys.privatePem });
  ({ office, url: hoUrl, logs: hoLogs } = await startHeadOffice(files.file));
  emu.management.setNotificationTargets([{ url: `${hoUrl}/notifications`, headers: { 'X-Storegate-Secret': NOTIFY_SECRET } }]);
  await office.synced(60_000);
}, 90_000);

afterAll(async () => {
  await office?.stop();
  for (const gw of shops.values()) await gw.stop().catch(() => undefined);
  await emu?.close();
  await broker?.stop();
});

describe('head office sync', () => {
  it('gives every shop the chain campaigns, coupons and loyalty from the first sync', async () => {
    for (const s of STORES.slice(0, 3)) await until(async () => has(await effects(s.integrationId), 101), 10_000);
    const st = await shopStatus('store-a');
    expect(st.cache.campaigns.map((c) => c.id).sort()).toEqual([100, 101]);
    // The coupon of the chain campaign is honoured offline.
    const gw = shops.get('store-a') as TestGateway;
    const res = await fetch(`${gw.url}/v2/customer_sessions/ho-coupon`, { method: 'PUT', headers: terminalHeaders(), body: JSON.stringify({ customerSession: { couponCodes: ['HELLO10'], cartItems: [{ sku: 'X', name: 'X', quantity: 1, price: 40 }] } }) });
    const fx = ((await res.json()) as { effects: Effect[] }).effects;
    expect(fx.find((e) => e.effectType === 'acceptCoupon')?.props).toMatchObject({ value: 'HELLO10' });
    // The loyalty export's subledger rows reach the shop as balances of their own (loyalty push `subledgerId`).
    let bal: { balance?: { activePoints: number }; subledgerBalances?: Record<string, { activePoints: number; pendingPoints: number }> } = {};
    await until(async () => {
      const r = await fetch(`${gw.url}/v1/loyalty_programs/1/profile/cust-1/balances`, { headers: terminalHeaders() });
      bal = (await r.json()) as typeof bal;
      return r.status === 200 && bal.subledgerBalances?.coffee !== undefined;
    }, 10_000);
    expect(bal.balance?.activePoints).toBe(120);
    expect(bal.subledgerBalances).toEqual({ coffee: { activePoints: 40, pendingPoints: 2, spentPoints: 0, expiredPoints: 0, negativePoints: 0 } });
  });

  it('brings a campaign created in Talon.One to the online shops within 10 s, and to store-c after it reconnects', async () => {
    const c = shops.get('store-c') as TestGateway;
    await c.stop();
    shops.delete('store-c');
    const t0 = Date.now();
    emu.management.createCampaign({ id: 102, name: '7 off over 1' }, simpleRuleset(102, 7, 1));
    await Promise.all(['store-a', 'store-b'].map((s) => until(async () => has(await effects(s), 102), 10_000)));
    const ms = Date.now() - t0;
    expect(ms).toBeLessThan(10_000);
    // A store-specific campaign (store-b, id 2) reaches store-b only.
    emu.management.createCampaign({ id: 103, name: 'Store B opening: 3 off', linkedStoreIds: [2] }, simpleRuleset(103, 3, 1));
    await until(async () => has(await effects('store-b'), 103), 10_000);
    expect(has(await effects('store-a'), 103)).toBe(false);
    expect((await shopStatus('store-a')).cache.campaigns.map((x) => x.id)).not.toContain(103);
    // A strikethrough batch becomes price-book answers (the shops' per-item discount from its effect).
    const sent = await emu.management.notify({ url: `${hoUrl}/notifications`, body: PRICES, headers: { 'X-Storegate-Secret': NOTIFY_SECRET }, uuid: 'strike-1' });
    expect(sent[0]?.status).toBe(202);
    const again = await emu.management.notify({ url: `${hoUrl}/notifications`, body: PRICES, headers: { 'X-Storegate-Secret': NOTIFY_SECRET }, uuid: 'strike-1' });
    expect(again[0]?.status).toBe(200); // the same X-UUID: a duplicate, processed once
    for (const s of ['store-a', 'store-b']) {
      await until(async () => (await effects(s, [{ sku: 'PAN-24', price: 39.99 }])).some((e) => e.campaignId === 201 && e.effectType === 'setDiscountPerItem'), 10_000);
    }
    // store-c comes back: the retained pushes (and its persistent session) bring all of it.
    shops.set('store-c', await startGateway(shopConfig('store-c'), { dir: c.dir }));
    await until(async () => has(await effects('store-c'), 102), 15_000);
    expect(has(await effects('store-c'), 103)).toBe(false);
    await until(async () => (await effects('store-c', [{ sku: 'PAN-24', price: 39.99 }])).some((e) => e.campaignId === 201), 10_000);
  }, 60_000);

  it('shows the fleet: every shop online and up to date, as JSON, a page and metrics', async () => {
    await until(async () => (await fleet()).shops.filter((s) => s.state === 'ok').length === 3, 15_000);
    const doc = await fleet();
    const b = doc.shops.find((s) => s.store === 'store-b');
    expect(b).toMatchObject({ online: true, mode: 'offline', behind: [], refusing: false, lastRefusal: null });
    expect(b?.applied.rules).toBe(b?.latest.rules);
    const page = await fetch(`${hoUrl}/fleet`, { headers: { authorization: `Basic ${Buffer.from(`ops:${HO_ADMIN_TOKEN}`).toString('base64')}`, accept: 'text/html' } });
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('store-b');
    expect((await fetch(`${hoUrl}/fleet`)).status).toBe(401);
    const metrics = await (await fetch(`${hoUrl}/metrics`, { headers: { authorization: `Bearer ${HO_ADMIN_TOKEN}` } })).text();
    expect(metrics).toMatch(/storegate_headoffice_shop_online\{store="store-c"\} 1/);
    expect(metrics).toMatch(/storegate_headoffice_shop_behind\{store="store-a",kind="rules"\} 0/);
  });

  it('pushes everything again when the broker lost its retained messages, so a shop joining afterwards gets it all', async () => {
    await broker.kill(); // persistence off: every retained push and session is gone
    await broker.start();
    await until(async () => (await fleet()).broker.connected, 10_000);
    shops.set('store-d', await startGateway(shopConfig('store-d')));
    await until(async () => {
      const fx = await effects('store-d');
      return has(fx, 101) && has(fx, 102) && !has(fx, 103);
    }, 15_000);
    await until(async () => (await effects('store-d', [{ sku: 'PAN-24', price: 39.99 }])).some((e) => e.campaignId === 201), 10_000);
    // The shops that had it all already still answer with it (the pushes again are the same data, newer versions).
    expect(has(await effects('store-a'), 102)).toBe(true);
  }, 40_000);

  it('kept every Management API endpoint at 3 requests per second or fewer, with no 429', () => {
    const counters = emu.management.rateLimit();
    expect(Object.keys(counters).length).toBeGreaterThan(5);
    for (const [endpoint, c] of Object.entries(counters)) {
      expect(c.maxPerSecond, endpoint).toBeLessThanOrEqual(3);
      expect(c.rejected, endpoint).toBe(0);
      expect(c.retryAfterIgnored, endpoint).toBe(0);
    }
    // The new campaigns were read one by one (notification → that campaign), not by pulling everything again.
    expect(counters['GET /v1/applications/{applicationId}/campaigns/{campaignId}']?.requests).toBeGreaterThanOrEqual(2);
    expect(counters['GET /v2/applications/{applicationId}/campaigns/{campaignId}/rulesets/{rulesetId}']?.requests).toBe(4);
  });

  it('never logs a secret', () => {
    if (process.env.HO_DUMP) writeFileSync(process.env.HO_DUMP, hoLogs.join('\n'));
    const text = hoLogs.join('\n');
    for (const s of [MANAGEMENT_KEY, NOTIFY_SECRET, HO_ADMIN_TOKEN, 'PRIVATE KEY']) expect(text).not.toContain(s);
  });
});
