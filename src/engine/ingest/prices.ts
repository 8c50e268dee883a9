import { DataError } from '../../core/errors.js';
import type { StrikethroughNotification } from '../types.js';
import { Check } from './check.js';

export const MAX_CHANGED_ITEMS = 200_000;

function checkItem(c: Check, it: unknown, p: string): void {
  if (!c.obj(it, p)) return;
  c.str(it.sku, `${p}/sku`, 1);
  c.int(it.version, `${p}/version`, 1);
  c.num(it.price, `${p}/price`, 0);
  if (it.prices !== undefined && it.prices !== null && c.obj(it.prices, `${p}/prices`)) {
    for (const [k, v] of Object.entries(it.prices)) {
      const pp = `${p}/prices/${k}`;
      if (!c.obj(v, pp)) continue;
      c.num(v.price, `${pp}/price`, 0);
      for (const t of ['effectiveFrom', 'effectiveUntil', 'adjustmentEffectiveFrom', 'adjustmentEffectiveUntil']) c.time(v[t], `${pp}/${t}`);
    }
  }
  if (it.effects !== undefined && it.effects !== null && c.arr(it.effects, `${p}/effects`, 100)) {
    it.effects.forEach((e, j) => {
      const ep = `${p}/effects/${j}`;
      if (!c.obj(e, ep)) return;
      c.int(e.campaignId, `${ep}/campaignId`);
      c.int(e.rulesetId, `${ep}/rulesetId`);
      c.int(e.ruleIndex, `${ep}/ruleIndex`);
      c.str(e.ruleName, `${ep}/ruleName`);
      c.str(e.type, `${ep}/type`, 1);
      if (c.obj(e.props, `${ep}/props`) && e.type === 'setDiscountPerItem') c.num(e.props.value, `${ep}/props/value`, 0);
      c.time(e.startTime, `${ep}/startTime`);
      c.time(e.endTime, `${ep}/endTime`);
      if (e.selectedPrice !== undefined && e.selectedPrice !== null) c.num(e.selectedPrice, `${ep}/selectedPrice`, 0);
      c.optStr(e.selectedPriceType, `${ep}/selectedPriceType`);
      if (e.targets !== undefined && e.targets !== null && c.arr(e.targets, `${ep}/targets`, 1000)) {
        e.targets.forEach((t, k) => {
          if (!c.obj(t, `${ep}/targets/${k}`)) return;
          c.str(t.type, `${ep}/targets/${k}/type`, 1);
          if (t.type === 'AUDIENCE' && c.obj(t.audience, `${ep}/targets/${k}/audience`)) c.int(t.audience.id, `${ep}/targets/${k}/audience/id`);
        });
      }
    });
  }
}

/**
 * Validates one `StrikethroughPrice` notification body, or a list of them (several batches at once).
 * Pointers of a list payload start with the batch index.
 */
export function parsePrices(payload: unknown): StrikethroughNotification[] {
  const c = new Check();
  const list = Array.isArray(payload) ? payload : [payload];
  const prefix = Array.isArray(payload) ? (i: number) => `/${i}` : () => '';
  if (list.length > 1000) throw new DataError('invalid prices data', [{ path: '/', message: 'at most 1000 notifications per payload' }]);
  let total = 0;
  list.forEach((n, i) => {
    const p = prefix(i);
    if (!c.obj(n, p)) return;
    if (n.NotificationType !== undefined && n.NotificationType !== 'StrikethroughPrice') c.fail(`${p}/NotificationType`, 'must be "StrikethroughPrice"');
    c.int(n.currentBatch, `${p}/currentBatch`, 0);
    if (c.obj(n.trigger, `${p}/trigger`)) c.int(n.trigger.id, `${p}/trigger/id`);
    if (c.arr(n.changedItems, `${p}/changedItems`, MAX_CHANGED_ITEMS)) {
      total += n.changedItems.length;
      for (let j = 0; j < n.changedItems.length && c.errors.length < 50; j++) checkItem(c, n.changedItems[j], `${p}/changedItems/${j}`);
    }
  });
  if (total > MAX_CHANGED_ITEMS) c.fail('/', `more than ${MAX_CHANGED_ITEMS} changed items`);
  if (!c.ok) throw new DataError('invalid prices data', c.errors);
  return list as StrikethroughNotification[];
}
