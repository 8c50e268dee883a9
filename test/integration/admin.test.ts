/**
 * Operations through the gateway's admin API: local data pushes (validated, versioned, atomically swapped),
 * the journal's dead letters and their retry, reconciliation of an offline coupon that Talon.One had
 * already seen used, and the clock-skew figure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { APP_DIR } from '../../src/config/load.js';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';
import { until } from '../helpers/until.js';
import { ADMIN_TOKEN, startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';

const KEY = 'admin-test-upstream-key-0123456789';
const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
const rules = JSON.parse(readFileSync(path.join(APP_DIR, 'config', 'sample-rules.json'), 'utf8')) as Record<string, unknown>;
let emu: Emulator;
let gw: TestGateway;

async function call(method: string, route: string, body?: unknown, headers: Record<string, string> = admin) {
  const res = await fetch(gw.url + route, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined };
}


beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY, port: 0 });
  // Offline store with an upstream to flush to; the emulator refuses until a test lets it through.
  await emu.setFaults({ refuse: true });
  gw = await startGateway({ mode: 'offline', upstream: { baseUrl: emu.url, apiKey: KEY, timeoutMs: 500 } }, { probeIntervalMs: 50 });
});

afterAll(async () => {
  await gw?.stop();
  await emu?.close();
});

describe('PUT /admin/data/:kind', () => {
  it('needs the admin token', async () => {
    expect((await call('PUT', '/admin/data/rules', rules, { 'content-type': 'application/json' })).status).toBe(401);
  });

  it('rejects a bad payload with the JSON path of each problem and changes nothing', async () => {
    const bad = { ...rules, version: 'one', campaigns: [{ campaign: { id: 'x' } }] };
    const r = await call('PUT', '/admin/data/rules', bad);
    expect(r.status).toBe(400);
    expect((r.json as { errors: { source: { pointer: string } }[] }).errors.map((e) => e.source.pointer).join(' ')).toMatch(/\/version/);
    const s = await call('GET', '/status');
    expect((s.json as { cache: { rulesVersion: number } }).cache.rulesVersion).toBe(0);
  });

  it('takes a valid push, lists its campaigns with their offline capability, and refuses an older version', async () => {
    const ok = await call('PUT', '/admin/data/rules', rules);
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ ok: true, kind: 'rules', version: rules.version });
    const s = (await call('GET', '/status')).json as { cache: { rulesVersion: number; campaigns: { id: number; offlineCapable: boolean; reason: string | null }[] } };
    expect(s.cache.rulesVersion).toBe(rules.version);
    expect(s.cache.campaigns.length).toBeGreaterThan(3);
    const notCapable = s.cache.campaigns.find((c) => !c.offlineCapable);
    expect(notCapable?.reason).toEqual(expect.any(String));
    const stale = await call('PUT', '/admin/data/rules', rules);
    expect(stale.status).toBe(409);
    expect((await call('PUT', '/admin/data/nonsense', {})).status).toBe(404);
  });

  it('takes coupons and loyalty pushes', async () => {
    const coupons = {
      version: 1,
      full: true,
      coupons: [
        { id: 9001, value: 'WELCOME10', campaignId: 102, usageLimit: 1, usageCounter: 0 },
        { id: 5001, value: 'SAVE5', campaignId: 102, usageLimit: 1, usageCounter: 0 },
      ],
    };
    expect((await call('PUT', '/admin/data/coupons', coupons)).status).toBe(200);
    const loyalty = { version: 1, programs: [{ id: 1, name: 'points' }], balances: [{ programId: 1, profileId: 'cust-9', activePoints: 40, pendingPoints: 0 }] };
    expect((await call('PUT', '/admin/data/loyalty', loyalty)).status).toBe(200);
  });
});

describe('flush, reconciliation and dead letters', () => {
  it('reports an offline coupon that Talon.One had already seen used', async () => {
    // Another channel used SAVE5 upstream while this shop could not reach Talon.One.
    await emu.setFaults({});
    await fetch(`${emu.url}/v2/customer_sessions/elsewhere`, {
      method: 'PUT',
      headers: { authorization: `ApiKey-v1 ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ customerSession: { couponCodes: ['SAVE5'], cartItems: [{ sku: 'X', quantity: 1, price: 30 }], state: 'closed' } }),
    });
    expect((emu.getCoupon('SAVE5') as { usageCounter: number }).usageCounter).toBe(1);
    await emu.setFaults({ refuse: true });

    // The shop, offline, accepts it from its own (older) coupon data.
    const cart = [{ sku: 'SKU-1', name: 'Pan', quantity: 1, price: 40, category: 'Kitchen' }];
    const open = await call('PUT', '/v2/customer_sessions/REC-1', { customerSession: { cartItems: cart, couponCodes: ['SAVE5'] } }, terminalHeaders());
    expect((open.json as { effects: { effectType: string }[] }).effects.some((e) => e.effectType === 'acceptCoupon')).toBe(true);
    expect((await call('PUT', '/v2/customer_sessions/REC-1', { customerSession: { state: 'closed' } }, terminalHeaders())).status).toBe(200);

    // A record upstream will refuse for good: a return of a line the session does not have.
    expect((await call('PUT', '/v2/customer_sessions/DEAD-1', { customerSession: { cartItems: cart, state: 'closed' } }, terminalHeaders())).status).toBe(200);
    await call('POST', '/v2/customer_sessions/DEAD-1/returns', { return: { returnedCartItems: [{ position: 0, quantity: 1 }] } }, terminalHeaders());

    await emu.setFaults({ failNext: 1000, errorStatus: 400, paths: ['/v2/customer_sessions/DEAD-1/returns'] });
    const flushed = await call('POST', '/admin/journal/flush?wait=30');
    expect(flushed.status).toBe(200);
    await until(async () => ((await call('GET', '/admin/journal/stats')).json as { depth: number }).depth === 0);

    const rec = (await call('GET', '/admin/reconciliation')).json as { kind: string; coupon: string; sessionId: string; terminalId: string; reason: string }[];
    expect(rec).toContainEqual(expect.objectContaining({ kind: 'couponRejected', coupon: 'SAVE5', sessionId: 'REC-1', terminalId: 'T1', reason: 'CouponLimitReached' }));
    expect((emu.getCoupon('SAVE5') as { usageCounter: number }).usageCounter).toBe(1);

    const dead = (await call('GET', '/admin/journal/dead')).json as { kind: string; key: string; status: number }[];
    expect(dead).toEqual([expect.objectContaining({ kind: 'returnItems', key: 'session:DEAD-1', status: 400 })]);

    await emu.setFaults({});
    const retried = await call('POST', '/admin/journal/dead/retry?wait=30', {});
    expect(retried.json).toMatchObject({ retried: 1 });
    await until(async () => ((await call('GET', '/admin/journal/stats')).json as { depth: number; dead: number }).dead === 0);
    expect((emu.getSession('DEAD-1')?.customerSession as { state: string }).state).toBe('partially_returned');
  });

  it('answers a flush within half a second while Talon.One is slow (timedOut), refuses a bad wait, and waits as long as asked', async () => {
    // Talon.One answers after 3 s, past the gateway's 500 ms timeout: nothing can be delivered for now.
    await emu.setFaults({ latencyMs: 3000 });
    const cart = [{ sku: 'SKU-1', name: 'Pan', quantity: 1, price: 40, category: 'Kitchen' }];
    expect((await call('PUT', '/v2/customer_sessions/SLOW-1', { customerSession: { cartItems: cart, state: 'closed' } }, terminalHeaders())).status).toBe(200);

    const t0 = performance.now();
    const flushed = await call('POST', '/admin/journal/flush');
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(flushed.status).toBe(200);
    expect(flushed.json).toMatchObject({ ok: true, timedOut: true, journal: { depth: 1 } });

    const bad = await call('POST', '/admin/journal/flush?wait=ten');
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ errors: [{ title: 'SG_ERR_BAD_REQUEST', source: { pointer: '/wait' } }] });
    expect((await call('POST', '/admin/journal/dead/retry?wait=121', {})).status).toBe(400);

    await emu.setFaults({});
    expect((await call('POST', '/admin/journal/flush?wait=30')).json).toMatchObject({ ok: true, timedOut: false, journal: { depth: 0 } });
    expect(emu.getSession('SLOW-1')).toBeDefined();
  });

  it('shows the clock skew between this machine and Talon.One', async () => {
    const s = (await call('GET', '/status')).json as { clockSkewMs: number | null };
    expect(s.clockSkewMs).toBe(0);
  });
});
