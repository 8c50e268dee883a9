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
 * Splits `total` minor units over `weights` proportionally (largest-remainder method): the parts are
 * integers, sum exactly to `total` (when the weights sum is positive) and ties go to the earlier index.
 */
export function prorate(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum <= 0 || total <= 0) return weights.map(() => 0);
  const parts = weights.map((w) => Math.floor((total * w) / sum));
  let left = total - parts.reduce((a, b) => a + b, 0);
  const order = weights
    .map((w, i) => ({ i, r: (total * w) % sum }))
    .sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; left > 0 && k < order.length; k++, left--) {
    const o = order[k] as { i: number };
    parts[o.i] = (parts[o.i] as number) + 1;
  }
  return parts;
}
