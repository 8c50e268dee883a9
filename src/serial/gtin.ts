/**
 * GTIN check digits (GS1 General Specifications, section 7.9 "Check digit calculation"): from the right, the
 * digits left of the check digit are weighted 3, 1, 3, 1…; the check digit brings the sum to a multiple of 10.
 * The same rule covers GTIN-8 (EAN-8), GTIN-12 (UPC-A), GTIN-13 (EAN-13) and GTIN-14 (ITF-14).
 */

const GTIN_LENGTHS = new Set([8, 12, 13, 14]);

/** The check digit for `body` (the digits without it), or -1 when `body` is not all digits. */
export function gtinCheckDigit(body: string): number {
  let sum = 0;
  let weight = 3;
  for (let i = body.length - 1; i >= 0; i--) {
    const d = body.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    sum += d * weight;
    weight = 4 - weight;
  }
  return (10 - (sum % 10)) % 10;
}

/** True for an 8, 12, 13 or 14 digit string whose last digit is its GTIN check digit. */
export function isValidGtin(code: string): boolean {
  if (!GTIN_LENGTHS.has(code.length)) return false;
  const check = code.charCodeAt(code.length - 1) - 48;
  if (check < 0 || check > 9) return false;
  return gtinCheckDigit(code.slice(0, -1)) === check;
}

/**
 * The same GTIN in the other lengths a price book may key it by: a UPC-A `036000291452` is the EAN-13
 * `0036000291452` and the GTIN-14 `00036000291452` (leading zeros only; the check digit does not change).
 * Longest first, the code itself excluded.
 */
export function gtinVariants(code: string): string[] {
  if (!isValidGtin(code)) return [];
  const bare = code.replace(/^0+/, '');
  const out: string[] = [];
  for (const len of [14, 13, 12, 8]) {
    if (bare.length > len) continue;
    const v = bare.padStart(len, '0');
    if (v !== code) out.push(v);
  }
  return out;
}
