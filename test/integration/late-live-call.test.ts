/**
 * Connected mode, a live call that misses its deadline but still reaches Talon.One later (issue 9, defect 9):
 * the terminal gets a local answer and its record is journaled; the late live call and that record's replay
 * carry the same Idempotency-Key, and the session's records are not delivered (nor new calls of the session
 * forwarded live) until the late call is known finished. So Talon.One sees each session's updates in the
 * order the terminal made them. Real gateway, real emulator, real HTTP on loopback; the emulator's `stallMs`
 * fault holds the live call outside its session queue, as a request stuck on its way would be.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator, RecordedRequest } from '../../scripts/talon-emulator/types.js';
import { until } from '../helpers/until.js';
import { startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';
import { API_KEY, append, openRig, silentLog, updateSession } from '../helpers/flush-fixtures.js';
import { LiveCalls } from '../../src/checkout/live-calls.js';
import { systemClock } from '../../src/platform/clock.js';

const KEY = API_KEY; // the flusher rig's key (test/helpers/flush-fixtures.ts)
const TIMEOUT_MS = 400;
const STALL_MS = 1500;
let emu: Emulator;
let gw: TestGateway;

const item = (i: number) => ({ sku: `SKU-${i}`, name: `Item ${i}`, quantity: 1, price: 10 + i });

async function put(id: string, customerSession: Record<string, unknown>, idempotencyKey?: string) {
  const t0 = Date.now();
  const res = await fetch(`${gw.url}/v2/customer_sessions/${id}`, {
    method: 'PUT',
    headers: { ...terminalHeaders(), ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}) },
    body: JSON.stringify({ customerSession, responseContent: ['customerSession'] }),
  });
  await res.arrayBuffer();
  return { status: res.status, source: res.headers.get('x-storegate-source'), ms: Date.now() - t0 };
}

/** What reached the emulator for one session's update route, in the order it was executed. */
const updatesOf = (id: string): RecordedRequest[] => emu.requests.filter((r) => r.method === 'PUT' && r.path === `/v2/customer_sessions/${id}`);
const keyOf = (r: RecordedRequest | undefined) => r?.headers['idempotency-key'];
const itemsOf = (r: RecordedRequest | undefined) => ((r?.body as { customerSession?: { cartItems?: unknown[] } } | undefined)?.customerSession?.cartItems ?? []).length;
const upstreamItems = (id: string) => ((emu.getSession(id)?.customerSession as { cartItems?: unknown[] } | undefined)?.cartItems ?? []).length;

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY, port: 0 });
  gw = await startGateway(
    {
      mode: 'connected',
      upstream: { baseUrl: emu.url, apiKey: KEY, timeoutMs: TIMEOUT_MS, retry: { attempts: 2, baseMs: 5, maxMs: 20 } },
    },
    { probeIntervalMs: 50 },
  );
});

afterAll(async () => {
  await gw?.stop();
  await emu?.close();
});

beforeEach(async () => {
  await emu.setFaults({});
  await until(() => gw.gateway.journal?.stats().depth === 0);
});

