import type { Coupon } from './types.js';

export type CaseSensitivity = 'sensitive' | 'insensitive-uppercase' | 'insensitive-lowercase';

export function normalizeCode(code: string, mode: CaseSensitivity | undefined): string {
  if (mode === 'insensitive-uppercase') return code.toUpperCase();
  if (mode === 'insensitive-lowercase') return code.toLowerCase();
  return code;
}

/** The coupon data set, by code (immutable; normalised maps built on demand per case mode). */
export class CouponIndex {
  readonly byCode: ReadonlyMap<string, Coupon>;
  #norm = new Map<string, Map<string, Coupon>>();

  constructor(coupons: Iterable<Coupon> = []) {
    const m = new Map<string, Coupon>();
    for (const c of coupons) m.set(c.value, c);
    this.byCode = m;
  }

  get size(): number {
    return this.byCode.size;
  }

  get(code: string, mode: CaseSensitivity | undefined): Coupon | undefined {
    if (!mode || mode === 'sensitive') return this.byCode.get(code);
    let m = this.#norm.get(mode);
    if (!m) {
      m = new Map();
      for (const [k, c] of this.byCode) m.set(normalizeCode(k, mode), c);
      this.#norm.set(mode, m);
    }
    return m.get(normalizeCode(code, mode));
  }

  /** A new index with a delta applied (a coupon whose `deleted` flag is true is removed). */
  withDelta(delta: readonly (Coupon & { deleted?: boolean })[]): CouponIndex {
    const m = new Map(this.byCode);
    for (const c of delta) {
      if (c.deleted === true) m.delete(c.value);
      else m.set(c.value, c);
    }
    return new CouponIndex(m.values());
  }
}
