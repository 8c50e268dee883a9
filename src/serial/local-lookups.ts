import type { LocalData } from '../engine/index.js';
import type { CodeLookups } from './classify.js';
import { gtinVariants } from './gtin.js';

/** The price-book answer of a price check (money in currency units). */
export interface PriceAnswer {
  sku: string;
  price: number;
  finalPrice: number;
  label: string | null;
  validUntil: string | null;
}

/** Card ids of each loyalty data set, built once per pushed set (balances are keyed by program and holder). */
const cardsOf = new WeakMap<object, Set<string>>();

/**
 * Scanned codes against the shop's local data (coupon cache, loyalty balances, price book), read from the
 * bundle in use at the moment of the scan.
 */
export function localLookups(localData: LocalData): CodeLookups & { price(code: string): PriceAnswer | undefined; currencyDecimals(): number } {
  return {
    isCoupon(code) {
      const d = localData.engine().data;
      // The application's coupon case rule (Talon.One "caseSensitivity") applies to a scanned code as to a typed one.
      return d.coupons.get(code, d.rules.app.caseSensitivity) !== undefined;
    },
    isLoyaltyCard(code) {
      const loyalty = localData.engine().data.loyalty;
      let cards = cardsOf.get(loyalty);
      if (!cards) {
        cards = new Set();
        for (const b of loyalty.balances.values()) if (b.cardId !== undefined) cards.add(b.cardId);
        cardsOf.set(loyalty, cards);
      }
      return cards.has(code);
    },
    isSku(code) {
      const entries = localData.engine().data.prices.entries;
      return entries.has(code) || gtinVariants(code).some((v) => entries.has(v));
    },
    /** The price at the clock's now; a GTIN is also looked up in its other lengths (UPC-A ↔ EAN-13 ↔ GTIN-14). */
    price(code) {
      const direct = localData.priceLookup(code);
      if (direct) return direct;
      for (const v of gtinVariants(code)) {
        const a = localData.priceLookup(v);
        if (a) return a;
      }
      return undefined;
    },
    currencyDecimals() {
      return localData.engine().data.rules.cur.decimals;
    },
  };
}
