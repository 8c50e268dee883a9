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

/** Index slots of the packed sort keys in {@link prorate} (a cart has at most 1,000 lines). */
const SCALE = 1024;

/**
 * Splits `total` minor units over `weights` proportionally (largest-remainder method): the parts are
 * integers, sum exactly to `total` (when the weights sum is positive) and ties go to the earlier index.
 */
export function prorate(total: number, weights: readonly number[]): number[] {
  // Index loops and one numeric sort (no per-weight objects): prorated discounts split over every line.
  const n = weights.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += weights[i] as number;
  const parts: number[] = [];
  if (sum <= 0 || total <= 0) { for (let i = 0; i < n; i++) parts.push(0); return parts; }
  let given = 0;
  const rem = new Float64Array(n);
  let packable = n <= SCALE && sum * SCALE <= Number.MAX_SAFE_INTEGER;
  for (let i = 0; i < n; i++) {
    const w = weights[i] as number;
    const p = Math.floor((total * w) / sum);
    parts.push(p);
    given += p;
    const r = (total * w) % sum;
    rem[i] = r;
    if (!(Number.isInteger(r) && r >= 0)) packable = false;
  }
  let left = total - given;
  if (left <= 0) return parts;
  if (packable) {
    // Same order as the comparator sort below, with one native numeric sort: key = remainder, then index
    // ascending, packed exactly into one integer below 2^53.
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = (rem[i] as number) * SCALE + (SCALE - 1 - i);
    keys.sort();
    for (let k = 0; left > 0 && k < n; k++, left--) {
      const i = SCALE - 1 - ((keys[n - 1 - k] as number) % SCALE);
      parts[i] = (parts[i] as number) + 1;
    }
    return parts;
  }
  const order: number[] = [];
  for (let i = 0; i < n; i++) order.push(i);
  order.sort((a, b) => (rem[b] as number) - (rem[a] as number) || a - b);
  for (let k = 0; left > 0 && k < n; k++, left--) {
    const i = order[k] as number;
    parts[i] = (parts[i] as number) + 1;
  }
  return parts;
}
