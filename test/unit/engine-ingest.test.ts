import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalData } from '../../src/engine/local-data.js';
import { FileSnapshotStore, MemorySnapshotStore, type SnapshotStore } from '../../src/state/snapshot-store.js';
import { ManualClock } from '../../src/platform/clock.js';
import { DataError, StoregateError } from '../../src/core/errors.js';
import { CouponLedger } from '../../src/engine/coupon-ledger.js';
import { LoyaltyLimits } from '../../src/engine/loyalty.js';
import { campaign, rulesPayload } from './engine-helpers.js';

const sample = (k: string) => JSON.parse(readFileSync(new URL(`../../config/sample-${k}.json`, import.meta.url), 'utf8'));
const clock = () => new ManualClock(Date.parse('2026-06-01T10:00:00Z'));
const ld = (store: SnapshotStore = new MemorySnapshotStore()) => new LocalData({ store, clock: clock(), storeIntegrationId: 'store-042', storeAttributes: { region: 'north' } });

async function rejects(p: Promise<unknown>): Promise<StoregateError> {
  try { await p; } catch (e) { return e as StoregateError; }
  throw new Error('expected a rejection');
}

describe('sample data', () => {
  it('the four sample files ingest cleanly and evaluate', async () => {
    const d = ld();
    for (const k of ['rules', 'prices', 'coupons', 'loyalty'] as const) expect((await d.ingest(k, sample(k))).version).toBe(1);
    const st = d.status();
    expect(st.campaigns.filter((c) => c.offlineCapable).length).toBe(5);
    expect(st.campaigns.find((c) => c.id === 106)).toMatchObject({ offlineCapable: false, reason: 'block checkReferral is not supported offline' });
    const out = d.engine().evaluate({ customerSessionId: 's', now: Date.parse('2026-06-01T10:00:00Z'), ledger: new CouponLedger(), loyalty: new LoyaltyLimits(), session: { couponCodes: ['welcome10'], cartItems: [{ sku: 'MUG-01', quantity: 8, category: 'Kitchen' }] } });
    expect(out.effects.map((e) => e.effectType)).toEqual(expect.arrayContaining(['acceptCoupon', 'setDiscount', 'setDiscountPerItem', 'addFreeItem', 'showNotification']));
    expect(d.priceLookup('PAN-24')).toEqual({ sku: 'PAN-24', price: 39.99, finalPrice: 31.99, label: 'Cookware week -20%', validUntil: '2027-12-31T00:00:00.000Z' });
  });
});

