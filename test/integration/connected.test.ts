/**
 * Connected mode end to end: the official Talon.One JS SDK (talon_one 4.3.0) is the terminal, the gateway and
 * the Talon.One emulator are real HTTP servers on loopback. What reaches the emulator is asserted from its
 * request log: the real API key and this store's id, never a terminal token.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';
import { Talon as TalonOne, sdkCall, sdkClient } from '../helpers/sdk.js';
import { ADMIN_TOKEN, STORE_ID, TERMINAL_TOKENS, startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';

const UPSTREAM_KEY = 'upstream-api-key-0123456789abcdef';

let emu: Emulator;
let gw: TestGateway;

const sdk = (token: string = TERMINAL_TOKENS.T1) => sdkClient(gw.url, token);

function cart(n: number, price = 10) {
  return Array.from({ length: n }, (_, i) => ({ sku: `SKU-${i}`, name: `Item ${i}`, quantity: 1, price, category: i % 2 ? 'shoes' : 'food' }));
}

async function raw(method: string, path: string, body?: string, headers: Record<string, string> = terminalHeaders()) {
  const res = await fetch(gw.url + path, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

beforeAll(async () => {
  emu = await startEmulator({ apiKey: UPSTREAM_KEY, port: 0 });
  gw = await startGateway({
    mode: 'connected',
    upstream: { baseUrl: emu.url, apiKey: UPSTREAM_KEY, timeoutMs: 3000, retry: { attempts: 3, baseMs: 5, maxMs: 40 } },
  });
});

afterAll(async () => {
  await gw?.stop();
  await emu?.close();
});

beforeEach(async () => {
  await emu.setFaults({});
  emu.clearRequests();
});

describe('a Talon.One SDK terminal through the gateway', () => {
  it('updates a session and gets the upstream effects unchanged; upstream saw the real key and the store id', async () => {
    const { api } = sdk();
    const body = { customerSession: { profileId: 'P-1', cartItems: cart(6) }, responseContent: ['customerSession', 'customerProfile'] };
    const res = await api.updateCustomerSessionV2('S-1', TalonOne.IntegrationRequest.constructFromObject(body));
    expect(res.customerSession.integrationId).toBe('S-1');
    expect(res.effects.length).toBeGreaterThan(0);
    // SDK 4.3.0's CustomerSessionV2 model predates storeIntegrationId; the upstream's session has it.
    expect((emu.getSession('S-1')?.customerSession as { storeIntegrationId?: string }).storeIntegrationId).toBe(STORE_ID);

    const seen = emu.requests.filter((r) => r.path.startsWith('/v2/customer_sessions/S-1'));
    expect(seen).toHaveLength(1);
    const req = seen[0]!;
    expect(req.headers.authorization).toBe(`ApiKey-v1 ${UPSTREAM_KEY}`);
    expect(req.headers['idempotency-key']).toMatch(/.{8,}/);
    expect((req.body as { customerSession: { storeIntegrationId: string } }).customerSession.storeIntegrationId).toBe(STORE_ID);
    for (const token of Object.values(TERMINAL_TOKENS)) expect(JSON.stringify(emu.requests)).not.toContain(token);

    // Same request straight to the emulator gives the same effects: the gateway changes nothing in them.
    const direct = await fetch(`${emu.url}/v2/customer_sessions/S-1?dry=true`, {
      method: 'PUT',
      headers: { authorization: `ApiKey-v1 ${UPSTREAM_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ customerSession: { ...body.customerSession, storeIntegrationId: STORE_ID } }),
    });
    const directJson = (await direct.json()) as { effects: unknown[] };
    const viaGateway = await raw('PUT', '/v2/customer_sessions/S-1?dry=true', JSON.stringify(body));
    // Loyalty effects carry a fresh transactionUUID per evaluation; everything else must be identical.
    const noUuid = (effects: unknown) => JSON.parse(JSON.stringify(effects).replace(/"transactionUUID":"[^"]*"/g, '"transactionUUID":"-"')) as unknown;
    expect(noUuid(viaGateway.json?.effects)).toEqual(noUuid(directJson.effects));
    expect(viaGateway.headers.get('x-storegate-source')).toBe('upstream');
  });

  it('closes a session with a coupon, returns items, reopens it', async () => {
    const { api, client } = sdk();
    const open = { customerSession: { profileId: 'P-2', cartItems: cart(3, 20), couponCodes: ['SAVE5'] } };
    const first = await api.updateCustomerSessionV2('S-2', TalonOne.IntegrationRequest.constructFromObject(open));
    expect(first.effects.map((e: { effectType: string }) => e.effectType)).toContain('acceptCoupon');
    const closed = await api.updateCustomerSessionV2(
      'S-2',
      TalonOne.IntegrationRequest.constructFromObject({ customerSession: { state: 'closed' }, responseContent: ['customerSession'] }),
    );
    expect(closed.customerSession.state).toBe('closed');
    const ret = (await sdkCall(client, 'POST', '/v2/customer_sessions/S-2/returns', {
      return: { returnedCartItems: [{ position: 0, quantity: 1 }] },
      responseContent: ['customerSession'],
    })) as { data: { customerSession: { state: string } }; response: { status: number } };
    expect(ret.response.status).toBe(200);
    expect(ret.data.customerSession.state).toBe('partially_returned');
    // A second session is closed then reopened.
    await api.updateCustomerSessionV2('S-3', TalonOne.IntegrationRequest.constructFromObject({ customerSession: { cartItems: cart(1), state: 'closed' } }));
    const reopened = (await sdkCall(client, 'PUT', '/v2/customer_sessions/S-3/reopen', null)) as { response: { status: number } };
    expect(reopened.response.status).toBe(200);
    expect((emu.getSession('S-3')?.customerSession as { state?: string }).state).toBe('open');
  });

  it('tracks an event (store id injected), updates a profile, reads inventory and loyalty balances', async () => {
    const { api, client } = sdk();
    const ev = (await sdkCall(client, 'POST', '/v2/events', { profileId: 'P-3', type: 'visit', attributes: {} }, { silent: 'no' })) as {
      response: { status: number };
    };
    expect(ev.response.status).toBe(200);
    const evReq = emu.requests.find((r) => r.path.startsWith('/v2/events'));
    expect((evReq?.body as { storeIntegrationId?: string }).storeIntegrationId).toBe(STORE_ID);
    expect(evReq?.path).toBe('/v2/events?silent=no');

    const prof = await api.updateCustomerProfileV2('P-3', TalonOne.CustomerProfileIntegrationRequestV2.constructFromObject({ attributes: { Name: 'Ada' } }), {
      runRuleEngine: false,
    });
    expect(prof.customerProfile.integrationId).toBe('P-3');
    const inv = await api.getCustomerInventory('P-3', { profile: true, coupons: true, loyalty: true });
    expect(inv.profile.integrationId).toBe('P-3');
    expect(emu.requests.some((r) => r.path === '/v1/customer_profiles/P-3/inventory?profile=true&coupons=true&loyalty=true')).toBe(true);
    const bal = (await sdkCall(client, 'GET', '/v1/loyalty_programs/1/profile/P-3/balances', null)) as {
      response: { status: number; body: { balance: { activePoints: number } } };
    };
    expect(bal.response.status).toBe(200);
    expect(typeof bal.response.body.balance.activePoints).toBe('number');
  });

  it('passes path parameters with special characters through, re-encoded', async () => {
    const res = await raw('PUT', `/v2/customer_sessions/${encodeURIComponent('S 10$/x')}`, JSON.stringify({ customerSession: { cartItems: cart(1) } }));
    expect(res.status).toBe(200);
    expect(emu.requests.at(-1)?.path).toBe(`/v2/customer_sessions/${encodeURIComponent('S 10$/x')}`);
  });
});

describe('what the gateway refuses', () => {
  it('a wrong or missing terminal token gets 401 in Talon.One shape, and nothing goes upstream', async () => {
    const { api } = sdk('not-a-terminal-token');
    const err = (await api
      .updateCustomerSessionV2('S-x', TalonOne.IntegrationRequest.constructFromObject({ customerSession: {} }))
      .catch((e: unknown) => e)) as { status: number; response: { body: Record<string, unknown> } };
    expect(err.status).toBe(401);
    expect(err.response.body).toMatchObject({ message: expect.any(String), errors: expect.any(Array), StatusCode: 401 });
    const none = await raw('PUT', '/v2/customer_sessions/S-x', '{}', { 'content-type': 'application/json' });
    expect(none.status).toBe(401);
    expect(none.headers.get('x-storegate-source')).toBe('gateway');
    expect(emu.requests).toHaveLength(0);
  });

  it('a session or event naming another store gets 400', async () => {
    const s = await raw('PUT', '/v2/customer_sessions/S-4', JSON.stringify({ customerSession: { storeIntegrationId: 'store-999' } }));
    expect(s.status).toBe(400);
    expect(s.json).toMatchObject({ message: expect.stringContaining('store-999'), errors: [{ source: { pointer: '/customerSession/storeIntegrationId' } }] });
    const e = await raw('POST', '/v2/events', JSON.stringify({ profileId: 'P', type: 't', storeIntegrationId: 'store-999' }));
    expect(e.status).toBe(400);
    const same = await raw('PUT', '/v2/customer_sessions/S-4', JSON.stringify({ customerSession: { storeIntegrationId: STORE_ID } }));
    expect(same.status).toBe(200);
    expect(emu.requests).toHaveLength(1);
  });

  it('malformed JSON, wrong types and unknown top-level fields get 400 with a pointer', async () => {
    const bad = await raw('PUT', '/v2/customer_sessions/S-5', '{"customerSession": {');
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ message: 'The submitted data was invalid', errors: [{ title: 'SG_ERR_MALFORMED_JSON' }] });
    const types = await raw('PUT', '/v2/customer_sessions/S-5', JSON.stringify({ customerSession: { cartItems: [{ sku: 'A', quantity: 'two' }] } }));
    expect(types.status).toBe(400);
    expect(types.json?.errors).toContainEqual(expect.objectContaining({ source: { pointer: '/customerSession/cartItems/0/quantity' } }));
    const unknown = await raw('PUT', '/v2/customer_sessions/S-5', JSON.stringify({ customerSession: {}, discount: 100 }));
    expect(unknown.status).toBe(400);
    expect(unknown.json?.errors).toContainEqual(expect.objectContaining({ source: { pointer: '/discount' } }));
    const proto = await raw('PUT', '/v2/customer_sessions/S-5', '{"customerSession":{},"__proto__":{"x":1}}');
    expect(proto.status).toBe(400);
    const noType = await raw('POST', '/v2/events', JSON.stringify({ profileId: 'P' }));
    expect(noType.status).toBe(400);
    expect(emu.requests).toHaveLength(0);
  });

  it('a body over http.bodyLimitBytes gets 413', async () => {
    const huge = JSON.stringify({ customerSession: { cartItems: cart(20_000) } });
    expect(huge.length).toBeGreaterThan(1_048_576);
    const res = await raw('PUT', '/v2/customer_sessions/S-6', huge);
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ StatusCode: 413 });
    expect(emu.requests).toHaveLength(0);
  });
});

describe('upstream faults', () => {
  const update = (id: string) => raw('PUT', `/v2/customer_sessions/${id}`, JSON.stringify({ customerSession: { cartItems: cart(2) } }));

  it.each([
    ['5xx', { failNext: 2, errorStatus: 503 }],
    ['409', { failNext: 2, errorStatus: 409 }],
    ['429', { failNext: 2, errorStatus: 429 }],
  ])('retries %s with the same Idempotency-Key and answers once it succeeds', async (_name, faults) => {
    await emu.setFaults(faults);
    const res = await update(`S-retry-${_name}`);
    expect(res.status).toBe(200);
    const seen = emu.requests;
    expect(seen.map((r) => r.status)).toEqual([faults.errorStatus, faults.errorStatus, 200]);
    expect(new Set(seen.map((r) => r.headers['idempotency-key'])).size).toBe(1);
  });

  it('keeps the terminal Idempotency-Key when it sends one', async () => {
    await raw('PUT', '/v2/customer_sessions/S-idem', JSON.stringify({ customerSession: {} }), { ...terminalHeaders(), 'idempotency-key': 'pos-key-1' });
    expect(emu.requests[0]?.headers['idempotency-key']).toBe('pos-key-1');
  });

  it('passes an upstream 400 through unchanged, without retrying', async () => {
    await update('S-closed');
    await raw('PUT', '/v2/customer_sessions/S-closed', JSON.stringify({ customerSession: { state: 'closed' } }));
    emu.clearRequests();
    const res = await update('S-closed');
    expect(res.status).toBe(400);
    expect(emu.requests).toHaveLength(1);
    const upstreamBody = await fetch(`${emu.url}/v2/customer_sessions/S-closed`, {
      method: 'PUT',
      headers: { authorization: `ApiKey-v1 ${UPSTREAM_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ customerSession: { cartItems: cart(2), storeIntegrationId: STORE_ID } }),
    }).then((r) => r.text());
    expect(res.text).toBe(upstreamBody);
    expect(res.headers.get('x-storegate-source')).toBe('upstream');
  });
});

describe('operations routes', () => {
  it('/healthz and /readyz are open; /status and /metrics need the admin token', async () => {
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${gw.url}/status`)).status).toBe(401);
    expect((await fetch(`${gw.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0000000000' } })).status).toBe(401);
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const status = (await (await fetch(`${gw.url}/status`, { headers: auth })).json()) as Record<string, unknown>;
    expect(status).toMatchObject({ mode: 'connected', upstream: { state: expect.stringMatching(/up|degraded/) } });
    const metrics = await (await fetch(`${gw.url}/metrics`, { headers: auth })).text();
    expect(metrics).toMatch(/storegate_http_requests_total\{route="\/v2\/customer_sessions\/:customerSessionId",source="upstream",status="200"\} \d+/);
    expect(metrics).toMatch(/storegate_upstream_request_duration_seconds_bucket/);
    expect(metrics).toMatch(/storegate_upstream_retries_total\{op="updateSession",reason="http_5xx"\}/);
    const page = await (await fetch(`${gw.url}/`)).text();
    expect(page).toContain('<h1>storegate');
  });

  it('no secret appears in logs, status, metrics or the status page', async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const everything = [
      gw.logs.join('\n'),
      await (await fetch(`${gw.url}/status`, { headers: auth })).text(),
      await (await fetch(`${gw.url}/metrics`, { headers: auth })).text(),
      await (await fetch(`${gw.url}/`)).text(),
    ].join('\n');
    for (const secret of [UPSTREAM_KEY, ADMIN_TOKEN, ...Object.values(TERMINAL_TOKENS)]) expect(everything).not.toContain(secret);
    const line = gw.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'terminal request' && l.session === 'S-1');
    expect(line).toMatchObject({ terminal: 'T1', session: 'S-1', status: 200, source: 'upstream', ms: expect.any(Number) });
  });
});
