/**
 * Checkout and live calls that miss their deadline (src/checkout/checkout.ts, src/checkout/live-calls.ts): the
 * call is followed until Talon.One answered it; meanwhile a new call of the same session is answered locally,
 * not forwarded (it would race the late one upstream), even when nothing of the session is journaled; the
 * local answer replacing a failed live call is marked for the flusher. Real upstream client against the
 * emulator on loopback; only the local answer is a stand-in (it is not what is under test here).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';
import { Checkout, type TerminalRequest } from '../../src/checkout/checkout.js';
import { LiveCalls } from '../../src/checkout/live-calls.js';
import type { LocalAnswers } from '../../src/checkout/local-answers.js';
import { OPERATIONS } from '../../src/checkout/operations.js';
import { systemClock } from '../../src/platform/clock.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { UpstreamClient } from '../../src/upstream/client.js';

const KEY = 'checkout-live-calls-key';
const log = pino({ level: 'silent' });
let emu: Emulator;
let upstream: UpstreamClient;

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY, port: 0 });
  upstream = new UpstreamClient({
    baseUrl: emu.url,
    apiKey: KEY,
    timeoutMs: 300,
    connections: 4,
    retry: { attempts: 1, baseMs: 5, maxMs: 20 },
    clock: systemClock,
    log,
    metrics: new Metrics({ defaultMetrics: false }),
  });
});
afterAll(async () => {
  await upstream?.close();
  await emu?.close();
});
beforeEach(() => emu.reset());

function rig() {
  const liveCalls = new LiveCalls({ clock: systemClock, log });
  const answered: TerminalRequest[] = [];
  const local = {
    answer: async (req: TerminalRequest) => {
      answered.push(req);
      return { status: 200, body: { local: true }, source: 'local' as const };
    },
  } as unknown as LocalAnswers;
  const checkout = new Checkout({ mode: 'connected', storeIntegrationId: 'store-1', upstream, local, pending: () => false, liveCalls, timeoutMs: 300, log });
  return { liveCalls, answered, checkout };
}

const spec = OPERATIONS.find((o) => o.op === 'updateSession')!;
const update = (id: string, n: number, query = ''): TerminalRequest => ({
  spec,
  terminalId: 'T1',
  params: { customerSessionId: id },
  query,
  body: { customerSession: { cartItems: [{ sku: `SKU-${n}`, name: 'x', quantity: 1, price: 1 }] } },
});
const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('checkout with a live call that missed its deadline', () => {
  it('answers the next call of the session locally until the late call is over, other sessions upstream', async () => {
    const { checkout, liveCalls, answered } = rig();
    await emu.setFaults({ stallMs: 800, stallNext: 1, paths: ['/v2/customer_sessions/S1'] });
    const first = await checkout.handle(update('S1', 1));
    expect(first.source).toBe('local');
    expect(answered[0]?.replacesLiveCall).toBe(true);
    expect(liveCalls.abandoned('session:S1')).toBe(true);

    // Nothing of S1 is pending in any journal here: only the late call keeps it local.
    const second = await checkout.handle(update('S1', 2));
    expect(second.source).toBe('local');
    expect(answered[1]?.replacesLiveCall).toBeUndefined(); // never tried upstream
    expect((await checkout.handle(update('S2', 1))).source).toBe('upstream');

    await until(() => !liveCalls.unfinished('session:S1'));
    expect(emu.requests.filter((r) => r.path === '/v2/customer_sessions/S1')).toHaveLength(1); // the late one only
    expect((await checkout.handle(update('S1', 3))).source).toBe('upstream');
  });

  it('does not hold a session for a dry run that missed its deadline', async () => {
    const { checkout, liveCalls } = rig();
    await emu.setFaults({ stallMs: 800, stallNext: 1, paths: ['/v2/customer_sessions/D1'] });
    expect((await checkout.handle(update('D1', 1, 'dry=true'))).source).toBe('local');
    expect(liveCalls.unfinished('session:D1')).toBe(false);
    expect((await checkout.handle(update('D1', 2))).source).toBe('upstream');
  });
});