describe('validation (400 with JSON pointers, nothing changed)', () => {
  const cases: [string, string, unknown, string][] = [
    ['rules: version missing', 'rules', { ...sample('rules'), version: undefined }, '/version'],
    ['rules: wrong type deep inside', 'rules', rulesPayload([campaign(1, [[{ type: 'checkAttribute', attribute: '$Session.Total', operator: 'between', min: 1 }]])]), '/campaigns/0/ruleset/promotionRules/0/blocks/0/max'],
    ['rules: campaign id not an integer', 'rules', rulesPayload([{ campaign: { id: 'x', name: 'n', state: 'enabled' }, ruleset: { id: 1, promotionRules: [] } }]), '/campaigns/0/campaign/id'],
    ['rules: duplicate campaign', 'rules', rulesPayload([campaign(1, []), campaign(1, [])]), '/campaigns/1/campaign/id'],
    ['rules: bad time zone', 'rules', { ...rulesPayload([]), application: { timezone: 'Mars/Olympus' } }, '/application/timezone'],
    ['coupons: code missing', 'coupons', { version: 1, full: true, coupons: [{ id: 1, campaignId: 1 }] }, '/coupons/0/value'],
    ['coupons: expiry not a date', 'coupons', { version: 1, full: true, coupons: [{ id: 1, value: 'A', campaignId: 1, expiryDate: 'soon' }] }, '/coupons/0/expiryDate'],
    ['coupons: expiry without an offset (would be read as the shop\'s local time)', 'coupons', { version: 1, full: true, coupons: [{ id: 1, value: 'A', campaignId: 1, expiryDate: '2027-12-31T23:59:59' }] }, '/coupons/0/expiryDate'],
    ['coupons: a date alone', 'coupons', { version: 1, full: true, coupons: [{ id: 1, value: 'A', campaignId: 1, startDate: '2026-01-01' }] }, '/coupons/0/startDate'],
    ['rules: campaign start without an offset', 'rules', rulesPayload([campaign(1, [], { campaign: { startTime: '2026-06-01 10:00:00' } })]), '/campaigns/0/campaign/startTime'],
    ['loyalty: both profile and card', 'loyalty', { version: 1, programs: [], balances: [{ programId: 1, profileId: 'a', cardId: 'b', activePoints: 1 }] }, '/balances/0'],
    ['prices: negative price', 'prices', { currentBatch: 1, trigger: { id: 1 }, changedItems: [{ sku: 'A', version: 1, price: -1 }] }, '/changedItems/0/price'],
    ['prices: wrong notification type', 'prices', { NotificationType: 'CampaignNotification', currentBatch: 1, trigger: { id: 1 }, changedItems: [] }, '/NotificationType'],
    ['hostile: __proto__ key', 'rules', JSON.parse('{"version":2,"application":{"__proto__":{"polluted":1}},"evaluationTree":null,"campaigns":[]}'), '/application/__proto__'],
    ['hostile: constructor key', 'coupons', JSON.parse('{"version":2,"full":true,"coupons":[{"constructor":{}}]}'), '/coupons/0/constructor'],
    ['hostile: not a number (NaN cannot be JSON, Infinity-like huge exponent)', 'loyalty', { version: 2, programs: [], balances: [{ programId: 1, profileId: 'a', activePoints: Number.POSITIVE_INFINITY }] }, '/balances/0/activePoints'],
  ];
  it.each(cases)('%s', async (_n, kind, payload, path) => {
    const d = ld();
    const before = d.status();
    const e = await rejects(d.ingest(kind as 'rules', payload));
    expect(e).toBeInstanceOf(DataError);
    expect(e.statusCode).toBe(400);
    expect(e.details.map((x) => x.path)).toContain(path);
    expect(d.status()).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('deep nesting is rejected, not recursed into', async () => {
    let deep: unknown = { type: 'group', operator: 'all', blocks: [] };
    for (let i = 0; i < 5000; i++) deep = { id: 'g', type: 'group', operator: 'all', blocks: [deep] };
    const e = await rejects(ld().ingest('rules', rulesPayload([campaign(1, [[deep as Record<string, unknown>]])])));
    expect(e.details[0]?.message).toMatch(/nested deeper than 64/);
  });

  it('huge lists are rejected', async () => {
    const e = await rejects(ld().ingest('rules', { ...rulesPayload([]), campaigns: new Array(10_001).fill(0) }));
    expect(e.details[0]?.message).toMatch(/list longer than/);
  });

  it('a block/operator the engine lacks is coverage, not an error', async () => {
    const d = ld();
    await d.ingest('rules', rulesPayload([campaign(1, [[{ type: 'passthrough', expression: ['kv', 'a', 1] }]])]));
    expect(d.status().campaigns[0]).toMatchObject({ offlineCapable: false, reason: 'Talang function "kv" is not supported offline' });
  });
});

describe('versions and persistence', () => {
  it('lower or equal versions get 409 SG_ERR_DATA_STALE; higher ones swap in', async () => {
    const d = ld();
    await d.ingest('coupons', { version: 5, full: true, coupons: [] });
    for (const v of [5, 4]) {
      const e = await rejects(d.ingest('coupons', { version: v, full: true, coupons: [] }));
      expect([e.code, e.statusCode]).toEqual(['SG_ERR_DATA_STALE', 409]);
    }
    await d.ingest('coupons', { version: 6, full: false, coupons: [{ id: 1, value: 'A', campaignId: 1 }] });
    await d.ingest('coupons', { version: 7, full: false, coupons: [{ id: 2, value: 'B', campaignId: 1 }, { id: 1, value: 'A', campaignId: 1, deleted: true }] });
    expect(d.status()).toMatchObject({ couponsVersion: 7, coupons: 1 });
  });

  it('prices: higher item versions replace, a repeated batch changes nothing', async () => {
    const d = ld();
    const batch = (trigger: number, version: number, price: number) => ({ currentBatch: 1, trigger: { id: trigger }, changedItems: [{ sku: 'A', version, price }] });
    expect(await d.ingest('prices', batch(1, 2, 10))).toEqual({ kind: 'prices', version: 1, changed: 1 });
    expect(await d.ingest('prices', batch(1, 3, 11))).toEqual({ kind: 'prices', version: 1, changed: 0 });
    expect(await d.ingest('prices', batch(2, 1, 12))).toEqual({ kind: 'prices', version: 2, changed: 0 });
    expect(await d.ingest('prices', [batch(3, 3, 13), batch(3, 4, 14)].map((b, i) => ({ ...b, currentBatch: i + 1 })))).toEqual({ kind: 'prices', version: 3, changed: 2 });
    expect(d.priceLookup('A')?.price).toBe(14);
  });

  it('snapshots persist to <dataDir>/state and reload on start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-engine-'));
    const a = ld(new FileSnapshotStore(dir));
    await a.start();
    for (const k of ['rules', 'prices', 'coupons', 'loyalty'] as const) await a.ingest(k, sample(k));
    expect(readdirSync(join(dir, 'state')).sort()).toEqual(['coupons.json', 'loyalty.json', 'prices.json', 'rules.json']);
    const b = ld(new FileSnapshotStore(dir));
    await b.start();
    const { updatedAt: _u, ...sa } = a.status();
    const { updatedAt: _v, ...sb } = b.status();
    expect(sb).toEqual(sa);
    expect(b.priceLookup('SHOE-RUN-42', undefined, [7])).toEqual(a.priceLookup('SHOE-RUN-42', undefined, [7]));
  });

  it('a failed snapshot write changes nothing', async () => {
    const store = new MemorySnapshotStore();
    const d = ld(store);
    store.save = async () => { throw new Error('disk full'); };
    await expect(d.ingest('rules', sample('rules'))).rejects.toThrow('disk full');
    expect(d.status().rulesVersion).toBe(0);
  });

  it('start-up files: not newer than the stored data is skipped, not fatal', async () => {
    const d = ld();
    const path = new URL('../../config/sample-coupons.json', import.meta.url).pathname;
    expect((await d.ingestFile('coupons', path)).changed).toBe(3);
    expect(await d.ingestFile('coupons', path)).toEqual({ kind: 'coupons', version: 1, changed: 0 });
  });

  it('an engine reference keeps its snapshot while a new one is swapped in', async () => {
    const d = ld();
    await d.ingest('rules', rulesPayload([campaign(1, [])]));
    const old = d.engine();
    await d.ingest('rules', { ...rulesPayload([campaign(2, [])]), version: 2 });
    expect(old.data.rules.list.map((c) => c.id)).toEqual([1]);
    expect(d.engine().data.rules.list.map((c) => c.id)).toEqual([2]);
  });
});
