import { DataError } from '../../core/errors.js';
import type { Coupon, CouponsPayload } from '../types.js';
import { Check } from './check.js';

export type CouponsInput = Omit<CouponsPayload, 'coupons'> & { coupons: (Coupon & { deleted?: boolean })[] };

export const MAX_COUPONS = 1_000_000;

/** Validates a coupons payload `{version, full, coupons: [Coupon]}` (delta entries may carry `deleted: true`). */
export function parseCoupons(payload: unknown): CouponsInput {
  const c = new Check();
  if (!c.obj(payload, '')) throw new DataError('invalid coupons data', c.errors);
  c.version(payload);
  c.bool(payload.full, '/full');
  if (c.arr(payload.coupons, '/coupons', MAX_COUPONS)) {
    const seen = new Set<string>();
    payload.coupons.forEach((k, i) => {
      const p = `/coupons/${i}`;
      if (!c.obj(k, p)) return;
      c.int(k.id, `${p}/id`, 0);
      if (c.str(k.value, `${p}/value`, 1)) {
        if (seen.has(k.value)) c.fail(`${p}/value`, `duplicate coupon code ${k.value}`);
        seen.add(k.value);
      }
      c.int(k.campaignId, `${p}/campaignId`, 0);
      if (k.usageLimit !== undefined && k.usageLimit !== null) c.int(k.usageLimit, `${p}/usageLimit`, 0);
      if (k.usageCounter !== undefined && k.usageCounter !== null) c.int(k.usageCounter, `${p}/usageCounter`, 0);
      c.time(k.startDate, `${p}/startDate`);
      c.time(k.expiryDate, `${p}/expiryDate`);
      c.optStr(k.recipientIntegrationId, `${p}/recipientIntegrationId`);
      c.optObj(k.attributes, `${p}/attributes`);
      if (k.deleted !== undefined) c.bool(k.deleted, `${p}/deleted`);
    });
  }
  if (!c.ok) throw new DataError('invalid coupons data', c.errors);
  return payload as unknown as CouponsInput;
}
