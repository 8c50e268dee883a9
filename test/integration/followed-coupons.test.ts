/**
 * Defect: connected fallback could double-redeem. A single-use code Talon.One accepted for a session the
 * gateway only follows must hold in the store ledger, so that when the link drops another terminal answered
 * locally cannot accept the same code; dropping the code releases it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { APP_DIR } from '../../src/config/load.js';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';
import { startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';

const KEY = 'followed-upstream-key-0123456789';
let emu: Emulator;
let gw: TestGateway;

async function update(id: string, terminal: 'T1' | 'T2', codes: string[], extra: Record<string, unknown> = {}) {
  const res = await fetch(`${gw.url}/v2/customer_sessions/${id}`, {
    method: 'PUT',
    headers: terminalHeaders(terminal),
    body: JSON.stringify({ customerSession: { couponCodes: codes, cartItems: [{ sku: 'SKU-1', name: 'Pan', quantity: 2, price: 30, category: 'Kitchen' }], ...extra } }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { effects: { effectType: string; props: { value?: string; rejectionReason?: string } }[] };
  return { source: res.headers.get('x-storegate-source'), coupons: body.effects.filter((e) => e.effectType === 'acceptCoupon' || e.effectType === 'rejectCoupon') };
}

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY, port: 0 });
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-followed-'));
  const coupons = path.join(dir, 'coupons.json');
  writeFileSync(coupons, JSON.stringify({ version: 1, full: true, coupons: [{ id: 1, value: 'ONCE-0001', campaignId: 102, usageLimit: 1, usageCounter: 0, attributes: {} }, { id: 2, value: 'ONCE-0002', campaignId: 102, usageLimit: 1, usageCounter: 0, attributes: {} }, { id: 3, value: 'ONCE-0003', campaignId: 102, usageLimit: 1, usageCounter: 0, attributes: {} }] }));
  gw = await startGateway(
    {
      mode: 'connected',
      upstream: { baseUrl: emu.url, apiKey: KEY, timeoutMs: 500, retry: { attempts: 1, baseMs: 5, maxMs: 10 } },
      dataFiles: { rules: path.join(APP_DIR, 'config', 'sample-rules.json'), coupons },
    },
    { dir, probeIntervalMs: 100 },
  );
});

afterAll(async () => {
  await gw?.stop();
  await emu?.close();
});

describe('codes of followed sessions in the store ledger', () => {
  it('a code Talon.One accepted for an open followed session is refused offline at another terminal', async () => {
    const up = await update('F-1', 'T1', ['ONCE-0001']);
    expect(up.source).toBe('upstream');
    expect(up.coupons).toEqual([expect.objectContaining({ effectType: 'acceptCoupon', props: expect.objectContaining({ value: 'ONCE-0001' }) })]);
    await emu.setFaults({ refuse: true });
    const local = await update('F-2', 'T2', ['ONCE-0001']);
    expect(local.source).toBe('local');
    expect(local.coupons).toEqual([expect.objectContaining({ effectType: 'rejectCoupon', props: expect.objectContaining({ rejectionReason: 'CouponLimitReached' }) })]);
    await emu.setFaults({});
  });

  it('a code dropped upstream is released; a code used at an upstream close stays used', async () => {
    // Wait for the upstream to be back (the background probe decides).
    for (let i = 0; i < 100 && gw.gateway.upstream?.health.state === 'down'; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await update('F-3', 'T1', ['ONCE-0002'])).source).toBe('upstream');
    expect((await update('F-3', 'T1', [])).source).toBe('upstream');
    expect((await update('F-4', 'T1', ['ONCE-0003'], { state: 'closed' })).coupons).toEqual([expect.objectContaining({ effectType: 'acceptCoupon' })]);
    await emu.setFaults({ refuse: true });
    const released = await update('F-5', 'T2', ['ONCE-0002']);
    expect(released.source).toBe('local');
    expect(released.coupons).toEqual([expect.objectContaining({ effectType: 'acceptCoupon', props: expect.objectContaining({ value: 'ONCE-0002' }) })]);
    const used = await update('F-6', 'T2', ['ONCE-0003']);
    expect(used.coupons).toEqual([expect.objectContaining({ effectType: 'rejectCoupon', props: expect.objectContaining({ rejectionReason: 'CouponLimitReached' }) })]);
    await emu.setFaults({});
  });
});