describe('a live call that missed its deadline and reaches Talon.One late', () => {
  it('arrives before its journaled replay (same Idempotency-Key) and before any later update of the session', async () => {
    const id = 'LATE-1';
    await emu.setFaults({ stallMs: STALL_MS, stallNext: 1, paths: [`/v2/customer_sessions/${id}`] });
    const first = await put(id, { profileId: 'cust-001', cartItems: [item(1)] });
    expect(first).toMatchObject({ status: 200, source: 'local' });
    expect(first.ms).toBeLessThan(TIMEOUT_MS + 300);

    // The emulator is fast again. The record is delivered once the late call is known finished, and only then
    // does the session go upstream live again.
    await until(() => gw.gateway.journal?.stats().depth === 0);
    const later = await put(id, { cartItems: [item(1), item(2)] });
    expect(later.status).toBe(200);
    await until(() => gw.gateway.journal?.stats().depth === 0 && updatesOf(id).some((r) => r.stalledMs !== undefined));

    const seen = updatesOf(id);
    expect(seen.map((r) => r.stalledMs !== undefined)).toEqual([true, false, false]);
    const [live, replay, next] = seen;
    expect(keyOf(live)).toMatch(/.+/);
    expect(keyOf(replay)).toBe(keyOf(live));
    expect(keyOf(next)).not.toBe(keyOf(live));
    expect(itemsOf(next)).toBe(2);
    expect(upstreamItems(id)).toBe(2); // the terminal's last update is what Talon.One holds
  });

  it('keeps the session local while the late call is unfinished, and replays its record under its own key first', async () => {
    const id = 'LATE-2';
    await emu.setFaults({ stallMs: STALL_MS, stallNext: 1, paths: [`/v2/customer_sessions/${id}`] });
    const first = await put(id, { cartItems: [item(1)] }, 'late-2-a');
    expect(first).toMatchObject({ status: 200, source: 'local' });
    // A new call of the session must not race the late one upstream: answered locally and journaled.
    const second = await put(id, { cartItems: [item(1), item(2)] }, 'late-2-b');
    expect(second).toMatchObject({ status: 200, source: 'local' });
    // Other sessions are not held.
    expect((await put('LATE-2-OTHER', { cartItems: [item(3)] })).source).toBe('upstream');

    await until(() => gw.gateway.journal?.stats().depth === 0 && updatesOf(id).some((r) => r.stalledMs !== undefined));
    const seen = updatesOf(id);
    expect(seen.map((r) => [keyOf(r), r.stalledMs !== undefined])).toEqual([
      ['late-2-a', true], // the late live call, executed first
      ['late-2-a', false], // the replay of the record that replaced it: a duplicate upstream
      ['late-2-b', false], // the next update
    ]);
    expect(upstreamItems(id)).toBe(2);
  });
});

describe('the flusher and a key with an unfinished live call', () => {
  it('holds all of that key\'s records until the call is over, then sends them in order; other keys flow', async () => {
    const liveCalls = new LiveCalls({ clock: systemClock, log: silentLog });
    const rig = await openRig({ url: emu.url, flusher: { liveCalls } });
    try {
      await emu.setFaults({ stallMs: 800, stallNext: 1, paths: ['/v2/customer_sessions/HOLD-1'] });
      // A live call of HOLD-1 misses its deadline and is followed (as checkout does it).
      const call = liveCalls.begin('session:HOLD-1');
      const live = rig.client.request({
        op: 'updateSession', method: 'PUT', path: '/v2/customer_sessions/HOLD-1', idempotencyKey: 'hold-1-live', deadlineMs: 100,
        body: JSON.stringify({ customerSession: { cartItems: [item(1)] } }),
        onAbandoned: (a) => call.abandon(a),
      });
      await expect(live).rejects.toMatchObject({ kind: 'timeout' });
      call.end();
      await append(rig.journal, updateSession('HOLD-1', 'open', { items: 2 }));
      await append(rig.journal, updateSession('HOLD-1', 'closed', { items: 3 }));
      await append(rig.journal, updateSession('HOLD-2', 'closed', { items: 1 }));
      rig.flusher.start();

      await until(() => emu.getSession('HOLD-2') !== undefined);
      expect(updatesOf('HOLD-1')).toEqual([]); // nothing of HOLD-1 yet, not even its later records
      expect(rig.flusher.pending('session:HOLD-1')).toBe(true);

      await until(() => rig.journal.stats().depth === 0);
      const seen = updatesOf('HOLD-1');
      expect(seen[0]).toMatchObject({ stalledMs: 800, headers: { 'idempotency-key': 'hold-1-live' } });
      expect(seen.slice(1).every((r) => r.stalledMs === undefined)).toBe(true);
      expect(itemsOf(seen.at(-1))).toBe(3);
      expect(emu.getSession('HOLD-1')?.customerSession).toMatchObject({ state: 'closed' });
      expect(upstreamItems('HOLD-1')).toBe(3);
    } finally {
      await rig.cleanup();
    }
  });
});
