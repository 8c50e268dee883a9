import { isValidGtin } from './gtin.js';

export type CodeKind = 'coupon' | 'loyaltyCard' | 'item' | 'unknown';

/** What the shop's local data knows (looked up at scan time, so a fresh push counts at once). */
export interface CodeLookups {
  isCoupon(code: string): boolean;
  isLoyaltyCard(code: string): boolean;
  isSku(code: string): boolean;
}

export interface CodePatterns {
  coupon: RegExp | null;
  loyaltyCard: RegExp | null;
}

/**
 * The kind of a scanned code. Exact knowledge wins over patterns, and patterns over the check-digit rule:
 * 1. a code in the coupon cache → coupon; 2. a card named by a cached loyalty balance → loyaltyCard;
 * 3. a SKU in the price book → item; 4. `couponPattern` → coupon; 5. `loyaltyCardPattern` → loyaltyCard;
 * 6. a valid GTIN-8/12/13/14 → item; else unknown. (Cards and store coupons are often printed as EAN-13
 * with a private prefix, so a pattern must be able to claim a code whose check digit is valid.)
 */
export function classifyCode(code: string, data: CodeLookups, patterns: CodePatterns): CodeKind {
  if (data.isCoupon(code)) return 'coupon';
  if (data.isLoyaltyCard(code)) return 'loyaltyCard';
  if (data.isSku(code)) return 'item';
  if (patterns.coupon?.test(code)) return 'coupon';
  if (patterns.loyaltyCard?.test(code)) return 'loyaltyCard';
  if (isValidGtin(code)) return 'item';
  return 'unknown';
}
