import { describe, expect, it } from 'vitest';
import { SkuIndex } from '../../src/engine/sku-index.js';
import { PriceBook, PriceEntry } from '../../src/engine/pricebook.js';
import { currency } from '../../src/engine/money.js';

/** The flat SKU index must answer exactly as the `Map` it replaces in lookups. */
describe('SkuIndex', () => {
  it('finds every key, and only keys (same length, prefixes, unicode, empty, collisions by probing)', () => {
    const keys = ['', 'A', 'AB', 'BA', 'SKU-1', 'SKU-10', 'sku-1', 'é', '😀', 'x'.repeat(300)];
    for (let i = 0; i < 5000; i++) keys.push(`K${i}`);
    const ix = new SkuIndex(keys);
    keys.forEach((k, i) => expect(ix.get(k)).toBe(i));
    for (const miss of ['B', 'SKU-', 'SKU-100', 'SKU-1 ', 'K5000', 'k1', 'x'.repeat(299), '\u{1F601}']) expect(ix.get(miss)).toBe(-1);
  });
  it('an empty index answers -1', () => {
    expect(new SkuIndex([]).get('A')).toBe(-1);
  });
  it('price book lookups by the index equal the entries map', () => {
    const entries = new Map<string, PriceEntry>();
    for (let i = 0; i < 1000; i++) entries.set(`S${i}`, new PriceEntry(`S${i}`, 1, i / 4, null, null));
    const book = new PriceBook(entries);
    const eur = currency('EUR');
    for (let i = 0; i < 1000; i++) expect(book.lookup(`S${i}`, 0, new Set(), eur)?.price).toBe(entries.get(`S${i}`)?.price);
    expect(book.lookup('S1000', 0, new Set(), eur)).toBeUndefined();
  });
});

/** `locate` + `selectAt` (the cart path) must answer exactly as `select` line by line. */
describe('PriceBook.locate / selectAt', () => {
  it('equals select for found, missing, long, non-Latin-1 and malformed lines', () => {
    const entries = new Map<string, PriceEntry>();
    const keys = ['S1', 'S2', 'x'.repeat(40), 'ü-1', '😀', ''];
    keys.forEach((k, i) => entries.set(k, new PriceEntry(k, 1, 1 + i / 4, null, null)));
    const book = new PriceBook(entries);
    const eur = currency('EUR');
    const cart: unknown[] = [...keys.map((sku) => ({ sku })), { sku: 'S3' }, { sku: 'x'.repeat(39) }, { sku: 7 }, {}, null];
    const slots = book.locate(cart);
    expect(slots.length).toBe(cart.length);
    cart.forEach((ci, i) => {
      const sku = (ci as { sku?: string } | null)?.sku as string;
      if (typeof sku !== 'string') { expect(slots[i]).toBe(-2); return; }
      expect(book.selectAt(slots[i] as number, sku, 0, new Set(), eur)).toEqual(book.select(sku, 0, new Set(), eur));
    });
    expect(book.selectAt(slots[0] as number, 'S1', 0, new Set(), eur)?.price).toBe(1);
    expect(book.selectAt(slots[6] as number, 'S3', 0, new Set(), eur)).toBeUndefined();
  });
});
