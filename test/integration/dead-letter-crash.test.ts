/**
 * Defect: a dead letter plus a crash freed a redeemed code. A session closes offline with a single-use code,
 * Talon.One refuses the record (a 4xx: dead letter), the gateway is killed -9 before any later delivery is
 * marked: after the restart the code must still count as used, so no other terminal can accept it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { APP_DIR } from '../../src/config/load.js';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';
import { sha256Hex } from '../../src/http/auth.js';
import { buildBundle, freePort, spawnGateway, waitReady } from '../helpers/procs.js';
import { ADMIN_TOKEN, TERMINAL_TOKENS } from '../helpers/gateway.js';
import { until } from '../helpers/until.js';

const KEY = 'dead-crash-upstream-key-012345';
let emu: Emulator;
const children: ChildProcess[] = [];

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY, port: 0 });
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await emu?.close();
});

async function closeWith(base: string, id: string, terminal: 'T1' | 'T2') {
  const res = await fetch(`${base}/v2/customer_sessions/${id}`, {
    method: 'PUT',
    headers: { authorization: `ApiKey-v1 ${TERMINAL_TOKENS[terminal]}`, 'content-type': 'application/json' },
    body: JSON.stringify({ customerSession: { state: 'closed', profileId: 'cust-001', couponCodes: ['WELCOME10'], cartItems: [{ sku: 'SKU-1', name: 'Pan', quantity: 2, price: 30, category: 'Kitchen' }] } }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { effects: { effectType: string; props: { value?: string; rejectionReason?: string } }[] };
  return body.effects.filter((e) => e.effectType === 'acceptCoupon' || e.effectType === 'rejectCoupon');
}

describe('dead letter + kill -9', () => {
  it('keeps the redemption of a dead-lettered close', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-deadcrash-'));
    const bundle = buildBundle(path.join(dir, 'storegate.mjs'));
    const port = await freePort();
    const file = path.join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        mode: 'offline',
        dataDir: path.join(dir, 'var'),
        http: { host: '127.0.0.1', port },
        adminToken: ADMIN_TOKEN,
        terminals: Object.entries(TERMINAL_TOKENS).map(([id, t]) => ({ id, tokenSha256: sha256Hex(t) })),
        upstream: { baseUrl: emu.url, apiKey: KEY, timeoutMs: 2000 },
        dataFiles: { rules: path.join(APP_DIR, 'config', 'sample-rules.json'), coupons: path.join(APP_DIR, 'config', 'sample-coupons.json') },
        log: { level: 'warn' },
      }),
    );
    const base = `http://127.0.0.1:${port}`;
    await emu.setFaults({ failNext: 100, errorStatus: 400 });
    let child = spawnGateway(bundle, file);
    children.push(child);
    await waitReady(child, port);
    expect(await closeWith(base, 'DC-1', 'T1')).toEqual([expect.objectContaining({ effectType: 'acceptCoupon', props: expect.objectContaining({ value: 'WELCOME10' }) })]);
    const dead = async () => ((await (await fetch(`${base}/admin/journal/dead`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as unknown[]).length;
    await until(async () => (await dead()) === 1, 15_000);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    child = spawnGateway(bundle, file);
    children.push(child);
    await waitReady(child, port);
    expect(await closeWith(base, 'DC-2', 'T2')).toEqual([expect.objectContaining({ effectType: 'rejectCoupon', props: expect.objectContaining({ rejectionReason: 'CouponLimitReached' }) })]);
    child.kill('SIGKILL');
  });
});
