/**
 * Head office feeds the shops' collections and their budget shares, with real parts only: the Talon.One emulator
 * over HTTP (Management API, its 3 requests/s per endpoint enforced), a real mosquitto on a random port, the
 * head-office service and two shop gateways. What a chain relies on: the Application's collections (account-level
 * and campaign-level) reach every shop and `inCollection` campaigns answer offline from them; an import into a
 * collection in Talon.One reaches the shops through the audit log, reading only that collection's items again, and
 * changes their offline answers; each store gets its share of a campaign-wide budget (weights from head office's
 * config) and never gives more offline, across a new share too; a budget whose counter Talon.One does not show gets
 * no share (nothing of it is given offline).
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../scripts/talon-emulator/server.js';
import type { HeadOffice, FleetDoc } from '../../src/headoffice/service.js';
import { startGateway, terminalHeaders, ADMIN_TOKEN, type TestGateway } from '../helpers/gateway.js';
import { HO_ADMIN_TOKEN, MANAGEMENT_KEY, startHeadOffice, writeHeadOfficeConfig } from '../helpers/headoffice.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { keyPair } from '../helpers/signing.js';
import { until } from '../helpers/until.js';

const keys = keyPair();
const STORES = [{ id: 1, integrationId: 'store-a', name: 'Store A' }, { id: 2, integrationId: 'store-b', name: 'Store B' }];
const off = (id: number, amount: number, blocks: Record<string, unknown>[] = []) => ({
  promotionRules: [{ id: `r${id}`, title: `${amount} off`, blocks: [...blocks, { id: `d${id}`, type: 'awardDiscount', name: `${amount} off (${id})`, value: amount, partial: false, target: { type: 'cart' } }] }],
  strikethroughRules: [],
});

const OVER_100 = { id: 'big', type: 'checkAttribute', attribute: '$Session.Total', operator: 'greaterThanOrEqual', value: 100 };

let broker: Mosquitto;
let emu: Emulator;
let office: HeadOffice;
let hoUrl: string;
let hoLogs: string[];
const shops = new Map<string, TestGateway>();
let n = 0;

/** The discount of each campaign in one offline answer of `store` for customer `profileId`. */
async function sale(store: string, profileId = 'nobody', price = 50): Promise<Record<number, number>> {
  const gw = shops.get(store) as TestGateway;
  const res = await fetch(`${gw.url}/v2/customer_sessions/hoc-${store}-${n++}`, {
    method: 'PUT', headers: terminalHeaders(),
    body: JSON.stringify({ customerSession: { profileId, cartItems: [{ sku: 'X', name: 'X', quantity: 1, price }] } }),
  });
  expect(res.headers.get('x-storegate-source')).toBe('local');
  const out: Record<number, number> = {};
  for (const e of ((await res.json()) as { effects: { campaignId: number; effectType: string; props: { value: number } }[] }).effects) {
    if (e.effectType === 'setDiscount') out[e.campaignId] = (out[e.campaignId] ?? 0) + e.props.value;
  }
  return out;
}
const shopStatus = async (store: string) => (await (await fetch(`${shops.get(store)?.url}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { cache: Record<string, unknown> };
const fleet = async () => (await (await fetch(`${hoUrl}/fleet`, { headers: { authorization: `Bearer ${HO_ADMIN_TOKEN}` } })).json()) as FleetDoc;

beforeAll(async () => {
  broker = await new Mosquitto().start();
  emu = await startEmulator({
    apiKey: 'integration-key',
    managementKey: MANAGEMENT_KEY,
    management: {
      application: { currency: 'EUR', timezone: 'Europe/Berlin' },
      stores: STORES,
      campaigns: [
        // 5 off for the customers of collection 22 (account-level), and 2 off for those of campaign 301's own "VIP".
        { campaign: { id: 300, name: 'Berlin friends' }, ruleset: off(300, 5, [{ id: 'c300', type: 'checkAttribute', attribute: '$Profile.IntegrationId', operator: 'inCollection', value: 22 }]) },
        { campaign: { id: 301, name: 'VIP' }, ruleset: off(301, 2, [{ id: 'c301', type: 'checkAttribute', attribute: '$Profile.IntegrationId', operator: 'inCollection', value: { name: 'VIP' } }]) },
        // 10 off baskets of 100 or more, a campaign-wide discount budget of 100 of which 40 are spent: 60 left, split 3:1 (store-a weighs 3).
        { campaign: { id: 302, name: 'Ten off', limits: [{ action: 'setDiscount', limit: 100, entities: [] }], budgets: [{ action: 'setDiscount', limit: 100, counter: 40 }] }, ruleset: off(302, 10, [OVER_100]) },
        // 7 off with a budget Talon.One shows no counter for: unknown, so no share.
        { campaign: { id: 303, name: 'Seven off', limits: [{ action: 'setDiscount', limit: 50, entities: [] }] }, ruleset: off(303, 7, [OVER_100]) },
      ],
      collections: [
        { collection: { id: 22, name: 'Berlin customers' }, items: ['ann', 'bob'] },
        { collection: { id: 31, name: 'VIP', campaignId: 301 }, items: ['kim'] },
      ],
      loyaltyPrograms: [],
      balances: [],
    },
  });
  for (const s of STORES) {
    shops.set(s.integrationId, await startGateway({ store: { integrationId: s.integrationId }, mode: 'offline', mqtt: { url: broker.url, reconnect: { minMs: 20, spreadMs: 200, maxMs: 500 } }, trust: { publicKeys: [keys.publicPem] } }));
  }
  const files = writeHeadOfficeConfig({ talonUrl: emu.url, mqttUrl: broker.url, signingPem: keys.privatePem });
  // store-a weighs 3 in the split of campaign-wide budgets, store-b 1 (not listed).
  writeFileSync(files.file, JSON.stringify({ ...files.config, budgets: { storeWeights: { 'store-a': 3 } } }));
  ({ office, url: hoUrl, logs: hoLogs } = await startHeadOffice(files.file));
  await office.synced(60_000);
  // Pushed is not yet applied: wait until both shops hold the four campaigns and the collections.
  for (const s of STORES) {
    await until(async () => {
      const c = (await shopStatus(s.integrationId)).cache;
      return (c['campaigns'] as unknown[]).length === 4 && c['collections'] === 2;
    }, 15_000);
  }
}, 90_000);

afterAll(async () => {
  if (process.env.HO_DUMP) writeFileSync(process.env.HO_DUMP, hoLogs.join('\n'));
  await office?.stop();
  for (const gw of shops.values()) await gw.stop().catch(() => undefined);
  await emu?.close();
  await broker?.stop();
});

describe('head office: collections and budget shares', () => {
  it('gives every shop the collections; inCollection campaigns answer offline from them', async () => {
    for (const s of ['store-a', 'store-b']) {
      expect((await shopStatus(s)).cache).toMatchObject({ collections: 2, collectionItems: 3 });
      // Account-level collection 22 by id, campaign 301's own "VIP" by name.
      expect(await sale(s, 'ann')).toEqual({ 300: 5 });
      expect(await sale(s, 'kim')).toEqual({ 301: 2 });
      expect(await sale(s, 'eve')).toEqual({});
    }
    const doc = await fleet();
    expect(doc.pushed.find((p) => p.kind === 'collections')).toMatchObject({ fleetWide: true, streams: 1 });
    expect(doc.dataProblems).toEqual([]);
    for (const shop of doc.shops) expect(shop.applied.collections).toBe(shop.latest.collections);
  });

  it('each store spends at most its share of the budget offline; an unknown counter gives no share', async () => {
    // 100 − 40 = 60 left, split 3 : 1. store-b: 15 → one 10 off, then none; store-a: 45 → four, then none.
    // Campaign 303 (7 off, same condition) never: its limit has no counter in Talon.One's campaign, so no share.
    const b: Record<number, number>[] = [];
    for (let i = 0; i < 3; i++) b.push(await sale('store-b', 'x', 100));
    expect(b).toEqual([{ 302: 10 }, {}, {}]);
    const a: Record<number, number>[] = [];
    for (let i = 0; i < 6; i++) a.push(await sale('store-a', 'x', 100));
    expect(a).toEqual([{ 302: 10 }, { 302: 10 }, { 302: 10 }, { 302: 10 }, {}, {}]);
    expect((await shopStatus('store-a')).cache['budgetShares']).toMatchObject({ shares: 1 });
    expect((await shopStatus('store-b')).cache['budgetShares']).toMatchObject({ shares: 1 });
  });

  it("an import into a collection reaches the shops' offline answers, only its items read again, within Talon.One's rate limit", async () => {
    const items = () => emu.management.rateLimit()['GET /v1/collections/{collectionId}/items']?.requests ?? 0;
    const before = items();
    expect(before).toBe(2); // the first sync: one page per collection
    // The CSV import replaces the content: eve in, ann and bob out. The audit log names it (read every 5 s here).
    emu.management.importCollection(22, ['eve']);
    for (const s of ['store-a', 'store-b']) await until(async () => (await sale(s, 'eve'))[300] === 5, 20_000);
    expect((await sale('store-a', 'ann'))[300]).toBeUndefined();
    expect((await sale('store-b', 'kim'))[301]).toBe(2);
    expect(items()).toBe(before + 1);
    for (const [endpoint, c] of Object.entries(emu.management.rateLimit())) {
      expect(c.rejected, endpoint).toBe(0);
      expect(c.maxPerSecond, endpoint).toBeLessThanOrEqual(3);
    }
    expect(emu.management.rateLimit()['GET /v1/applications/{applicationId}/collections']?.requests).toBeGreaterThanOrEqual(2);
    expect(emu.management.rateLimit()['GET /v1/collections']?.requests).toBeGreaterThanOrEqual(2);
  }, 40_000);

  it('fresh counters give new shares, and what the store gave offline still counts against them', async () => {
    expect((await sale('store-a', 'x', 100))[302]).toBeUndefined(); // store-a's 45 are spent (40 given)
    // The budget raised to 200 (40 counted): 160 left, store-a's share 120. Its 40 given offline never reached
    // Talon.One (the shop is offline), so 80 remain: eight more 10 off, then none.
    emu.management.updateCampaign(302, { limits: [{ action: 'setDiscount', limit: 200, entities: [] }], budgets: [{ action: 'setDiscount', limit: 200, counter: 40 }] });
    await until(async () => {
      const c = (await shopStatus('store-a')).cache['budgetShares'] as { readAt: string | null };
      return c.readAt !== null && Date.parse(c.readAt) > Date.now() - 30_000 && (await sale('store-a', 'x', 100))[302] === 10;
    }, 20_000);
    const a: Record<number, number>[] = [];
    for (let i = 0; i < 8; i++) a.push(await sale('store-a', 'x', 100));
    expect(a).toEqual([...Array.from({ length: 7 }, () => ({ 302: 10 })), {}]);
    // store-b: 160 × 1/4 = 40, of which it gave 10.
    const b: Record<number, number>[] = [];
    for (let i = 0; i < 4; i++) b.push(await sale('store-b', 'x', 100));
    expect(b).toEqual([{ 302: 10 }, { 302: 10 }, { 302: 10 }, {}]);
  }, 40_000);
});
