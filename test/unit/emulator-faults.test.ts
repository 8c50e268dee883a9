/**
 * The Talon.One emulator's test machinery over real loopback HTTP: per-session concurrency (409),
 * every fault kind, request recording, admin routes, clean shutdown, and the official SDK parsing
 * its answers.
 */
import TalonOne from 'talon_one';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';

const KEY = 'emu-fault-key';
let emu: Emulator;

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, base = emu.url): Promise<{ status: number; json: J }> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `ApiKey-v1 ${KEY}`, 'content-type': 'application/json', ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as J) : {} };
}
const put = (id: string, customerSession: J, headers: Record<string, string> = {}) => call('PUT', `/v2/customer_sessions/${id}`, { customerSession }, headers);
const lines = (n: number) => Array.from({ length: n }, (_, i) => ({ sku: `SKU-${i}`, name: `Item ${i}`, price: 1.25 + i, quantity: 1 + (i % 3), category: i % 2 ? 'Drinks' : 'Food' }));

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY, port: 0 });
});
afterAll(async () => {
  await emu.close();
});
beforeEach(() => emu.reset());
afterEach(async () => {
  await emu.setFaults({});
});

describe('concurrency', () => {
  it('runs one request per session, queues two, answers 409 past three in flight', async () => {
    await emu.setFaults({ latencyMs: 150 });
    const rs = await Promise.all([...Array(5).keys()].map(() => put('busy', { cartItems: lines(2) })));
    const ok = rs.filter((r) => r.status === 200);
    const conflict = rs.filter((r) => r.status === 409);
    expect(ok).toHaveLength(3);
    expect(conflict).toHaveLength(2);
    expect(conflict[0]!.json).toEqual({ message: 'Too many requests are updating this session at the same time', errors: [], StatusCode: 409 });
    expect(ok.map((r) => r.json['customerSession']['updateCount']).sort()).toEqual([1, 2, 3]);
    // Other sessions are not affected; profiles are keyed separately.
    const [a, b] = await Promise.all([put('other-1', {}), put('other-2', {})]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const ev = await Promise.all([...Array(4).keys()].map(() => call('POST', '/v2/events', { profileId: 'busy-p', type: 't' })));
    expect(ev.map((r) => r.status).sort()).toEqual([204, 204, 204, 409]);
    expect(ev.find((r) => r.status === 409)!.json['message']).toBe('Too many requests are updating this profile at the same time');
  });
});

describe('faults', () => {
  it('injects error statuses, 429, 409 and failNext, limited by paths; admin routes are never faulted', async () => {
    await emu.setFaults({ errorRate: 1, errorStatus: 503 });
    expect(await put('f', {})).toMatchObject({ status: 503, json: { StatusCode: 503, errors: [] } });
    expect((await call('GET', '/_emulator/faults')).json).toEqual({ errorRate: 1, errorStatus: 503 });
    await emu.setFaults({ rate429: 1 });
    expect((await put('f', {})).status).toBe(429);
    await emu.setFaults({ status409Rate: 1 });
    expect((await put('f', {})).json).toMatchObject({ StatusCode: 409, message: 'Too many requests are updating this session at the same time' });
    await emu.setFaults({ failNext: 2 });
    expect([(await put('f', {})).status, (await put('f', {})).status, (await put('f', {})).status]).toEqual([500, 500, 200]);
    await emu.setFaults({ errorRate: 1, paths: ['/v2/events'] });
    expect((await put('f', {})).status).toBe(200);
    expect((await call('POST', '/v2/events', { profileId: 'p', type: 't' })).status).toBe(500);
    const bad = await call('PUT', '/_emulator/faults', { errorRate: 2, nope: true });
    expect(bad.status).toBe(400);
  });

  it('adds latency', async () => {
    await emu.setFaults({ latencyMs: 120, jitterMs: 30 });
    const t0 = performance.now();
    expect((await put('slow', {})).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110);
  });

  it('stalls a request outside the session queue: a later one of the same session overtakes it; stallNext clears the stall', async () => {
    await emu.setFaults({ stallMs: 300, stallNext: 1, paths: ['/v2/customer_sessions/st'] });
    const t0 = performance.now();
    const first = put('st', { cartItems: lines(1) }, { 'idempotency-key': 'st-1' }).then((r) => ({ ...r, ms: performance.now() - t0 }));
    await new Promise((r) => setTimeout(r, 50));
    const second = await put('st', { cartItems: lines(2) }, { 'idempotency-key': 'st-2' });
    expect(second.status).toBe(200);
    expect(performance.now() - t0).toBeLessThan(250);
    expect(emu.getFaults()).toEqual({ paths: ['/v2/customer_sessions/st'] });
    const a = await first;
    expect(a.status).toBe(200);
    expect(a.ms).toBeGreaterThanOrEqual(290);
    // Recorded in the order answered; the stalled one says so, and it was executed last (its cart wins).
    expect(emu.requests.map((r) => [r.headers['idempotency-key'], r.stalledMs])).toEqual([['st-2', undefined], ['st-1', 300]]);
    expect((emu.getSession('st')!.customerSession as J)['cartItems']).toHaveLength(1);
    expect((await put('st', {})).status).toBe(200); // fast again
    expect(emu.requests.at(-1)!.stalledMs).toBeUndefined();
  });

  it('executes a stalled request whose client gave up meanwhile', async () => {
    await emu.setFaults({ stallMs: 200 });
    const gone = fetch(`${emu.url}/v2/customer_sessions/gone`, {
      method: 'PUT',
      headers: { authorization: `ApiKey-v1 ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ customerSession: { cartItems: lines(1) } }),
      signal: AbortSignal.timeout(50),
    });
    await expect(gone).rejects.toThrow();
    expect(emu.getSession('gone')).toBeUndefined();
    for (let i = 0; i < 50 && emu.getSession('gone') === undefined; i++) await new Promise((r) => setTimeout(r, 20));
    expect(emu.getSession('gone')).toBeDefined();
    expect(emu.requests.at(-1)).toMatchObject({ path: '/v2/customer_sessions/gone', status: 200, stalledMs: 200 });
  });

  it('hangs requests until the client gives up', async () => {
    await emu.setFaults({ hang: true });
    await expect(fetch(`${emu.url}/v2/customer_sessions/h`, { method: 'PUT', headers: { authorization: `ApiKey-v1 ${KEY}` }, body: '{"customerSession":{}}', signal: AbortSignal.timeout(200) })).rejects.toThrow();
    expect(emu.requests.at(-1)).toMatchObject({ path: '/v2/customer_sessions/h', status: 0 });
    expect(emu.getSession('h')).toBeUndefined();
    await emu.setFaults({});
    expect((await put('h', {})).status).toBe(200);
  });

  it('refuses connections until cleared (in-process) or until refuseForMs has passed (admin route)', async () => {
    await emu.setFaults({ refuse: true });
    const err = await fetch(`${emu.url}/v2/customer_sessions/r`, { method: 'GET' }).then(() => undefined, (e: Error & { cause?: { code?: string } }) => e);
    expect(err?.cause?.code).toBe('ECONNREFUSED');
    await emu.setFaults({});
    expect((await put('r', {})).status).toBe(200);

    expect((await call('PUT', '/_emulator/faults', { refuse: true, refuseForMs: 300 })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    await expect(fetch(`${emu.url}/_emulator/health`)).rejects.toThrow();
    let back = false;
    for (let i = 0; i < 40 && !back; i++) {
      await new Promise((r) => setTimeout(r, 50));
      back = await fetch(`${emu.url}/_emulator/health`).then((r) => r.ok, () => false);
    }
    expect(back).toBe(true);
    expect(emu.getFaults()).toEqual({});
  });

  it('serves admin routes on a separate admin port while refusing', async () => {
    const e2 = await startEmulator({ apiKey: KEY, port: 0, adminPort: 0 });
    try {
      await e2.setFaults({ refuse: true });
      expect((await fetch(`${e2.adminUrl}/_emulator/health`)).status).toBe(200);
      expect((await fetch(`${e2.adminUrl}/_emulator/faults`, { method: 'PUT', body: '{}' })).status).toBe(200);
      let ok = false;
      for (let i = 0; i < 20 && !ok; i++) {
        ok = await fetch(`${e2.url}/_emulator/health`).then((r) => r.ok, () => false);
        if (!ok) await new Promise((r) => setTimeout(r, 25));
      }
      expect(ok).toBe(true);
    } finally {
      await e2.close();
    }
  });

  it('closes cleanly with keep-alive sockets and hung requests open', async () => {
    const e2 = await startEmulator({ apiKey: KEY, port: 0 });
    await e2.setFaults({ hang: true });
    const pending = fetch(`${e2.url}/v2/customer_sessions/x`, { method: 'PUT', headers: { authorization: `ApiKey-v1 ${KEY}` }, body: '{}' }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    await e2.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(Error);
  });
});

describe('recording and admin routes', () => {
  it('records what reached the upstream: method, path+query, headers, body, status', async () => {
    await put('rec', { storeIntegrationId: 'store-042', cartItems: lines(1) }, { 'idempotency-key': 'idem-1' });
    await call('GET', '/v2/customer_sessions/rec?x=1');
    await call('GET', '/_emulator/health');
    const [first, second] = emu.requests;
    expect(emu.requests).toHaveLength(2);
    expect(first).toMatchObject({ method: 'PUT', path: '/v2/customer_sessions/rec', status: 200, body: { customerSession: { storeIntegrationId: 'store-042' } } });
    expect(first!.headers).toMatchObject({ authorization: `ApiKey-v1 ${KEY}`, 'idempotency-key': 'idem-1' });
    expect(typeof first!.at).toBe('number');
    expect(second).toMatchObject({ method: 'GET', path: '/v2/customer_sessions/rec?x=1', body: undefined });
    const viaHttp = await call('GET', '/_emulator/requests');
    expect(viaHttp.json).toHaveLength(2);
    expect((await call('DELETE', '/_emulator/requests')).status).toBe(204);
    expect(emu.requests).toHaveLength(0);
    emu.setRecording(false);
    await put('rec', {});
    expect(emu.requests).toHaveLength(0);
    emu.setRecording(true);
  });

  it('bounds the recording and exposes sessions, coupons and reset over HTTP', async () => {
    const e2 = await startEmulator({ apiKey: KEY, port: 0, maxRecorded: 5 });
    try {
      for (let i = 0; i < 12; i++) await call('GET', `/v2/customer_sessions/n${i}`, undefined, {}, e2.url);
      expect(e2.requests.length).toBeLessThanOrEqual(5);
      expect(e2.requests.at(-1)!.path).toBe('/v2/customer_sessions/n11');
    } finally {
      await e2.close();
    }
    await put('adm', { couponCodes: ['SAVE5'], state: 'closed' });
    expect((await call('GET', '/_emulator/sessions/adm')).json).toMatchObject({ customerSession: { state: 'closed' }, redeemedCoupons: ['SAVE5'] });
    expect((await call('GET', '/_emulator/coupons/SAVE5')).json).toMatchObject({ value: 'SAVE5', usageCounter: 1 });
    expect((await call('GET', '/_emulator/coupons/NOPE')).status).toBe(404);
    expect((await call('POST', '/_emulator/reset')).status).toBe(204);
    expect((await call('GET', '/_emulator/sessions/adm')).status).toBe(404);
    expect(emu.getCoupon('SAVE5')).toMatchObject({ usageCounter: 0 });
  });
});

describe('official SDK (talon_one 4.3.0)', () => {
  it('parses the session answer through updateCustomerSessionV2', async () => {
    const T = TalonOne as unknown as J;
    const client = new T.ApiClient();
    client.basePath = emu.url;
    client.authentications.api_key_v1.apiKey = KEY;
    client.authentications.api_key_v1.apiKeyPrefix = 'ApiKey-v1';
    const api = new T.IntegrationApi(client);
    const body = T.IntegrationRequest.constructFromObject({
      customerSession: { profileId: 'customer-1', storeIntegrationId: 'store-042', couponCodes: ['SAVE5'], cartItems: lines(20) },
      responseContent: ['customerSession', 'customerProfile', 'loyalty', 'coupons', 'triggeredCampaigns'],
    });
    const res = (await api.updateCustomerSessionV2('sdk-1', body)) as J;
    expect(res.customerSession.integrationId).toBe('sdk-1');
    expect(res.customerSession.cartItems).toHaveLength(20);
    expect(res.customerSession.created).toBeInstanceOf(Date);
    expect(res.customerProfile.integrationId).toBe('customer-1');
    expect(res.effects.map((e: J) => e.effectType)).toEqual(expect.arrayContaining(['setDiscount', 'acceptCoupon', 'setDiscountPerItem', 'addLoyaltyPoints']));
    expect(res.effects.find((e: J) => e.effectType === 'acceptCoupon').triggeredByCoupon).toBe(5001);
    expect(res.createdCoupons).toEqual([]);
    expect(res.coupons[0].value).toBe('SAVE5');
    expect(emu.requests.at(-1)!.headers['authorization']).toBe(`ApiKey-v1 ${KEY}`);
  });
});
