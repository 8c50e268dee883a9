/**
 * Coupon sets to the shops within the broker's message size: a full set (chunked when needed), then cumulative
 * deltas. The property a shop relies on: whatever pushes it missed since the full set, applying the latest
 * delta the way a shop does (src/engine/coupons.ts `withDelta`) leaves it with exactly the current set.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CouponIndex } from '../../src/engine/coupons.js';
import { planCoupons } from '../../src/headoffice/coupon-plan.js';
import type { CouponBase } from '../../src/headoffice/streams.js';
import type { Coupon } from '../../src/engine/types.js';

type Set_ = Map<string, Coupon>;
const coupon = (value: string, usageCounter = 0): Coupon => ({ id: Number(value.slice(1)), value, campaignId: 7, usageLimit: 1, usageCounter });

/** What a shop does with a coupons payload. */
function apply(shop: CouponIndex, text: string): CouponIndex {
  const p = JSON.parse(text) as { full: boolean; coupons: (Coupon & { deleted?: boolean })[] };
  return p.full ? new CouponIndex(p.coupons.filter((c) => c.deleted !== true)) : shop.withDelta(p.coupons);
}

const asObj = (m: Set_) => new Map([...m].map(([k, v]) => [k, v as unknown as Record<string, unknown>]));
const contents = (i: CouponIndex) => [...i.byCode.values()].sort((a, b) => a.value.localeCompare(b.value));

describe('coupon pushes', () => {
  it('splits a full set larger than one message into chunks that each fit, first full, the rest additions', () => {
    const set: Set_ = new Map();
    for (let i = 0; i < 5000; i++) set.set(`C${i}`, coupon(`C${i}`));
    const plan = planCoupons(asObj(set), null, 60_000);
    if (plan.kind !== 'full') throw new Error('expected a full set');
    expect(plan.chunks.length).toBeGreaterThan(3);
    for (const c of plan.chunks) expect(c.length).toBeLessThanOrEqual(60_000 + 40);
    expect(plan.chunks.map((c) => (JSON.parse(c) as { full: boolean }).full)).toEqual([true, ...plan.chunks.slice(1).map(() => false)]);
    let shop = new CouponIndex([coupon('STALE1')]);
    for (const c of plan.chunks) shop = apply(shop, c);
    expect(contents(shop)).toEqual(contents(new CouponIndex(set.values())));
  });

  it('sends a small change as a delta, and a large one as a full set again', () => {
    const set: Set_ = new Map();
    for (let i = 0; i < 2000; i++) set.set(`C${i}`, coupon(`C${i}`));
    const full = planCoupons(asObj(set), null, 1e9);
    if (full.kind !== 'full') throw new Error('full expected');
    const base: CouponBase = { version: 5, ...full.base };
    set.set('C1', coupon('C1', 1));
    set.delete('C2');
    const d = planCoupons(asObj(set), base, 1e9);
    expect(d.kind).toBe('delta');
    if (d.kind === 'delta') expect((JSON.parse(d.text) as { coupons: unknown[] }).coupons).toHaveLength(2);
    expect(planCoupons(asObj(set), { ...base, touched: d.kind === 'delta' ? d.touched : {} }, 1e9).kind).toBe('delta');
    for (let i = 0; i < 1500; i++) set.set(`C${i}`, coupon(`C${i}`, 1));
    expect(planCoupons(asObj(set), base, 1e9).kind).toBe('full');
    expect(planCoupons(asObj(new Map(set)), { version: 1, ...(planCoupons(asObj(set), null, 1e9) as { base: Omit<CouponBase, 'version'> }).base }, 1e9).kind).toBe('same');
  });

  it('leaves a shop right with the latest delta alone, whichever earlier deltas it missed', () => {
    const edit = fc.record({ kind: fc.constantFrom('add', 'use', 'delete', 'restore'), n: fc.integer({ min: 0, max: 30 }) });
    fc.assert(
      fc.property(fc.array(fc.array(edit, { maxLength: 6 }), { minLength: 1, maxLength: 6 }), fc.nat(), (rounds, pick) => {
        const set: Set_ = new Map();
        for (let i = 0; i < 20; i++) set.set(`C${i}`, coupon(`C${i}`));
        const full = planCoupons(asObj(set), null, 1e9);
        if (full.kind !== 'full') return false;
        let base: CouponBase = { version: 1, ...full.base };
        const shops: CouponIndex[] = [new CouponIndex(set.values())];
        for (const round of rounds) {
          for (const e of round) {
            const v = `C${e.n}`;
            if (e.kind === 'add' || e.kind === 'restore') set.set(v, coupon(v));
            else if (e.kind === 'use' && set.has(v)) set.set(v, coupon(v, (set.get(v)?.usageCounter ?? 0) + 1));
            else if (e.kind === 'delete') set.delete(v);
          }
          const plan = planCoupons(asObj(set), base, 1e9);
          if (plan.kind === 'same') continue;
          if (plan.kind !== 'delta') return true; // a full set is always right
          base = { ...base, touched: plan.touched };
          // One shop got every delta so far; another only this one (it missed the others).
          const caughtUp = shops.map((s) => apply(s, plan.text));
          shops.length = 0;
          shops.push(...caughtUp, apply(new CouponIndex((JSON.parse(full.chunks[0] as string) as { coupons: Coupon[] }).coupons), plan.text));
        }
        const want = contents(new CouponIndex(set.values()));
        for (const s of shops) expect(contents(s)).toEqual(want);
        return pick >= 0;
      }),
      { numRuns: 300 },
    );
  });
});
