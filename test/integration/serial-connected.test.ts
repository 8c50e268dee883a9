/**
 * A scanned coupon auto-applied in connected mode: the session update forwarded to Talon.One (the emulator)
 * carries it in `couponCodes`, once; a retry of that update under the same Idempotency-Key carries the same
 * codes (so it is the same request), and the next update does not. And an open scan stream does not hold the
 * gateway's shutdown.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';
import { startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';
import { PtyPair } from '../helpers/pty.js';
import { until } from '../helpers/until.js';

const KEY = 'serial-upstream-key-0123456789';
const pty = new PtyPair(mkdtempSync(path.join(tmpdir(), 'sg-serial-conn-')), 't1');
let emu: Emulator;
let gw: TestGateway;

beforeAll(async () => {
  await pty.plug();
  emu = await startEmulator({ apiKey: KEY, port: 0 });
  gw = await startGateway({
    mode: 'connected',
    upstream: { baseUrl: emu.url, apiKey: KEY },
    serial: [{ id: 'scan-t1', path: pty.device, role: 'terminal', terminalId: 'T1', autoApplyCoupons: true, couponPattern: '^SCAN-[0-9]+$' }],
  });
  await until(() => (gw.gateway.status().serial as { open: boolean }[])[0]?.open === true);
});

let stopped = false;

afterAll(async () => {
  if (!stopped) await gw?.stop();
  await emu?.close();
  await pty.unplug();
});

function put(id: string, idempotencyKey?: string) {
  return fetch(`${gw.url}/v2/customer_sessions/${id}`, {
    method: 'PUT',
    headers: { ...terminalHeaders('T1'), ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}) },
    body: JSON.stringify({ customerSession: { couponCodes: ['OWN-1'], cartItems: [{ sku: 'A', name: 'Pan', quantity: 1, price: 30 }] } }),
  });
}

const sentCodes = (id: string) =>
  emu.requests.filter((r) => r.method === 'PUT' && r.path.startsWith(`/v2/customer_sessions/${id}`)).map((r) => (r.body as { customerSession: { couponCodes?: string[] } }).customerSession.couponCodes);

describe('auto-applied coupon, connected mode', () => {
  it('is forwarded upstream in the next update, again on its retry, and not in the update after', async () => {
    await pty.write('SCAN-42\r\n');
    await until(() => (gw.gateway.status().serial as { scans: number }[])[0]?.scans === 1);

    const first = await put('C-1', 'idem-c1');
    expect(first.status).toBe(200);
    expect(first.headers.get('x-storegate-source')).toBe('upstream');
    const retry = await put('C-1', 'idem-c1');
    expect(retry.status).toBe(200);
    expect(sentCodes('C-1')).toEqual([['OWN-1', 'SCAN-42'], ['OWN-1', 'SCAN-42']]);

    await put('C-2');
    expect(sentCodes('C-2')).toEqual([['OWN-1']]);
  });
});

describe('shutdown', () => {
  it('ends open scan streams, so stopping does not wait for them', async () => {
    const ac = new AbortController();
    const res = await fetch(`${gw.url}/v1/terminals/T1/scans`, { headers: terminalHeaders('T1'), signal: ac.signal });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read(); // the `retry:` line: the stream is open
    const t0 = Date.now();
    stopped = true;
    await gw.stop();
    expect(Date.now() - t0).toBeLessThan(3000);
    // The server ended the stream (the client sees its end, not a hang).
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
    ac.abort();
  });
});
