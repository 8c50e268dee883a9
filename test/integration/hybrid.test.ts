/** Hybrid mode: answer locally at once, forward through the journal in the background; reads try upstream first. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { APP_DIR } from '../../src/config/load.js';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';
import { until } from '../helpers/until.js';
import { startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';

const KEY = 'hybrid-upstream-key-0123456789';
let emu: Emulator;
let gw: TestGateway;

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY, port: 0 });
  gw = await startGateway({
    mode: 'hybrid',
    upstream: { baseUrl: emu.url, apiKey: KEY, timeoutMs: 800 },
    dataFiles: { rules: path.join(APP_DIR, 'config', 'sample-rules.json') },
  });
});

afterAll(async () => {
  await gw?.stop();
  await emu?.close();
});

describe('hybrid mode', () => {
  it('answers session updates locally and delivers them upstream in the background, in order', async () => {
    const cart = (n: number) => Array.from({ length: n }, (_, i) => ({ sku: `H-${i}`, quantity: 1, price: 12 }));
    for (const [n, state] of [[1, 'open'], [2, 'open'], [3, 'closed']] as const) {
      const r = await fetch(`${gw.url}/v2/customer_sessions/HY-1`, { method: 'PUT', headers: terminalHeaders(), body: JSON.stringify({ customerSession: { cartItems: cart(n), state } }) });
      expect(r.status).toBe(200);
      expect(r.headers.get('x-storegate-source')).toBe('local');
      expect(r.headers.get('x-storegate-journal-seq')).toMatch(/^\d+$/);
    }
    await until(() => gw.gateway.journal?.stats().depth === 0);
    const up = emu.getSession('HY-1')?.customerSession as { state: string; cartItems: unknown[] };
    expect(up).toMatchObject({ state: 'closed' });
    expect(up.cartItems).toHaveLength(3);
    const sent = emu.requests.filter((r) => r.path.startsWith('/v2/customer_sessions/HY-1'));
    expect(sent.every((r) => r.headers['idempotency-key'])).toBe(true);
  });

  it('reads inventory from upstream while it answers', async () => {
    await fetch(`${emu.url}/v2/customer_profiles/HY-P`, { method: 'PUT', headers: { authorization: `ApiKey-v1 ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ attributes: {} }) });
    const r = await fetch(`${gw.url}/v1/customer_profiles/HY-P/inventory?profile=true`, { headers: terminalHeaders() });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-storegate-source')).toBe('upstream');
  });
});
