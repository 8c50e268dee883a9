/**
 * Collections as a local data kind and `inCollection` / `not(inCollection)` offline. Source: Talon.One's docs,
 * "Managing collections" ("A collection is a list of values of your choice that you can use in your rules";
 * "Using a collection in a condition": an attribute "is in collection"), and the Management API `Collection`
 * (`id`, `name`, `campaignId`, `payload`: the content of the collection, a list of strings).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CollectionIndex } from '../../src/engine/collections.js';
import { parseCollections } from '../../src/engine/ingest/collections.js';
import { LocalData } from '../../src/engine/local-data.js';
import { CouponLedger } from '../../src/engine/coupon-ledger.js';
import { LoyaltyLimits } from '../../src/engine/loyalty.js';
import { FileSnapshotStore } from '../../src/state/snapshot-store.js';
import { ManualClock } from '../../src/platform/clock.js';
import { DataError, StoregateError } from '../../src/core/errors.js';
import { campaign, NOW, rulesPayload, type B } from './engine-helpers.js';

const collections = (version: number, list: B[], full = true): B => ({ version, full, collections: list });
const berlin = { id: 22, name: 'Berlin emails', payload: ['ann@x.de', 'bob@x.de'] };
const skus = { id: 23, name: 'Kettles', campaignId: 1, payload: ['KTL-WH-ET-1', 'KTL-BL-ET-1'] };

/** Campaign 1: 10 % off when the profile is in collection `ref` (or not, with `not`). */
function rules(ref: unknown, op = 'inCollection', version = 1): B {
  return {
    ...rulesPayload([campaign(1, [[
      { type: 'checkAttribute', attribute: '$Profile.IntegrationId', operator: op, value: ref },
      { type: 'awardDiscount', name: 'ten', value: '{{$Session.Total * 0.1}}', target: { type: 'cart' }, partial: false },
    ]])]),
    version,
  };
}

async function localData(): Promise<LocalData> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-coll-'));
  const ld = new LocalData({ store: new FileSnapshotStore(dir), clock: new ManualClock(NOW), storeIntegrationId: 'store-042' });
  await ld.start();
  return ld;
}

const discount = (ld: LocalData, profileId: string | undefined): number => {
  const out = ld.engine().evaluate({ customerSessionId: 's', session: { ...(profileId ? { profileId } : {}), cartItems: [{ sku: 'A', price: 50, quantity: 1 }] }, now: NOW, ledger: new CouponLedger(), loyalty: new LoyaltyLimits(0) });
  return out.effects.filter((e) => e.effectType === 'setDiscount').reduce((a, e) => a + (e.props.value as number), 0);
};

