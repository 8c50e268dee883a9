/**
 * Money in integer minor units. Amounts enter as JSON numbers in currency units (9.99), are converted
 * once to integers (999) and every sum, cap and split is integer arithmetic. Values computed by rule
 * expressions (percentages, templates, Talang) are doubles; they are first snapped to 12 significant
 * digits (removing binary noise such as 9.999000000000001) and then rounded to the minor unit
 * **half-up (away from zero)**. Results go back out as plain numbers (minor / 10^decimals).
 */

const ZERO_DECIMAL = new Set(['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF']);
const THREE_DECIMAL = new Set(['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND']);

export interface Currency {
  readonly code: string;
  readonly decimals: number;
  /** 10 ** decimals */
  readonly factor: number;
}

/** Minor-unit digits of an ISO 4217 code: 0 (JPY, KRW…), 3 (KWD, BHD…), else 2. */
export function currency(code: string | undefined): Currency {
  const c = (code ?? 'EUR').toUpperCase();
  const decimals = ZERO_DECIMAL.has(c) ? 0 : THREE_DECIMAL.has(c) ? 3 : 2;
  return { code: c, decimals, factor: 10 ** decimals };
}

/**
 * Removes binary floating point noise (0.1 * 3 → 0.3): below 1e6, rounds to 9 decimals; above,
 * keeps 12 significant digits.
 */
export function snap(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  if (x < 1e6 && x > -1e6) return Math.round(x * 1e9) / 1e9;
  return Number(x.toPrecision(12));
}

/**
 * Converts an amount in currency units to integer minor units, rounding half-up (away from zero).
 * Works on the shortest decimal representation, so `1.005` → 101 cents (not 100).
 */
export function toMinor(amount: number, cur: Currency): number {
  if (!Number.isFinite(amount)) throw new RangeError(`not a finite amount: ${amount}`);
  // Fast path: the amount is a whole number of minor units up to binary noise (39.99 → 3998.9999999999995).
  const y = amount * cur.factor;
  const r = Math.round(y);
  if (Math.abs(y - r) <= 1e-9 + Math.abs(y) * 1e-13 && Number.isSafeInteger(r)) return r === 0 ? 0 : r;
  // Second fast path (percentages: 0.4321 €): below 1e6 the decimal rule below equals rounding |y| half-up,
  // and the binary error of |y| (snap ≤ 5e-10 × factor, product ≤ 1 ulp) is far below 1e-5, so when the
  // fraction is not within 1e-5 of one half, the result is exact without the string work.
  if (amount < 1e6 && amount > -1e6) {
    const ay = Math.abs(y);
    const fl = Math.floor(ay);
    const fr = ay - fl;
    if (fr < 0.49999 || fr > 0.50001) {
      const v = fr > 0.5 ? fl + 1 : fl;
      // The sign rule of the string path (−0 for tiny negative amounts); `snap` keeps the sign of a positive amount.
      return amount > 0 ? v : snap(amount) < 0 ? -v : v;
    }
  }
  const x = snap(amount);
  const neg = x < 0;
  let s = String(Math.abs(x));
  if (s.includes('e')) s = Math.abs(x).toFixed(20);
  const dot = s.indexOf('.');
  const intPart = dot < 0 ? s : s.slice(0, dot);
  const frac = dot < 0 ? '' : s.slice(dot + 1);
  const kept = frac.slice(0, cur.decimals).padEnd(cur.decimals, '0');
  const next = frac.charCodeAt(cur.decimals);
  let v = Number(intPart) * cur.factor + (kept ? Number(kept) : 0);
  if (next >= 53 /* '5' */ && next <= 57) v += 1;
  if (!Number.isSafeInteger(v)) throw new RangeError(`amount out of range: ${amount}`);
  return neg ? -v : v;
}

/** Minor units back to a plain number in currency units (exact decimal representation). */
export function fromMinor(minor: number, cur: Currency): number {
  // IEEE division is correctly rounded, as is parsing "12.34": both give the double nearest to minor/factor.
  return minor / cur.factor;
}

/**
 * One share of a split, cut to the minor unit: `floor(total × w / sum)`, exactly. Below 2^53 the product is an
 * exact double and the correctly rounded quotient cannot reach the next integer (that would need a numerator
 * ≥ 2^53), so `Math.floor` of it is the exact floor; above, BigInt.
 */
function share(total: number, w: number, sum: number): number {
  const p = total * w;
  if (p <= Number.MAX_SAFE_INTEGER || !(Number.isInteger(total) && Number.isInteger(w) && Number.isInteger(sum))) return Math.floor(p / sum);
  return Number((BigInt(total) * BigInt(w)) / BigInt(sum));
}

/**
 * Splits `total` minor units over `weights` pro rata, by Talon.One's documented rule (tutorial "Creating a pro
 * rata discount", https://docs.talon.one/docs/product/tutorials/coupons/prorata-discount: 30 EUR over items of 55,
 * 60 and 115 EUR gives 7.17, 7.82 and 15.01): each share is cut to the minor unit, and "the error is fixed by
 * adding the deficit amount to the highest discounted item" (the first of equal ones). The parts are integers and
 * sum exactly to `total` (when the weights sum is positive). A part never exceeds its weight when `total` does
 * not exceed the weights' sum: when the highest discounted item cannot take the whole deficit, the rest goes to
 * the next highest (the docs' example never needs it: the deficit is below one minor unit per item).
 */
export function prorate(total: number, weights: readonly number[]): number[] {
  // Index loops (no per-weight objects): prorated discounts split over every line.
  const n = weights.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += weights[i] as number;
  const parts: number[] = [];
  if (sum <= 0 || total <= 0) { for (let i = 0; i < n; i++) parts.push(0); return parts; }
  let given = 0;
  let top = 0;
  for (let i = 0; i < n; i++) {
    const p = share(total, weights[i] as number, sum);
    parts.push(p);
    given += p;
    if (p > (parts[top] as number)) top = i;
  }
  let left = total - given;
  if (left <= 0) return parts;
  // The usual case: the highest discounted item takes the whole deficit (below one minor unit per item).
  if ((weights[top] as number) - (parts[top] as number) >= left) {
    parts[top] = (parts[top] as number) + left;
    return parts;
  }
  // Highest share first, the earlier item on ties; each takes what its weight leaves room for.
  const order: number[] = [];
  for (let i = 0; i < n; i++) order.push(i);
  order.sort((a, b) => (parts[b] as number) - (parts[a] as number) || a - b);
  for (let k = 0; left > 0 && k < n; k++) {
    const i = order[k] as number;
    const room = Math.max(0, (weights[i] as number) - (parts[i] as number));
    const t = Math.min(room, left);
    parts[i] = (parts[i] as number) + t;
    left -= t;
  }
  // A total above the weights' sum (callers cap it first): the rest to the highest discounted item, so the sum holds.
  if (left > 0) parts[top] = (parts[top] as number) + left;
  return parts;
}
