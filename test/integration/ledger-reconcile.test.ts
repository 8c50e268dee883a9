/**
 * Defect: the ledger never forgot. Local uses were counted again on top of the next coupons push's
 * `usageCounter` (a false CouponLimitReached). A use is forgotten exactly when Talon.One has it (delivered) and a
 * coupons push read after that counts it — never earlier, so no window for a second use opens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APP_DIR } from '../../src/config/load.js';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';
import { ADMIN_TOKEN, startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';

const KEY = 'ledger-upstream-key-0123456789';
let emu: Emulator;
let gw: TestGateway;
const coupon = (usageCounter: number) => ({ id: 1, value: 'MULTI3', campaignId: 102, usageLimit: 3, usageCounter, attributes: {} });

async function closeWith(id: string) {
  const res = await fetch(`${gw.url}/v2/customer_sessions/${id}`, {
    method: 'PUT',
    headers: terminalHeaders(),
    body: JSON.stringify({ customerSession: { state: 'closed', couponCodes: ['MULTI3'], cartItems: [{ sku: 'SKU-1', name: 'Pan', quantity: 2, price: 30 }] } }),
  });
  expect(res.status).toBe(200);
  const effects = ((await res.json()) as { effects: { effectType: string; props: { rejectionReason?: string } }[] }).effects;
  return effects.find((e) => e.effectType === 'acceptCoupon') ? 'accepted' : (effects.find((e) => e.effectType === 'rejectCoupon')?.props.rejectionReason ?? 'none');
}

async function pushCoupons(version: number, usageCounter: number) {
  const res = await fetch(`${gw.url}/admin/data/coupons`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ version, full: true, coupons: [coupon(usageCounter)] }),
  });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY, port: 0 });
  await emu.setFaults({ refuse: true });
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-ledger-'));
  writeFileSync(path.join(dir, 'coupons.json'), JSON.stringify({ version: 1, full: true, coupons: [coupon(0)] }));
  gw = await startGateway({ mode: 'offline', upstream: { baseUrl: emu.url, apiKey: KEY }, dataFiles: { rules: path.join(APP_DIR, 'config', 'sample-rules.json'), coupons: path.join(dir, 'coupons.json') } }, { dir });
});

afterAll(async () => {
  await gw?.stop();
  await emu?.close();
});

describe('coupon ledger reconciliation', () => {
  it('forgets a use once Talon.One has it and a later coupons push counts it, not before', async () => {
    expect(await closeWith('ML-1')).toBe('accepted');
    expect(await closeWith('ML-2')).toBe('accepted');
    // A push read before Talon.One had the two uses (they are not delivered yet): they must still count.
    await pushCoupons(Date.now(), 2);
    expect(await closeWith('ML-x')).toBe('CouponLimitReached');
    await emu.setFaults({});
    expect(await gw.gateway.flushNow()).toMatchObject({ ok: true, remaining: 0 });
    await emu.setFaults({ refuse: true });
    // Delivered, but the data head office has is still the old one: still counted.
    expect(await closeWith('ML-y')).toBe('CouponLimitReached');
    // A push read after the delivery counts them (usageCounter 2 of 3): the shop counts them no more.
    await new Promise((r) => setTimeout(r, 5));
    await pushCoupons(Date.now() + 6 * 60_000, 2);
    expect(await closeWith('ML-3')).toBe('accepted');
    expect(await closeWith('ML-4')).toBe('CouponLimitReached');
  });
});
