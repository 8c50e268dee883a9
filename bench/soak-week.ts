/**
 * The soak benchmark's week (bench/soak.ts drives it): when each session happens, when Talon.One is away, and
 * what one session's terminal sends. Deterministic: the same seed drives the same week in every run.
 */
export const HOUR = 3600_000;
export const DAY = 24 * HOUR;
/** The store opens 07:00–22:00 (UTC, the simulated clock's time). */
export const OPEN_AT = 7 * HOUR;
export const CLOSE_AT = 22 * HOUR;
/** Talon.One is unreachable from this offset, for 6 hours, every 12 hours (02:30–08:30 and 14:30–20:30). */
const OFFLINE_FROM = 2.5 * HOUR;
export const START = Date.parse('2026-03-02T00:00:00Z'); // a Monday

export function shouldBeOffline(t: number): boolean {
  return (((t - START - OFFLINE_FROM) % (12 * HOUR)) + 12 * HOUR) % (12 * HOUR) < 6 * HOUR;
}

/** mulberry32: a small seeded generator. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CATEGORIES = ['Kitchen', 'Shoes', 'Food', 'Drinks', 'Garden', 'Toys'];
function cartLine(r: () => number): Record<string, unknown> {
  const n = Math.floor(r() * 2000);
  return { sku: n < 4 ? ['PAN-24', 'SKU-COFFEE', 'SHOE-1', 'SHOE-2'][n] : `SKU-${n}`, name: `Item ${n}`, quantity: 1 + Math.floor(r() * 3), price: Math.round((1 + r() * 40) * 100) / 100, category: CATEGORIES[n % CATEGORIES.length] };
}

/** Coupons: the sample rules' coupon campaign (102) with the codes the emulator's campaigns also hold. */
export function soakCoupons(): Record<string, unknown>[] {
  return [
    { id: 9101, value: 'FREE2', campaignId: 102, usageLimit: 0, usageCounter: 0, attributes: {} },
    { id: 9102, value: 'MULTI10', campaignId: 102, usageLimit: 1000, usageCounter: 0, attributes: {} },
    ...Array.from({ length: 1000 }, (_, i) => ({ id: 10_001 + i, value: `ONCE-${String(i + 1).padStart(4, '0')}`, campaignId: 102, usageLimit: 1, usageCounter: 0, attributes: {} })),
  ];
}

/** One terminal call: op (for the report), method, path, JSON body, the terminal's own Idempotency-Key. */
export type Call = (op: string, method: 'PUT' | 'POST' | 'GET', url: string, body?: unknown, idem?: string) => Promise<void>;

/**
 * Session `i` at one terminal: 10% start with a profile update, 5% with an event, 2% with a balance read, 2%
 * return a line of one of the terminal's earlier sessions (`recent`, its last 20 closed ones); then 1–4 updates
 * growing a cart of 1–3 lines each, the last one closes (0.5% cancel, 0.5% are abandoned open); 30% carry a coupon
 * (unlimited FREE2, MULTI10 limited to 1,000 uses, or one of 1,000 single-use ONCE-nnnn); 65% a customer profile
 * out of 120,000; every close carries the terminal's Idempotency-Key and 1% are retried with it.
 */
export async function session(i: number, call: Call, recent: string[]): Promise<void> {
  const r = prng(i * 7919 + 17);
  const id = `S-${i}`;
  const profileId = r() < 0.65 ? `cust-${Math.floor(r() * 120_000)}` : '';
  if (profileId && r() < 0.1) await call('updateProfile', 'PUT', `/v2/customer_profiles/${profileId}`, { attributes: { tier: r() < 0.2 ? 'gold' : 'silver', visits: i % 50 } });
  if (profileId && r() < 0.05) await call('trackEvent', 'POST', '/v2/events', { profileId, type: 'store_visit', attributes: {} });
  if (profileId && r() < 0.02) await call('balances', 'GET', `/v1/loyalty_programs/1/profile/${profileId}/balances`);
  if (recent.length > 0 && r() < 0.02) {
    const prev = recent[Math.floor(r() * recent.length)] as string;
    await call('return', 'POST', `/v2/customer_sessions/${prev}/returns`, { return: { returnedCartItems: [{ position: 0, quantity: 1 }] } });
  }
  const x = r();
  const coupon = x < 0.24 ? 'FREE2' : x < 0.28 ? 'MULTI10' : x < 0.3 ? `ONCE-${String(1 + Math.floor(r() * 1000)).padStart(4, '0')}` : null;
  const steps = 1 + Math.floor(r() * 4);
  const end = r();
  const finalState = end < 0.005 ? 'cancelled' : end < 0.01 ? null : 'closed';
  const cart: Record<string, unknown>[] = [];
  for (let step = 1; step <= steps; step++) {
    const lines = 1 + Math.floor(r() * 3);
    for (let l = 0; l < lines; l++) cart.push(cartLine(r));
    const last = step === steps;
    const customerSession: Record<string, unknown> = { cartItems: cart, ...(profileId ? { profileId } : {}) };
    if (coupon && step >= Math.min(2, steps)) customerSession.couponCodes = [coupon];
    if (last && finalState) customerSession.state = finalState;
    const body = { customerSession, responseContent: ['customerSession', 'customerProfile'] };
    const idem = last && finalState ? `close-${id}` : undefined;
    await call(last && finalState ? 'close' : 'update', 'PUT', `/v2/customer_sessions/${id}`, body, idem);
    if (idem && r() < 0.01) await call('close-retry', 'PUT', `/v2/customer_sessions/${id}`, body, idem);
  }
  if (finalState === 'closed') {
    recent.push(id);
    if (recent.length > 20) recent.shift();
  }
}
