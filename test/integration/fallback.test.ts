/**
 * Connected mode when Talon.One goes away mid-run: terminals keep getting answers within the deadline, and
 * everything answered locally reaches the upstream once it is back, in order, exactly once in effect.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { APP_DIR } from '../../src/config/load.js';
import { systemClock } from '../../src/platform/clock.js';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';
import { until } from '../helpers/until.js';
import { ADMIN_TOKEN, startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';

const KEY = 'upstream-key-fallback-0123456789';
const TIMEOUT_MS = 400;
let emu: Emulator;
let gw: TestGateway;

const item = (i: number) => ({ sku: `SKU-${i}`, name: `Item ${i}`, quantity: 1, price: 10 + i });

async function put(id: string, customerSession: Record<string, unknown>) {
  const t0 = Date.now();
  const res = await fetch(`${gw.url}/v2/customer_sessions/${id}`, {
    method: 'PUT',
    headers: terminalHeaders(),
    body: JSON.stringify({ customerSession, responseContent: ['customerSession'] }),
  });
  const json = (await res.json()) as { customerSession?: { state: string; cartItems: unknown[] } };
  return { status: res.status, source: res.headers.get('x-storegate-source'), ms: Date.now() - t0, json };
}


beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY, port: 0 });
  gw = await startGateway(
    {
      mode: 'connected',
      upstream: { baseUrl: emu.url, apiKey: KEY, timeoutMs: TIMEOUT_MS, retry: { attempts: 2, baseMs: 5, maxMs: 20 } },
      journal: { flushConcurrency: 4 },
      dataFiles: { rules: path.join(APP_DIR, 'config', 'sample-rules.json'), coupons: path.join(APP_DIR, 'config', 'sample-coupons.json') },
    },
    { probeIntervalMs: 50 },
  );
});

afterAll(async () => {
  await gw?.stop();
  await emu?.close();
});

describe('connected mode with the upstream failing mid-run', () => {
  it('answers upstream, then locally within the deadline while refused or slow, then flushes everything once back', async () => {
    // Online: upstream answers, and the gateway follows the session locally.
    const a = await put('FB-1', { profileId: 'cust-001', cartItems: [item(1)] });
    expect(a).toMatchObject({ status: 200, source: 'upstream' });
    await new Promise((r) => setTimeout(r, 20));

    // Refused connections: local answers, journaled, the whole cart kept (the first line came from upstream).
    await emu.setFaults({ refuse: true });
    const b = await put('FB-1', { cartItems: [item(1), item(2)] });
    expect(b).toMatchObject({ status: 200, source: 'local' });
    expect(b.ms).toBeLessThan(TIMEOUT_MS + 300);
    const c = await put('FB-2', { cartItems: [item(3)], state: 'closed' });
    expect(c).toMatchObject({ status: 200, source: 'local' });

    // Slow upstream (latency past the deadline): still an answer within the deadline.
    await emu.setFaults({ latencyMs: 2000 });
    const d = await put('FB-3', { cartItems: [item(4)] });
    expect(d).toMatchObject({ status: 200, source: 'local' });
    expect(d.ms).toBeLessThan(TIMEOUT_MS + 300);

    // Back: the probe notices, the flusher drains the journal, upstream ends with the final states.
    await emu.setFaults({});
    await until(() => gw.gateway.journal?.stats().depth === 0);
    expect((emu.getSession('FB-1')?.customerSession as { cartItems: unknown[] }).cartItems).toHaveLength(2);
    expect((emu.getSession('FB-2')?.customerSession as { state: string }).state).toBe('closed');
    expect(emu.getSession('FB-3')).toBeDefined();

    // Once delivered, the session is forwarded upstream again.
    const e = await put('FB-1', { cartItems: [item(1), item(2), item(5)] });
    expect(e).toMatchObject({ status: 200, source: 'upstream' });
  });

  it('keeps a session local while it has undelivered records, so upstream never sees updates out of order', async () => {
    await emu.setFaults({ refuse: true });
    expect((await put('FB-ord', { cartItems: [item(1)] })).source).toBe('local');
    // The upstream is reachable again, but the journal still holds FB-ord's record: hold the flush back by failing it.
    await emu.setFaults({ failNext: 1000, errorStatus: 503, paths: ['/v2/customer_sessions/FB-ord'] });
    await until(() => gw.gateway.upstream?.health.state !== 'down');
    const next = await put('FB-ord', { cartItems: [item(1), item(2)] });
    expect(next.source).toBe('local');
    emu.clearRequests();
    await emu.setFaults({});
    await until(() => gw.gateway.journal?.stats().depth === 0);
    const sent = emu.requests.filter((r) => r.path.startsWith('/v2/customer_sessions/FB-ord'));
    const last = sent.at(-1)?.body as { customerSession: { cartItems: unknown[] } };
    expect(last.customerSession.cartItems).toHaveLength(2);
  });

  it('reports the flush in /status', async () => {
    const s = (await (await fetch(`${gw.url}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as Record<string, unknown>;
    expect(s).toMatchObject({ journal: { depth: 0, dead: 0 }, upstream: { state: expect.stringMatching(/up|degraded/) }, clockSkewMs: expect.any(Number) });
  });
});

describe('clock skew', () => {
  it('measures the difference with the upstream Date header and warns beyond 2 s', async () => {
    const slow = { ...systemClock, now: () => Date.now() - 10_000 };
    const skewed = await startGateway({ mode: 'connected', upstream: { baseUrl: emu.url, apiKey: KEY, timeoutMs: TIMEOUT_MS } }, { clock: slow });
    try {
      await fetch(`${skewed.url}/v2/customer_sessions/SKEW-1`, { method: 'PUT', headers: terminalHeaders(), body: JSON.stringify({ customerSession: {} }) });
      const s = (await (await fetch(`${skewed.url}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { clockSkewMs: number };
      expect(s.clockSkewMs).toBeGreaterThan(8000);
      expect(s.clockSkewMs).toBeLessThan(12_000);
      expect(skewed.logs.some((l) => l.includes('more than 2 s'))).toBe(true);
    } finally {
      await skewed.stop();
    }
  });
});
