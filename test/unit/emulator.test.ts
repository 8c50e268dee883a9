/**
 * The Talon.One emulator over real loopback HTTP: auth, campaigns, coupons, the session state
 * machine, idempotency, events, profiles, inventory and balances.
 * Faults, concurrency, recording and the SDK are in emulator-faults.test.ts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseArgs, startEmulator } from '../../scripts/talon-emulator.js';
import { parseConfig } from '../../scripts/talon-emulator/campaigns.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';

const KEY = 'emu-test-key';
let emu: Emulator;
let clock = Date.parse('2026-11-25T10:00:00Z');

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: J; headers: Headers }> {
  const res = await fetch(emu.url + path, {
    method,
    headers: { authorization: `ApiKey-v1 ${KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as J) : {}, headers: res.headers };
}

const put = (id: string, customerSession: J, extra: J = {}, headers: Record<string, string> = {}, query = '') =>
  call('PUT', `/v2/customer_sessions/${encodeURIComponent(id)}${query}`, { customerSession, ...extra }, headers);
const effectsOf = (r: { json: J }, type: string): J[] => (r.json['effects'] as J[]).filter((e) => e['effectType'] === type);
const cart = (...lines: [string, number, number, string?][]) => lines.map(([sku, price, quantity, category]) => ({ sku, price, quantity, ...(category ? { category } : {}) }));

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY, port: 0, now: () => clock });
});
afterAll(async () => {
  await emu.close();
});
beforeEach(() => {
  emu.reset();
  clock = Date.parse('2026-11-25T10:00:00Z');
});

describe('auth and errors', () => {
  it('answers 401 with the Talon.One body for a missing or wrong key', async () => {
    for (const headers of [{ authorization: '' }, { authorization: 'ApiKey-v1 nope' }, { authorization: `Bearer ${KEY}` }]) {
      const r = await call('PUT', '/v2/customer_sessions/A', { customerSession: {} }, headers);
      expect(r.status).toBe(401);
      expect(r.json).toMatchObject({ StatusCode: 401, errors: [expect.objectContaining({ title: 'Unauthorized' })] });
      expect(typeof r.json['message']).toBe('string');
    }
    expect(emu.getSession('A')).toBeUndefined();
  });

  it('answers 400 with pointers for invalid bodies and JSON, and sends a Date header', async () => {
    const r = await put('V', { cartItems: [{ sku: '', quantity: 0 }], state: 'bogus', loyaltyCards: ['a', 'b'] });
    expect(r.status).toBe(400);
    expect(r.json['message']).toBe('The submitted data was invalid');
    const pointers = (r.json['errors'] as J[]).map((e) => e['source']['pointer']);
    expect(pointers).toEqual(expect.arrayContaining(['/customerSession/cartItems/0/sku', '/customerSession/cartItems/0/quantity', '/customerSession/state', '/customerSession/loyaltyCards']));
    expect(r.headers.get('date')).toBeTruthy();
    const bad = await call('PUT', '/v2/customer_sessions/V', '{"customerSession":');
    expect(bad.status).toBe(400);
    expect((await call('GET', '/v2/nothing')).status).toBe(404);
  });
});

describe('customer sessions', () => {
  it('applies 10% over a total of 50, with the full effect envelope and cent-exact money', async () => {
    const small = await put('S1', { storeIntegrationId: 'store-042', cartItems: cart(['A', 10, 2]) });
    expect(small.status).toBe(200);
    expect(small.json).toMatchObject({ effects: [], createdCoupons: [], createdReferrals: [] });
    const r = await put('S1', { cartItems: cart(['A', 0.1, 3], ['B', 0.2, 1], ['C', 55.25, 1]) });
    const s = r.json['customerSession'] as J;
    expect(s).toMatchObject({ integrationId: 'S1', profileId: '', storeIntegrationId: 'store-042', state: 'open', updateCount: 2, firstSession: true, total: 55.75, cartItemTotal: 55.75, additionalCostTotal: 0, cartItemAdditionalCostTotal: 0, applicationId: 1 });
    expect((s['cartItems'] as J[]).map((c) => c['position'])).toEqual([0, 1, 2]);
    expect(typeof s['id']).toBe('number');
    expect(s['created']).toBe('2026-11-25T10:00:00.000Z');
    const [d] = effectsOf(r, 'setDiscount');
    expect(d).toEqual({ campaignId: 101, rulesetId: 1001, ruleIndex: 0, ruleName: '10% off over 50', effectType: 'setDiscount', props: { name: '10% off', value: 5.58 } });
  });

  it('keeps omitted fields, clears coupons with [] and replaces the cart', async () => {
    await put('S2', { profileId: 'p2', couponCodes: ['FREE2'], cartItems: cart(['A', 5, 1]), attributes: { a: 1 } });
    const r = await put('S2', { attributes: { b: 2 } });
    expect(r.json['customerSession']).toMatchObject({ profileId: 'p2', couponCodes: ['FREE2'], cartItems: [{ sku: 'A' }], attributes: { a: 1, b: 2 } });
    expect(effectsOf(r, 'acceptCoupon')).toHaveLength(1);
    const cleared = await put('S2', { couponCodes: [], cartItems: cart(['B', 1, 1]) });
    expect(cleared.json['customerSession']).toMatchObject({ couponCodes: [], cartItems: [{ sku: 'B', position: 0 }] });
    expect(cleared.json['effects'].map((e: J) => e['effectType'])).toEqual(['addLoyaltyPoints']);
  });

  it('gives per-item discounts by category or SKU', async () => {
    const r = await put('S3', { cartItems: cart(['X', 3, 1, 'Food'], ['COLA', 1.99, 3, 'Drinks'], ['SKU-COFFEE', 2.5, 1]) });
    expect(effectsOf(r, 'setDiscountPerItem')).toEqual([
      expect.objectContaining({ campaignId: 103, props: { name: '20% off drinks#1', value: 1.19, position: 1 } }),
      expect.objectContaining({ campaignId: 103, props: { name: '20% off drinks#2', value: 0.5, position: 2 } }),
    ]);
  });

  it('accepts, rejects and limits coupons; redeems only on close; cancel releases', async () => {
    const r = await put('C1', { profileId: 'p1', couponCodes: ['SAVE5', 'NOPE'], cartItems: cart(['A', 20, 1]) });
    expect(effectsOf(r, 'acceptCoupon')).toEqual([expect.objectContaining({ campaignId: 102, props: { value: 'SAVE5' }, triggeredByCoupon: 5001 })]);
    expect(effectsOf(r, 'setDiscount')).toEqual([expect.objectContaining({ props: { name: 'Coupon SAVE5', value: 5 }, triggeredByCoupon: 5001 })]);
    expect(effectsOf(r, 'rejectCoupon')).toEqual([{ campaignId: -1, rulesetId: -1, ruleIndex: -1, ruleName: '', effectType: 'rejectCoupon', props: { value: 'NOPE', rejectionReason: 'CouponNotFound' } }]);
    expect(emu.getCoupon('SAVE5')).toMatchObject({ usageCounter: 0 });
    // A second open session may still see it; closing redeems.
    expect(effectsOf(await put('C2', { couponCodes: ['SAVE5'], cartItems: cart(['A', 20, 1]) }), 'acceptCoupon')).toHaveLength(1);
    await put('C1', { state: 'closed' });
    expect(emu.getCoupon('SAVE5')).toMatchObject({ usageCounter: 1, usageLimit: 1 });
    const late = await put('C2', { state: 'closed' });
    expect(effectsOf(late, 'rejectCoupon')).toEqual([expect.objectContaining({ campaignId: 102, triggeredByCoupon: 5001, props: { value: 'SAVE5', rejectionReason: 'CouponLimitReached' } })]);
    expect(emu.getCoupon('SAVE5')).toMatchObject({ usageCounter: 1 });
    // Multi-use code: used twice.
    for (const id of ['M1', 'M2']) expect(effectsOf(await put(id, { couponCodes: ['MULTI10'], cartItems: cart(['A', 10, 1]), state: 'closed' }), 'acceptCoupon')).toHaveLength(1);
    expect(emu.getCoupon('MULTI10')).toMatchObject({ usageCounter: 2 });
    expect(effectsOf(await put('E1', { couponCodes: ['EXPIRED1'] }), 'rejectCoupon')[0]!['props']['rejectionReason']).toBe('CouponExpired');
    // Cancelling the closed session releases SAVE5 and answers rollbacks.
    const cancel = await put('C1', { state: 'cancelled' });
    expect(cancel.status).toBe(200);
    expect(cancel.json['customerSession']['state']).toBe('cancelled');
    expect(cancel.json['effects'].map((e: J) => e['effectType'])).toEqual(expect.arrayContaining(['rollbackCoupon', 'rollbackDiscount']));
    expect(emu.getCoupon('SAVE5')).toMatchObject({ usageCounter: 0 });
  });

  it('refuses to modify a closed or cancelled session with a 400 (documented choice)', async () => {
    await put('K', { cartItems: cart(['A', 1, 1]), state: 'closed' });
    for (const change of [{ cartItems: cart(['B', 1, 1]) }, { state: 'closed' }, { state: 'open' }]) {
      const r = await put('K', change);
      expect(r.status).toBe(400);
      expect(r.json).toEqual({ message: 'The submitted data was invalid', errors: [expect.objectContaining({ title: 'Invalid state transition', source: { pointer: '/customerSession/state' } })] });
    }
    await put('K', { state: 'cancelled' });
    expect((await put('K', { state: 'cancelled' })).status).toBe(400);
    expect((await put('N', { state: 'partially_returned' })).status).toBe(400);
  });

  it('returns items (closed → partially_returned) and reopens (closed → open) with rollbacks', async () => {
    await put('R', { profileId: 'customer-1', cartItems: cart(['COLA', 2, 4, 'Drinks'], ['A', 50, 1]), state: 'closed' });
    const ret = await call('POST', '/v2/customer_sessions/R/returns', { return: { returnedCartItems: [{ position: 0, quantity: 1 }] } });
    expect(ret.status).toBe(200);
    expect(ret.json['return']).toMatchObject({ returnedCartItems: [{ position: 0, quantity: 1, sku: 'COLA' }], sessionIntegrationId: 'R', applicationId: 1, accountId: 1 });
    expect(ret.json['effects']).toEqual([expect.objectContaining({ effectType: 'rollbackDiscount', campaignId: 103, props: { name: '20% off drinks#0', value: 0.4, cartItemPosition: 0 } })]);
    expect(ret.json['customerSession']).toMatchObject({ state: 'partially_returned' });
    expect(ret.json['customerSession']['cartItems'][0]).toMatchObject({ returnedQuantity: 1, remainingQuantity: 3 });
    const tooMany = await call('POST', '/v2/customer_sessions/R/returns', { return: { returnedCartItems: [{ position: 0, quantity: 4 }] } });
    expect(tooMany.status).toBe(400);
    expect((await call('PUT', '/v2/customer_sessions/R/reopen')).status).toBe(400);

    await put('O', { profileId: 'customer-1', cartItems: cart(['A', 60, 1]), state: 'closed' });
    expect(emu.getBalance(1, 'customer-1')).toMatchObject({ activePoints: 120 + 58 + 60 });
    const re = await call('PUT', '/v2/customer_sessions/O/reopen');
    expect(re.status).toBe(200);
    expect(re.json['effects'].map((e: J) => e['effectType']).sort()).toEqual(['rollbackAddedLoyaltyPoints', 'rollbackDiscount']);
    expect(emu.getSession('O')?.['customerSession']).toMatchObject({ state: 'open' });
    expect(emu.getBalance(1, 'customer-1')).toMatchObject({ activePoints: 178 });
    expect((await call('PUT', '/v2/customer_sessions/O/reopen')).status).toBe(400);
    expect((await call('PUT', '/v2/customer_sessions/nope/reopen')).status).toBe(404);
  });

  it('reads a session back (GET) and 404s unknown ones', async () => {
    await put('G', { cartItems: cart(['A', 60, 1]) });
    const g = await call('GET', '/v2/customer_sessions/G');
    expect(g.status).toBe(200);
    expect(g.json['customerSession']).toMatchObject({ integrationId: 'G', state: 'open' });
    expect(g.json['effects']).toHaveLength(1);
    const missing = await call('GET', '/v2/customer_sessions/none');
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ StatusCode: 404, message: expect.any(String), errors: expect.any(Array) });
  });

  it('stores nothing on dry=true and checks `now`', async () => {
    const r = await put('D', { couponCodes: ['SAVE5'], cartItems: cart(['A', 60, 1]), state: 'closed' }, {}, {}, '?dry=true');
    expect(r.status).toBe(200);
    expect(effectsOf(r, 'acceptCoupon')).toHaveLength(1);
    expect(emu.getSession('D')).toBeUndefined();
    expect(emu.getCoupon('SAVE5')).toMatchObject({ usageCounter: 0 });
    expect((await put('D', {}, {}, {}, '?now=2030-01-01T00:00:00Z')).status).toBe(400);
    expect((await put('D', {}, {}, {}, '?dry=true&now=2020-01-01T00:00:00Z')).status).toBe(400);
    expect((await put('D', {}, {}, {}, '?dry=true&now=2030-01-01T00:00:00Z')).status).toBe(200);
  });

  it('replays an Idempotency-Key (same status and body, no second redemption) for 24 h', async () => {
    const body = { couponCodes: ['SAVE5'], cartItems: cart(['A', 20, 1]), state: 'closed' };
    const a = await put('I', body, {}, { 'idempotency-key': 'k-1' });
    const b = await put('I', body, {}, { 'idempotency-key': 'k-1' });
    expect(b.status).toBe(a.status);
    expect(b.json).toEqual(a.json);
    expect(b.headers.get('x-emulator-idempotent-replay')).toBe('true');
    expect(emu.getCoupon('SAVE5')).toMatchObject({ usageCounter: 1 });
    // Without the header the replay of a close is a modification of a closed session.
    expect((await put('I', body)).status).toBe(400);
    clock += 24 * 3600 * 1000;
    expect((await put('I', body, {}, { 'idempotency-key': 'k-1' })).status).toBe(400);
  });

  it('adds responseContent parts the SDK can parse', async () => {
    const r = await put('RC', { profileId: 'customer-1', couponCodes: ['VIP20'], cartItems: cart(['A', 60, 1]) }, { responseContent: ['customerSession', 'customerProfile', 'loyalty', 'coupons', 'triggeredCampaigns'] });
    expect(r.json['customerProfile']).toMatchObject({ integrationId: 'customer-1', attributes: { Name: 'Alex' }, accountId: 1, closedSessions: 0, totalSales: 0 });
    expect(r.json['loyalty']['programs']['1']['ledger']).toMatchObject({ currentBalance: 120, tentativeCurrentBalance: 180 });
    expect(r.json['coupons']).toEqual([expect.objectContaining({ value: 'VIP20', id: 5006, usageCounter: 0, profileRedemptionCount: 0 })]);
    expect((r.json['triggeredCampaigns'] as J[]).map((c) => c['id'])).toEqual([101, 102, 104]);
    expect(effectsOf(await put('RC2', { profileId: 'other', couponCodes: ['VIP20'] }), 'rejectCoupon')[0]!['props']['rejectionReason']).toBe('CouponRecipientDoesNotMatch');
  });
});

describe('events, profiles, inventory, balances', () => {
  it('tracks events: 204 when silent (default), 200 with the event otherwise', async () => {
    const silent = await call('POST', '/v2/events', { profileId: 'ev-1', type: 'pageViewed', attributes: { a: 1 } });
    expect(silent.status).toBe(204);
    const loud = await call('POST', '/v2/events?silent=no', { profileId: 'ev-1', type: 'pageViewed', storeIntegrationId: 'store-042' });
    expect(loud.status).toBe(200);
    expect(loud.json).toMatchObject({ effects: [], createdCoupons: [], createdReferrals: [], event: { type: 'pageViewed', profileId: 'ev-1', storeIntegrationId: 'store-042', effects: [], attributes: {} } });
    expect((await call('POST', '/v2/events', { profileId: 'ev-1' })).status).toBe(400);
    expect((await call('POST', '/v2/events', { type: 'x' })).status).toBe(400);
    expect(emu.getProfile('ev-1')).toBeDefined();
  });

  it('updates profiles (created implicitly) and serves inventory and balances', async () => {
    const r = await call('PUT', '/v2/customer_profiles/np-1', { attributes: { Tier: 'gold' }, audiencesChanges: { adds: [7], deletes: [] } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ customerProfile: { integrationId: 'np-1', attributes: { Tier: 'gold' }, audienceMemberships: [{ id: 7 }] }, effects: [], createdCoupons: [], createdReferrals: [] });
    expect((await call('PUT', '/v2/customer_profiles/np-2?dry=true', {})).status).toBe(400);
    expect((await call('GET', '/v1/customer_profiles/ghost/inventory?profile=true')).status).toBe(404);

    await put('INV', { profileId: 'customer-1', couponCodes: ['SAVE5'], cartItems: cart(['A', 10, 1]), state: 'closed' });
    const inv = await call('GET', '/v1/customer_profiles/customer-1/inventory?profile=true&coupons=true&loyalty=true');
    expect(inv.status).toBe(200);
    expect(inv.json['profile']).toMatchObject({ integrationId: 'customer-1', closedSessions: 1, totalSales: 10 });
    expect(inv.json['loyalty']['programs']['1']['ledger']['currentBalance']).toBe(130);
    expect(inv.json['coupons']).toEqual(expect.arrayContaining([
      expect.objectContaining({ value: 'SAVE5', state: 'used', profileRedemptionCount: 1 }),
      expect.objectContaining({ value: 'VIP20', state: 'active', profileRedemptionCount: 0 }),
    ]));
    const onlyProfile = await call('GET', '/v1/customer_profiles/customer-1/inventory?profile=true');
    expect(Object.keys(onlyProfile.json)).toEqual(['profile']);

    const bal = await call('GET', '/v1/loyalty_programs/1/profile/customer-1/balances');
    expect(bal.json).toEqual({ balance: { activePoints: 130, pendingPoints: 10, spentPoints: 0, expiredPoints: 0, negativePoints: 0 }, subledgerBalances: {} });
    expect((await call('GET', '/v1/loyalty_programs/1/profile/np-1/balances')).json['balance']['activePoints']).toBe(0);
    expect((await call('GET', '/v1/loyalty_programs/1/profile/ghost/balances')).status).toBe(404);
    expect((await call('GET', '/v1/loyalty_programs/99/profile/customer-1/balances')).status).toBe(404);
  });
});

describe('campaign file and command line', () => {
  it('parses the command line', () => {
    expect(parseArgs(['--', '--port', '9000', '--api-key=k', '--campaigns', 'c.json', '--no-record', '--admin-port', '9001'])).toEqual({
      port: 9000, apiKey: 'k', campaignsFile: 'c.json', record: false, adminPort: 9001,
    });
    expect(() => parseArgs(['--port', '1'])).toThrow(/api-key/);
    expect(() => parseArgs(['--api-key', 'k', '--bogus'])).toThrow(/unknown/);
  });

  it('rejects malformed campaign documents with the path of the problem', () => {
    expect(() => parseConfig({ campaigns: [{ id: 1, name: 'x', kind: 'magic' }] })).toThrow(/\$\.campaigns\[0\]\.kind/);
    expect(() => parseConfig({ campaigns: [{ id: 1, name: 'x', kind: 'coupon', coupons: [{ id: 1, value: 'A1' }] }] })).toThrow(/discountAmount/);
    expect(() => parseConfig({ campaigns: [{ id: 1, name: 'x', kind: 'itemPercent', percent: 5 }] })).toThrow(/categories or skus/);
  });

  it('honours store links, time windows (with dry `now`) and generated coupon batches', async () => {
    const e2 = await startEmulator({
      apiKey: KEY, port: 0, now: () => Date.parse('2026-11-25T10:00:00Z'),
      campaigns: {
        campaigns: [
          { id: 1, name: 'store only', kind: 'cartAmount', amount: 1, storeIntegrationIds: ['store-042'] },
          { id: 2, name: 'from december', kind: 'cartPercent', percent: 50, startTime: '2026-12-01T00:00:00Z' },
          { id: 3, name: 'batch', kind: 'coupon', discountAmount: 2, batches: [{ prefix: 'B-', count: 12, firstId: 900 }] },
        ],
      },
    });
    try {
      const go = async (cs: J, q = '') => {
        const r = await fetch(`${e2.url}/v2/customer_sessions/x${q}`, { method: 'PUT', headers: { authorization: `ApiKey-v1 ${KEY}` }, body: JSON.stringify({ customerSession: cs }) });
        return ((await r.json()) as J)['effects'] as J[];
      };
      const base = { cartItems: cart(['A', 10, 1]) };
      expect((await go({ ...base, storeIntegrationId: 'store-042' })).map((e) => e['campaignId'])).toEqual([1]);
      expect(await go({ ...base, storeIntegrationId: 'store-007' })).toEqual([]);
      expect((await go(base, '?dry=true&now=2026-12-02T00:00:00Z')).map((e) => e['props']['value'])).toEqual([5]);
      const batch = await go({ ...base, couponCodes: ['B-07'] });
      expect(batch.map((e) => [e['effectType'], e['triggeredByCoupon']])).toEqual([['acceptCoupon', 906], ['setDiscount', 906]]);
    } finally {
      await e2.close();
    }
  });
});
