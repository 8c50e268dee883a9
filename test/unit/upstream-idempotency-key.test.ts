/**
 * src/upstream/idempotency-key.ts: every record reaches Talon.One under an `Idempotency-Key` the HTTP client can
 * send. A key an MQTT terminal gave in Unicode made undici refuse the request ("invalid idempotency-key header"),
 * and the flusher retried that record for ever (the fuzz suite, seed 1388095649). Real client, real emulator.
 */
import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';
import { systemClock } from '../../src/platform/clock.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { UpstreamClient } from '../../src/upstream/client.js';
import { upstreamIdempotencyKey } from '../../src/upstream/idempotency-key.js';

const KEY = 'upstream-idempotency-key-test';
let emu: Emulator;
let upstream: UpstreamClient;

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY, port: 0 });
  upstream = new UpstreamClient({
    baseUrl: emu.url, apiKey: KEY, timeoutMs: 2000, connections: 2, retry: { attempts: 1, baseMs: 5, maxMs: 20 },
    clock: systemClock, log: pino({ level: 'silent' }), metrics: new Metrics({ defaultMetrics: false }),
  });
});
afterAll(async () => {
  await upstream?.close();
  await emu?.close();
});

const hashed = (k: string) => `sg-sha256-${createHash('sha256').update(k, 'utf8').digest('hex')}`;

describe('upstreamIdempotencyKey', () => {
  it('sends a header-safe key as it is', () => {
    for (const k of ['b48a9402-ef53-4ec4-a96e-aca778a75d6b', 'till-7:sale 42', 'x', '~'.repeat(255)]) expect(upstreamIdempotencyKey(k)).toBe(k);
  });

  it('sends any other key as the SHA-256 of its UTF-8 bytes, the same every time', () => {
    for (const k of ['🔽𘣮ⶆ𞸑ஓﭡ', 'café', 'a\r\nb', ' padded', 'padded ', '', 'x'.repeat(256), '\u0000']) {
      expect(upstreamIdempotencyKey(k)).toBe(hashed(k));
      expect(upstreamIdempotencyKey(k)).toBe(upstreamIdempotencyKey(k));
    }
  });

  it('a record keyed in Unicode is delivered, and its retry is deduped by Talon.One', async () => {
    const key = '🔽𘣮ⶆ𞸑ஓﭡ';
    const call = { op: 'updateSession' as const, method: 'PUT' as const, path: '/v2/customer_sessions/IDEM-1', body: JSON.stringify({ customerSession: { cartItems: [] } }), idempotencyKey: key };
    const first = await upstream.request(call);
    const again = await upstream.request(call);
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    const seen = emu.requests.filter((r) => r.path === '/v2/customer_sessions/IDEM-1');
    expect(seen.map((r) => r.headers['idempotency-key'])).toEqual([hashed(key), hashed(key)]);
    expect(again.body).toEqual(first.body);
  });
});
