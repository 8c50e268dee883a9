import { DataError } from '../../core/errors.js';
import type { CollectionsPayload } from '../types.js';
import { Check } from './check.js';

/** Items one collection may hold: Talon.One's own limit ("The maximum number of items is 500,000"). */
export const MAX_COLLECTION_ITEMS = 500_000;
/** Items one collections push may carry over all its collections (~40 MB of sets in memory at most). */
export const MAX_COLLECTIONS_ITEMS = 1_000_000;
/** Collections one push may list. */
export const MAX_COLLECTIONS = 10_000;
/** Longest item: collection items are SKUs, e-mail addresses, profile ids… */
const MAX_ITEM_CHARS = 1_000;
/** Talon.One's `NewCollection.name` pattern: no control character, not starting with white space. */
const NAME = /^[^\p{Cc}\s][^\p{Cc}]*$/u;

/**
 * Validates a collections payload `{version, full, collections: [Collection]}` (Talon.One's `Collection`:
 * `id` and `name` required as upstream, `campaignId` for a campaign-level collection, `payload` the list of
 * its string items). A delta (`full: false`) entry may instead be `{id, deleted: true}`. Throws
 * {@link DataError} with JSON pointers; nothing is changed then.
 */
export function parseCollections(payload: unknown): CollectionsPayload {
  const c = new Check();
  if (!c.obj(payload, '')) throw new DataError('invalid collections data', c.errors);
  c.version(payload);
  c.bool(payload.full, '/full');
  let total = 0;
  if (c.arr(payload.collections, '/collections', MAX_COLLECTIONS)) {
    const ids = new Set<number>();
    const list = payload.collections;
    for (let i = 0; i < list.length && c.errors.length < 50; i++) {
      const p = `/collections/${i}`;
      const k = list[i];
      if (!c.obj(k, p)) continue;
      if (c.int(k.id, `${p}/id`, 0)) {
        if (ids.has(k.id)) c.fail(`${p}/id`, `duplicate collection id ${k.id}`);
        ids.add(k.id);
      }
      if (k.deleted !== undefined) {
        if (!c.bool(k.deleted, `${p}/deleted`)) continue;
        if (k.deleted) {
          if (payload.full === true) c.fail(`${p}/deleted`, 'a full set lists the collections it keeps (deleted is for deltas)');
          continue;
        }
      }
      if (c.str(k.name, `${p}/name`, 1) && !NAME.test(k.name)) c.fail(`${p}/name`, 'must not start with white space or hold control characters');
      if (k.campaignId !== undefined && k.campaignId !== null) c.int(k.campaignId, `${p}/campaignId`, 0);
      if (k.applicationId !== undefined) c.int(k.applicationId, `${p}/applicationId`, 0);
      if (k.description !== undefined && k.description !== null) c.str(k.description, `${p}/description`);
      c.time(k.modified, `${p}/modified`);
      if (k.payload === undefined || k.payload === null) continue;
      if (!c.arr(k.payload, `${p}/payload`, MAX_COLLECTION_ITEMS)) continue;
      const items = k.payload;
      total += items.length;
      // The pointer is built for a failure only: a large collection has hundreds of thousands of items.
      for (let j = 0; j < items.length; j++) {
        const it = items[j];
        if (typeof it !== 'string' || it.length === 0 || it.length > MAX_ITEM_CHARS) {
          c.fail(`${p}/payload/${j}`, `must be a string of 1 to ${MAX_ITEM_CHARS} characters`);
          if (c.errors.length >= 50) break;
        }
      }
    }
  }
  if (total > MAX_COLLECTIONS_ITEMS) c.fail('/collections', `holds ${total} items over all collections, more than ${MAX_COLLECTIONS_ITEMS}`);
  if (!c.ok) throw new DataError('invalid collections data', c.errors);
  return payload as unknown as CollectionsPayload;
}
