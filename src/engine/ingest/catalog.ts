import { DataError } from '../../core/errors.js';
import type { CatalogPayload } from '../types.js';
import { StringIds } from '../string-ids.js';
import { Check } from './check.js';

/** Items one catalog push may carry (a shop's whole assortment; Talon.One pages them 1,000 at a time). */
export const MAX_CATALOG_ITEMS = 200_000;
/** Attributes one catalog item may carry. */
export const MAX_ITEM_ATTRIBUTES = 200;

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const isUint32 = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

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
    const items = payload.items;
    const seen = new StringIds((k) => (items[k] as { sku: string }).sku, Math.min(1 << 16, items.length));
    // Each check is made first and its JSON pointer built only for a failure: 100,000 items with a pointer string
    // per field were a million strings of garbage per push.
    for (let i = 0; i < items.length && c.errors.length < 50; i++) {
      const it = items[i] as Record<string, unknown>;
      const p = () => `/items/${i}`;
      if (!it || typeof it !== 'object' || Array.isArray(it)) { c.fail(p(), 'must be an object'); continue; }
      const sku = it.sku;
      if (typeof sku !== 'string' || sku.length === 0) c.fail(`${p()}/sku`, 'must be a non-empty string');
      else {
        if (seen.get(sku) >= 0) c.fail(`${p()}/sku`, `duplicate SKU ${sku}`);
        else seen.set(sku, i);
      }
      if (it.deleted !== undefined) {
        if (typeof it.deleted !== 'boolean') c.fail(`${p()}/deleted`, 'must be a boolean');
        else if (it.deleted) {
          if (payload.full === true) c.fail(`${p()}/deleted`, 'a full catalog lists the items it keeps (deleted is for deltas)');
          continue;
        }
      }
      // (Both are held as 32-bit unsigned integers, as Talon.One's own ids and versions are.)
      if (!isUint32(it.version) || it.version < 1) c.fail(`${p()}/version`, 'must be an integer from 1 to 4294967295');
      if (!isUint32(it.catalogid)) c.fail(`${p()}/catalogid`, 'must be an integer from 0 to 4294967295');
      if (it.id !== undefined && !(Number.isSafeInteger(it.id) && (it.id as number) >= 0)) c.fail(`${p()}/id`, 'must be an integer ≥ 0');
      if (it.created !== undefined && it.created !== null && typeof it.created !== 'string') c.fail(`${p()}/created`, 'must be a string');
      if (it.price !== undefined && it.price !== null && !(typeof it.price === 'number' && Number.isFinite(it.price) && it.price >= 0)) c.fail(`${p()}/price`, 'must be a number ≥ 0');
      const product = it.product;
      if (product !== undefined && product !== null) {
        if (typeof product !== 'object' || Array.isArray(product)) c.fail(`${p()}/product`, 'must be an object');
        else { const n = (product as { name?: unknown }).name; if (n !== undefined && n !== null && typeof n !== 'string') c.fail(`${p()}/product/name`, 'must be a string'); }
      }
      const attrs = it.attributes;
      if (attrs === undefined || attrs === null) continue;
      if (!Array.isArray(attrs)) { c.fail(`${p()}/attributes`, 'must be a list'); continue; }
      if (attrs.length > MAX_ITEM_ATTRIBUTES) { c.fail(`${p()}/attributes`, `must have at most ${MAX_ITEM_ATTRIBUTES} items`); continue; }
      let names: Set<string> | undefined;
      for (let j = 0; j < attrs.length; j++) {
        const a = attrs[j] as Record<string, unknown>;
        const ap = () => `${p()}/attributes/${j}`;
        if (!a || typeof a !== 'object' || Array.isArray(a)) { c.fail(ap(), 'must be an object'); continue; }
        if (!(Number.isSafeInteger(a.attributeid) && (a.attributeid as number) >= 0)) c.fail(`${ap()}/attributeid`, 'must be an integer ≥ 0');
        const name = a.name;
        if (typeof name !== 'string' || name.length === 0) c.fail(`${ap()}/name`, 'must be a non-empty string');
        else if (!NAME.test(name)) c.fail(`${ap()}/name`, 'must be an attribute name (letters, digits, _; at most 128)');
        else if (attrs.length <= 16) {
          // A few attributes (the usual case): compared with the earlier ones, no set per item.
          for (let k = 0; k < j; k++) if ((attrs[k] as { name?: unknown } | null)?.name === name) { c.fail(`${ap()}/name`, `duplicate attribute ${name}`); break; }
        } else {
          names ??= new Set();
          if (names.has(name)) c.fail(`${ap()}/name`, `duplicate attribute ${name}`);
          names.add(name);
        }
        if (!('value' in a) || a.value === undefined) c.fail(`${ap()}/value`, 'is required');
      }
    }
  }
  if (!c.ok) throw new DataError('invalid catalog data', c.errors);
  return payload as unknown as CatalogPayload;
}
