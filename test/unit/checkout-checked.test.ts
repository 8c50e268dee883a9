/**
 * Checkout with answer checks (README "Checked answers"): an answer the check refuses is replaced by the local
 * answer (marked as replacing the live call, whose Idempotency-Key it carries); when no local answer can be given
 * Talon.One's answer is passed on after all, rather than none. Real upstream client and emulator; the check and
 * the local answer are stand-ins (src/answers/ and src/checkout/local-answers.ts have their own tests).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';
import { Checkout, type TerminalRequest } from '../../src/checkout/checkout.js';
import { LiveCalls } from '../../src/checkout/live-calls.js';
import type { LocalAnswers } from '../../src/checkout/local-answers.js';
import { OPERATIONS } from '../../src/checkout/operations.js';
import { StoregateError } from '../../src/core/errors.js';
import { systemClock } from '../../src/platform/clock.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { UpstreamClient } from '../../src/upstream/client.js';

const KEY = 'checkout-checked-key';
const log = pino({ level: 'silent' });
let emu: Emulator;
let upstream: UpstreamClient;

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY, port: 0 });
  upstream = new UpstreamClient({ baseUrl: emu.url, apiKey: KEY, timeoutMs: 2000, connections: 2, retry: { attempts: 1, baseMs: 5, maxMs: 20 }, clock: systemClock, log, metrics: new Metrics({ defaultMetrics: false }) });
});
afterAll(async () => {
  await upstream?.close();
  await emu?.close();
});

const spec = OPERATIONS.find((o) => o.op === 'updateSession')!;
const update = (id: string): TerminalRequest => ({ spec, terminalId: 'T1', params: { customerSessionId: id }, query: '', body: { customerSession: { cartItems: [{ sku: 'SKU-1', name: 'x', quantity: 1, price: 60 }] } } });

function rig(localFails: boolean) {
  const answered: TerminalRequest[] = [];
  const local = {
    answer: async (req: TerminalRequest, idem: string) => {
      answered.push({ ...req, idempotencyKey: idem });
      if (localFails) throw new StoregateError('SG_ERR_JOURNAL_FULL', 'journal full', { statusCode: 503, retryable: true });
      return { status: 200, body: { local: true }, source: 'local' as const, journalSeq: 7 };
    },
  } as unknown as LocalAnswers;
  const checked: string[] = [];
  const checkout = new Checkout({
    mode: 'connected', storeIntegrationId: 'store-1', upstream, local, pending: () => false, liveCalls: new LiveCalls({ clock: systemClock, log }), timeoutMs: 2000, log,
    checkAnswer: (req, _b, res) => {
      checked.push(`${req.params.customerSessionId} ${res.status}`);
      return { replace: true };
    },
  });
  return { checkout, answered, checked };
}

describe('checkout with answer checks', () => {
  it('replaces a refused answer by the local one, under the live call\'s key', async () => {
    const { checkout, answered, checked } = rig(false);
    const a = await checkout.handle({ ...update('C1'), idempotencyKey: 'k-1' });
    expect(a).toMatchObject({ source: 'local', journalSeq: 7 });
    expect(checked).toEqual(['C1 200']);
    expect(answered[0]).toMatchObject({ replacesLiveCall: true, idempotencyKey: 'k-1' });
    expect(emu.requests.find((r) => r.path === '/v2/customer_sessions/C1')?.headers['idempotency-key']).toBe('k-1');
  });

  it('passes Talon.One\'s answer on when no local answer can be given', async () => {
    const { checkout, answered } = rig(true);
    const a = await checkout.handle(update('C2'));
    expect(a.source).toBe('upstream');
    expect(a.status).toBe(200);
    expect(JSON.parse((a.body as Buffer).toString('utf8')).customerSession.integrationId).toBe('C2');
    expect(answered).toHaveLength(1);
  });

  it('checks only 2xx answers', async () => {
    const { checkout, checked } = rig(false);
    await emu.setFaults({ failNext: 1, errorStatus: 400, paths: ['/v2/customer_sessions/C3'] });
    const a = await checkout.handle(update('C3'));
    expect(a).toMatchObject({ status: 400, source: 'upstream' });
    expect(checked).toEqual([]);
  });
});
