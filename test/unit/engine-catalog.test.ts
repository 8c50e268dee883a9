/**
 * The cart item catalog (a sixth local data kind): Talon.One's `CatalogItem` shape validated with JSON paths, held
 * compactly, merged by item version, persisted and reloaded, and used offline to complete cart items that lack
 * attributes, a price or a product name — the line's own values always win.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Catalog, CatalogBuilder, mergeCatalog } from '../../src/engine/catalog.js';
import { parseCatalog } from '../../src/engine/ingest/catalog.js';
import { LocalData } from '../../src/engine/local-data.js';
import { CouponLedger } from '../../src/engine/coupon-ledger.js';
import { LoyaltyLimits } from '../../src/engine/loyalty.js';
import { FileSnapshotStore } from '../../src/state/snapshot-store.js';
import { ManualClock } from '../../src/platform/clock.js';
import { DataError, StoregateError } from '../../src/core/errors.js';
import { campaign, NOW, rulesPayload, type B } from './engine-helpers.js';
import type { CatalogItem } from '../../src/engine/types.js';

const item = (sku: string, attrs: Record<string, unknown> = {}, extra: Partial<CatalogItem> = {}): CatalogItem => ({
  sku, catalogid: 1, version: 1, attributes: Object.entries(attrs).map(([name, value], i) => ({ attributeid: i + 1, name, value })), ...extra,
});
const payload = (items: unknown[], version = 1, full = true) => ({ version, full, items });

function errorsOf(f: () => unknown): { path?: string; message: string }[] {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return [...(e as DataError).details];
  }
  throw new Error('expected a DataError');
}

describe('catalog payload', () => {
  it('accepts Talon.One CatalogItems and refuses bad ones with the JSON path of each problem', () => {
    expect(parseCatalog(payload([item('A', { color: 'red' }, { price: 3, id: 7, created: '2026-01-01T00:00:00Z', product: { name: 'Apple' } })])).items).toHaveLength(1);
    const errs = errorsOf(() => parseCatalog(payload([
      { sku: '', catalogid: 1, version: 1 },
      { sku: 'B', catalogid: 1, version: 0 },
      { sku: 'C', version: 1 },
      { sku: 'D', catalogid: 1, version: 1, price: -1 },
      { sku: 'E', catalogid: 1, version: 1, attributes: [{ attributeid: 1, name: 'color' }, { attributeid: 2, name: 'color', value: 1 }, { attributeid: 3, name: 'a b', value: 1 }] },
      { sku: 'B', catalogid: 1, version: 2 },
      { sku: 'F', deleted: true },
      'x',
    ])));
    expect(errs.map((e) => e.path)).toEqual([
      '/items/0/sku', '/items/1/version', '/items/2/catalogid', '/items/3/price',
      '/items/4/attributes/0/value', '/items/4/attributes/1/name', '/items/4/attributes/2/name', '/items/5/sku', '/items/6/deleted', '/items/7',
    ]);
    expect(errorsOf(() => parseCatalog({ version: 1, items: [] })).map((e) => e.path)).toEqual(['/full']);
    expect(errorsOf(() => parseCatalog([])).map((e) => e.path)).toEqual(['/']);
  });
});

describe('catalog store', () => {
  const b = new CatalogBuilder(3, 4);
  b.addItem(item('A', { color: 'red', sizes: [1, 2] }, { price: 2.5, product: { name: 'Apple' } }));
  b.addItem(item('SKU-WITH-A-VERY-LONG-NAME-0001', { color: 'red', sizes: [1, 2] }));
  b.addItem(item('N', {}, {}));
  const c = b.build();

  it('completes the attributes a line lacks; the line keeps its own; nothing to complete: the same object', () => {
    const a = c.find('A');
    expect(c.complete(a, {})).toEqual({ color: 'red', sizes: [1, 2] });
    expect(c.attributesOf(a)).toEqual({ color: 'red', sizes: [1, 2] });
    expect(c.attributesOf(a)).not.toBe(c.attributesOf(a));
    expect(c.attributesOf(c.find('N'))).toEqual({});
    expect(c.complete(a, { color: 'blue', extra: 1 })).toEqual({ color: 'blue', extra: 1, sizes: [1, 2] });
    const own = { color: 'x', sizes: [] };
    expect(c.complete(a, own)).toBe(own);
    expect(c.productName(a)).toBe('Apple');
    expect(c.price(a)).toBe(2.5);
    expect(Number.isNaN(c.price(c.find('N')))).toBe(true);
    expect(c.find('nope')).toBe(-1);
  });

  it('interns values: items with the same value share one frozen value', () => {
    const x = c.complete(c.find('A'), {}).sizes;
    const y = c.complete(c.find('SKU-WITH-A-VERY-LONG-NAME-0001'), {}).sizes;
    expect(x).toBe(y);
    expect(Object.isFrozen(x)).toBe(true);
    expect(c.attributesOf(c.find('A')).sizes).toBe(x);
  });

  it('locate: item numbers of a cart (long SKUs too), -1 for unknown or nothing to give, -2 for a non-string SKU', () => {
    expect([...c.locate([{ sku: 'SKU-WITH-A-VERY-LONG-NAME-0001' }, { sku: 'A' }, { sku: 'zzz' }, { sku: 'N' }, { sku: 5 }])]).toEqual([1, 0, -1, -1, -2]);
  });

  it('round-trips through its snapshot (JSON with base64 arrays)', () => {
    const again = Catalog.fromSnapshot(JSON.parse(JSON.stringify(c.toSnapshot())));
    expect(again.attributesOf(again.find('A'))).toEqual({ color: 'red', sizes: [1, 2] });
    expect(again.productName(again.find('A'))).toBe('Apple');
    expect(again.price(again.find('A'))).toBe(2.5);
    for (let i = 0; i < c.size; i++) {
      expect(again.sku(i)).toBe(c.sku(i));
      expect(again.attributes(i)).toEqual(c.attributes(i));
      expect(again.find(c.sku(i))).toBe(i);
    }
  });

  it('merges: full replaces; a delta replaces by higher item version, removes deleted, adds new', () => {
    const v1 = mergeCatalog(new Catalog(), true, [item('A', { c: 1 }), item('B', { c: 1 }), item('C', { c: 1 })]);
    expect(v1.changed).toBe(3);
    const d = mergeCatalog(v1.catalog, false, [item('A', { c: 2 }, { version: 2 }), item('B', { c: 9 }, { version: 1 }), { sku: 'C', deleted: true } as CatalogItem, item('D', { c: 4 })]);
    expect(d.changed).toBe(3);
    const cat = d.catalog;
    expect(cat.size).toBe(3);
    expect(cat.attributes(cat.find('A'))).toEqual([{ name: 'c', value: 2 }]);
    expect(cat.attributes(cat.find('B'))).toEqual([{ name: 'c', value: 1 }]);
    expect(cat.find('C')).toBe(-1);
    expect(cat.find('D')).toBeGreaterThanOrEqual(0);
    const full = mergeCatalog(cat, true, [item('Z')]);
    expect(full.catalog.size).toBe(1);
  });
});

describe('catalog data set (LocalData) and offline evaluation', () => {
  const brandRule: B = campaign(1, [[
    { type: 'checkAttribute', attribute: '$brandCount', operator: 'greaterThanOrEqual', value: 1 },
    { type: 'awardDiscount', name: 'Brand 10%', value: '{{$Item.Price * 0.1}}', target: { type: 'selector', name: 'brand' } },
  ]], { selectors: [
    { name: 'brand', type: 'selector', source: '$Session.CartItems', steps: [{ type: 'filter', predicate: { type: 'checkAttribute', attribute: '$Item.Attributes.brand', operator: 'equals', value: 'Acme' } }] },
    { name: 'brandCount', type: 'selector', source: '$Session.CartItems', steps: [{ type: 'filter', predicate: { type: 'checkAttribute', attribute: '$Item.Attributes.brand', operator: 'equals', value: 'Acme' } }, { type: 'reduce', operator: 'count' }] },
  ] });
  const nameRule: B = campaign(2, [[{ type: 'checkAttribute', attribute: '$Session.Total', operator: 'greaterThan', value: 0 }, { type: 'triggerCustomEffect', customEffect: { id: 1, name: 'names' }, params: { n: '{{$Item.ProductName}}' }, target: { type: 'allItems' } }]]);

  async function local(dir = mkdtempSync(path.join(tmpdir(), 'sg-cat-'))) {
    const ld = new LocalData({ store: new FileSnapshotStore(dir), clock: new ManualClock(NOW), storeIntegrationId: 'store-042' });
    await ld.start();
    return { ld, dir };
  }
  const run = (ld: LocalData, cartItems: unknown[]) => ld.engine().evaluate({ customerSessionId: 's', session: { cartItems: cartItems as never }, now: NOW, ledger: new CouponLedger(), loyalty: new LoyaltyLimits(0) });

  it('a line without attributes gets them from the catalog; its own attribute wins; no catalog, no discount', async () => {
    const { ld } = await local();
    await ld.ingest('rules', rulesPayload([brandRule]));
    const cart = [{ sku: 'A', quantity: 1, price: 10 }, { sku: 'B', quantity: 2, price: 5, attributes: { brand: 'Other' } }];
    expect(run(ld, cart).effects).toEqual([]);
    const r = await ld.ingest('catalog', payload([item('A', { brand: 'Acme' }), item('B', { brand: 'Acme' })]));
    expect(r).toEqual({ kind: 'catalog', version: 1, changed: 2 });
    const fx = run(ld, cart).effects;
    expect(fx.map((e) => [e.effectType, e.props.position, e.props.value])).toEqual([['setDiscountPerItem', 0, 1]]);
    expect(ld.status()).toMatchObject({ catalogVersion: 1, catalogItems: 2 });
    expect(ld.versions().catalog).toBe(1);
  });

  it('a line without a price gets the catalog price (after the price book), and the product name', async () => {
    const { ld } = await local();
    await ld.ingest('rules', rulesPayload([nameRule]));
    await ld.ingest('catalog', payload([item('A', {}, { price: 7.25, product: { name: 'Apple' } })]));
    const out = run(ld, [{ sku: 'A', quantity: 2 }, { sku: 'A', quantity: 1, price: 1, product: { name: 'Own' } }]);
    expect(out.totals.cartItemTotal).toBe(15.5);
    expect(out.effects.map((e) => (e.props.payload as { n: string }).n)).toEqual(['Apple', 'Own']);
  });

  it('versions: an older or equal push is stale (409), an invalid one changes nothing; the snapshot survives a restart', async () => {
    const { ld, dir } = await local();
    await ld.ingest('catalog', payload([item('A', { brand: 'Acme' }), item('B')], 3));
    await expect(ld.ingest('catalog', payload([item('A')], 3))).rejects.toMatchObject({ code: 'SG_ERR_DATA_STALE', statusCode: 409 });
    await expect(ld.ingest('catalog', payload([{ sku: 'A' }], 4))).rejects.toBeInstanceOf(StoregateError);
    expect(ld.status().catalogVersion).toBe(3);
    await ld.ingest('catalog', payload([item('B', { brand: 'New' }, { version: 2 }), { sku: 'A', deleted: true }], 4, false));
    const again = (await local(dir)).ld;
    expect(again.status()).toMatchObject({ catalogVersion: 4, catalogItems: 1 });
    await again.ingest('rules', rulesPayload([brandRule]));
    expect(run(again, [{ sku: 'B', quantity: 1, price: 10 }]).effects).toEqual([]);
  });
});

describe('string ids (the ingestion\'s table of SKUs and values)', () => {
  it('finds every string it was given, through growth from a small table, and -1 for others', async () => {
    const { StringIds } = await import('../../src/engine/string-ids.js');
    const keys = Array.from({ length: 20_000 }, (_, i) => `K-${i * 7}`);
    const t = new StringIds((id) => keys[id] as string, 4);
    keys.forEach((k, i) => { expect(t.get(k)).toBe(-1); t.set(k, i); });
    keys.forEach((k, i) => expect(t.get(k)).toBe(i));
    expect(t.get('K-1')).toBe(-1);
    expect(t.get('')).toBe(-1);
  });
});

describe('which rules need the catalog\'s attributes', () => {
  it('any read of an item\'s Attributes or ProductName, in paths, templates, Talang (lambda parameters too) and filters', async () => {
    const { readsItemDetails } = await import('../../src/engine/compile-rules.js');
    expect(readsItemDetails({ blocks: [{ type: 'checkAttribute', attribute: '$Session.Attributes.x', operator: 'exists' }, { type: 'passthrough', expression: ['.', 'Profile', 'Attributes', 'tier'] }] })).toBe(false);
    expect(readsItemDetails({ blocks: [{ type: 'checkAttribute', attribute: '$Item.Attributes.brand', operator: 'exists' }] })).toBe(true);
    expect(readsItemDetails({ params: { n: '{{$Item.ProductName}}' } })).toBe(true);
    expect(readsItemDetails(['exists', ['.', 'Session', 'CartItems'], [['x'], ['=', ['.', 'x', 'Attributes', 'color'], 'red']]])).toBe(true);
    expect(readsItemDetails({ steps: [{ type: 'map', expression: '$Item.Attributes.color' }] })).toBe(true);
    expect(readsItemDetails({ attribute: '$mySelector.Attributes.color' })).toBe(true);
  });

  it('rules that read none: lines are not completed (nothing could change), the catalog still gives missing prices', async () => {
    const { LocalData: LD } = await import('../../src/engine/local-data.js');
    const ld = new LD({ store: new FileSnapshotStore(mkdtempSync(path.join(tmpdir(), 'sg-cat-'))), clock: new ManualClock(NOW), storeIntegrationId: 'store-042' });
    await ld.start();
    await ld.ingest('rules', rulesPayload([campaign(1, [[{ type: 'checkAttribute', attribute: '$Session.Total', operator: 'greaterThan', value: 10 }, { type: 'awardDiscount', name: 'x', value: 1, target: { type: 'cart' } }]])]));
    await ld.ingest('catalog', payload([item('A', { brand: 'Acme' }, { price: 12 })]));
    const out = ld.engine().evaluate({ customerSessionId: 's', session: { cartItems: [{ sku: 'A', quantity: 1 }, { sku: 'Z', quantity: 1 }] }, now: NOW, ledger: new CouponLedger(), loyalty: new LoyaltyLimits(0) });
    expect(out.totals.cartItemTotal).toBe(12);
    expect(out.effects).toHaveLength(1);
    expect(ld.engine().data.rules.readsItemDetails).toBe(false);
  });
});
