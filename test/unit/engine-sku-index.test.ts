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
