/**
 * Offline mode end to end: local answers from the sample rules, journaled before the terminal sees them, with
 * Talon.One's shapes, PUT semantics, the state machine, the store-wide coupon ledger, and a restart that keeps it all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { APP_DIR } from '../../src/config/load.js';
import { startGateway, terminalHeaders, ADMIN_TOKEN, TERMINAL_TOKENS, type TestGateway } from '../helpers/gateway.js';
import { sdkClient, Talon } from '../helpers/sdk.js';

const sample = (f: string) => path.join(APP_DIR, 'config', f);
const DATA_FILES = {
  rules: sample('sample-rules.json'),
  prices: sample('sample-prices.json'),
  coupons: sample('sample-coupons.json'),
  loyalty: sample('sample-loyalty.json'),
};

let gw: TestGateway;

async function put(id: string, customerSession: Record<string, unknown>, terminal: 'T1' | 'T2' = 'T1', extra: Record<string, unknown> = {}) {
  const res = await fetch(`${gw.url}/v2/customer_sessions/${id}`, {
    method: 'PUT',
    headers: terminalHeaders(terminal),
    body: JSON.stringify({ customerSession, responseContent: ['customerSession'], ...extra }),
  });
  const json = (await res.json()) as { effects: { effectType: string; props: Record<string, unknown>; campaignId: number }[]; customerSession: Record<string, unknown> };
  return { status: res.status, headers: res.headers, json };
}

const cart = [
  { sku: 'SKU-1', name: 'Pan', quantity: 2, price: 20, category: 'Kitchen' },
  { sku: 'SKU-2', name: 'Shirt', quantity: 1, price: 25.5, category: 'Apparel' },
];

beforeAll(async () => {
  gw = await startGateway({ mode: 'offline', dataFiles: DATA_FILES });
});

afterAll(async () => {
  await gw?.stop();
});

describe('local answers', () => {
  it('answers a session update locally, journaled, in Talon.One shape', async () => {
    const r = await put('L-1', { profileId: 'cust-001', cartItems: cart });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-storegate-source')).toBe('local');
    expect(Number(r.headers.get('x-storegate-journal-seq'))).toBeGreaterThan(0);
    for (const e of r.json.effects) {
      expect(e).toMatchObject({ campaignId: expect.any(Number), rulesetId: expect.any(Number), ruleIndex: expect.any(Number), ruleName: expect.any(String), effectType: expect.any(String), props: expect.any(Object) });
    }
    expect(r.json.effects.map((e) => e.effectType)).toContain('setDiscount');
    expect(r.json.customerSession).toMatchObject({ integrationId: 'L-1', state: 'open', storeIntegrationId: 'store-042', cartItemTotal: 65.5, updateCount: 1 });
    expect(gw.gateway.journal?.stats().depth).toBeGreaterThanOrEqual(1);
  });

  it('works with the official SDK as terminal', async () => {
    const { api } = sdkClient(gw.url, TERMINAL_TOKENS.T1);
    const res = await api.updateCustomerSessionV2('L-sdk', Talon.IntegrationRequest.constructFromObject({ customerSession: { cartItems: cart }, responseContent: ['customerSession'] }));
    expect(res.customerSession.integrationId).toBe('L-sdk');
    expect(res.effects.length).toBeGreaterThan(0);
  });

  it('builds successive updates on each other (PUT semantics) and clears coupons with []', async () => {
    await put('L-2', { profileId: 'cust-002', cartItems: cart });
    const withCoupon = await put('L-2', { couponCodes: ['WELCOME10'] });
    expect(withCoupon.json.customerSession).toMatchObject({ cartItemTotal: 65.5, couponCodes: ['WELCOME10'], updateCount: 2 });
    expect(withCoupon.json.effects.find((e) => e.effectType === 'acceptCoupon')?.props.value).toBe('WELCOME10');
    const cleared = await put('L-2', { couponCodes: [] });
    expect(cleared.json.customerSession.couponCodes).toEqual([]);
    expect(cleared.json.effects.some((e) => e.effectType === 'acceptCoupon')).toBe(false);
  });

  it('refuses to modify a closed session, as upstream does', async () => {
    await put('L-3', { cartItems: cart, state: 'closed' });
    const again = await put('L-3', { cartItems: [] });
    expect(again.status).toBe(400);
    expect(again.headers.get('x-storegate-source')).toBe('local');
    const cancel = await put('L-3', { state: 'cancelled' });
    expect(cancel.status).toBe(200);
    expect(cancel.json.customerSession.state).toBe('cancelled');
  });

  it('returns items of a closed session and reopens another', async () => {
    await put('L-4', { cartItems: cart, state: 'closed' });
    const ret = await fetch(`${gw.url}/v2/customer_sessions/L-4/returns`, {
      method: 'POST',
      headers: terminalHeaders(),
      body: JSON.stringify({ return: { returnedCartItems: [{ position: 0, quantity: 1 }] }, responseContent: ['customerSession'] }),
    });
    expect(ret.status).toBe(200);
    const body = (await ret.json()) as { customerSession: { state: string }; return: { sessionIntegrationId: string } };
    expect(body.customerSession.state).toBe('partially_returned');
    expect(body.return.sessionIntegrationId).toBe('L-4');
    await put('L-5', { cartItems: cart, state: 'closed' });
    const reopen = await fetch(`${gw.url}/v2/customer_sessions/L-5/reopen`, { method: 'PUT', headers: { authorization: terminalHeaders().authorization as string } });
    expect(reopen.status).toBe(200);
    expect(reopen.headers.get('x-storegate-journal-seq')).toMatch(/^\d+$/);
    expect((await put('L-5', { cartItems: cart.slice(0, 1) })).status).toBe(200);
  });

  it('a dry run evaluates without journaling or changing the session', async () => {
    const before = gw.gateway.journal?.stats().lastSeq;
    const dry = await fetch(`${gw.url}/v2/customer_sessions/L-dry?dry=true`, { method: 'PUT', headers: terminalHeaders(), body: JSON.stringify({ customerSession: { cartItems: cart } }) });
    expect(dry.status).toBe(200);
    expect(dry.headers.get('x-storegate-journal-seq')).toBeNull();
    expect(gw.gateway.journal?.stats().lastSeq).toBe(before);
  });

  it('tracks events, updates profiles, and reads inventory and balances from the cache', async () => {
    const ev = await fetch(`${gw.url}/v2/events`, { method: 'POST', headers: terminalHeaders(), body: JSON.stringify({ profileId: 'cust-001', type: 'visit' }) });
    expect(ev.status).toBe(204);
    expect(ev.headers.get('x-storegate-source')).toBe('local');
    const prof = await fetch(`${gw.url}/v2/customer_profiles/cust-001`, { method: 'PUT', headers: terminalHeaders(), body: JSON.stringify({ attributes: { Tier: 'gold' } }) });
    expect(prof.status).toBe(200);
    const inv = await fetch(`${gw.url}/v1/customer_profiles/cust-001/inventory?profile=true&loyalty=true`, { headers: terminalHeaders() });
    const invJson = (await inv.json()) as { profile: { attributes: Record<string, unknown> }; loyalty: { programs: Record<string, { ledger: { currentBalance: number } }> } };
    expect(invJson.profile.attributes.Tier).toBe('gold');
    expect(invJson.loyalty.programs['1']?.ledger.currentBalance).toBe(1200);
    const bal = await fetch(`${gw.url}/v1/loyalty_programs/1/profile/cust-001/balances`, { headers: terminalHeaders() });
    expect(await bal.json()).toMatchObject({ balance: { activePoints: 1200, pendingPoints: 50 } });
    const none = await fetch(`${gw.url}/v1/loyalty_programs/1/profile/nobody/balances`, { headers: terminalHeaders() });
    expect(none.status).toBe(404);
  });
});

describe('the store-wide coupon ledger', () => {
  it('a single-use coupon accepted at one terminal is rejected at another (CouponLimitReached)', async () => {
    const first = await put('D-1', { profileId: 'cust-001', cartItems: cart, couponCodes: ['WELCOME10'] }, 'T1');
    expect(first.json.effects.some((e) => e.effectType === 'acceptCoupon' && e.props.value === 'WELCOME10')).toBe(true);
    await put('D-1', { state: 'closed' }, 'T1');
    const second = await put('D-2', { profileId: 'cust-002', cartItems: cart, couponCodes: ['WELCOME10'] }, 'T2');
    const reject = second.json.effects.find((e) => e.effectType === 'rejectCoupon');
    expect(reject?.props).toMatchObject({ value: 'WELCOME10', rejectionReason: 'CouponLimitReached' });
    expect(second.json.effects.some((e) => e.effectType === 'acceptCoupon')).toBe(false);
  });

  it('an unknown code is rejected with campaignId -1', async () => {
    const r = await put('D-3', { cartItems: cart, couponCodes: ['NOPE-123'] });
    expect(r.json.effects.find((e) => e.effectType === 'rejectCoupon')).toMatchObject({ campaignId: -1, props: { value: 'NOPE-123', rejectionReason: 'CouponNotFound' } });
  });
});

describe('restart', () => {
  it('keeps sessions, the ledger and the journal across a stop and start on the same data dir', async () => {
    const local = await startGateway({ mode: 'offline', dataFiles: DATA_FILES });
    let base = local.url;
    const p = (id: string, s: Record<string, unknown>, t: 'T1' | 'T2' = 'T1') =>
      fetch(`${base}/v2/customer_sessions/${id}`, { method: 'PUT', headers: terminalHeaders(t), body: JSON.stringify({ customerSession: s, responseContent: ['customerSession'] }) }).then(
        async (r) => ({ status: r.status, json: (await r.json()) as { effects: { effectType: string; props: Record<string, unknown> }[]; customerSession: Record<string, unknown> } }),
      );
    await p('R-1', { cartItems: cart, couponCodes: ['WELCOME10'] });
    const depth = local.gateway.journal?.stats().depth;
    await local.stop();
    const again = await startGateway({ mode: 'offline', dataFiles: DATA_FILES }, { dir: local.dir });
    base = again.url;
    try {
      expect(again.gateway.journal?.stats().depth).toBe(depth);
      const next = await p('R-1', { attributes: {} });
      expect(next.json.customerSession).toMatchObject({ cartItemTotal: 65.5, couponCodes: ['WELCOME10'], updateCount: 2 });
      const other = await p('R-2', { cartItems: cart, couponCodes: ['WELCOME10'] }, 'T2');
      expect(other.json.effects.find((e) => e.effectType === 'rejectCoupon')?.props.rejectionReason).toBe('CouponLimitReached');
    } finally {
      await again.stop();
    }
  });
});

describe('journal limits', () => {
  it('answers 503 with a clear reason, not an unrecorded success, when the journal is full', async () => {
    const small = await startGateway({ mode: 'offline', dataFiles: DATA_FILES, journal: { maxBytes: 1048576 } });
    try {
      const big = Array.from({ length: 200 }, (_, i) => ({ sku: `BIG-${i}`, name: 'x'.repeat(40), quantity: 1, price: 1 }));
      let status = 200;
      let body = '';
      for (let i = 0; i < 400 && status === 200; i++) {
        const r = await fetch(`${small.url}/v2/customer_sessions/F-${i}`, { method: 'PUT', headers: terminalHeaders(), body: JSON.stringify({ customerSession: { cartItems: big } }) });
        status = r.status;
        body = await r.text();
      }
      expect(status).toBe(503);
      expect(JSON.parse(body)).toMatchObject({ message: expect.stringMatching(/journal/i), StatusCode: 503 });
      const s = (await (await fetch(`${small.url}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { journal: { bytes: number } };
      expect(s.journal.bytes).toBeLessThanOrEqual(1048576);
    } finally {
      await small.stop();
    }
  });
});

describe('hostile bodies', () => {
  const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

  it.each([
    ['cart item attributes 10,000 levels deep', `{"customerSession":{"cartItems":[{"sku":"X","quantity":1,"price":1,"attributes":${nested(10_000)}}]}}`],
    ['session attributes 100 levels deep', `{"customerSession":{"attributes":${nested(100)}}}`],
    ['a list nested 50,000 times', `{"customerSession":{"attributes":{"x":${'['.repeat(50_000)}${']'.repeat(50_000)}}}}`],
  ])('%s: a clear 400 in Talon.One shape, nothing journaled, the session unchanged', async (_name, body) => {
    await put('H-1', { cartItems: cart });
    const depth = gw.gateway.journal?.stats().lastSeq;
    const res = await fetch(`${gw.url}/v2/customer_sessions/H-1`, { method: 'PUT', headers: terminalHeaders('T1'), body });
    expect(res.status).toBe(400);
    const json = (await res.json()) as { message: string; errors: { details: string }[] };
    expect(json.message).toMatch(/nests deeper than 64 levels/);
    expect(json.errors[0]?.details).toMatch(/deeper than 64/);
    expect(gw.gateway.journal?.stats().lastSeq).toBe(depth);
    // A normal update still works and builds on the earlier state.
    const after = await put('H-1', { couponCodes: [] });
    expect(after.status).toBe(200);
    expect(after.json.customerSession).toMatchObject({ cartItemTotal: 65.5 });
  });

  it('a body nested 64 levels deep (within the budget) is answered', async () => {
    const res = await fetch(`${gw.url}/v2/customer_sessions/H-2`, { method: 'PUT', headers: terminalHeaders('T1'), body: `{"customerSession":{"attributes":${nested(62)}}}` });
    expect(res.status).toBe(200);
  });
});
