import { DataError } from '../../core/errors.js';
import type { CatalogPayload } from '../types.js';
import { Check } from './check.js';

/** Items one catalog push may carry (a shop's whole assortment; Talon.One pages them 1,000 at a time). */
export const MAX_CATALOG_ITEMS = 200_000;
/** Attributes one catalog item may carry. */
export const MAX_ITEM_ATTRIBUTES = 200;

/**
 * Validates a catalog payload `{version, full, items: [CatalogItem]}` (Talon.One's `CatalogItem` and
 * `ItemAttribute` shapes, Management API). `sku`, `catalogid` and `version` are required as upstream; a delta
 * (`full: false`) entry may instead be `{sku, deleted: true}`. Throws {@link DataError} with JSON pointers.
 */
export function parseCatalog(payload: unknown): CatalogPayload {
  const c = new Check();
  if (!c.obj(payload, '')) throw new DataError('invalid catalog data', c.errors);
  c.version(payload);
  c.bool(payload.full, '/full');
  if (c.arr(payload.items, '/items', MAX_CATALOG_ITEMS)) {
    const seen = new Set<string>();
    const items = payload.items;
    for (let i = 0; i < items.length && c.errors.length < 50; i++) {
      const it = items[i];
      const p = `/items/${i}`;
      if (!c.obj(it, p)) continue;
      if (c.str(it.sku, `${p}/sku`, 1)) {
        if (seen.has(it.sku)) c.fail(`${p}/sku`, `duplicate SKU ${it.sku}`);
        seen.add(it.sku);
      }
      if (it.deleted !== undefined) {
        if (c.bool(it.deleted, `${p}/deleted`) && it.deleted) {
          if (payload.full === true) c.fail(`${p}/deleted`, 'a full catalog lists the items it keeps (deleted is for deltas)');
          continue;
        }
      }
      // (Both are held as 32-bit unsigned integers, as Talon.One's own ids and versions are.)
      if (c.int(it.version, `${p}/version`, 1) && it.version > 0xffffffff) c.fail(`${p}/version`, 'must be at most 4294967295');
      if (c.int(it.catalogid, `${p}/catalogid`, 0) && it.catalogid > 0xffffffff) c.fail(`${p}/catalogid`, 'must be at most 4294967295');
      if (it.id !== undefined) c.int(it.id, `${p}/id`, 0);
      c.optStr(it.created, `${p}/created`);
      if (it.price !== undefined && it.price !== null) c.num(it.price, `${p}/price`, 0);
      if (it.product !== undefined && it.product !== null && c.obj(it.product, `${p}/product`)) c.optStr(it.product.name, `${p}/product/name`);
      if (it.attributes !== undefined && it.attributes !== null && c.arr(it.attributes, `${p}/attributes`, MAX_ITEM_ATTRIBUTES)) {
        const names = new Set<string>();
        it.attributes.forEach((a, j) => {
          const ap = `${p}/attributes/${j}`;
          if (!c.obj(a, ap)) return;
          c.int(a.attributeid, `${ap}/attributeid`, 0);
          if (c.str(a.name, `${ap}/name`, 1)) {
            if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(a.name)) c.fail(`${ap}/name`, 'must be an attribute name (letters, digits, _; at most 128)');
            else if (names.has(a.name)) c.fail(`${ap}/name`, `duplicate attribute ${a.name}`);
            names.add(a.name);
          }
          if (!('value' in a) || a.value === undefined) c.fail(`${ap}/value`, 'is required');
        });
      }
    }
  }
  if (!c.ok) throw new DataError('invalid catalog data', c.errors);
  return payload as unknown as CatalogPayload;
}