describe('collections payload', () => {
  it('accepts Talon.One Collection objects and refuses bad ones with JSON pointers', () => {
    expect(parseCollections(collections(1, [berlin, skus])).collections).toHaveLength(2);
    const bad = () => parseCollections(collections(1, [{ id: 22, name: ' x', payload: ['ok', 7] }, { id: 22, name: 'y' }, { id: 5, name: 'z', deleted: true }]));
    expect(bad).toThrow(DataError);
    try { bad(); } catch (e) {
      const paths = (e as DataError).details.map((d) => d.path);
      expect(paths).toEqual(expect.arrayContaining(['/collections/0/name', '/collections/0/payload/1', '/collections/1/id', '/collections/2/deleted']));
    }
    expect(() => parseCollections({ version: 0, full: true, collections: [] })).toThrow(DataError);
    try { parseCollections({ version: 1, full: true, collections: [{ id: 1, name: 'n', payload: Array(500_001).fill('a') }] }); expect.unreachable(); } catch (e) {
      expect((e as DataError).details).toEqual([{ path: '/collections/0/payload', message: 'must have at most 500000 items' }]);
    }
  });

  it('resolves a collection by id, {id}, name or {name}; a campaign-level one of the campaign itself first', () => {
    const idx = CollectionIndex.from([berlin, skus, { id: 24, name: 'Kettles', payload: ['other'] }]);
    expect(idx.resolve(22, 1).id).toBe(22);
    expect(idx.resolve({ id: 23, name: 'whatever' }, 9).id).toBe(23);
    expect(idx.resolve('Berlin emails', 1).id).toBe(22);
    expect(idx.resolve({ name: 'Kettles' }, 1).id).toBe(23); // campaign 1's own
    expect(idx.resolve('Kettles', 2).id).toBe(24); // another campaign: the account-level one
    expect(() => idx.resolve(99, 1)).toThrow(/collection 99 is not in this store's collections data/);
    expect(() => idx.resolve(['x'], 1)).toThrow(/not an id or a name/);
    const two = CollectionIndex.from([{ id: 1, name: 'dup', payload: [] }, { id: 2, name: 'dup', payload: [] }]);
    expect(() => two.resolve('dup', 3)).toThrow(/ambiguous/);
  });
});

describe('inCollection offline (LocalData)', () => {
  it('is not offline-capable without the collection, and is once a collections push brings it (the rules compiled again)', async () => {
    const ld = await localData();
    await ld.ingest('rules', rules(22));
    expect(ld.status().campaigns[0]).toMatchObject({ offlineCapable: false, reason: expect.stringContaining('collection 22') });
    expect(discount(ld, 'ann@x.de')).toBe(0);
    const ack = await ld.ingest('collections', collections(5, [berlin]));
    expect(ack).toEqual({ kind: 'collections', version: 5, changed: 1 });
    expect(ld.status()).toMatchObject({ collectionsVersion: 5, collections: 1, collectionItems: 2, rulesVersion: 1 });
    expect(ld.status().campaigns[0]).toMatchObject({ offlineCapable: true, reason: null });
    expect(discount(ld, 'ann@x.de')).toBe(5);
    expect(discount(ld, 'eve@x.de')).toBe(0);
    expect(discount(ld, undefined)).toBe(0); // missing attribute: the block fails
  });

  it('not(inCollection) holds for a value outside it, and fails for a missing one', async () => {
    const ld = await localData();
    await ld.ingest('collections', collections(1, [berlin]));
    await ld.ingest('rules', rules('Berlin emails', 'not(inCollection)'));
    expect(discount(ld, 'eve@x.de')).toBe(5);
    expect(discount(ld, 'bob@x.de')).toBe(0);
    expect(discount(ld, undefined)).toBe(0);
  });

  it('a delta replaces a collection whole or deletes it; stale and invalid pushes change nothing', async () => {
    const ld = await localData();
    await ld.ingest('collections', collections(1, [berlin, skus]));
    await ld.ingest('rules', rules(22));
    await ld.ingest('collections', collections(2, [{ id: 22, name: 'Berlin emails', payload: ['eve@x.de'] }], false));
    expect(discount(ld, 'eve@x.de')).toBe(5);
    expect(discount(ld, 'ann@x.de')).toBe(0);
    await expect(ld.ingest('collections', collections(2, [berlin]))).rejects.toMatchObject({ code: 'SG_ERR_DATA_STALE' });
    await expect(ld.ingest('collections', collections(3, [{ id: 22, name: 'x', payload: [1] }]))).rejects.toBeInstanceOf(DataError);
    expect(ld.status()).toMatchObject({ collectionsVersion: 2, collections: 2, collectionItems: 3 });
    await ld.ingest('collections', collections(4, [{ id: 22, deleted: true }], false));
    expect(ld.status()).toMatchObject({ collections: 1 });
    expect(ld.status().campaigns[0]?.offlineCapable).toBe(false);
  });

  it('survives a restart: the snapshot is read before the rules, which compile with it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-coll-'));
    const a = new LocalData({ store: new FileSnapshotStore(dir), clock: new ManualClock(NOW), storeIntegrationId: 'store-042' });
    await a.start();
    await a.ingest('rules', rules(22));
    await a.ingest('collections', collections(7, [berlin]));
    const b = new LocalData({ store: new FileSnapshotStore(dir), clock: new ManualClock(NOW), storeIntegrationId: 'store-042' });
    await b.start();
    expect(b.status()).toMatchObject({ collectionsVersion: 7, collectionItems: 2 });
    expect(b.status().campaigns[0]?.offlineCapable).toBe(true);
    expect(discount(b, 'bob@x.de')).toBe(5);
  });

  it('compares strings only, exactly', async () => {
    const ld = await localData();
    await ld.ingest('collections', collections(1, [{ id: 9, name: 'n', payload: ['42', 'Ann@X.de'] }]));
    await ld.ingest('rules', { ...rulesPayload([campaign(1, [[
      { type: 'checkAttribute', attribute: '$Session.Attributes.code', operator: 'inCollection', value: 9 },
      { type: 'showNotification', notificationType: 'Info', title: 'hit' },
    ]])]) });
    const hit = (code: unknown) => ld.engine().evaluate({ customerSessionId: 's', session: { attributes: { code }, cartItems: [] }, now: NOW, ledger: new CouponLedger(), loyalty: new LoyaltyLimits(0) }).effects.length > 0;
    expect(hit('42')).toBe(true);
    expect(hit(42)).toBe(false);
    expect(hit('ann@x.de')).toBe(false);
    expect(hit('Ann@X.de')).toBe(true);
  });

  it('a cart item selector filtered by a collection feeds a per-item discount', async () => {
    const ld = await localData();
    await ld.ingest('collections', collections(1, [skus]));
    await ld.ingest('rules', rulesPayload([campaign(1, [[
      { type: 'awardDiscount', name: 'kettles', value: 2, target: { type: 'selector', name: 'k' }, partial: false },
    ]], { selectors: [{ name: 'k', type: 'selector', source: '$Session.CartItems', steps: [{ type: 'filter', predicate: { type: 'checkAttribute', attribute: '$Item.Sku', operator: 'inCollection', value: { name: 'Kettles' } } }] }] })]));
    const out = ld.engine().evaluate({ customerSessionId: 's', session: { cartItems: [{ sku: 'KTL-WH-ET-1', price: 30, quantity: 1 }, { sku: 'PAN', price: 20, quantity: 1 }, { sku: 'KTL-BL-ET-1', price: 30, quantity: 2 }] }, now: NOW, ledger: new CouponLedger(), loyalty: new LoyaltyLimits(0) });
    expect(out.effects.map((e) => [e.props.position, e.props.value])).toEqual([[0, 2], [2, 4]]);
  });

  it('the stale error names the kind; an unknown kind lists collections', async () => {
    const ld = await localData();
    await ld.ingest('collections', collections(3, []));
    await expect(ld.ingest('collections', collections(3, []))).rejects.toBeInstanceOf(StoregateError);
    await expect(ld.ingest('nope' as never, {})).rejects.toThrow(DataError);
  });
});
