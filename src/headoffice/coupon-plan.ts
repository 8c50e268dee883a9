/**
 * How a coupons set goes to the shops without hitting the broker's message-size limit (README "Head office
 * sync"): a full set first (`full: true`), split into chunks when it is larger than one message (the first
 * chunk `full: true`, the rest `full: false` additions); after that, deltas (`full: false`) against that full
 * set — cumulative: each delta repeats every code changed or deleted since the full set, so a shop that missed
 * earlier deltas (offline, a new subscription) still ends up right with the latest one alone. When a delta
 * would be larger than a quarter of the set, or than one message, a full set is sent again.
 */
import { createHash } from 'node:crypto';
import type { CouponBase } from './streams.js';
import type { Obj } from './shapes.js';

export type CouponPlan =
  | { kind: 'full'; chunks: string[]; base: Omit<CouponBase, 'version'> }
  | { kind: 'delta'; text: string; touched: CouponBase['touched']; changed: number }
  | { kind: 'same' };

/** Above this share of the set, a full set replaces the cumulative delta. */
export const DELTA_RATIO = 0.25;

export function planCoupons(current: Map<string, Obj>, base: CouponBase | null, maxDataBytes: number): CouponPlan {
  const texts = new Map<string, string>();
  const hashes = new Map<string, string>();
  for (const [v, k] of current) {
    const t = JSON.stringify(k);
    texts.set(v, t);
    hashes.set(v, createHash('sha1').update(t).digest('base64url').slice(0, 16));
  }
  if (base) {
    const entries: string[] = [];
    const touched: CouponBase['touched'] = { ...base.touched };
    let bytes = 0;
    for (const [v, t] of texts) {
      const b = base.coupons[v];
      // Unchanged since the full set and never sent in a delta: the shop has it already.
      if (b && b[2] === hashes.get(v) && !(v in base.touched)) continue;
      entries.push(t);
      bytes += t.length + 1;
      const k = current.get(v) as Obj;
      touched[v] = [k['id'] as number, k['campaignId'] as number];
    }
    const gone = new Map<string, [number, number]>();
    for (const [v, b] of Object.entries(base.coupons)) if (!current.has(v)) gone.set(v, [b[0], b[1]]);
    for (const [v, ref] of Object.entries(base.touched)) if (!current.has(v)) gone.set(v, ref);
    for (const [v, [id, campaignId]] of gone) {
      const t = JSON.stringify({ id, value: v, campaignId, deleted: true });
      entries.push(t);
      bytes += t.length + 1;
      touched[v] = [id, campaignId];
    }
    if (entries.length === 0) return { kind: 'same' };
    if (bytes <= maxDataBytes && entries.length <= Math.max(1000, DELTA_RATIO * current.size)) {
      return { kind: 'delta', text: `{"full":false,"coupons":[${entries.join(',')}]}`, touched, changed: entries.length };
    }
  }
  const chunks: string[] = [];
  let part: string[] = [];
  let bytes = 0;
  for (const t of texts.values()) {
    if (part.length > 0 && bytes + t.length + 1 > maxDataBytes) {
      chunks.push(`{"full":${chunks.length === 0},"coupons":[${part.join(',')}]}`);
      part = [];
      bytes = 0;
    }
    part.push(t);
    bytes += t.length + 1;
  }
  chunks.push(`{"full":${chunks.length === 0},"coupons":[${part.join(',')}]}`);
  const coupons: CouponBase['coupons'] = {};
  for (const [v, k] of current) coupons[v] = [k['id'] as number, k['campaignId'] as number, hashes.get(v) as string];
  return { kind: 'full', chunks, base: { coupons, touched: {} } };
}
